// SPDX-License-Identifier: GPL-2.0
/*
 * procs.bpf.c - which processes are traced: the target and (unless
 * --no-follow) the processes it forks, as `perf stat` counts them.
 *
 * sched_process_fork: a traced process forks a new process (not a
 *   thread): it gets a process index (procs.h), a bit in tgid_bits,
 *   which every other program tests (traced()), and an entry in `procs`.
 *   Without `follow` the fork is only counted, so the report can say
 *   what it left out.
 * sched_process_exec: the process runs a new image.  Its name changes,
 *   and the image may carry greenrt's USDT probes (a wrapper: `taskset
 *   -c 0 ./server`, `sh -c 'exec ./server'`, or a child running a greenrt
 *   program).  Uprobes can only be attached from user space, and the
 *   program must not run before they are, or its first events would be
 *   lost; so the process is sent SIGSTOP (delivered before the new image
 *   executes its first instruction) and gtrace is told on the `ctl` ring
 *   buffer; it looks for probes, attaches them and sends SIGCONT.  Images
 *   gtrace has looked at and found without probes go into `noprobes`
 *   and are not held again; with --offcpu (exec_notify) gtrace is still
 *   told of their execs, without a hold, so that it reads the process's
 *   mappings to name its stacks by.  Rejected: stopping every exec (a
 *   `make` would stop thousands of times), and attaching to an image's
 *   probes for every pid in the machine (the breakpoints would cost
 *   untraced processes running the same binary).
 * sched_process_exit of the group's last thread: the process ends;
 *   its exit status is recorded (the group exit code if it called
 *   exit_group() or died of a signal, else the thread's).
 * sched_process_free of a group leader: only now may its tgid be given
 *   to a new, unrelated process (every thread of the group has done its
 *   last switch-out), so it stops being traced.
 */
#include "maps.bpf.h"

#define SIGSTOP 19

static __always_inline void set_traced(__u32 tgid, bool on)
{
	__u32 w = tgid / 64;
	__u64 *b = bpf_map_lookup_elem(&tgid_bits, &w);
	if (!b)
		return;
	if (on)
		__sync_fetch_and_or(b, 1ULL << (tgid % 64));
	else
		__sync_fetch_and_and(b, ~(1ULL << (tgid % 64)));
}

static __always_inline void on_fork(struct task_struct *parent, struct task_struct *child, bool btf)
{
	__u32 ptgid = TASK_READ(btf, parent, tgid);
	GT_RUN();
	if (!traced(ptgid))
		return;
	__u32 ctgid = TASK_READ(btf, child, tgid);
	if (ctgid == ptgid)
		return;         /* a new thread of the same process */
	struct gt_proc *pp = proc_info(proc_of(ptgid));
	if (pp)
		__sync_fetch_and_add(&pp->children, 1);
	if (!follow) {
		count(GT_FORKS_UNFOLLOWED, 1);
		return;
	}
	count(GT_FORKS_FOLLOWED, 1);
	__u32 idx = __sync_fetch_and_add(&next_proc, 1);
	if (idx >= max_procs) {
		idx = max_procs;
		count(GT_PROCS_UNLISTED, 1);
	} else {
		struct gt_proc *p = proc_info(idx);
		if (p) {
			p->pid = ctgid;
			p->ppid = ptgid;
			p->start_ns = TASK_READ(btf, child, start_time);
			p->flags = GT_PROC_FROM_START;
			BPF_CORE_READ_STR_INTO(&p->comm, child, comm);
		}
	}
	bpf_map_update_elem(&procs, &ctgid, &idx, BPF_ANY);
	set_traced(ctgid, true);
	__sync_fetch_and_add(&nfollowed, 1);
}

static __always_inline void on_exec(struct task_struct *p, bool btf)
{
	__u32 tgid = TASK_READ(btf, p, tgid);
	GT_RUN();
	if (!traced(tgid))
		return;
	__u32 proc = proc_of(tgid);
	struct gt_proc *pi = proc_info(proc);
	if (pi && proc < max_procs) {
		__sync_fetch_and_add(&pi->execs, 1);
		__sync_fetch_and_or(&pi->flags, GT_PROC_EXECED);
		BPF_CORE_READ_STR_INTO(&pi->comm, p, comm);
	}
	struct gt_inode ino = {
		.dev = BPF_CORE_READ(p, mm, exe_file, f_inode, i_sb, s_dev),
		.ino = BPF_CORE_READ(p, mm, exe_file, f_inode, i_ino),
	};
	bool known = bpf_map_lookup_elem(&noprobes, &ino) != NULL;
	if (known && !exec_notify)
		return;
	struct gt_ctl_event *e = bpf_ringbuf_reserve(&ctl, sizeof(*e), 0);
	if (!e)
		return;         /* gtrace could not be told: do not hold it */
	if (known) {
		/* no probes to attach: not held, only said */
		e->type = GT_CTL_EXEC_SEEN;
		e->tgid = tgid;
		e->proc = proc;
		e->dev = ino.dev;
		e->ino = ino.ino;
		e->stopped = 0;
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
		return;
	}
	e->type = GT_CTL_EXEC;
	e->tgid = tgid;
	e->proc = proc;
	e->dev = ino.dev;
	e->ino = ino.ino;
	e->stopped = bpf_send_signal(SIGSTOP) == 0;
	if (e->stopped)
		count(GT_EXEC_STOPS, 1);
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

static __always_inline void on_exit(struct task_struct *p, bool btf)
{
	__u32 tgid = TASK_READ(btf, p, tgid);
	GT_RUN();
	if (!traced(tgid))
		return;
	/* group dead: do_exit() has taken this thread off signal->live
	 * (read rather than the tracepoint's group_dead, which kernels
	 * before 6.16 do not pass) */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return;
	struct gt_proc *pi = proc_info(proc_of(tgid));
	if (!pi)
		return;
	unsigned int sflags = BPF_CORE_READ(p, signal, flags);
	pi->exit_code = (sflags & SIGNAL_GROUP_EXIT) ? BPF_CORE_READ(p, signal, group_exit_code)
						     : TASK_READ(btf, p, exit_code);
	pi->exit_ktime = bpf_ktime_get_ns();
	__sync_fetch_and_or(&pi->flags, GT_PROC_EXITED);
}

static __always_inline void on_free(struct task_struct *p, bool btf)
{
	__u32 tgid = TASK_READ(btf, p, tgid);
	GT_RUN();
	if (tgid == targ_tgid || TASK_READ(btf, p, pid) != tgid || !traced(tgid))
		return;
	set_traced(tgid, false);
	bpf_map_delete_elem(&procs, &tgid);
	__sync_fetch_and_sub(&nfollowed, 1);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(gt_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	on_fork(parent, child, true);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(gt_fork_raw, struct task_struct *parent, struct task_struct *child)
{
	on_fork(parent, child, false);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(gt_exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	on_exec(p, true);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(gt_exec_raw, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	on_exec(p, false);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(gt_exit_btf, struct task_struct *p)
{
	on_exit(p, true);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(gt_exit_raw, struct task_struct *p)
{
	on_exit(p, false);
	return 0;
}

SEC("tp_btf/sched_process_free")
int BPF_PROG(gt_free_btf, struct task_struct *p)
{
	on_free(p, true);
	return 0;
}

SEC("raw_tp/sched_process_free")
int BPF_PROG(gt_free_raw, struct task_struct *p)
{
	on_free(p, false);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
