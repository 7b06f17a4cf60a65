/*
 * groups.h - the types gtrace's view of greenrt's goroutine groups shares
 * between bpf/groups.bpf.c and tools/gtrace/groups.c.
 *
 * A group (gr_group, runtime/group.c) is a set of goroutines cancelled,
 * given a deadline and waited for together, nested into a tree.  The
 * runtime tells its life through seven USDT probes (greenrt.h,
 * "Tracing"): group_new, group_parent, group_join, group_leave,
 * group_cancel, group_drained, group_free.  Each group is named by its
 * id (> 0, never reused within a process image) and its process.
 *
 * The kernel side keeps one struct gt_group per group, in two tables:
 *   `groups`      the live ones (HASH, entries allocated as they come,
 *                 bounded by GT_MAX_GROUPS): a group stays here from its
 *                 first event to group_free, however long it lives, so a
 *                 server's root group, made at start and cancelled at
 *                 shutdown, is never pushed out by the per-request ones;
 *   `groups_done` the freed ones (LRU_HASH of GT_GROUPS_DONE): the most
 *                 recently freed are kept.
 * A group neither table holds is counted, not itemised: the totals come
 * from counters (enum gt_counter GT_GRP_*) and the drain times from a
 * distribution (GT_DIST_G_DRAIN), both exact whatever the tables held.
 *
 * A group whose group_new came before tracing began (`attach`) is
 * itemised from its first event seen: its figures are what was seen
 * (GT_GRP_F_NEW clear says so); the members-now argument of join and
 * leave is the runtime's own count, exact either way.
 */
#ifndef GTRACE_GROUPS_H
#define GTRACE_GROUPS_H

#define GT_MAX_GROUPS 65536     /* live groups itemised at once */
#define GT_GROUPS_DONE 8192     /* freed groups itemised (the latest) */

/* gr_group cancellation causes (the group_cancel probe's argument) */
#define GT_GRP_CAUSE_CANCEL 1   /* gr_group_cancel */
#define GT_GRP_CAUSE_DEADLINE 2 /* its (or an ancestor's) deadline */

enum gt_group_flags {
	GT_GRP_F_NEW = 1,       /* its group_new was seen: figures from its start */
	GT_GRP_F_PARENT = 2,    /* group_parent seen: `parent` is decided */
	GT_GRP_F_CANCELLED = 4, /* group_cancel seen */
	GT_GRP_F_DRAINED = 8,   /* group_drained seen: `drain_ns` is set */
	GT_GRP_F_FREED = 16,    /* group_free seen (it is in groups_done) */
};

struct gt_group_key {
	__u64 id;               /* the runtime's group id */
	__u32 tgid;
	__u32 pad;
};

/* One group.  Its events are serialised by the runtime (each probe fires
 * under the group's lock, but group_new and group_free, which no other
 * can race), so the fields need no atomics. */
struct gt_group {
	__u64 addr;             /* the gr_group's address (group_new), 0 unknown */
	__u64 new_ts;           /* bpf_ktime_get_ns() of group_new, 0 not seen */
	__u64 cancel_ts;        /* ... of group_cancel */
	__u64 drain_ns;         /* group_drained: cancellation -> last member out */
	__u64 free_ts;          /* ... of group_free */
	__s64 parent;           /* GT_GRP_F_PARENT: the parent's id, 0 none */
	__s64 origin;           /* the group whose cancel or deadline started its own */
	__s64 members;          /* members now, as the last join or leave said */
	__s64 members_peak;     /* the most that join said (or leave and cancel:
				 * for a group made before tracing) */
	__s64 members_at_cancel;
	__u64 joined;           /* group_join seen: members started */
	__u64 left;             /* group_leave seen: members exited */
	__u32 cause;            /* GT_GRP_CAUSE_*, 0 not cancelled */
	__u32 flags;            /* enum gt_group_flags */
};

#endif /* GTRACE_GROUPS_H */
