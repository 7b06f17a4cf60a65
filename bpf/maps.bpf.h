/*
 * maps.bpf.h - the maps and settings every gtrace BPF program shares.
 *
 * gtrace is built from several BPF compilation units, one per concern
 * (procs, sched, syscalls, iouring, greenrt), statically linked by
 * `bpftool gen object` into one object and one skeleton.  They share
 * maps: every unit asks traced() whether an event is the target's (the
 * target, or a process it forked: procs.bpf.c), and adds to the thread's
 * state (thread_state) and its process's totals (totals_of); the
 * scheduler programs need the goroutine the greenrt probes say is
 * running.  maps.bpf.c defines each map
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
#define TASK_DEAD 0x00000080            /* task->__state of an exiting task */
#define SIGNAL_GROUP_EXIT 0x00000004    /* signal->flags: exit_group() or a fatal signal */

/* Settings, filled by user space before load. */
GT_EXTERN const volatile __u32 targ_tgid GT_INIT(0);     /* thread group traced */
GT_EXTERN const volatile __u8 trace_events GT_INIT(0);   /* --trace: fill the ring */
GT_EXTERN const volatile __u8 trace_os GT_INIT(0);       /* --trace: OS switches too */
GT_EXTERN const volatile __u8 follow GT_INIT(1);         /* follow forked children */
GT_EXTERN const volatile __u32 max_procs GT_INIT(GT_MAX_PROCS_DEFAULT); /* pinfo size - 1 */
/* --offcpu: the distributions of the threads' waits (sched.bpf.c) too;
 * off, the verifier drops that code, so the default mode pays nothing */
GT_EXTERN const volatile __u8 dists_on GT_INIT(0);
/* --offcpu: tell gtrace about every exec, so that it reads the new
 * image's mappings while the process lives (procs.bpf.c) */
GT_EXTERN const volatile __u8 exec_notify GT_INIT(0);

/* Run-time state shared by the units (.bss; user space reads some). */
GT_EXTERN volatile __u32 nfollowed GT_INIT(0);   /* followed processes alive, besides the target */
GT_EXTERN volatile __u32 next_proc GT_INIT(1);   /* next free process index (0: the target) */
GT_EXTERN volatile __u64 rings_gen GT_INIT(0);   /* bumped when a ring leaves `rings` */
GT_EXTERN volatile __u32 trace_capped GT_INIT(0); /* user space: --trace-max-mb reached */

/* Live threads of the traced processes (see struct gt_thread_state). */
GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, GT_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct gt_thread_state);
} tstate SEC(".maps");

/* Threads that exited (see struct gt_thread_done). */
GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, GT_MAX_THREADS);
	__type(key, struct gt_thread_key);
	__type(value, struct gt_thread_done);
} threads SEC(".maps");

/* Per-CPU scratch space to build map values bigger than the BPF stack
 * likes; only used between a lookup and an update, never across events. */
struct gt_scratch {
	struct gt_thread_state st;
	struct gt_thread_done done;
};
GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gt_scratch);
} scratch SEC(".maps");

/* Totals per process and thread kind: index 2 * proc + kind. */
GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * (GT_MAX_PROCS_DEFAULT + 1));
	__type(key, __u32);
	__type(value, struct gt_thread_stats);
} ptotals SEC(".maps");

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GT_MAX_PROCS_DEFAULT + 1);
	__type(key, __u32);
	__type(value, struct gt_proc);
} pinfo SEC(".maps");           /* by process index (procs.h) */

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);     /* tgid */
	__type(value, __u32);   /* process index */
} procs SEC(".maps");           /* traced processes alive */

/* One bit per tgid, set for the followed processes: the cheap test every
 * event of every process in the machine makes (an array lookup the
 * verifier inlines), sized from pid_max at load. */
GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4194304 / 64 + 1);
	__type(key, __u32);
	__type(value, __u64);
} tgid_bits SEC(".maps");

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

/* --offcpu distributions (offcpu.h), written by sched.bpf.c and
 * offcpu.bpf.c */
GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GT_DIST_COUNT);
	__type(key, __u32);
	__type(value, struct gt_dist);
} dists SEC(".maps");

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
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, GT_MAX_RINGS);
	__type(key, __u64);     /* struct io_ring_ctx * */
	__type(value, __u8);
} rings SEC(".maps");           /* rings the traced processes created or submitted to */

