# tests/unit/test_preempt.c: preemption (its own fragment: unit.mk lists
# the other unit tests).
PREEMPT_TEST := $(BUILD)/tests/unit/test_preempt
ALL += $(PREEMPT_TEST)
TESTS_UNIT += $(PREEMPT_TEST)

$(PREEMPT_TEST): tests/unit/test_preempt.c runtime/include/greenrt.h $(LIBGREENRT_A)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(GREENRT_LINK) -lcmocka
