# runtime/: libgreenrt.a and libgreenrt.so.

RUNTIME_SRCS := \
	runtime/adapt.c \
	runtime/bufring.c \
	runtime/chan.c \
	runtime/dormant.c \
	runtime/engine.c \
	runtime/env.c \
	runtime/epoll.c \
	runtime/epoll_io.c \
	runtime/extern.c \
	runtime/fatal.c \
	runtime/fd.c \
	runtime/galloc.c \
	runtime/goroutine.c \
	runtime/group.c \
	runtime/intr.c \
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
RUNTIME_ASM := \
	runtime/arch/x86_64/preempt.S \
	runtime/arch/x86_64/switch.S

RUNTIME_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(RUNTIME_SRCS)) \
                $(patsubst %.S,$(BUILD)/%.o,$(RUNTIME_ASM))
RUNTIME_HDRS := $(wildcard runtime/*.h) runtime/include/greenrt.h

LIBGREENRT_A := $(BUILD)/libgreenrt.a
# The shared library under its real name, behind the soname and the
# development link: libgreenrt.so -> libgreenrt.so.0 -> libgreenrt.so.0.1.0.
LIBGREENRT_SONAME := libgreenrt.so.$(VERSION_MAJOR)
LIBGREENRT_SO := $(BUILD)/libgreenrt.so
LIBGREENRT_SO_REAL := $(BUILD)/libgreenrt.so.$(VERSION)
# What a program linked statically against greenrt needs.
GREENRT_LINK := $(LIBGREENRT_A) -luring -pthread
# What the few tests that drive runtime internals (tests/unit/t_internal.h)
# use instead of GREENRT_LINK in their compile-and-link command: the
# private headers, and the runtime's objects as compiled, their internal
# symbols still global (a test-only archive, never installed).
LIBGREENRT_INTERNAL_A := $(BUILD)/tests/libgreenrt_internal.a
GREENRT_INTERNAL := -iquote runtime -iquote tests/unit $(LIBGREENRT_INTERNAL_A) -luring -pthread

ALL += $(LIBGREENRT_A) $(LIBGREENRT_SO)

# All runtime code goes to one ELF section, greenrt_text, so the
# preemption signal handler can tell "inside greenrt" with a range check
# (the linker defines __start_/__stop_greenrt_text).  Function reordering
# is off so that no runtime code lands in .text.unlikely and friends.
# -fvisibility=hidden: only what greenrt.h declares is visible (the header
# says so with a pragma), which also lets the compiler call and address
# the internals directly in the .so, not through the PLT and GOT.
RUNTIME_CFLAGS := -D_GNU_SOURCE -iquote runtime -ftls-model=initial-exec -fvisibility=hidden \
	-Wmissing-prototypes -Wstrict-prototypes \
	-fno-reorder-functions -fno-reorder-blocks-and-partition
RENAME_TEXT := --rename-section .text=greenrt_text,alloc,load,readonly,code,contents \
	--rename-section .text.unlikely=greenrt_text,alloc,load,readonly,code,contents \
	--rename-section .text.hot=greenrt_text,alloc,load,readonly,code,contents

# VERSION and greenrt.h's GREENRT_VERSION_* must agree (checked before any
# runtime object is compiled, again whenever either changes).
$(BUILD)/version.ok: VERSION runtime/include/greenrt.h
	$(Q)mkdir -p $(@D)
	$(Q)hv=$$(awk '$$1 == "#define" && $$2 ~ /^GREENRT_VERSION_(MAJOR|MINOR|PATCH)$$/ \
	    { v[$$2] = $$3 } END { print v["GREENRT_VERSION_MAJOR"] "." \
	    v["GREENRT_VERSION_MINOR"] "." v["GREENRT_VERSION_PATCH"] }' runtime/include/greenrt.h); \
	if [ "$$hv" != "$(VERSION)" ]; then \
	    echo "greenrt.h's GREENRT_VERSION_* say $$hv but VERSION says $(VERSION): make them agree" >&2; \
	    exit 1; \
	fi; echo "$(VERSION)" > $@

$(RUNTIME_OBJS): | $(BUILD)/version.ok

$(BUILD)/runtime/%.o: runtime/%.c $(RUNTIME_HDRS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(RUNTIME_CFLAGS) -c $< -o $@.tmp.o
	$(Q)objcopy $(RENAME_TEXT) $@.tmp.o $@ && rm -f $@.tmp.o

$(BUILD)/runtime/%.o: runtime/%.S
	$(call msg,AS,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The symbols the libraries export: the version script's list.
$(BUILD)/greenrt.exports: runtime/greenrt.map mk/map_globals.awk
	$(Q)mkdir -p $(@D)
	$(Q)awk -f mk/map_globals.awk $< > $@
	$(Q)echo '_.stapsdt.base' >> $@

# The archive holds one object, the runtime's objects linked together
# (ld -r): the calls between runtime files are resolved there, so every
# global symbol that is not the API can then be made local, and a program
# linked statically may define its own `ready` or `sched`.  The symbols
# kept global are the version script's, as for the .so, plus
# `_.stapsdt.base`: <sys/sdt.h> defines it weak and hidden, in a COMDAT
# section, in every object with USDT probes, and the probe notes point at
# it.  Made local, the linker would keep another object's copy of that
# section and discard ours, leaving our notes pointing into a discarded
# section (a program with USDT probes of its own fails to link).  That is
# also why this is not `objcopy --localize-hidden`, which would take it
# too.  Weak, it clashes with nothing.
$(LIBGREENRT_A): $(RUNTIME_OBJS) $(BUILD)/greenrt.exports
	$(call msg,AR,$@)
	$(Q)$(LD) -r -o $(BUILD)/greenrt.o $(RUNTIME_OBJS)
	$(Q)objcopy --keep-global-symbols=$(BUILD)/greenrt.exports $(BUILD)/greenrt.o
	$(Q)rm -f $@ && ar rcs $@ $(BUILD)/greenrt.o

$(LIBGREENRT_SO_REAL): $(RUNTIME_OBJS) runtime/greenrt.map
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,$(LIBGREENRT_SONAME) -Wl,--version-script=runtime/greenrt.map \
	    -Wl,-z,defs $(LDFLAGS) -o $@ $(RUNTIME_OBJS) $(LDLIBS_RUNTIME)

$(LIBGREENRT_SO): $(LIBGREENRT_SO_REAL)
	$(Q)ln -sf $(notdir $<) $(BUILD)/$(LIBGREENRT_SONAME)
	$(Q)ln -sf $(LIBGREENRT_SONAME) $@

$(LIBGREENRT_INTERNAL_A): $(RUNTIME_OBJS)
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

# What the libraries export, checked: the API and nothing else, in the .so
# (against greenrt.h and the version script) and in the .a.
TESTS_INTEGRATION += \
	tests/integration/library/test_abi.sh \
	tests/integration/library/test_archive_symbols.sh \
	tests/integration/library/test_static_libc.sh
