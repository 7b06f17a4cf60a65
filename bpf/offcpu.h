/*
 * offcpu.h - the types `gtrace --offcpu` shares between bpf/offcpu.bpf.c
 * and tools/gtrace/offcpu.c: where the traced threads and goroutines
 * wait, for how long, and who woke them.
 *
 * Off-CPU time is kept per (process, stacks, kind) as offcputime does,
 * never per event: a span adds its length to one entry of `offcpu`.
 *
 *   OS threads: a span runs from a thread's switch-out to its next
 *     switch-in; the key holds its kernel and user stacks at the
 *     switch-out and its name, and says whether it blocked (voluntary) or
 *     was preempted (runnable all along).
 *   goroutines: a park runs from the `park` probe to the `ready` probe
 *     (the key holds the goroutine's own user stack at the park, taken
 *     on the goroutine's stack, and the wait reason); then the goroutine
 *     is runnable until the `switch` probe runs it (run-queue time,
 *     under the same park-site stack).
 *
 * Stacks live in stack maps as addresses: kernel stacks, the wakers'
 * (shorter: the walk costs by the frame), user stacks.  User addresses
 * are symbolised through the process's mappings, which gtrace reads while
 * it runs (tools/gtrace/symbols.c).  Rejected: user stacks with build-ids
 * (BPF_F_STACK_BUILD_ID), which name each frame whatever became of the
 * process - the kernel looks each frame's build-id up at every capture,
 * which made a switch-out's programs cost twice as much (7.6 against 3.5
 * us a run on this machine).
 *
 * Wakers: for a thread, the task that woke it (sched_waking runs in the
 * waker's context) with the waker's kernel stack, as offwaketime shows;
 * for a goroutine, what the runtime's `ready` probe says made it
 * runnable (enum gr_wake_source: a goroutine, a channel, a timer, an I/O
 * completion, the offload pool, its group's cancellation) and the waker's
 * user stack.
 *
 * Distributions (gt_dist) are log-linear histograms: 8 buckets per
 * power of two (GT_DIST_SUB), so a percentile read from one is within
 * 12.5% of the true value; the exact maximum is kept beside.
 */
#ifndef GTRACE_OFFCPU_H
#define GTRACE_OFFCPU_H

#define GT_OFF_KDEPTH 64                /* kernel frames kept per stack */
#define GT_OFF_WDEPTH 16                /* ... of a waker's stack */
#define GT_OFF_UDEPTH 64                /* user frames kept per stack */
#define GT_OFF_STACKS 16384             /* stacks per stack map */
#define GT_OFF_KEYS 32768               /* off-CPU entries (stacks x kinds) */
#define GT_OFF_WAKERS 16384             /* waker -> wakee entries */
#define GT_OFF_GWAIT (1 << 20)          /* goroutines parked or runnable at once */
#define GT_DIST_SUB_BITS 3
#define GT_DIST_SUB (1 << GT_DIST_SUB_BITS)     /* buckets per power of two */
#define GT_DIST_SLOTS (46 * GT_DIST_SUB)        /* up to 2^48 ns (3 days) */
#define GT_WAKE_SOURCES 8               /* enum gr_wake_source, with room */

/* What an off-CPU entry counts. */
enum gt_off_kind {
	GT_OFF_BLOCKED = 0,     /* a thread blocked (voluntary switch-out) */
	GT_OFF_PREEMPTED = 1,   /* a thread preempted: runnable, waiting for a CPU */
	GT_OFF_G_PARKED = 2,    /* a goroutine parked (reason: enum gr_wait_reason) */
	GT_OFF_G_RUNNABLE = 3,  /* a goroutine made ready, waiting for a worker */
};

struct gt_off_key {
	__u32 tgid;
	__s32 kstack;           /* id in kstacks, < 0: none */
	__s32 ustack;           /* id in ustacks, < 0: none */
	__u16 kind;             /* enum gt_off_kind */
	__u16 reason;           /* goroutines: the wait reason */
	char comm[16];          /* threads: the thread's name; goroutines: "" */
};

struct gt_off_val {
	__u64 ns;               /* total time */
	__u64 count;            /* spans */
};

/* A thread of a traced process that is off-CPU now (`offstart`, by tid). */
struct gt_off_start {
	__u64 ts;               /* switch-out */
	__u64 wake_ts;          /* woken (sched_waking), 0: not yet */
	__s32 kstack, ustack;
	__u32 tgid;
	__u32 vol;              /* 1: blocked, 0: preempted */
	__u32 waker_tgid;       /* the task that woke it (0: none seen) */
	__u32 waker_tid;
	__s32 waker_kstack;
	__u32 pad;
	char comm[16];
	char waker_comm[16];
};

/* Who woke a thread (`owakers`). */
struct gt_owake_key {
	__u32 waker_tgid, waker_tid;
	__u32 wakee_tgid, wakee_tid;
	__s32 waker_kstack;
	__u32 pad;
	char waker_comm[16];
	char wakee_comm[16];
};

/* A goroutine (of a traced process) parked or runnable (`gwait`). */
struct gt_gkey {
	__u64 id;
	__u32 tgid;
	__u32 pad;
};

struct gt_gwait {
	__u64 park_ts;          /* parked since, 0: not parked */
	__u64 ready_ts;         /* runnable since, 0: not runnable */
	__s32 stack;            /* user stack at the park (or yield) */
	__u16 reason;           /* enum gr_wait_reason */
	__u16 pad;
};

/* What made goroutines runnable (`gwakers`). */
struct gt_gwake_key {
	__u64 obj;              /* the gr_chan (GR_WAKE_CHAN), the wakee's gr_group
				 * (GR_WAKE_CANCEL), else 0 */
	__u32 tgid;
	__s32 waker_stack;      /* the waker's user stack at `ready` */
	__s32 park_stack;       /* the wakee's park-site stack */
	__u16 source;           /* enum gr_wake_source */
	__u16 reason;           /* the wakee's wait reason */
};

/* A distribution of durations in ns (`dists`, PERCPU_ARRAY by gt_dist_id). */
struct gt_dist {
	__u64 count;
	__u64 sum;
	__u64 max;
	__u32 slots[GT_DIST_SLOTS];
};

enum gt_dist_id {
	GT_DIST_OS_RUNQ = 0,    /* threads: woken (or preempted) -> on a CPU */
	GT_DIST_OS_BLOCKED,     /* threads: blocked -> woken */
	GT_DIST_G_RUNQ,         /* goroutines: ready -> running */
	GT_DIST_G_PARK,         /* + reason: goroutines parked -> ready, by reason */
	GT_DIST_G_DRAIN = GT_DIST_G_PARK + 16,  /* GT_MAX_REASONS; groups (groups.h):
						 * cancelled -> last member out */
	GT_DIST_COUNT
};

/* Lost on the way (counters, enum gt_counter GT_OFF_*): stacks the stack
 * maps could not take (a hash collision or a full map), entries a full
 * map could not take. */

#endif /* GTRACE_OFFCPU_H */
