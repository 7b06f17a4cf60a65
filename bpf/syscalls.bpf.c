// SPDX-License-Identifier: GPL-2.0
/*
 * syscalls.bpf.c - system calls of the target: count and latency per
 * syscall number.
 *
 * A call is counted at sys_enter, so calls that never return (exit_group,
 * a successful execve seen from the old image) are still counted; the
 * latency is measured at sys_exit from the time stamp left in the
 * thread's state.  The early tgid test keeps the cost for every other
 * process in the machine at one helper call and a compare.
 */
#include "maps.bpf.h"

static __always_inline void on_enter(long id)
{
	GT_RUN();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if ((__u32)(pid_tgid >> 32) != targ_tgid)
		return;
	__u32 tid = (__u32)pid_tgid;
	__u32 nr = (__u32)id;
	struct gt_syscall_stats *ss = bpf_map_lookup_elem(&syscalls, &nr);
	if (ss)
		ss->count++;
	struct gt_thread_stats *s = thread_stats(tid);
	if (s)
		s->syscalls++;
	struct gt_thread_state *st =
		thread_state(tid, (struct task_struct *)bpf_get_current_task());
	if (st) {
		st->sys_nr = nr;
		st->sys_ts = bpf_ktime_get_ns();
	}
}

static __always_inline void on_exit(long ret)
{
	GT_RUN();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if ((__u32)(pid_tgid >> 32) != targ_tgid)
		return;
	__u32 tid = (__u32)pid_tgid;
	struct gt_thread_state *st = bpf_map_lookup_elem(&tstate, &tid);
	if (!st || !st->sys_ts)
		return;
	__u64 d = bpf_ktime_get_ns() - st->sys_ts;
	__u32 nr = st->sys_nr;
	st->sys_ts = 0;
	struct gt_syscall_stats *ss = bpf_map_lookup_elem(&syscalls, &nr);
	if (ss) {
		ss->total_ns += d;
		if (ret < 0)
			ss->errors++;
		__u32 slot = log2_slot(d);
		if (slot < GT_HIST_SLOTS)
			ss->hist[slot]++;
	}
	struct gt_thread_stats *s = bpf_map_lookup_elem(&threads, &tid);
	if (s)
		s->syscall_ns += d;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(gt_sysenter_btf, struct pt_regs *regs, long id)
{
	on_enter(id);
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(gt_sysenter_raw, struct pt_regs *regs, long id)
{
	on_enter(id);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(gt_sysexit_btf, struct pt_regs *regs, long ret)
{
	on_exit(ret);
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(gt_sysexit_raw, struct pt_regs *regs, long ret)
{
	on_exit(ret);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
