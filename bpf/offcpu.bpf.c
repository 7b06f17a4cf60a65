// SPDX-License-Identifier: GPL-2.0
/*
 * offcpu.bpf.c - `gtrace --offcpu`: where the traced threads and
 * goroutines wait, with stacks, and what woke them (bpf/offcpu.h has the
 * vocabulary and the maps' types).
 *
 * OS threads, as libbpf-tools' offcputime and bcc's offwaketime do:
 *   sched_switch, prev traced: it leaves the CPU; its kernel and user
 *     stacks are taken here (prev is current) and kept in `offstart`
 *     with the time, whether it blocked, and its name;
 *   sched_waking of a traced thread that is off-CPU: runs in the
 *     waker's context (sched_wakeup may run on the wakee's CPU, in
 *     whatever task is there), so the waker's identity and kernel stack
 *     are taken here, once per span;
 *   sched_switch, next traced: the span ends; its length goes to
 *     `offcpu` under the stacks, and to `owakers` under the waker.
 *
 * Goroutines, on the runtime's USDT probes (runtime/include/greenrt.h):
 *   park (id, reason): the goroutine's own user stack - the probe fires
 *     on the goroutine's stack, which the frame pointers greenrt is
 *     built with let the kernel walk, whichever worker it is on -, the
 *     time and the reason go to `gwait`;
 *   ready (id, by, source, object): the park ends: its length goes to
 *     `offcpu` (park-site stack, reason) and to the distribution of its
 *     reason; what made it runnable, with the waker's own user stack, to
 *     `gwakers`; the goroutine is runnable from now;
 *   switch (from, to): `to` runs: its run-queue time goes to `offcpu`
 *     (the same park-site stack) and to the ready -> run distribution.
 *     A `from` that did not park was preempted or yielded: runnable from
 *     now, at the stack it yielded at (taken here, on its own stack);
 *   exit (id): it will not run again: forgotten, and the switch that
 *     follows on this CPU does not take it for a yield.
 * The runtime fires park before the switch away from the goroutine, and
 * exit likewise, on the same thread, so the order is the program's.
 *
 * Why programs of their own rather than more code in sched.bpf.c and
 * greenrt.bpf.c: they are loaded only for --offcpu, so the default mode
 * runs exactly the programs it ran before, and the report can give the
 * cost of --offcpu apart, per program (bpf_stats).  The price, in that
 * mode, is a second program on sched_switch: one more run per switch in
 * the machine (its filter costs what sched.bpf.c's does).  The thread
 * distributions are the exception: they are measured where the run-queue
 * wait already is (sched.bpf.c, behind `dists_on`, which the verifier
 * drops when it is off), so that they count exactly the waits the
 * report's run-queue figures count.
 *
 * Each uprobe hit is a trap whose cost the report adds to the target's
 * (calib.c); these programs count the hits unless greenrt.bpf.c's
 * programs on the same probes (--goroutines) already do: one trap runs
 * both, and is counted once.
 */
#include "maps.bpf.h"
#include <bpf/usdt.bpf.h>

#define BPF_F_USER_STACK_FLAG (1ULL << 8)       /* BPF_F_USER_STACK */

/* --goroutines also attached: greenrt.bpf.c counts the traps */
const volatile __u8 hits_counted = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, GT_OFF_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GT_OFF_KDEPTH * sizeof(__u64));
} kstacks SEC(".maps");

/* The wakers' kernel stacks: only the innermost GT_OFF_WDEPTH frames (the
 * walk costs by the frame, and the wakeup's path is at the top). */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, GT_OFF_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GT_OFF_WDEPTH * sizeof(__u64));
} wstacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, GT_OFF_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GT_OFF_UDEPTH * sizeof(__u64));
} ustacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, GT_MAX_THREADS);     /* sized from pid_max at load */
	__type(key, __u32);
	__type(value, struct gt_off_start);
} offstart SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, GT_OFF_KEYS);
	__type(key, struct gt_off_key);
	__type(value, struct gt_off_val);
} offcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, GT_OFF_WAKERS);
	__type(key, struct gt_owake_key);
	__type(value, struct gt_off_val);
} owakers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, GT_OFF_GWAIT);
	__type(key, struct gt_gkey);
	__type(value, struct gt_gwait);
} gwait SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, GT_OFF_WAKERS);
	__type(key, struct gt_gwake_key);
	__type(value, struct gt_off_val);
} gwakers SEC(".maps");

