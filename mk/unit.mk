# tests/unit/: cmocka unit tests of the runtime, one binary per concern.
#
# Each tests/unit/test_X.c becomes $(BUILD)/tests/unit/test_X, linked
# statically against libgreenrt; the runner (tests/runtests.sh) runs each
# with GR_PROCS=1 and GR_PROCS=2.  test_fatal execs t_fatal_helper (built
# beside it) for the paths that end the process: deadlock, stack
# overflow, misuse.

UNIT_NAMES := \
	adapt \
	chan \
	fatal \
	sched \
	select \
	sync \
	timer
UNIT_BINS := $(patsubst %,$(BUILD)/tests/unit/test_%,$(UNIT_NAMES))
UNIT_HELPERS := $(BUILD)/tests/unit/t_fatal_helper
UNIT_DEPS := tests/unit/t_util.h runtime/include/greenrt.h $(LIBGREENRT_A)

ALL += $(UNIT_BINS) $(UNIT_HELPERS)
TESTS_UNIT += $(UNIT_BINS)

$(UNIT_BINS): $(BUILD)/tests/unit/test_%: tests/unit/test_%.c $(UNIT_DEPS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(GREENRT_LINK) -lcmocka

$(UNIT_HELPERS): $(BUILD)/tests/unit/%: tests/unit/%.c $(UNIT_DEPS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(GREENRT_LINK)

# test_fatal needs its helper next to it.
$(BUILD)/tests/unit/test_fatal: | $(BUILD)/tests/unit/t_fatal_helper

.PHONY: unit
unit: $(UNIT_BINS) $(UNIT_HELPERS)

# Tests that drive runtime internals (tests/unit/t_internal.h) link the
# runtime's objects: in libgreenrt.a the internals are local.
UNIT_INTERNAL := $(BUILD)/tests/unit/test_adapt $(BUILD)/tests/unit/t_fatal_helper
$(UNIT_INTERNAL): private GREENRT_LINK = $(GREENRT_INTERNAL)
$(UNIT_INTERNAL): $(LIBGREENRT_INTERNAL_A) tests/unit/t_internal.h
