// SPDX-License-Identifier: GPL-2.0
/*
 * sched.bpf.c - OS scheduling of the traced processes' threads.
 *
 * sched_switch splits each switch-out of a traced thread into voluntary
 * (it blocked) and involuntary (preempted while runnable) exactly as the
 * kernel's nvcsw/nivcsw accounting does: voluntary when the switch is not
 * a preemption and the task's state is not TASK_RUNNING.  (Reading only
 * prev->__state would call a task preempted between set_current_state()
 * and schedule() voluntary; the kernel counts it as involuntary, and
 * gtrace agrees with /proc/PID/status.)  The same hook measures on-CPU
 * and off-CPU spans per thread.
 *
 * A thread's switch-outs once it has passed exit_notify() (exit_state
 * set), and its last one (do_task_dead(): TASK_DEAD), are not context
 * switches as the kernel counts them: by then its nvcsw/nivcsw have been
 * added to its process's (getrusage, /proc/PID/status) and its perf
 * counters are closed.  Counting the last one as voluntary made a
 * thread-per-connection server look one switch per connection worse
 * than it is.  The last switch-out ends the thread: its figures move
 * from tstate to `threads` (thread_retire), so tstate holds live
 * threads only and a reused tid starts afresh.
 *
 * Run-queue latency is "became runnable -> got a CPU": the time stamp is
 * taken at sched_wakeup / sched_wakeup_new, or at an involuntary
 * switch-out (the task stays runnable, as libbpf-tools' runqlat does), and
 * consumed at the next switch-in.  A wakeup of a task already waiting
 * keeps the older stamp.
 *
 * If the greenrt probes are attached, tstate.cur_g names the goroutine the
 * worker thread is running, so an OS switch-out is charged to it.
 *
 * Threads with PF_IO_WORKER (io_uring's iou-wrk-* and iou-sqp-*) share
 * the target's tgid; they are tagged GT_KIND_IOWORKER and their switches
 * go to separate counters so they never inflate the target's figures.
 *
 * Every program exists twice: tp_btf (direct BTF arguments, cheapest) and
 * raw_tp (for kernels whose BTF lacks the btf_trace_* type); user space
 * loads one of each pair.  Neither needs tracefs.
 */
#include "maps.bpf.h"

/* The switch-out of a thread of a traced process.  Called with prev =
 * current, on its CPU. */
static __always_inline void switch_out(bool preempt, struct task_struct *prev,
				       unsigned int prev_state, __u32 tgid, __u64 now, bool btf)
{
	__u32 tid = TASK_READ(btf, prev, pid);
	struct gt_thread_state *st = thread_state(prev, tid, tgid, btf);
	struct gt_thread_stats *tot = totals_of(st, prev, tgid, btf);
	bool exiting = TASK_READ(btf, prev, exit_state) != 0;
	bool vol = !preempt && prev_state != 0;

	if (st && st->last_in)
		ADD(st, tot, oncpu_ns, now - st->last_in);
	/* prev is current here: keep the name it has now (threads rename
	 * themselves after they start, and exec renames them) */
	if (st)
		bpf_get_current_comm(&st->comm, sizeof(st->comm));
	if (prev_state & TASK_DEAD) {
		count(GT_THREAD_EXITS, 1);
		if (st)
			thread_retire(tid, st);
		return;
	}
	if (!exiting) {
		if (vol)
			ADD(st, tot, vol, 1);
		else
			ADD(st, tot, invol, 1);
	}
	if (!st)
		return;
	if (st->kind == GT_KIND_IOWORKER && !exiting)
		count(vol ? GT_SWITCH_IOW_VOL : GT_SWITCH_IOW_INVOL, 1);
	st->last_out = now;
	st->wake_ts = vol ? 0 : now;
	__u64 g = st->cur_g;
	if (g) {
		ADD(st, tot, g_os_switches, 1);
		struct gt_g_stats *gs = bpf_map_lookup_elem(&gstats, &g);
		if (gs)
			gs->os_switches++;
	}
	if (trace_events && trace_os)
		emit(GT_EV_OS_OUT, tgid, tid, vol, g, 0);
}