/* The goroutine that just exited on this CPU (see the top). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gt_gkey);
} gexited SEC(".maps");

#define EFAULT 14

/* A stack id, or -1: no stack (a kernel thread has no user stack), or
 * lost, and counted (a collision in the stack map, or a full map). */
static __always_inline __s32 stack_id(void *ctx, void *map, __u64 flags)
{
	long id = bpf_get_stackid(ctx, map, flags);
	if (id < 0) {
		if (id != -EFAULT)
			count(GT_OFF_STACKS_LOST, 1);
		return -1;
	}
	return (__s32)id;
}

/* Add a span of ns to the entry of `map` under key (created if new). */
static __always_inline void span_add(void *map, const void *key, __u64 ns, __u32 lost_counter)
{
	struct gt_off_val *v = bpf_map_lookup_elem(map, key);
	if (!v) {
		struct gt_off_val zero = {};
		if (bpf_map_update_elem(map, key, &zero, BPF_NOEXIST) && !bpf_map_lookup_elem(map, key)) {
			count(lost_counter, 1);
			return;
		}
		v = bpf_map_lookup_elem(map, key);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->ns, ns);
	__sync_fetch_and_add(&v->count, 1);
}

/* ---- OS threads ---- */

static __always_inline void thread_out(void *ctx, struct task_struct *prev, unsigned int prev_state,
				       bool preempt, __u32 tgid, __u64 now, bool btf)
{
	__u32 tid = TASK_READ(btf, prev, pid);
	if ((prev_state & TASK_DEAD) || TASK_READ(btf, prev, exit_state)) {
		/* its last switch-outs: it never comes back */
		bpf_map_delete_elem(&offstart, &tid);
		return;
	}
	struct gt_scratch *x = scratch_buf();
	if (!x)
		return;
	/* the scratch's thread state is big enough for a gt_off_start */
	_Static_assert(sizeof(struct gt_off_start) <= sizeof(struct gt_thread_state), "scratch");
	struct gt_off_start *o = (struct gt_off_start *)&x->st;
	__builtin_memset(o, 0, sizeof(*o));
	o->ts = now;
	o->tgid = tgid;
	o->vol = !preempt && prev_state != 0;
	o->kstack = stack_id(ctx, &kstacks, 0);
	o->ustack = stack_id(ctx, &ustacks, BPF_F_USER_STACK_FLAG);
	bpf_get_current_comm(&o->comm, sizeof(o->comm));
	if (bpf_map_update_elem(&offstart, &tid, o, BPF_ANY))
		count(GT_OFF_KEYS_LOST, 1);
}

static __always_inline void thread_in(struct task_struct *next, __u32 tgid, __u64 now, bool btf)
{
	__u32 tid = TASK_READ(btf, next, pid);
	struct gt_off_start *o = bpf_map_lookup_elem(&offstart, &tid);
	if (!o)
		return;         /* it left the CPU before tracing began */
	struct gt_scratch *x = scratch_buf();
	if (!x)
		goto out;
	__u64 d = now - o->ts;
	struct gt_off_key *k = (struct gt_off_key *)&x->done;
	_Static_assert(sizeof(struct gt_owake_key) <= sizeof(struct gt_thread_done), "scratch");
	__builtin_memset(k, 0, sizeof(*k));
	k->tgid = o->tgid;
	k->kstack = o->kstack;
	k->ustack = o->ustack;
	k->kind = o->vol ? GT_OFF_BLOCKED : GT_OFF_PREEMPTED;
	__builtin_memcpy(k->comm, o->comm, sizeof(k->comm));
	span_add(&offcpu, k, d, GT_OFF_KEYS_LOST);
	if (o->waker_tid || o->waker_comm[0]) {
		struct gt_owake_key *w = (struct gt_owake_key *)&x->done;
		__builtin_memset(w, 0, sizeof(*w));
		w->waker_tgid = o->waker_tgid;
		w->waker_tid = o->waker_tid;
		w->wakee_tgid = o->tgid;
		w->wakee_tid = tid;
		w->waker_kstack = o->waker_kstack;
		__builtin_memcpy(w->waker_comm, o->waker_comm, sizeof(w->waker_comm));
		__builtin_memcpy(w->wakee_comm, o->comm, sizeof(w->wakee_comm));
		span_add(&owakers, w, d, GT_OFF_WAKERS_LOST);
	}
out:
	bpf_map_delete_elem(&offstart, &tid);
}

