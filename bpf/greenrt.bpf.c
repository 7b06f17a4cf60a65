// SPDX-License-Identifier: GPL-2.0
/*
 * greenrt.bpf.c - the greenrt runtime's USDT probes (provider "greenrt",
 * listed in runtime/include/greenrt.h, section "Tracing").
 *
 * User space attaches each program with bpf_program__attach_usdt for the
 * target pid only, on the executable (static link) and on libgreenrt.so
 * when the program loads it; libbpf's usdt.bpf.h decodes the arguments
 * from the probe's note.  Counting happens here, per CPU; per worker
 * thread the `switch` probe records in tstate.cur_g which goroutine runs,
 * which is what lets sched.bpf.c charge an OS context switch to the
 * goroutine it interrupted.  Per goroutine, gstats keeps runs, run time,
 * parks and OS switches (an LRU map: a million goroutines do not fit and
 * do not need to, the report shows the top few).
 *
 * Cost: each probe hit is a uprobe trap (~1 us of the target's time,
 * far more than the program itself).  switch, park, ready, io_submit and
 * io_complete fire several times per request in a server, so user space
 * attaches them only for --goroutines / --trace.  By default the
 * goroutine counts come from `stats` instead: about once a second the
 * runtime hands over a gr_trace_stats with its own counters, which
 * gt_g_stats copies into rtstats (see struct gt_rt_state for how
 * successive gr_run calls add up).
 */
#include "maps.bpf.h"
#include <bpf/usdt.bpf.h>

/* The calling thread, if it belongs to a traced process: its tid, its
 * tgid in *tgid. */
static __always_inline __u32 target_tid(__u32 *tgid)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	*tgid = (__u32)(pid_tgid >> 32);
	if (!traced(*tgid))
		return 0;
	return (__u32)pid_tgid;
}

static __always_inline struct gt_thread_state *cur_state(__u32 tid, __u32 tgid)
{
	return thread_state((struct task_struct *)bpf_get_current_task(), tid, tgid, false);
}

/* Add 1 to per-thread field f of the current thread and its process. */
static __always_inline struct gt_thread_state *thread_add_g(__u32 tid, __u32 tgid, int which)
{
	struct gt_thread_state *st = cur_state(tid, tgid);
	if (!st)
		return NULL;
	struct gt_thread_stats *tot = totals(st->proc, st->kind);
	switch (which) {
	case 0: ADD(st, tot, g_switches, 1); break;
	case 1: ADD(st, tot, g_parks, 1); break;
	case 2: ADD(st, tot, g_steals, 1); break;
	default: ADD(st, tot, g_preempts, 1); break;
	}
	return st;
}

