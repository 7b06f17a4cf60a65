# bpf/ and tools/gtrace/: the gtrace eBPF observability CLI.
#
#   vmlinux.h (bpftool btf dump)  ->  bpf/X.bpf.c --clang -target bpf-->
#   $(BUILD)/bpf/X.bpf.o  --bpftool gen object-->  gtrace.bpf.o (one
#   statically linked object)  --bpftool gen skeleton-->  gtrace.skel.h
#   ->  tools/gtrace/*.o  ->  $(BUILD)/gtrace
#
# The x86_64 syscall name table and the io_uring opcode names are
# generated from the installed asm/unistd_64.h and linux/io_uring.h,
# never typed by hand.

GTRACE_BPF_SRCS := \
	bpf/greenrt.bpf.c \
	bpf/groups.bpf.c \
	bpf/iouring.bpf.c \
	bpf/maps.bpf.c \
	bpf/offcpu.bpf.c \
	bpf/procs.bpf.c \
	bpf/sched.bpf.c \
	bpf/syscalls.bpf.c
GTRACE_BPF_HDRS := bpf/gtrace.h bpf/groups.h bpf/maps.bpf.h bpf/offcpu.h bpf/procs.h
GTRACE_SRCS := \
	tools/gtrace/calib.c \
	tools/gtrace/checks.c \
	tools/gtrace/collect.c \
	tools/gtrace/counters.c \
	tools/gtrace/diff.c \
	tools/gtrace/dist.c \
	tools/gtrace/flame.c \
	tools/gtrace/greenrt.c \
	tools/gtrace/groups.c \
	tools/gtrace/interval.c \
	tools/gtrace/hist.c \
	tools/gtrace/iouring.c \
	tools/gtrace/json.c \
	tools/gtrace/main.c \
	tools/gtrace/mem.c \
	tools/gtrace/offcpu.c \
	tools/gtrace/procs.c \
	tools/gtrace/report.c \
	tools/gtrace/run.c \
	tools/gtrace/sched.c \
	tools/gtrace/session.c \
	tools/gtrace/symbols.c \
	tools/gtrace/syscalls.c \
	tools/gtrace/top.c \
	tools/gtrace/trace.c \
	tools/gtrace/usdt.c
GTRACE_HDRS := tools/gtrace/gtrace_cli.h bpf/gtrace.h bpf/groups.h bpf/offcpu.h bpf/procs.h runtime/include/greenrt.h

GTRACE_VMLINUX := $(BUILD)/bpf/vmlinux.h
GTRACE_BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(GTRACE_BPF_SRCS))
GTRACE_SKEL := $(BUILD)/bpf/gtrace.skel.h
GTRACE_SYSCALLS := $(BUILD)/tools/gtrace/syscall_names.h
GTRACE_UNISTD := $(firstword $(wildcard /usr/include/x86_64-linux-gnu/asm/unistd_64.h /usr/include/asm/unistd_64.h))
GTRACE_IOOPS := $(BUILD)/tools/gtrace/io_op_names.h
GTRACE_IOURING_H := $(firstword $(wildcard /usr/include/linux/io_uring.h))
GTRACE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(GTRACE_SRCS))
GTRACE_MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
GTRACE_BPF_CFLAGS := -g -O2 -Wall -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 \
	-I$(BUILD)/bpf -Ibpf -idirafter /usr/include/$(GTRACE_MULTIARCH)

ALL += $(BUILD)/gtrace

$(GTRACE_VMLINUX):
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(GTRACE_BPF_HDRS) $(GTRACE_VMLINUX)
	$(call msg,BPF,$<)
	$(Q)$(CLANG) $(GTRACE_BPF_CFLAGS) -c $< -o $@

# Link order matters with libbpf 1.1's linker: maps.bpf.o (the
# definitions) first, greenrt.bpf.o (whose usdt.bpf.h adds weak maps)
# last; other orders make it mis-relocate map references.
GTRACE_BPF_LINK_ORDER := maps procs sched syscalls iouring offcpu groups greenrt
$(BUILD)/bpf/gtrace.bpf.o: $(GTRACE_BPF_LINK_ORDER:%=$(BUILD)/bpf/%.bpf.o)
	$(call msg,BPFLINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(GTRACE_SKEL): $(BUILD)/bpf/gtrace.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name gtrace_bpf > $@

$(GTRACE_SYSCALLS): $(GTRACE_UNISTD) mk/gtrace.mk
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)awk 'BEGIN { print "/* generated from $< by mk/gtrace.mk */" } \
	    $$1 == "#define" && $$2 ~ /^__NR_/ && $$3 ~ /^[0-9]+$$/ \
	    { printf "\t[%d] = \"%s\",\n", $$3, substr($$2, 6) }' $< > $@

# io_uring opcode names, in enum io_uring_op order, from linux/io_uring.h.
$(GTRACE_IOOPS): $(GTRACE_IOURING_H) mk/gtrace.mk
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)awk 'BEGIN { print "/* generated from $< by mk/gtrace.mk */" } \
	    /^enum io_uring_op \{/ { on = 1; next } on && /^\};/ { on = 0 } \
	    on && $$1 ~ /^IORING_OP_[A-Z0-9_]+,$$/ && $$1 != "IORING_OP_LAST," \
	    { sub(/,$$/, "", $$1); printf "\t\"%s\",\n", substr($$1, 11) }' $< > $@

