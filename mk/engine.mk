# tests/integration/engine/: the I/O engines (runtime/engine.h).  The
# seccomp launcher refuses io_uring as Docker's default profile does, so
# that a greenrt server is seen to run on the epoll engine there.

ENGINE_DENY_URING := $(BUILD)/tests/engine/deny_uring
ALL += $(ENGINE_DENY_URING)
TESTS_INTEGRATION += tests/integration/engine/test_seccomp.sh

$(ENGINE_DENY_URING): tests/integration/engine/deny_uring.c
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