static __always_inline void switch_in(struct task_struct *next, __u32 tgid, __u64 now, bool btf)
{
	__u32 tid = TASK_READ(btf, next, pid);
	struct gt_thread_state *st = thread_state(next, tid, tgid, btf);
	if (!st)
		return;
	struct gt_thread_stats *tot = totals_of(st, next, tgid, btf);
	if (st->last_out) {
		__u64 d = now - st->last_out;
		ADD(st, tot, offcpu_ns, d);
		if (st->kind == GT_KIND_TARGET)
			hist_add(GT_HIST_OFFCPU, d);
	}
	if (st->wake_ts) {
		__u64 d = now - st->wake_ts;
		if (dists_on && st->kind == GT_KIND_TARGET) {
			/* --offcpu: the waits as distributions; a blocked
			 * thread's wait ends when it is woken */
			dist_add(GT_DIST_OS_RUNQ, d);
			if (st->last_out && st->wake_ts > st->last_out)
				dist_add(GT_DIST_OS_BLOCKED, st->wake_ts - st->last_out);
		}
		ADD(st, tot, runq_ns, d);
		ADD(st, tot, runq_cnt, 1);
		hist_add(st->kind == GT_KIND_TARGET ? GT_HIST_RUNQ : GT_HIST_RUNQ_IOW, d);
		st->wake_ts = 0;
	}
	st->last_in = now;
	if (trace_events && trace_os)
		emit(GT_EV_OS_IN, tgid, tid, st->cur_g, 0, 0);
}

static __always_inline void on_switch(bool preempt, struct task_struct *prev,
				      struct task_struct *next, unsigned int prev_state,
				      bool btf)
{
	__u32 prev_tgid = TASK_READ(btf, prev, tgid), next_tgid = TASK_READ(btf, next, tgid);
	bool out = traced(prev_tgid), in = traced(next_tgid);
	__u64 now;

	GT_RUN();
	if (!out && !in)
		return;
	now = bpf_ktime_get_ns();
	if (out)
		switch_out(preempt, prev, prev_state, prev_tgid, now, btf);
	if (in)
		switch_in(next, next_tgid, now, btf);
}

static __always_inline void on_wakeup(struct task_struct *p, bool btf)
{
	GT_RUN();
	__u32 tgid = TASK_READ(btf, p, tgid);
	if (!traced(tgid))
		return;
	struct gt_thread_state *st = thread_state(p, TASK_READ(btf, p, pid), tgid, btf);
	if (st && !st->wake_ts)
		st->wake_ts = bpf_ktime_get_ns();
}

static __always_inline void on_migrate(struct task_struct *p, bool btf)
{
	GT_RUN();
	__u32 tgid = TASK_READ(btf, p, tgid);
	if (!traced(tgid))
		return;
	struct gt_thread_state *st = thread_state(p, TASK_READ(btf, p, pid), tgid, btf);
	struct gt_thread_stats *tot = totals_of(st, p, tgid, btf);
	ADD(st, tot, migrations, 1);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(gt_switch_btf, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	on_switch(preempt, prev, next, prev_state, true);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(gt_switch_raw, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	on_switch(preempt, prev, next, prev_state, false);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(gt_wakeup_btf, struct task_struct *p)
{
	on_wakeup(p, true);
	return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(gt_wakeup_raw, struct task_struct *p)
{
	on_wakeup(p, false);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(gt_wakenew_btf, struct task_struct *p)
{
	on_wakeup(p, true);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(gt_wakenew_raw, struct task_struct *p)
{
	on_wakeup(p, false);
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(gt_migrate_btf, struct task_struct *p, int dest_cpu)
{
	on_migrate(p, true);
	return 0;
}

SEC("raw_tp/sched_migrate_task")
int BPF_PROG(gt_migrate_raw, struct task_struct *p, int dest_cpu)
{
	on_migrate(p, false);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