static __always_inline void on_switch(void *ctx, bool preempt, struct task_struct *prev,
				      struct task_struct *next, unsigned int prev_state, bool btf)
{
	__u32 prev_tgid = TASK_READ(btf, prev, tgid), next_tgid = TASK_READ(btf, next, tgid);
	bool out = traced(prev_tgid), in = traced(next_tgid);

	GT_RUN();
	if (!out && !in)
		return;
	__u64 now = bpf_ktime_get_ns();
	if (out)
		thread_out(ctx, prev, prev_state, preempt, prev_tgid, now, btf);
	if (in)
		thread_in(next, next_tgid, now, btf);
}

/* Runs in the waker's context (try_to_wake_up). */
static __always_inline void on_waking(void *ctx, struct task_struct *p, bool btf)
{
	GT_RUN();
	if (!traced(TASK_READ(btf, p, tgid)))
		return;
	__u32 tid = TASK_READ(btf, p, pid);
	struct gt_off_start *o = bpf_map_lookup_elem(&offstart, &tid);
	if (!o || o->wake_ts)
		return;         /* not off-CPU since tracing began, or woken already */
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	o->wake_ts = bpf_ktime_get_ns();
	o->waker_tgid = (__u32)(pid_tgid >> 32);
	o->waker_tid = (__u32)pid_tgid;
	bpf_get_current_comm(&o->waker_comm, sizeof(o->waker_comm));
	o->waker_kstack = stack_id(ctx, &wstacks, 0);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(gt_off_switch_b, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	on_switch(ctx, preempt, prev, next, prev_state, true);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(gt_off_switch_r, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	on_switch(ctx, preempt, prev, next, prev_state, false);
	return 0;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(gt_off_waking_b, struct task_struct *p)
{
	on_waking(ctx, p, true);
	return 0;
}

SEC("raw_tp/sched_waking")
int BPF_PROG(gt_off_waking_r, struct task_struct *p)
{
	on_waking(ctx, p, false);
	return 0;
}

/* ---- goroutines ---- */

/* A probe hit of the calling thread of a traced process: its tgid, or 0. */
static __always_inline __u32 g_hit(void)
{
	GT_RUN();
	if (!hits_counted)
		count(GT_UPROBE_HITS, 1);
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	return traced(tgid) ? tgid : 0;
}

/* A goroutine's span of kind under its park-site stack. */
static __always_inline void g_span(__u32 tgid, const struct gt_gwait *w, __u16 kind, __u64 d)
{
	struct gt_off_key k = {
		.tgid = tgid, .kstack = -1, .ustack = w->stack, .kind = kind, .reason = w->reason,
	};
	span_add(&offcpu, &k, d, GT_OFF_KEYS_LOST);
}

/* A goroutine's entry stays in gwait from its first park to its exit and
 * is rewritten in place (the map allocates only for a new goroutine, not
 * at every park); park_ts = ready_ts = 0 while it runs. */
static __always_inline void g_wait_set(const struct gt_gkey *key, __u64 park_ts, __u64 ready_ts,
				       __s32 stack, __u16 reason)
{
	struct gt_gwait *w = bpf_map_lookup_elem(&gwait, key);
	if (w) {
		w->park_ts = park_ts;
		w->ready_ts = ready_ts;
		w->stack = stack;
		w->reason = reason;
		return;
	}
	struct gt_gwait n = { .park_ts = park_ts, .ready_ts = ready_ts, .stack = stack, .reason = reason };
	if (bpf_map_update_elem(&gwait, key, &n, BPF_ANY))
		count(GT_OFF_GWAIT_LOST, 1);
}

SEC("usdt")
int BPF_USDT(gt_o_park, long id, long reason)
{
	__u32 tgid = g_hit();
	if (!tgid)
		return 0;
	struct gt_gkey key = { .id = (__u64)id, .tgid = tgid };
	g_wait_set(&key, bpf_ktime_get_ns(), 0, stack_id(ctx, &ustacks, BPF_F_USER_STACK_FLAG),
		   reason >= 0 && reason < GT_MAX_REASONS ? (__u16)reason : 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_o_ready, long id, long by, long source, long obj)
{
	__u32 tgid = g_hit();
	if (!tgid)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u32 src = source >= 0 && source < GT_WAKE_SOURCES ? (__u32)source : 0;
	struct gt_gkey key = { .id = (__u64)id, .tgid = tgid };
	struct gt_gwait *w = bpf_map_lookup_elem(&gwait, &key);
	count(GT_G_WAKE_SOURCE + src, 1);
	if (!w || !w->park_ts) {
		/* parked before tracing began: runnable from now, at an
		 * unknown park site */
		g_wait_set(&key, 0, now, -1, 0);
		return 0;
	}
	__u64 d = now - w->park_ts;
	g_span(tgid, w, GT_OFF_G_PARKED, d);
	dist_add(GT_DIST_G_PARK + (w->reason & (GT_MAX_REASONS - 1)), d);
	struct gt_g_stats *gs = g_stats((__u64)id);
	if (gs)
		gs->park_ns += d;
	struct gt_gwake_key wk = {
		/* the channel (GR_WAKE_CHAN) or the group (GR_WAKE_CANCEL) */
		.obj = src == 1 || src == 5 ? (__u64)obj : 0,
		.tgid = tgid,
		.waker_stack = stack_id(ctx, &ustacks, BPF_F_USER_STACK_FLAG),
		.park_stack = w->stack,
		.source = (__u16)src,
		.reason = w->reason,
	};
	span_add(&gwakers, &wk, d, GT_OFF_WAKERS_LOST);
	w->park_ts = 0;
	w->ready_ts = now;
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_o_switch, long from, long to)
{
	__u32 tgid = g_hit();
	if (!tgid)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (from > 0) {
		struct gt_gkey key = { .id = (__u64)from, .tgid = tgid };
		__u32 zero = 0;
		struct gt_gkey *gone = bpf_map_lookup_elem(&gexited, &zero);
		struct gt_gwait *w = bpf_map_lookup_elem(&gwait, &key);
		if (gone && gone->id == key.id && gone->tgid == tgid)
			gone->id = 0;   /* it exited: nothing to follow */
		else if (!w || (!w->park_ts && !w->ready_ts))
			/* not parked: preempted or yielded, runnable now; the
			 * probe runs on its stack, so that is where it yielded */
			g_wait_set(&key, 0, now, stack_id(ctx, &ustacks, BPF_F_USER_STACK_FLAG), 0);
	}
	if (to > 0) {
		struct gt_gkey key = { .id = (__u64)to, .tgid = tgid };
		struct gt_gwait *w = bpf_map_lookup_elem(&gwait, &key);
		if (!w)
			return 0;
		if (w->ready_ts) {
			__u64 d = now - w->ready_ts;
			g_span(tgid, w, GT_OFF_G_RUNNABLE, d);
			dist_add(GT_DIST_G_RUNQ, d);
			struct gt_g_stats *gs = g_stats((__u64)to);
			if (gs) {
				gs->runq_ns += d;
				gs->runq_cnt++;
			}
		}
		w->park_ts = w->ready_ts = 0;   /* running */
	}
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_o_exit, long id)
{
	__u32 tgid = g_hit();
	if (!tgid)
		return 0;
	__u32 zero = 0;
	struct gt_gkey key = { .id = (__u64)id, .tgid = tgid };
	struct gt_gkey *gone = bpf_map_lookup_elem(&gexited, &zero);
	if (gone)
		*gone = key;
	bpf_map_delete_elem(&gwait, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
