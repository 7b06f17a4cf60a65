// SPDX-License-Identifier: GPL-2.0
/*
 * syscalls.bpf.c - system calls of the target: count and latency per
 * syscall number.
 *
 * Two ways in, chosen at load time by tools/gtrace/session.c:
 *
 * - fentry/fexit on x64_sys_call(regs, nr), the kernel's x86_64 syscall
 *   dispatcher (the default where the kernel's BTF has it).  BPF
 *   trampolines patched into that one function: every system call pays
 *   the trampoline and our tgid test, and nothing else (not measured yet:
 *   the development machine's kernel refuses fentry programs, EPERM).
 *   fexit gets x64_sys_call's return value, the call's result.
 * - the raw syscall tracepoints sys_enter/sys_exit (tp_btf, or raw_tp),
 *   the fallback.  Attaching anything to them sets
 *   SYSCALL_WORK_SYSCALL_TRACEPOINT on every task in the machine, which
 *   sends every system call of every process (the load generator's too)
 *   through the slow entry/exit path: a getppid() loop went from ~173 ns
 *   to ~335 ns a call on the machine gtrace was developed on (empty
 *   programs alone: ~290 ns; bench/gtrace_syscall_cost.sh).
 *
 * Either way a call is counted on the way in, so calls that never come
 * back (exit, exit_group) are still counted; the latency is measured on
 * the way out from the time stamp left in the thread's state, so a call
 * whose entry gtrace did not see (it began before the attach, or it is
 * the child's side of a fork, which returns through ret_from_fork) is
 * left out of the times, never mis-timed.  The early test of the caller's
 * tgid (traced(): a compare, and only while followed children live, an
 * array lookup the verifier inlines) keeps the cost for every other
 * process in the machine at one helper call and a few instructions.
 * What the fentry way does not see: numbers outside the x86_64
 * table (-ENOSYS before dispatch), x32 and 32-bit compat calls (their
 * own dispatchers); the tracepoints counted those too.
 */
#include "maps.bpf.h"

static __always_inline void on_enter(long id, bool btf)
{
	GT_RUN();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = (__u32)(pid_tgid >> 32);
	if (!traced(tgid))
		return;
	__u32 tid = (__u32)pid_tgid;
	__u32 nr = (__u32)id;
	struct gt_syscall_stats *ss = bpf_map_lookup_elem(&syscalls, &nr);
	if (ss)
		ss->count++;
	struct task_struct *task = current_task(btf);
	struct gt_thread_state *st = thread_state(task, tid, tgid, btf);
	struct gt_thread_stats *tot = totals_of(st, task, tgid, btf);
	ADD(st, tot, syscalls, 1);
	if (st) {
		st->sys_nr = nr;
		st->sys_ts = bpf_ktime_get_ns();
	}
}

static __always_inline void on_exit(long ret)
{
	GT_RUN();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!traced((__u32)(pid_tgid >> 32)))
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
	struct gt_thread_stats *tot = totals(st->proc, st->kind);
	ADD(st, tot, syscall_ns, d);
}

/* Default: the dispatcher.  x64_sys_call(regs, nr) returns long, the
 * call's result (its caller stores it in regs->ax): fexit's `ret`. */
SEC("fentry/x64_sys_call")
int BPF_PROG(gt_sysenter_fe, const struct pt_regs *regs, unsigned int nr)
{
	on_enter(nr, true);
	return 0;
}

SEC("fexit/x64_sys_call")
int BPF_PROG(gt_sysexit_fx, const struct pt_regs *regs, unsigned int nr, long ret)
{
	on_exit(ret);
	return 0;
}

/* Fallback: the raw syscall tracepoints. */
SEC("tp_btf/sys_enter")
int BPF_PROG(gt_sysenter_btf, struct pt_regs *regs, long id)
{
	on_enter(id, true);
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(gt_sysenter_raw, struct pt_regs *regs, long id)
{
	on_enter(id, false);
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
