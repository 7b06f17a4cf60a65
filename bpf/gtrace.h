/*
 * gtrace.h - the types the gtrace BPF programs share with user space.
 *
 * Included by every bpf/X.bpf.c and by tools/gtrace.  Everything the
 * kernel side aggregates lives in maps whose key and value types are
 * defined here (and in procs.h, the processes traced); nothing else
 * crosses the boundary except the ring-buffer events of --trace and the
 * `ctl` events for gtrace itself.  Keep the layout free of padding
 * surprises: fixed width fields, 8-byte members first.
 *
 * A new view (issue 17's off-CPU stacks, say) is a unit of its own, as in
 * libbpf-tools: bpf/X.bpf.c (its programs, on the maps of maps.bpf.h
 * and its own), bpf/X.h (the types it shares with user space, included
 * from here), tools/gtrace/X.c (its figures and report section, on a
 * snapshot), plus its maps read in collect.c and its programs in
 * session.c's twins table.
 */
#ifndef GTRACE_BPF_H
#define GTRACE_BPF_H

#define GT_HIST_SLOTS 32        /* log2 buckets, as libbpf-tools */
#define GT_MAX_SYSCALLS 512     /* x86_64 numbers are < 512 */
/* The thread tables are sized at load time from the machine's pid_max
 * (tools/gtrace/session.c); these are the compiled-in defaults. */
#define GT_MAX_THREADS 16384
#define GT_MAX_GOROUTINES 65536
#define GT_MAX_RINGS 16384
#define GT_MAX_IO_OPS 64        /* io_uring opcodes */
#define GT_MAX_REASONS 16       /* enum gr_wait_reason, with room */
#define GT_COMM_LEN 16
#define GT_TRACE_RING_BYTES (16 << 20)  /* --trace ring buffer */

#include "offcpu.h"        /* --offcpu: stacks, wakers, distributions */
#include "groups.h"        /* --goroutines: greenrt's goroutine groups */

/* Kind of a thread of the target's thread group. */
enum gt_kind {
	GT_KIND_TARGET = 0,     /* an ordinary thread of the target */
	GT_KIND_IOWORKER = 1,   /* PF_IO_WORKER: iou-wrk-* / iou-sqp-* */
};

/* Per-thread figures.  A thread's own figures live in its gt_thread_state
 * while it runs (only the CPU running it, or handling its event, writes
 * them) and move to the `threads` map when it exits; the same struct,
 * per CPU, holds the totals of each traced process (`ptotals`), which
 * every event adds to as well, so that the totals stay exact however
 * many threads there are. */
struct gt_thread_stats {
	__u64 vol;              /* switched out blocked (voluntary) */
	__u64 invol;            /* switched out while runnable (preempted) */
	__u64 oncpu_ns;         /* time on a CPU (between switch-in and -out) */
	__u64 offcpu_ns;        /* time off a CPU (between switch-out and -in) */
	__u64 runq_ns;          /* sum of run-queue waits */
	__u64 runq_cnt;         /* number of run-queue waits measured */
	__u64 migrations;       /* sched_migrate_task */
	__u64 syscalls;         /* system calls entered */
	__u64 syscall_ns;       /* time inside system calls */
	__u64 g_switches;       /* greenrt: goroutine switches on this worker */
	__u64 g_os_switches;    /* OS switches while a goroutine was running */
	__u64 g_parks;          /* greenrt: parks on this worker */
	__u64 g_steals;         /* greenrt: steal operations by this worker */
	__u64 g_preempts;       /* greenrt: preemptions on this worker */
};

/* Identifies a thread for its whole life and no longer: tids are
 * reused, the (tid, start time) pair is not. */
struct gt_thread_key {
	__u32 tid;
	__u32 tgid;
	__u64 start_ns;         /* task->start_time */
};

/* A live thread (`tstate`, HASH keyed by tid, deleted at the thread's
 * last switch-out; an entry whose start_ns is not the task's is a stale
 * one, from a thread whose end gtrace did not see, and is started anew). */
struct gt_thread_state {
	struct gt_thread_stats s;       /* its figures so far */
	__u64 start_ns;         /* task->start_time */
	__u64 last_in;          /* ns of the last switch-in, 0 unknown */
	__u64 last_out;         /* ns of the last switch-out, 0 unknown */
	__u64 wake_ts;          /* ns it became runnable, 0 if not waiting */
	__u64 sys_ts;           /* ns of syscall entry, 0 outside a syscall */
	__u64 cur_g;            /* greenrt: goroutine running, 0 = scheduler */
	__s64 worker;           /* greenrt worker index, -1 unknown */
	__u32 tgid;
	__u32 kind;             /* enum gt_kind */
	__u32 sys_nr;           /* syscall in progress */
	__u32 proc;             /* index of its process (struct gt_proc) */
	__u32 pad;
	char comm[GT_COMM_LEN];
};

/* An exited thread, in the `threads` map (HASH by gt_thread_key). */
struct gt_thread_done {
	struct gt_thread_stats s;
	__s64 worker;
	__u32 kind;
	__u32 proc;
	char comm[GT_COMM_LEN];
};