struct gt_ring_cache {
	__u64 ring;             /* the last ring found in `rings` on this CPU */
	__u64 gen;              /* rings_gen when it was found */
};
GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gt_ring_cache);
} ringcache SEC(".maps");

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GT_MAX_GOROUTINES);
	__type(key, __u64);
	__type(value, struct gt_g_stats);
} gstats SEC(".maps");

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, __u32);     /* tgid */
	__type(value, struct gt_rt_state);
} rtstats SEC(".maps");         /* greenrt's `stats` probe, per tgid */

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GT_TRACE_RING_BYTES);
} events SEC(".maps");          /* --trace */

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 10);
} ctl SEC(".maps");             /* struct gt_ctl_event, for gtrace itself */

GT_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct gt_inode);
	__type(value, __u8);
} noprobes SEC(".maps");        /* images without greenrt probes (procs.h) */

/* --- helpers shared by the units (inlined into each) --- */

/* btf: t is a BTF pointer (tp_btf, fentry): read it directly, which is
 * cheaper than the helper calls BPF_CORE_READ needs (raw_tp, usdt). */
#define TASK_READ(btf, t, field) ((btf) ? (t)->field : BPF_CORE_READ(t, field))

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

/* Each hit of a greenrt probe is a uprobe trap into the kernel, whose
 * cost the BPF run time does not include: count them all (the report
 * multiplies by a calibrated cost per hit, tools/gtrace/calib.c). */
#define GT_PROBE_HIT()                          \
	do {                                    \
		GT_RUN();                       \
		count(GT_UPROBE_HITS, 1);       \
	} while (0)

/* Is thread group tgid traced?  The target, or (only while followed
 * children live: nfollowed > 0) a process whose bit is set. */
static __always_inline bool traced(__u32 tgid)
{
	if (tgid == targ_tgid)
		return true;
	if (!nfollowed)
		return false;
	__u32 w = tgid / 64;
	__u64 *b = bpf_map_lookup_elem(&tgid_bits, &w);
	return b && (*b >> (tgid % 64)) & 1;
}

/* The process index of traced tgid (max_procs: "other processes"). */
static __always_inline __u32 proc_of(__u32 tgid)
{
	__u32 *p = bpf_map_lookup_elem(&procs, &tgid);
	return p ? *p : max_procs;
}

static __always_inline struct gt_proc *proc_info(__u32 proc)
{
	return bpf_map_lookup_elem(&pinfo, &proc);
}

static __always_inline struct gt_thread_stats *totals(__u32 proc, __u32 kind)
{
	__u32 i = 2 * proc + (kind & 1);
	return bpf_map_lookup_elem(&ptotals, &i);
}

/* floor(log2(v)), 0 for 0: an unrolled log2, as libbpf-tools' bits.bpf.h */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 r = log2_u64(v);
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

/* The log-linear bucket of v ns (offcpu.h): 8 per power of two. */
static __always_inline __u32 dist_slot(__u64 v)
{
	if (v < GT_DIST_SUB)
		return (__u32)v;
	__u32 o = log2_u64(v);          /* >= GT_DIST_SUB_BITS */
	__u32 s = (o - GT_DIST_SUB_BITS + 1) * GT_DIST_SUB +
		  (__u32)((v >> (o - GT_DIST_SUB_BITS)) & (GT_DIST_SUB - 1));
	return s < GT_DIST_SLOTS ? s : GT_DIST_SLOTS - 1;
}

static __always_inline void dist_add(__u32 id, __u64 v)
{
	struct gt_dist *d = bpf_map_lookup_elem(&dists, &id);
	if (!d)
		return;
	__u32 s = dist_slot(v);
	d->count++;
	d->sum += v;
	if (v > d->max)
		d->max = v;
	if (s < GT_DIST_SLOTS)
		d->slots[s]++;
}

/* Goroutine id's figures, created on first use (NULL: no room). */
static __always_inline struct gt_g_stats *g_stats(__u64 id)
{
	struct gt_g_stats *g = bpf_map_lookup_elem(&gstats, &id);
	if (g)
		return g;
	static const struct gt_g_stats zero;
	bpf_map_update_elem(&gstats, &id, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&gstats, &id);
}

