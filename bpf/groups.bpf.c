// SPDX-License-Identifier: GPL-2.0
/*
 * groups.bpf.c - greenrt's goroutine groups, on the runtime's group_*
 * USDT probes (bpf/groups.h has the vocabulary and the tables).
 *
 *   group_new (id, address)        the group's entry starts (a previous
 *                                  image's group of that id, after an
 *                                  exec, is retired first)
 *   group_parent (id, parent)      its place in the tree
 *   group_join (id, g, members)    a member started; the peak
 *   group_leave (id, g, members)   a member exited
 *   group_cancel (id, cause, origin, members)
 *   group_drained (id, ns)         cancellation -> its last member's exit,
 *                                  also into the GT_DIST_G_DRAIN distribution
 *   group_free (id)                the entry moves to groups_done
 * Every event is also counted (GT_GRP_*), so the totals stay exact when
 * the tables are full; with --trace each becomes a timeline event.
 *
 * Why a unit of its own: these programs, and their tables, are loaded
 * only with --goroutines or --trace (session.c), the modes whose report
 * shows groups; otherwise the probes stay nops.  group_join and
 * group_leave fire once per member, as spawn and exit do.
 */
#include "maps.bpf.h"
#include <bpf/usdt.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, GT_MAX_GROUPS);
	__type(key, struct gt_group_key);
	__type(value, struct gt_group);
} groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GT_GROUPS_DONE);
	__type(key, struct gt_group_key);
	__type(value, struct gt_group);
} groups_done SEC(".maps");

/* A probe hit of a traced process: its tgid (and tid), or 0. */
static __always_inline __u32 grp_hit(__u32 *tid)
{
	GT_PROBE_HIT();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = (__u32)(pid_tgid >> 32);
	*tid = (__u32)pid_tgid;
	return traced(tgid) ? tgid : 0;
}

/* Group id's entry, made on first sight; NULL (counted) if the table is
 * full. */
static __always_inline struct gt_group *grp_get(__u32 tgid, __s64 id)
{
	struct gt_group_key k = { .id = (__u64)id, .tgid = tgid };
	struct gt_group *g = bpf_map_lookup_elem(&groups, &k);
	if (g)
		return g;
	static const struct gt_group zero;
	bpf_map_update_elem(&groups, &k, &zero, BPF_NOEXIST);
	g = bpf_map_lookup_elem(&groups, &k);
	if (!g)
		count(GT_GRP_UNTRACKED, 1);
	return g;
}

/* Move group k's entry g to groups_done (freed, or an earlier image's). */
static __always_inline void grp_retire(const struct gt_group_key *k, struct gt_group *g)
{
	bpf_map_update_elem(&groups_done, k, g, BPF_ANY);
	bpf_map_delete_elem(&groups, k);
}

SEC("usdt")
int BPF_USDT(gt_grp_new, long id, long addr)
{
	__u32 tid, tgid = grp_hit(&tid);
	if (!tgid)
		return 0;
	count(GT_GRP_NEW, 1);
	struct gt_group_key k = { .id = (__u64)id, .tgid = tgid };
	struct gt_group *old = bpf_map_lookup_elem(&groups, &k);
	if (old && (old->flags & GT_GRP_F_NEW))
		grp_retire(&k, old);    /* ids restart with a new image (exec) */
	struct gt_group *g = grp_get(tgid, id);
	if (g) {
		g->addr = (__u64)addr;
		g->new_ts = bpf_ktime_get_ns();
		g->flags |= GT_GRP_F_NEW;
	}
	if (trace_events)
		emit(GT_EV_GRP_NEW, tgid, tid, id, addr, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_grp_parent, long id, long parent)
{
	__u32 tid, tgid = grp_hit(&tid);
	if (!tgid)
		return 0;
	struct gt_group *g = grp_get(tgid, id);
	if (g) {
		g->parent = parent;
		g->flags |= GT_GRP_F_PARENT;
	}
	if (trace_events)
		emit(GT_EV_GRP_PARENT, tgid, tid, id, parent, 0);
	return 0;
}

static __always_inline void peak(struct gt_group *g, __s64 n)
{
	if (n > g->members_peak)
		g->members_peak = n;
}

/* group_join or group_leave: a member started or exited; `now` members. */
static __always_inline int members(__s64 id, __s64 goroutine, __s64 now, bool join)
{
	__u32 tid, tgid = grp_hit(&tid);
	if (!tgid)
		return 0;
	count(join ? GT_GRP_JOIN : GT_GRP_LEAVE, 1);
	struct gt_group *g = grp_get(tgid, id);
	if (g) {
		g->members = now;
		if (join)
			g->joined++;
		else
			g->left++;
		/* a leave says how many there were just before it: what a
		 * group made before `attach` had at least */
		peak(g, join ? now : now + 1);
	}
	if (trace_events)
		emit(join ? GT_EV_GRP_JOIN : GT_EV_GRP_LEAVE, tgid, tid, id, goroutine, now);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_grp_join, long id, long goroutine, long now)
{
	return members(id, goroutine, now, true);
}

SEC("usdt")
int BPF_USDT(gt_grp_leave, long id, long goroutine, long now)
{
	return members(id, goroutine, now, false);
}

SEC("usdt")
int BPF_USDT(gt_grp_cancel, long id, long cause, long origin, long now)
{
	__u32 tid, tgid = grp_hit(&tid);
	if (!tgid)
		return 0;
	count(GT_GRP_CANCEL, 1);
	if (cause == GT_GRP_CAUSE_DEADLINE)
		count(GT_GRP_DEADLINE, 1);
	struct gt_group *g = grp_get(tgid, id);
	if (g) {
		g->cancel_ts = bpf_ktime_get_ns();
		g->cause = (__u32)cause;
		g->origin = origin;
		g->members_at_cancel = now;
		g->flags |= GT_GRP_F_CANCELLED;
		peak(g, now);
	}
	if (trace_events)
		emit_d(GT_EV_GRP_CANCEL, tgid, tid, id, origin, now, (__u64)cause);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_grp_drained, long id, long ns)
{
	__u32 tid, tgid = grp_hit(&tid);
	if (!tgid)
		return 0;
	__u64 d = ns > 0 ? (__u64)ns : 0;
	count(GT_GRP_DRAINED, 1);
	dist_add(GT_DIST_G_DRAIN, d);
	struct gt_group *g = grp_get(tgid, id);
	if (g) {
		g->drain_ns = d;
		g->flags |= GT_GRP_F_DRAINED;
	}
	if (trace_events)
		emit(GT_EV_GRP_DRAINED, tgid, tid, id, (__s64)d, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_grp_free, long id)
{
	__u32 tid, tgid = grp_hit(&tid);
	if (!tgid)
		return 0;
	count(GT_GRP_FREE, 1);
	struct gt_group_key k = { .id = (__u64)id, .tgid = tgid };
	struct gt_group *g = grp_get(tgid, id);
	if (g) {
		g->free_ts = bpf_ktime_get_ns();
		g->flags |= GT_GRP_F_FREED;
		grp_retire(&k, g);
	}
	if (trace_events)
		emit(GT_EV_GRP_FREE, tgid, tid, id, 0, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