/* Per-syscall figures, a PERCPU_ARRAY indexed by syscall number. */
struct gt_syscall_stats {
	__u64 count;
	__u64 total_ns;
	__u64 errors;           /* returned a negative value */
	__u32 hist[GT_HIST_SLOTS];      /* log2(ns) */
};

/* A log2 histogram (run-queue latency), PERCPU_ARRAY by enum gt_hist. */
struct gt_hist {
	__u32 slots[GT_HIST_SLOTS];
};
enum gt_hist_id {
	GT_HIST_RUNQ = 0,       /* target threads: wakeup -> switch-in, ns */
	GT_HIST_RUNQ_IOW = 1,   /* io workers */
	GT_HIST_OFFCPU = 2,     /* target threads: off-CPU spans, ns */
	GT_HIST_GRUN = 3,       /* goroutine run spans (switch-in to -out), ns */
	GT_HIST_COUNT
};

/* Global counters, a PERCPU_ARRAY indexed by these. */
enum gt_counter {
	GT_IO_SUBMIT = 0,       /* io_uring_submit_req by target threads */
	GT_IO_SUBMIT_IOW,       /* ... by io workers (sqpoll) */
	GT_IO_COMPLETE,         /* io_uring_complete on a target ring */
	GT_IO_CQRING_WAIT,      /* io_uring_cqring_wait */
	GT_IO_TASK_WORK,        /* io_uring_task_work_run calls */
	GT_IO_TASK_WORK_ITEMS,  /* ... items they ran */
	GT_IO_LOCAL_WORK,       /* io_uring_local_work_run (DEFER_TASKRUN) */
	GT_IO_ASYNC_WORK,       /* io_uring_queue_async_work: punted to io-wq */
	GT_IO_CQE_OVERFLOW,     /* io_uring_cqe_overflow */
	GT_IO_RINGS,            /* io_uring_create by the target */
	GT_G_WORKER_START,      /* greenrt USDT ... */
	GT_G_SPAWN,
	GT_G_SWITCH,
	GT_G_SWITCH_TO_G,       /* switches whose target is a goroutine */
	GT_G_PARK,
	GT_G_READY,
	GT_G_STEAL,             /* steal operations */
	GT_G_STOLEN,            /* goroutines moved by them */
	GT_G_PREEMPT_SYNC,
	GT_G_PREEMPT_ASYNC,
	GT_G_EXIT,
	GT_G_IO_SUBMIT,
	GT_G_IO_COMPLETE,
	GT_G_IO_ERRORS,         /* io_complete with result < 0 */
	GT_SWITCH_IOW_VOL,      /* sched_switch of io workers */
	GT_SWITCH_IOW_INVOL,
	GT_RB_DROPS,            /* --trace events lost (ring buffer full) */
	GT_RB_CAPPED,           /* --trace events not recorded: --trace-max-mb reached */
	GT_PROG_RUNS,           /* runs of gtrace's programs (all processes) */
	GT_UPROBE_HITS,         /* greenrt USDT probe hits (each a uprobe trap) */
	GT_THREAD_EXITS,        /* threads whose last switch-out was seen */
	GT_THREADS_UNLISTED,    /* threads not itemised: a thread table was full */
	GT_IO_RINGS_FORGOTTEN,  /* target rings dropped: the memory became another's ring */
	GT_IO_RINGS_UNTRACKED,  /* target rings not tracked: the rings table was full */
	GT_FORKS_FOLLOWED,      /* child processes followed */
	GT_FORKS_UNFOLLOWED,    /* ... forked but not followed (--no-follow) */
	GT_PROCS_UNLISTED,      /* followed processes beyond the process table */
	GT_EXEC_STOPS,          /* execs held (SIGSTOP) for a look for greenrt probes */
	GT_OFF_STACKS_LOST,     /* --offcpu: stacks a stack map could not take */
	GT_OFF_KEYS_LOST,       /* ... off-CPU spans a full `offcpu` map could not take */
	GT_OFF_WAKERS_LOST,     /* ... wakers a full waker map could not take */
	GT_OFF_GWAIT_LOST,      /* ... parks not followed: `gwait` was full */
	GT_GRP_NEW,             /* greenrt groups (--goroutines): group_new */
	GT_GRP_JOIN,            /* ... group_join: members started */
	GT_GRP_LEAVE,           /* ... group_leave: members exited */
	GT_GRP_CANCEL,          /* ... group_cancel */
	GT_GRP_DEADLINE,        /* ... of them by a deadline */
	GT_GRP_DRAINED,         /* ... group_drained */
	GT_GRP_FREE,            /* ... group_free */
	GT_GRP_UNTRACKED,       /* ... events of groups no table could take */
	GT_G_WAKE_SOURCE,       /* + enum gr_wake_source: `ready` by source (--offcpu) */
	GT_G_PARK_REASON = GT_G_WAKE_SOURCE + GT_WAKE_SOURCES,
	/* GT_G_PARK_REASON + reason: parks by enum gr_wait_reason */
	GT_COUNTER_COUNT = GT_G_PARK_REASON + GT_MAX_REASONS
};