static __always_inline struct gt_scratch *scratch_buf(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

/* A thread is over (its last switch-out), or its tstate entry is a stale
 * one: move its figures to `threads` (counted as not itemised if that
 * table is full) and forget its state. */
static __always_inline void thread_retire(__u32 tid, struct gt_thread_state *st)
{
	struct gt_scratch *x = scratch_buf();
	if (x) {
		struct gt_thread_key k = { .tid = tid, .tgid = st->tgid, .start_ns = st->start_ns };
		__builtin_memcpy(&x->done.s, &st->s, sizeof(st->s));
		__builtin_memcpy(x->done.comm, st->comm, sizeof(st->comm));
		x->done.worker = st->worker;
		x->done.kind = st->kind;
		x->done.proc = st->proc;
		if (bpf_map_update_elem(&threads, &k, &x->done, BPF_NOEXIST))
			count(GT_THREADS_UNLISTED, 1);
	}
	bpf_map_delete_elem(&tstate, &tid);
}

/* The state of thread tid of traced process tgid (task: its task_struct),
 * created on first use; NULL only if the table cannot take it. */
static __always_inline struct gt_thread_state *
thread_state(struct task_struct *task, __u32 tid, __u32 tgid, bool btf)
{
	__u64 start = TASK_READ(btf, task, start_time);
	struct gt_thread_state *st = bpf_map_lookup_elem(&tstate, &tid);
	if (st && st->start_ns == start)
		return st;
	if (st)
		thread_retire(tid, st);
	struct gt_scratch *x = scratch_buf();
	if (!x)
		return NULL;
	struct gt_thread_state *init = &x->st;
	__builtin_memset(init, 0, sizeof(*init));
	unsigned int flags = TASK_READ(btf, task, flags);
	init->start_ns = start;
	init->worker = -1;
	init->tgid = tgid;
	init->kind = (flags & PF_IO_WORKER) ? GT_KIND_IOWORKER : GT_KIND_TARGET;
	init->proc = proc_of(tgid);
	BPF_CORE_READ_STR_INTO(&init->comm, task, comm);
	if (bpf_map_update_elem(&tstate, &tid, init, BPF_NOEXIST) == 0) {
		struct gt_proc *p = proc_info(init->proc);
		if (p)
			__sync_fetch_and_add(&p->threads[init->kind & 1], 1);
	}
	/* (if another CPU created it first, that one stands) */
	return bpf_map_lookup_elem(&tstate, &tid);
}

/* The totals an event of thread st adds to.  st may be NULL (the thread
 * table could not take it): then found from the task. */
static __always_inline struct gt_thread_stats *
totals_of(struct gt_thread_state *st, struct task_struct *task, __u32 tgid, bool btf)
{
	if (st)
		return totals(st->proc, st->kind);
	unsigned int flags = TASK_READ(btf, task, flags);
	return totals(proc_of(tgid), (flags & PF_IO_WORKER) ? GT_KIND_IOWORKER : GT_KIND_TARGET);
}

/* Add v to field f of the thread's figures and of its process's totals. */
#define ADD(st, tot, f, v)                      \
	do {                                    \
		if (st)                         \
			(st)->s.f += (v);       \
		if (tot)                        \
			(tot)->f += (v);        \
	} while (0)

/* The current task, as a BTF pointer where the program type allows
 * reading it directly. */
static __always_inline struct task_struct *current_task(bool btf)
{
	return btf ? bpf_get_current_task_btf() : (struct task_struct *)bpf_get_current_task();
}

/* A --trace event; d: a small fourth argument (saturated at 2^32 - 1). */
static __always_inline void emit_d(__u32 type, __u32 tgid, __u32 tid, __s64 a, __s64 b, __s64 c,
				   __u64 d)
{
	if (trace_capped) {
		count(GT_RB_CAPPED, 1);
		return;
	}
	struct gt_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(GT_RB_DROPS, 1);
		return;
	}
	e->ts = bpf_ktime_get_ns();
	e->tid = tid;
	e->tgid = tgid;
	e->type = type;
	e->a = a;
	e->b = b;
	e->c = c;
	e->d = d > 0xffffffffULL ? 0xffffffffU : (__u32)d;
	/* Wake gtrace only once the ring is an eighth full: a wakeup per
	 * event would have gtrace preempt the target after each of them (an
	 * OS switch that --trace records, and so on), and gtrace polls the
	 * ring every 100 ms anyway. */
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > GT_TRACE_RING_BYTES / 8
		? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

static __always_inline void emit(__u32 type, __u32 tgid, __u32 tid, __s64 a, __s64 b, __s64 c)
{
	emit_d(type, tgid, tid, a, b, c, 0);
}

#endif /* GTRACE_MAPS_BPF_H */
