# tools/loadgen: the load generator (epoll, pthreads; deliberately not greenrt).

LOADGEN_SRCS := \
	tools/loadgen/hist.c \
	tools/loadgen/loadgen.c \
	tools/loadgen/worker.c
LOADGEN_HDRS := $(wildcard tools/loadgen/*.h)
LOADGEN_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LOADGEN_SRCS))
LOADGEN := $(BUILD)/loadgen

ALL += $(LOADGEN)

$(BUILD)/tools/loadgen/%.o: tools/loadgen/%.c $(LOADGEN_HDRS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LOADGEN): $(LOADGEN_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm
