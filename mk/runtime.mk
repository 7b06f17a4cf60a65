# runtime/: libgreenrt.a and libgreenrt.so.

RUNTIME_SRCS := \
	runtime/adapt.c \
	runtime/bufring.c \
	runtime/chan.c \
	runtime/dormant.c \
	runtime/env.c \
	runtime/fatal.c \
	runtime/galloc.c \
	runtime/goroutine.c \
	runtime/io.c \
	runtime/lock.c \
	runtime/offload.c \
	runtime/preempt.c \
	runtime/run.c \
	runtime/runq.c \
	runtime/sched.c \
	runtime/select.c \
	runtime/stack.c \
	runtime/stats.c \
	runtime/sync.c \
	runtime/timer.c \
	runtime/uring.c
RUNTIME_ASM := runtime/arch/x86_64/switch.S

RUNTIME_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(RUNTIME_SRCS)) \
                $(patsubst %.S,$(BUILD)/%.o,$(RUNTIME_ASM))
RUNTIME_HDRS := $(wildcard runtime/*.h) runtime/include/greenrt.h

LIBGREENRT_A := $(BUILD)/libgreenrt.a
LIBGREENRT_SO := $(BUILD)/libgreenrt.so
# What a program linked statically against greenrt needs.
GREENRT_LINK := $(LIBGREENRT_A) -luring -pthread

ALL += $(LIBGREENRT_A) $(LIBGREENRT_SO) $(BUILD)/greenrt.pc

# All runtime code goes to one ELF section, greenrt_text, so the
# preemption signal handler can tell "inside greenrt" with a range check
# (the linker defines __start_/__stop_greenrt_text).  Function reordering
# is off so that no runtime code lands in .text.unlikely and friends.
RUNTIME_CFLAGS := -D_GNU_SOURCE -iquote runtime -ftls-model=initial-exec -fno-reorder-functions -fno-reorder-blocks-and-partition
RENAME_TEXT := --rename-section .text=greenrt_text,alloc,load,readonly,code,contents \
	--rename-section .text.unlikely=greenrt_text,alloc,load,readonly,code,contents \
	--rename-section .text.hot=greenrt_text,alloc,load,readonly,code,contents

$(BUILD)/runtime/%.o: runtime/%.c $(RUNTIME_HDRS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(RUNTIME_CFLAGS) -c $< -o $@.tmp.o
	$(Q)objcopy $(RENAME_TEXT) $@.tmp.o $@ && rm -f $@.tmp.o

$(BUILD)/runtime/%.o: runtime/%.S
	$(call msg,AS,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIBGREENRT_A): $(RUNTIME_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBGREENRT_SO): $(RUNTIME_OBJS) runtime/greenrt.map
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libgreenrt.so.0 -Wl,--version-script=runtime/greenrt.map \
	    $(LDFLAGS) -o $@.0 $(RUNTIME_OBJS) $(LDLIBS_RUNTIME)
	$(Q)ln -sf libgreenrt.so.0 $@

$(BUILD)/greenrt.pc: mk/greenrt.pc.in
	$(Q)mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' $< > $@

.PHONY: install
install: $(LIBGREENRT_A) $(LIBGREENRT_SO) $(BUILD)/greenrt.pc
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(LIBGREENRT_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBGREENRT_SO).0 $(DESTDIR)$(PREFIX)/lib/libgreenrt.so.0
	ln -sf libgreenrt.so.0 $(DESTDIR)$(PREFIX)/lib/libgreenrt.so
	install -m 644 runtime/include/greenrt.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/greenrt.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	if [ -x $(BUILD)/gtrace ]; then install -m 755 $(BUILD)/gtrace $(DESTDIR)$(PREFIX)/bin/; fi
