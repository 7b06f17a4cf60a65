/*
 * maps.bpf.h - the maps and settings every gtrace BPF program shares.
 *
 * gtrace is built from several BPF compilation units, one per concern
 * (sched, syscalls, iouring, greenrt), statically linked by `bpftool gen
 * object` into one object and one skeleton.  They share maps: the
 * scheduler programs need the goroutine the greenrt probes say is running,
 * every unit adds to the per-thread table.  maps.bpf.c defines each map
 * once (GT_DEFINE_MAPS); the other units see `extern` declarations, which
 * the libbpf linker resolves.  One skeleton rather than one per concern
 * also means one load, one set of settings and one cleanup.
 */
#ifndef GTRACE_MAPS_BPF_H
#define GTRACE_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "gtrace.h"

#ifdef GT_DEFINE_MAPS
#define GT_EXTERN
#define GT_INIT(v) = v
#else
#define GT_EXTERN extern
#define GT_INIT(v)
#endif

#define PF_IO_WORKER 0x00000010

/* Settings, filled by user space before load. */
GT_EXTERN const volatile __u32 targ_tgid GT_INIT(0);     /* thread group traced */
GT_EXTERN const volatile __u8 trace_events GT_INIT(0);   /* --trace: fill the ring */
GT_EXTERN const volatile __u8 trace_os GT_INIT(0);       /* --trace: OS switches too */

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, GT_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct gt_thread_stats);
} threads SEC(".maps");

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GT_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct gt_thread_state);
} tstate SEC(".maps");

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GT_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, struct gt_syscall_stats);
} syscalls SEC(".maps");

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GT_HIST_COUNT);
	__type(key, __u32);
	__type(value, struct gt_hist);
} hists SEC(".maps");

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GT_COUNTER_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GT_MAX_IO_OPS);
	__type(key, __u32);
	__type(value, __u64);
} io_ops SEC(".maps");          /* io_uring_submit_req by opcode */

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GT_MAX_RINGS);
	__type(key, __u64);     /* struct io_ring_ctx * */
	__type(value, __u8);
} rings SEC(".maps");           /* rings the target submitted to */

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ringcache SEC(".maps");       /* last ring found in `rings`, per CPU */

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GT_MAX_GOROUTINES);
	__type(key, __u64);
	__type(value, struct gt_g_stats);
} gstats SEC(".maps");

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);     /* tgid */
	__type(value, struct gt_rt_state);
} rtstats SEC(".maps");         /* greenrt's `stats` probe, per tgid */

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* --- helpers shared by the units (inlined into each) --- */

static __always_inline void count(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += n;
}

/* Every program counts its runs (GT_RUN() first thing): the exact number
 * of runs, whereas the kernel's bpf_stats, which costs a clock read per
 * run, is only switched on part of the time (session.c) to measure the
 * time per run. */
#define GT_RUN() count(GT_PROG_RUNS, 1)

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 r = 0;
	/* an unrolled log2, as libbpf-tools' bits.bpf.h */
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r < GT_HIST_SLOTS ? r : GT_HIST_SLOTS - 1;
}

static __always_inline void hist_add(__u32 id, __u64 v)
{
	struct gt_hist *h = bpf_map_lookup_elem(&hists, &id);
	if (h) {
		__u32 s = log2_slot(v);
		if (s < GT_HIST_SLOTS)
			h->slots[s]++;
	}
}

/* The per-CPU stats of thread tid, created on first use. */
static __always_inline struct gt_thread_stats *thread_stats(__u32 tid)
{
	struct gt_thread_stats *s = bpf_map_lookup_elem(&threads, &tid);
	if (s)
		return s;
	static const struct gt_thread_stats zero;
	bpf_map_update_elem(&threads, &tid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&threads, &tid);
}

/* The state of thread task (tid), created on first use. */
static __always_inline struct gt_thread_state *
thread_state(__u32 tid, struct task_struct *task)
{
	struct gt_thread_state *s = bpf_map_lookup_elem(&tstate, &tid);
	if (s)
		return s;
	struct gt_thread_state init = { .worker = -1 };
	unsigned int flags = BPF_CORE_READ(task, flags);
	init.kind = (flags & PF_IO_WORKER) ? GT_KIND_IOWORKER : GT_KIND_TARGET;
	BPF_CORE_READ_STR_INTO(&init.comm, task, comm);
	bpf_map_update_elem(&tstate, &tid, &init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&tstate, &tid);
}

static __always_inline void emit(__u32 type, __u32 tid, __s64 a, __s64 b, __s64 c)
{
	struct gt_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(GT_RB_DROPS, 1);
		return;
	}
	e->ts = bpf_ktime_get_ns();
	e->tid = tid;
	e->type = type;
	e->a = a;
	e->b = b;
	e->c = c;
	bpf_ringbuf_submit(e, 0);
}

#endif /* GTRACE_MAPS_BPF_H */
