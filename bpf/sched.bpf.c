// SPDX-License-Identifier: GPL-2.0
/*
 * sched.bpf.c - OS scheduling of the target's threads.
 *
 * sched_switch splits each switch-out of a target thread into voluntary
 * (it blocked) and involuntary (preempted while runnable) exactly as the
 * kernel's nvcsw/nivcsw accounting does: voluntary when the switch is not
 * a preemption and the task's state is not TASK_RUNNING.  (Reading only
 * prev->__state would call a task preempted between set_current_state()
 * and schedule() voluntary; the kernel counts it as involuntary, and
 * gtrace agrees with /proc/PID/status.)  The same hook measures on-CPU
 * and off-CPU spans per thread.
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

/* btf: the task pointers are BTF pointers (tp_btf): read them directly,
 * which is cheaper than the helper calls BPF_CORE_READ needs (raw_tp);
 * this runs for every context switch in the machine. */
#define TASK_READ(btf, t, field) ((btf) ? (t)->field : BPF_CORE_READ(t, field))

static __always_inline void on_switch(bool preempt, struct task_struct *prev,
				      struct task_struct *next, unsigned int prev_state,
				      bool btf)
{
	__u32 tgid = targ_tgid;
	__u64 now = 0;

	GT_RUN();
	if (TASK_READ(btf, prev, tgid) == tgid) {
		__u32 tid = TASK_READ(btf, prev, pid);
		struct gt_thread_state *st = thread_state(tid, prev);
		struct gt_thread_stats *s = thread_stats(tid);
		bool vol = !preempt && prev_state != 0;

		now = bpf_ktime_get_ns();
		if (st && s) {
			if (st->kind == GT_KIND_IOWORKER)
				count(vol ? GT_SWITCH_IOW_VOL : GT_SWITCH_IOW_INVOL, 1);
			if (vol)
				s->vol++;
			else
				s->invol++;
			if (st->last_in)
				s->oncpu_ns += now - st->last_in;
			st->last_out = now;
			st->wake_ts = vol ? 0 : now;
			/* prev is current here: keep the name it has now
			 * (threads rename themselves after they start) */
			bpf_get_current_comm(&st->comm, sizeof(st->comm));
			__u64 g = st->cur_g;
			if (g) {
				s->g_os_switches++;
				struct gt_g_stats *gs = bpf_map_lookup_elem(&gstats, &g);
				if (gs)
					gs->os_switches++;
			}
			if (trace_events && trace_os)
				emit(GT_EV_OS_OUT, tid, vol, g, 0);
		}
	}
	if (TASK_READ(btf, next, tgid) == tgid) {
		__u32 tid = TASK_READ(btf, next, pid);
		struct gt_thread_state *st = thread_state(tid, next);
		struct gt_thread_stats *s = thread_stats(tid);

		if (!now)
			now = bpf_ktime_get_ns();
		if (st && s) {
			if (st->last_out) {
				__u64 d = now - st->last_out;
				s->offcpu_ns += d;
				if (st->kind == GT_KIND_TARGET)
					hist_add(GT_HIST_OFFCPU, d);
			}
			if (st->wake_ts) {
				__u64 d = now - st->wake_ts;
				s->runq_ns += d;
				s->runq_cnt++;
				hist_add(st->kind == GT_KIND_TARGET ? GT_HIST_RUNQ
								    : GT_HIST_RUNQ_IOW, d);
				st->wake_ts = 0;
			}
			st->last_in = now;
			if (trace_events && trace_os)
				emit(GT_EV_OS_IN, tid, st->cur_g, 0, 0);
		}
	}
}

static __always_inline void on_wakeup(struct task_struct *p, bool btf)
{
	GT_RUN();
	if (TASK_READ(btf, p, tgid) != targ_tgid)
		return;
	__u32 tid = TASK_READ(btf, p, pid);
	struct gt_thread_state *st = thread_state(tid, p);
	if (st && !st->wake_ts)
		st->wake_ts = bpf_ktime_get_ns();
}

static __always_inline void on_migrate(struct task_struct *p, bool btf)
{
	GT_RUN();
	if (TASK_READ(btf, p, tgid) != targ_tgid)
		return;
	struct gt_thread_stats *s = thread_stats(TASK_READ(btf, p, pid));
	if (s)
		s->migrations++;
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