$(BUILD)/tools/gtrace/%.o: tools/gtrace/%.c $(GTRACE_HDRS) $(GTRACE_SKEL) $(GTRACE_SYSCALLS) $(GTRACE_IOOPS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Ibpf -I$(BUILD)/bpf -I$(BUILD)/tools/gtrace -c $< -o $@

$(BUILD)/gtrace: $(GTRACE_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lbpf -lelf -lz -ljansson -lm

# --- accuracy tests (real BPF; root; exit 77 otherwise) ---
# test_gtrace.sh (accuracy against the kernel's own counts) and
# test_gtrace_procs.sh (children, exit statuses) need only the OS
# helpers; test_gtrace_greenrt.sh (probes, --trace, costs) and
# test_gtrace_cli.sh (input errors, names, help) also need libgreenrt.a,
# so a runtime that does not build only costs those.
GTRACE_TEST_HELPERS := \
	$(BUILD)/tests/gtrace/exit_with \
	$(BUILD)/tests/gtrace/forker \
	$(BUILD)/tests/gtrace/getppid_n \
	$(BUILD)/tests/gtrace/jget \
	$(BUILD)/tests/gtrace/pingpong \
	$(BUILD)/tests/gtrace/pipe_block \
	$(BUILD)/tests/gtrace/spinners \
	$(BUILD)/tests/gtrace/stubborn \
	$(BUILD)/tests/gtrace/threads_n \
	$(BUILD)/tests/gtrace/touch_pages \
	$(BUILD)/tests/gtrace/uring_churn \
	$(BUILD)/tests/gtrace/uring_nops

$(BUILD)/tests/gtrace/%: tests/integration/gtrace/%.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -luring -ljansson

# goroutines parks workers with the governor's lever: runtime internals
# (tests/unit/t_internal.h).
$(BUILD)/tests/gtrace/goroutines: tests/integration/gtrace/goroutines.c $(LIBGREENRT_INTERNAL_A) \
		tests/unit/t_internal.h
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(GREENRT_INTERNAL)

# greenrt programs through the public API only.
$(BUILD)/tests/gtrace/chan_park $(BUILD)/tests/gtrace/groups: $(BUILD)/tests/gtrace/%: \
		tests/integration/gtrace/%.c $(LIBGREENRT_A)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(GREENRT_LINK)

# The scripts get the build and source directories baked in.
GTRACE_TEST_SCRIPTS := \
	$(BUILD)/tests/gtrace/test_gtrace.sh \
	$(BUILD)/tests/gtrace/test_gtrace_cli.sh \
	$(BUILD)/tests/gtrace/test_gtrace_counters.sh \
	$(BUILD)/tests/gtrace/test_gtrace_greenrt.sh \
	$(BUILD)/tests/gtrace/test_gtrace_groups.sh \
	$(BUILD)/tests/gtrace/test_gtrace_offcpu.sh \
	$(BUILD)/tests/gtrace/test_gtrace_procs.sh

$(BUILD)/tests/gtrace/%.sh: tests/integration/gtrace/%.sh tests/integration/gtrace/lib.sh
	$(Q)mkdir -p $(@D)
	$(Q)sed -e 's|@BUILD@|$(abspath $(BUILD))|' -e 's|@SRCDIR@|$(abspath tests/integration/gtrace)|' $< > $@ && chmod +x $@

# (named here, not in the pattern rule, so that make does not take the
# helpers for intermediate files and delete them)
$(GTRACE_TEST_SCRIPTS): $(BUILD)/gtrace $(GTRACE_TEST_HELPERS)

# greenrt programs: only these scripts need the runtime to build (the
# help's examples name goroutines, groups and echo_greenrt, which
# test_gtrace_cli checks exist)
$(BUILD)/tests/gtrace/test_gtrace_greenrt.sh: $(BUILD)/tests/gtrace/goroutines
$(BUILD)/tests/gtrace/test_gtrace_offcpu.sh: $(BUILD)/tests/gtrace/chan_park
$(BUILD)/tests/gtrace/test_gtrace_groups.sh: $(BUILD)/tests/gtrace/groups
$(BUILD)/tests/gtrace/test_gtrace_counters.sh: $(BUILD)/tests/gtrace/chan_park
$(BUILD)/tests/gtrace/test_gtrace_cli.sh: $(BUILD)/tests/gtrace/goroutines $(BUILD)/tests/gtrace/groups \
	$(BUILD)/echo_greenrt

TESTS_INTEGRATION += $(GTRACE_TEST_SCRIPTS)

# --- tracing overhead (issue 4, "Performance": <= 3% of requests/s) ---
# echo_greenrt under build/loadgen -c 1000 -d 5 (64-byte echo), untraced
# and traced by `gtrace run` (default mode, and --goroutines,
# --no-syscalls, --sys-tracepoints and echo_threads for information),
# interleaved repeats, medians.  Root only (prints a skip line
# otherwise); ~3 minutes.  GTRACE_OVERHEAD_ARGS is
# passed on (e.g. "-r 5", or "--quick" for a smoke run).
.PHONY: bench-gtrace-overhead
BENCH_RUNS += bench-gtrace-overhead
bench-gtrace-overhead: $(BUILD)/gtrace $(BUILD)/loadgen $(BUILD)/echo_greenrt $(BUILD)/echo_threads
	$(Q)BUILD=$(BUILD) bash bench/gtrace_overhead.sh $(GTRACE_OVERHEAD_ARGS)

# What counting system calls costs every other process: a getppid() loop
# with gtrace attached to an unrelated process (default, --sys-tracepoints,
# --no-syscalls) and without.  Not part of `make bench` (~1 minute).
.PHONY: bench-gtrace-syscalls
bench-gtrace-syscalls: $(BUILD)/gtrace $(BUILD)/tests/gtrace/getppid_n
	$(Q)BUILD=$(BUILD) bash bench/gtrace_syscall_cost.sh $(GTRACE_SYSCALL_ARGS)
