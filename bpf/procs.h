/*
 * procs.h - the processes gtrace traces: the target and, unless
 * --no-follow, every process it forks (and they fork), as perf does.
 *
 * Shared by bpf/procs.bpf.c (fork, exec, exit), the other BPF units
 * (which filter on traced() and add to their process's totals) and
 * tools/gtrace/procs.c (the report's process list).
 *
 * Each traced process gets an index, in the order gtrace first saw it:
 * 0 is the target; followed children get the next free one; past
 * max_procs (sized at load) they share the last slot, "other
 * processes", and are counted in GT_PROCS_UNLISTED.  Per index there is
 * a struct gt_proc (`pinfo`, an ARRAY) and, per CPU, the totals of its
 * threads (`ptotals`, a PERCPU_ARRAY indexed 2 * proc + enum gt_kind).
 */
#ifndef GTRACE_PROCS_H
#define GTRACE_PROCS_H

#define GT_MAX_PROCS_DEFAULT 1024       /* pinfo entries (sized at load) */

enum gt_proc_flags {
	GT_PROC_EXITED = 1,     /* its last thread exited */
	GT_PROC_EXECED = 2,     /* it called exec while traced */
	GT_PROC_FROM_START = 4, /* traced from its first instruction (fork or run) */
};

struct gt_proc {
	__u64 start_ns;         /* task->start_time of its main thread */
	__u64 exit_ktime;       /* bpf_ktime_get_ns() at its end, 0 running */
	__u32 pid;              /* its tgid */
	__u32 ppid;             /* the tgid that forked it (0: the target) */
	__u32 flags;            /* enum gt_proc_flags */
	__s32 exit_code;        /* wait status (code << 8 | signal) once exited */
	__u32 threads[2];       /* threads seen, by enum gt_kind */
	__u32 execs;            /* exec calls while traced */
	__u32 children;         /* processes it forked while traced */
	char comm[16];          /* name, updated at exec */
};

/* Events for gtrace itself (the `ctl` ring buffer, always woken). */
enum gt_ctl_type {
	GT_CTL_EXEC = 1,        /* a traced process exec'ed an image whose
				 * probes gtrace has not looked for: it was
				 * sent SIGSTOP; look, attach, SIGCONT it */
	GT_CTL_EXEC_SEEN = 2,   /* --offcpu: it exec'ed an image known to have
				 * none (not held): read its mappings soon */
};

struct gt_ctl_event {
	__u64 dev;              /* the image's device (kernel dev_t) */
	__u64 ino;              /* ... and inode */
	__u32 type;             /* enum gt_ctl_type */
	__u32 tgid;
	__u32 proc;
	__u32 stopped;          /* 1: SIGSTOP was sent, gtrace must SIGCONT */
};

/* An executable image (`noprobes` set: images known to carry no greenrt
 * probes, so their exec is not held). */
struct gt_inode {
	__u64 dev;
	__u64 ino;
};

#endif /* GTRACE_PROCS_H */
