# tests/soak/: `make test-soak`, a few minutes (SOAK_SECONDS, default 300)
# of goroutine, connection, timer and deadline churn with the RSS and the
# open descriptors sampled and required flat (soak.c says how flat).  Not
# part of `make test`; built by `make` so that it keeps compiling.

SOAK := $(BUILD)/tests/soak/soak
ALL += $(SOAK)

$(SOAK): tests/soak/soak.c runtime/include/greenrt.h $(LIBGREENRT_A)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(GREENRT_LINK)

.PHONY: test-soak
test-soak: deps
	$(Q)$(MAKE) --no-print-directory $(SOAK)
	$(Q)$(SOAK)