SEC("usdt")
int BPF_USDT(gt_g_worker, long index, long tid_arg)
{
	__u32 tgid, tid;
	GT_PROBE_HIT();
	if (!(tid = target_tid(&tgid)))
		return 0;
	struct gt_thread_state *st = cur_state(tid, tgid);
	if (st)
		st->worker = index;
	count(GT_G_WORKER_START, 1);
	if (trace_events)
		emit(GT_EV_G_WORKER, tgid, tid, index, 0, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_g_spawn, long id, long parent, long fn)
{
	__u32 tgid, tid;
	GT_PROBE_HIT();
	if (!(tid = target_tid(&tgid)))
		return 0;
	count(GT_G_SPAWN, 1);
	if (trace_events)
		emit(GT_EV_G_SPAWN, tgid, tid, id, parent, fn);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_g_switch, long from, long to)
{
	__u32 tgid, tid;
	GT_PROBE_HIT();
	if (!(tid = target_tid(&tgid)))
		return 0;
	__u64 now = bpf_ktime_get_ns();
	count(GT_G_SWITCH, 1);
	if (from > 0) {
		struct gt_g_stats *g = bpf_map_lookup_elem(&gstats, &from);
		if (g && g->last_in) {
			g->run_ns += now - g->last_in;
			hist_add(GT_HIST_GRUN, now - g->last_in);
			g->last_in = 0;
		}
	}
	if (to > 0) {
		struct gt_g_stats *g = g_stats(to);
		if (g) {
			g->runs++;
			g->last_in = now;
		}
		count(GT_G_SWITCH_TO_G, 1);
	}
	struct gt_thread_state *st = thread_add_g(tid, tgid, 0);
	if (st)
		st->cur_g = to > 0 ? to : 0;
	if (trace_events)
		emit(GT_EV_G_SWITCH, tgid, tid, from, to, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_g_park, long id, long reason)
{
	__u32 tgid, tid;
	GT_PROBE_HIT();
	if (!(tid = target_tid(&tgid)))
		return 0;
	count(GT_G_PARK, 1);
	if (reason >= 0 && reason < GT_MAX_REASONS)
		count(GT_G_PARK_REASON + reason, 1);
	struct gt_g_stats *g = bpf_map_lookup_elem(&gstats, &id);
	if (g)
		g->parks++;
	thread_add_g(tid, tgid, 1);
	if (trace_events)
		emit(GT_EV_G_PARK, tgid, tid, id, reason, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_g_ready, long id, long by)
{
	__u32 tgid, tid;
	GT_PROBE_HIT();
	if (!(tid = target_tid(&tgid)))
		return 0;
	count(GT_G_READY, 1);
	if (trace_events)
		emit(GT_EV_G_READY, tgid, tid, id, by, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_g_steal, long thief, long victim, long n)
{
	__u32 tgid, tid;
	GT_PROBE_HIT();
	if (!(tid = target_tid(&tgid)))
		return 0;
	count(GT_G_STEAL, 1);
	count(GT_G_STOLEN, n > 0 ? n : 0);
	thread_add_g(tid, tgid, 2);
	if (trace_events)
		emit(GT_EV_G_STEAL, tgid, tid, thief, victim, n);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_g_preempt, long id, long async)
{
	__u32 tgid, tid;
	GT_PROBE_HIT();
	if (!(tid = target_tid(&tgid)))
		return 0;
	count(async ? GT_G_PREEMPT_ASYNC : GT_G_PREEMPT_SYNC, 1);
	thread_add_g(tid, tgid, 3);
	if (trace_events)
		emit(GT_EV_G_PREEMPT, tgid, tid, id, async, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_g_exit, long id)
{
	__u32 tgid, tid;
	GT_PROBE_HIT();
	if (!(tid = target_tid(&tgid)))
		return 0;
	count(GT_G_EXIT, 1);
	if (trace_events)
		emit(GT_EV_G_EXIT, tgid, tid, id, 0, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_g_iosubmit, long id, long op, long fd)
{
	__u32 tgid, tid;
	GT_PROBE_HIT();
	if (!(tid = target_tid(&tgid)))
		return 0;
	count(GT_G_IO_SUBMIT, 1);
	if (trace_events)
		emit(GT_EV_G_IO_SUBMIT, tgid, tid, id, op, fd);
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_g_iocomplete, long id, long res)
{
	__u32 tgid, tid;
	GT_PROBE_HIT();
	if (!(tid = target_tid(&tgid)))
		return 0;
	count(GT_G_IO_COMPLETE, 1);
	if (res < 0)
		count(GT_G_IO_ERRORS, 1);
	if (trace_events)
		emit(GT_EV_G_IO_COMPLETE, tgid, tid, id, res, 0);
	return 0;
}

static __always_inline struct gt_rt_state *rt_state(__u32 tgid)
{
	struct gt_rt_state *st = bpf_map_lookup_elem(&rtstats, &tgid);
	if (st)
		return st;
	static const struct gt_rt_state zero;
	bpf_map_update_elem(&rtstats, &tgid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&rtstats, &tgid);
}

/* The CPU governor parked or unparked a worker (rare: not a hot probe). */
SEC("usdt")
int BPF_USDT(gt_g_workers, long active)
{
	GT_PROBE_HIT();
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	if (!traced(tgid))
		return 0;
	struct gt_rt_state *st = rt_state(tgid);
	if (!st)
		return 0;
	st->workers_active = (__u32)active;
	st->workers_changes++;
	return 0;
}

SEC("usdt")
int BPF_USDT(gt_g_stats, void *addr, long final)
{
	GT_PROBE_HIT();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = (__u32)(pid_tgid >> 32);
	struct gt_rt_stats snap;

	if (!traced(tgid))
		return 0;
	struct gt_rt_state *st = rt_state(tgid);
	if (!st)
		return 0;
	if (bpf_probe_read_user(&snap, sizeof(snap), addr))
		return 0;
	if (snap.version != GT_RT_VERSION) {
		st->bad_version++;
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();
	if (final) {
		/* gr_run ends: its totals join the finished runs */
		for (int i = 0; i < GT_RT_NCOUNTERS; i++) {
			st->base.c[i] += snap.c[i];
			st->last.c[i] = 0;
		}
		st->last.version = snap.version;
		st->last.nprocs = snap.nprocs;
		st->last.at_ns = snap.at_ns;
		st->last.engine = snap.engine;
		st->finals++;
	} else {
		st->last = snap;
	}
	if (!st->hits) {
		for (int i = 0; i < GT_RT_NCOUNTERS; i++)
			st->first.c[i] = st->base.c[i] + st->last.c[i];
		st->first.version = snap.version;
		st->first.nprocs = snap.nprocs;
		st->first.at_ns = snap.at_ns;
		st->first.engine = snap.engine;
		st->first_ktime = now;
	}
	st->last_ktime = now;
	st->last_final = final != 0;
	st->hits++;
	return 0;
}

/* gtrace's own probe `gtrace:calib` (tools/gtrace/calib.c): the cost of
 * a uprobe hit, measured by hitting it in gtrace's own process. */
SEC("usdt")
int BPF_USDT(gt_calib)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
