# tests/unit/test_io: the io_uring I/O layer (issue 3).
#
# $(BUILD)/tests/unit/test_io is a cmocka binary run by tests/runtests.sh
# with GR_PROCS=1 and GR_PROCS=2.  Its 10,000-connection test runs the
# client half in a separate process, io_conn_client, built beside it
# (the two halves together need more descriptors than one process may
# hold).

IO_TEST_BIN := $(BUILD)/tests/unit/test_io
IO_TEST_HELPERS := $(BUILD)/tests/unit/io_conn_client
IO_TEST_DEPS := tests/unit/t_util.h runtime/include/greenrt.h $(LIBGREENRT_A)

ALL += $(IO_TEST_BIN) $(IO_TEST_HELPERS)
TESTS_UNIT += $(IO_TEST_BIN)

$(IO_TEST_BIN): tests/unit/test_io.c $(IO_TEST_DEPS) | $(IO_TEST_HELPERS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(GREENRT_LINK) -lcmocka

$(IO_TEST_HELPERS): $(BUILD)/tests/unit/%: tests/unit/io_helpers/%.c $(IO_TEST_DEPS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(GREENRT_LINK)

.PHONY: io-tests
io-tests: $(IO_TEST_BIN) $(IO_TEST_HELPERS)
