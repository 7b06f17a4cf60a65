# tests/unit/: cmocka unit tests of the runtime, one binary per concern.
#
# Each tests/unit/test_X.c becomes $(BUILD)/tests/unit/test_X, linked
# statically against libgreenrt; the runner (tests/runtests.sh) runs each
# in every configuration of its unit_configs list (GR_PROCS=1, 2, 2 with
# GR_SCHED_RANDOM=1, and 8).  Two helper programs are built beside
# them: test_fatal execs t_fatal_helper for the paths that end the
# process (deadlock, stack overflow, misuse), and test_net's 10,000-
# connection test runs its client half in io_conn_client (the two halves
# together need more descriptors than one process may hold).

UNIT_NAMES := \
	adapt \
	batching \
	blocking \
	bufring \
	chan \
	deadline \
	extern \
	fatal \
	faults \
	faults_io \
	fd \
	group \
	iocancel \
	net \
	preempt \
	sched \
	select \
	stack \
	stream \
	sync \
	timer
UNIT_BINS := $(patsubst %,$(BUILD)/tests/unit/test_%,$(UNIT_NAMES))
UNIT_HELPERS := $(BUILD)/tests/unit/io_conn_client $(BUILD)/tests/unit/t_fatal_helper
UNIT_DEPS := tests/unit/t_io.h tests/unit/t_util.h runtime/include/greenrt.h $(LIBGREENRT_A)

ALL += $(UNIT_BINS) $(UNIT_HELPERS)
TESTS_UNIT += $(UNIT_BINS)

$(UNIT_BINS): $(BUILD)/tests/unit/test_%: tests/unit/test_%.c $(UNIT_DEPS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(UNIT_WRAP) -o $@ $< $(GREENRT_LINK) -lcmocka

# test_faults_io sits between the runtime and liburing: its wrappers of
# liburing's submission calls inject the kernel's failures.
FAULTS_IO_WRAPPED := io_uring_submit io_uring_submit_and_wait \
	io_uring_submit_and_wait_timeout io_uring_submit_and_get_events
$(BUILD)/tests/unit/test_faults_io: private UNIT_WRAP = $(FAULTS_IO_WRAPPED:%=-Wl,--wrap=%)

$(UNIT_HELPERS): $(BUILD)/tests/unit/%: tests/unit/%.c $(UNIT_DEPS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(GREENRT_LINK)

# Each test that execs a helper needs it next to it.
$(BUILD)/tests/unit/test_fatal: | $(BUILD)/tests/unit/t_fatal_helper
$(BUILD)/tests/unit/test_net: | $(BUILD)/tests/unit/io_conn_client

.PHONY: unit
unit: $(UNIT_BINS) $(UNIT_HELPERS)

# test_faults wraps the external calls the runtime makes (fault injection,
# tests/unit/test_faults.c says which and why).
FAULTS_WRAP := calloc realloc mmap madvise syscall pthread_create io_uring_queue_init_params
$(BUILD)/tests/unit/test_faults: private GREENRT_LINK = \
	$(foreach s,$(FAULTS_WRAP),-Wl,--wrap=$(s)) $(LIBGREENRT_A) -luring -pthread

# Tests that drive runtime internals (tests/unit/t_internal.h) link the
# runtime's objects: in libgreenrt.a the internals are local.
UNIT_INTERNAL := $(BUILD)/tests/unit/test_adapt $(BUILD)/tests/unit/test_iocancel \
	$(BUILD)/tests/unit/test_preempt $(BUILD)/tests/unit/test_sync \
	$(BUILD)/tests/unit/test_extern $(BUILD)/tests/unit/t_fatal_helper
$(UNIT_INTERNAL): private GREENRT_LINK = $(GREENRT_INTERNAL)
$(UNIT_INTERNAL): $(LIBGREENRT_INTERNAL_A) tests/unit/t_internal.h