/* Per-goroutine figures (LRU_HASH keyed by goroutine id). */
struct gt_g_stats {
	__u64 runs;             /* times switched to */
	__u64 run_ns;           /* time running (switch-in to switch-out) */
	__u64 os_switches;      /* OS switches of its worker while it ran */
	__u64 parks;
	__u64 last_in;          /* ns of its last switch-in */
	__u64 park_ns;          /* --offcpu: time parked (park -> ready) */
	__u64 runq_ns;          /* --offcpu: time runnable (ready -> running) */
	__u64 runq_cnt;         /* --offcpu: ... how many times */
};

/* The greenrt runtime's own counters, as the `stats` USDT probe hands
 * them over: a mirror of gr_trace_stats (runtime/include/greenrt.h,
 * version GR_TRACE_STATS_VERSION) with the counters as one array so the
 * BPF side can add snapshots in a loop.  tools/gtrace/greenrt.c checks
 * with static asserts that the layout is the header's. */
#define GT_RT_VERSION 3
#define GT_RT_REASONS 15        /* GR_WAIT_REASON_COUNT */
enum gt_rt_counter {
	GT_RT_SPAWNED = 0,
	GT_RT_EXITED,
	GT_RT_SWITCHES,
	GT_RT_STEALS,
	GT_RT_PARKS,
	GT_RT_PREEMPTIONS,
	GT_RT_IO_SUBMITTED,
	GT_RT_IO_COMPLETED,
	GT_RT_RING_ENTERS,
	GT_RT_PARK_REASON,      /* + reason: parks_by_reason[] */
	GT_RT_NCOUNTERS = GT_RT_PARK_REASON + GT_RT_REASONS
};

struct gt_rt_stats {
	__u32 version;
	__u32 nprocs;
	__s64 at_ns;            /* CLOCK_MONOTONIC ns when the runtime took it */
	__u64 c[GT_RT_NCOUNTERS];
	__u32 engine;           /* GR_TRACE_ENGINE_*: 1 io_uring, 2 epoll */
	__u32 pad;
};

/* What the `stats` probe left for one thread group (HASH keyed by tgid).
 * greenrt's counters restart at zero with each gr_run, and the probe
 * fires once more, final, when gr_run returns; so the BPF side keeps the
 * sum of finished runs apart from the latest snapshot of the current
 * one, and the runtime's total since the process started is
 * base + last.  `first` is that total at the first probe hit seen (what
 * `attach` subtracts: the runtime counted before gtrace came). */
struct gt_rt_state {
	struct gt_rt_stats base;        /* finished gr_run calls (counters only) */
	struct gt_rt_stats last;        /* the latest snapshot; zero after a final */
	struct gt_rt_stats first;       /* base + last at the first hit */
	__u64 first_ktime;              /* bpf_ktime_get_ns() of the first hit */
	__u64 last_ktime;               /* ... of the latest */
	__u64 hits;                     /* stats probe hits */
	__u64 finals;                   /* hits with the final flag */
	__u32 bad_version;              /* hits with a version we do not know */
	__u32 last_final;               /* the latest hit was final */
	__u32 workers_active;           /* `workers` probe: the latest count */
	__u32 workers_changes;          /* ... and how many times it fired */
};

/* --trace events (ring buffer). */
enum gt_event_type {
	GT_EV_G_SWITCH = 1,     /* a = from, b = to */
	GT_EV_G_PARK,           /* a = id, b = reason */
	GT_EV_G_READY,          /* a = id, b = by */
	GT_EV_G_SPAWN,          /* a = id, b = parent */
	GT_EV_G_EXIT,           /* a = id */
	GT_EV_G_STEAL,          /* a = thief, b = victim, c = count */
	GT_EV_G_PREEMPT,        /* a = id, b = async */
	GT_EV_G_WORKER,         /* a = worker index */
	GT_EV_G_IO_SUBMIT,      /* a = id, b = opcode, c = fd */
	GT_EV_G_IO_COMPLETE,    /* a = id, b = result */
	GT_EV_OS_OUT,           /* a = voluntary, b = goroutine running */
	GT_EV_OS_IN,            /* a = goroutine running */
	GT_EV_GRP_NEW,          /* a = group, b = its gr_group's address */
	GT_EV_GRP_PARENT,       /* a = group, b = parent (0 none) */
	GT_EV_GRP_JOIN,         /* a = group, b = goroutine, c = members now */
	GT_EV_GRP_LEAVE,        /* a = group, b = goroutine, c = members now */
	GT_EV_GRP_CANCEL,       /* a = group, b = origin, c = members, d = cause */
	GT_EV_GRP_DRAINED,      /* a = group, b = ns from its cancellation */
	GT_EV_GRP_FREE,         /* a = group */
};

struct gt_event {
	__u64 ts;               /* CLOCK_MONOTONIC ns */
	__s64 a, b, c;
	__u32 tid;
	__u32 type;             /* enum gt_event_type */
	__u32 tgid;
	__u32 d;                /* a small fourth argument, saturated */
};

#include "procs.h"

#endif /* GTRACE_BPF_H */
