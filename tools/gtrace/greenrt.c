/*
 * greenrt.c - the goroutine section: spawns, exits, switches, parks by
 * reason, steals, preemptions, goroutine I/O.
 *
 * The figures come from one of two sources, and the report says which:
 *
 *   the runtime's counters (default): greenrt's `stats` probe hands over
 *     its own counters about once a second and once more, final, when
 *     gr_run returns (struct gt_rt_state).  Costs nothing measurable, but
 *     gives totals only: no per-thread or per-goroutine split, no `ready`
 *     count, no OS switches charged to goroutines.
 *   per-event probes (--goroutines, --trace, or a runtime without
 *     `stats`): a uprobe on every switch, park, ready and I/O, which adds
 *     ~1 us of the target's time per event but gives all of the above.
 *
 * With the per-event probes the runtime's counters, if there, are listed
 * too (g.rt.*), as a cross-check: for `run` the two must agree exactly.
 * A spawn is counted for the main goroutine gr_run starts too, so a
 * program that calls gr_go K times shows K+1 spawns either way.
 */
#include <stddef.h>
#include <string.h>
#include <greenrt.h>
#include "gtrace_cli.h"

/* bpf/gtrace.h mirrors gr_trace_stats; it must be the header's layout */
_Static_assert(GT_RT_VERSION == GR_TRACE_STATS_VERSION, "gr_trace_stats version");
_Static_assert(GT_RT_REASONS == GR_WAIT_REASON_COUNT, "gr_wait_reason count");
_Static_assert(sizeof(struct gt_rt_stats) == sizeof(gr_trace_stats), "gr_trace_stats size");
_Static_assert(offsetof(struct gt_rt_stats, at_ns) == offsetof(gr_trace_stats, at_ns), "at_ns");
#define RT_AT(idx, field) \
	_Static_assert(offsetof(struct gt_rt_stats, c) + 8 * (idx) == offsetof(gr_trace_stats, field), #field)
RT_AT(GT_RT_SPAWNED, spawned);
RT_AT(GT_RT_EXITED, exited);
RT_AT(GT_RT_SWITCHES, switches);
RT_AT(GT_RT_STEALS, steals);
RT_AT(GT_RT_PARKS, parks);
RT_AT(GT_RT_PREEMPTIONS, preemptions);
RT_AT(GT_RT_IO_SUBMITTED, io_submitted);
RT_AT(GT_RT_IO_COMPLETED, io_completed);
RT_AT(GT_RT_RING_ENTERS, ring_enters);
RT_AT(GT_RT_PARK_REASON, parks_by_reason);
_Static_assert(offsetof(struct gt_rt_stats, engine) == offsetof(gr_trace_stats, engine), "engine");
_Static_assert(GR_TRACE_ENGINE_URING == 1 && GR_TRACE_ENGINE_EPOLL == 2, "engine codes");

const char *gt_greenrt_engine(const struct gt_snapshot *s)
{
	if (!s->has_rt)
		return NULL;
	switch (s->rt.last.engine) {
	case GR_TRACE_ENGINE_URING:
		return "uring";
	case GR_TRACE_ENGINE_EPOLL:
		return "epoll";
	case GT_RT_ENGINE_MIXED:
		return "mixed";
	default:
		return NULL;
	}
}

/* What the runtime's engine waits in: its ring_enters counter's name. */
static const char *engine_wait_call(const struct gt_snapshot *s)
{
	const char *e = gt_greenrt_engine(s);
	return e && !strcmp(e, "epoll") ? "epoll_wait" : "io_uring_enter";
}

/* enum gr_wait_reason, in order (runtime/include/greenrt.h) */
static const char *const reasons[] = {
	"none", "chan send", "chan recv", "select", "select (no cases)", "sleep",
	"mutex", "rwmutex read", "rwmutex write", "cond", "waitgroup", "once",
	"io", "blocking call", "group wait",
};
static const char *const reason_keys[] = {
	"g.park.none", "g.park.chan_send", "g.park.chan_recv", "g.park.select",
	"g.park.select_no_cases", "g.park.sleep", "g.park.mutex", "g.park.rwmutex_r",
	"g.park.rwmutex_w", "g.park.cond", "g.park.wg", "g.park.once", "g.park.io",
	"g.park.blocking", "g.park.group",
};
#define NREASONS (int)(sizeof(reasons) / sizeof(reasons[0]))
_Static_assert(NREASONS == GT_RT_REASONS, "reason names");

const char *gt_wait_reason_name(unsigned r)
{
	return r < (unsigned)NREASONS ? reasons[r] : "unknown";
}

const char *gt_wait_reason_key(unsigned r)
{
	return r < (unsigned)NREASONS ? reason_keys[r] + strlen("g.park.") : "unknown";
}

/* figures are counted by the runtime, not per event */
static bool from_counters(const struct gt_snapshot *s)
{
	return s->greenrt && !s->g_events;
}

const char *gt_greenrt_source(const struct gt_snapshot *s, char *buf, size_t len)
{
	if (s->g_events) {
		snprintf(buf, len, "from per-event probes%s",
			 s->g_stats ? "" : "; this runtime has no stats probe");
		return buf;
	}
	if (!s->has_rt) {
		snprintf(buf, len, "from the runtime's counters: no snapshot received");
		return buf;
	}
	double at = (double)((int64_t)s->rt.last_ktime - s->t_start) / 1e9;
	if (!s->rt_from_start)
		snprintf(buf, len, "from the runtime's counters: growth over the %.1f s "
			 "between the first and last of %llu snapshots",
			 (double)(s->rt.last.at_ns - s->rt.first.at_ns) / 1e9,
			 (unsigned long long)s->rt.hits);
	else if (s->rt.last_final)
		snprintf(buf, len, "from the runtime's counters: final snapshot, at gr_run's return");
	else
		snprintf(buf, len, "from the runtime's counters: last snapshot at %.1f s of %.1f "
			 "(no final one: gr_run did not return)", at, s->elapsed_s);
	return buf;
}

/* a figure taken from the runtime's counters (rt_span sets its span) */
static void rt_add(struct gt_figures *fs, const char *key, const char *label, double v, bool rate)
{
	gt_fig_add(fs, key, label, v, GT_U_COUNT, rate);
	if (fs->n > 0)
		fs->f[fs->n - 1].span_s = -1;
}

/* The runtime's counters under g.rt.*: shown as a cross-check next to
 * per-event figures, JSON only when they are the figures themselves. */
static void rt_figures(const struct gt_snapshot *s, struct gt_figures *fs, bool text)
{
	static const struct { const char *key, *label; int idx; } rt[] = {
		{ "g.rt.spawned", "  spawned", GT_RT_SPAWNED },
		{ "g.rt.exited", "  exited", GT_RT_EXITED },
		{ "g.rt.switches", "  switches", GT_RT_SWITCHES },
		{ "g.rt.parks", "  parks", GT_RT_PARKS },
		{ "g.rt.steals", "  steals", GT_RT_STEALS },
		{ "g.rt.preemptions", "  preemptions", GT_RT_PREEMPTIONS },
		{ "g.rt.io_submitted", "  I/O submitted", GT_RT_IO_SUBMITTED },
		{ "g.rt.io_completed", "  I/O completed", GT_RT_IO_COMPLETED },
		{ "g.rt.ring_enters", NULL, GT_RT_RING_ENTERS },
	};
	char enters[48];
	snprintf(enters, sizeof(enters), "  %s calls", engine_wait_call(s));
	if (!s->has_rt)
		return;
	if (text)
		gt_fig_add(fs, "g.rt.snapshots", "runtime counters: snapshots",
			   (double)s->rt.hits, GT_U_COUNT, false);
	else
		gt_fig_add(fs, "g.rt.snapshots", NULL, (double)s->rt.hits, GT_U_COUNT, false);
	for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++)
		rt_add(fs, rt[i].key, text ? (rt[i].label ? rt[i].label : enters) : NULL,
		       (double)s->rtc[rt[i].idx], true);
}

/* attach: the counters' growth covers the span between the first and the
 * last snapshot, not the whole traced time; per-second rates use it */
static void rt_span(const struct gt_snapshot *s, struct gt_figures *fs, int from)
{
	double span = (double)(s->rt.last.at_ns - s->rt.first.at_ns) / 1e9;
	if (!s->has_rt || s->rt_from_start)
		return;
	for (int i = from; i < fs->n; i++)
		if (fs->f[i].span_s < 0)
			fs->f[i].span_s = span > 0 ? span : -1;
}

void gt_greenrt_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	const uint64_t *c = s->counters;
	const uint64_t *r = s->rtc;
	double in_g = 0;
	if (!s->greenrt)
		return;
	gt_fig_add(fs, "g.from_counters", NULL, from_counters(s) ? 1 : 0, GT_U_COUNT, false);
	gt_fig_add(fs, "g.workers", "workers started", (double)c[GT_G_WORKER_START], GT_U_COUNT, false);
	if (s->has_rt && s->rt.workers_changes) {
		/* the CPU governor (GR_ADAPTIVE) parked or unparked workers */
		gt_fig_add(fs, "g.workers_active", "  active at the end (CPU governor)",
			   (double)s->rt.workers_active, GT_U_COUNT, false);
		gt_fig_add(fs, "g.workers_changes", "  times the active count changed",
			   (double)s->rt.workers_changes, GT_U_COUNT, false);
	}
	if (from_counters(s)) {
		int first = fs->n;
		if (s->has_rt) {
			rt_add(fs, "g.spawned", "goroutines spawned", (double)r[GT_RT_SPAWNED], true);
			rt_add(fs, "g.exited", "goroutines exited", (double)r[GT_RT_EXITED], true);
			rt_add(fs, "g.switches", "switches", (double)r[GT_RT_SWITCHES], true);
			rt_add(fs, "g.parks", "parks", (double)r[GT_RT_PARKS], true);
			for (int i = 0; i < NREASONS; i++)
				if (r[GT_RT_PARK_REASON + i])
					rt_add(fs, reason_keys[i], reasons[i], (double)r[GT_RT_PARK_REASON + i], true);
			rt_add(fs, "g.steals", "steals", (double)r[GT_RT_STEALS], true);
		} else {
			/* no snapshot: what the cheap probes saw */
			gt_fig_add(fs, "g.steals", "steals (steal probe)", (double)c[GT_G_STEAL], GT_U_COUNT, true);
		}
		gt_fig_add(fs, "g.stolen", "  goroutines moved (steal probe)", (double)c[GT_G_STOLEN], GT_U_COUNT, true);
		if (s->has_rt)
			rt_add(fs, "g.preemptions", "preemptions", (double)r[GT_RT_PREEMPTIONS], true);
		gt_fig_add(fs, "g.preempt_sync", "  at a safe point (preempt probe)", (double)c[GT_G_PREEMPT_SYNC], GT_U_COUNT, true);
		gt_fig_add(fs, "g.preempt_async", "  by signal (preempt probe)", (double)c[GT_G_PREEMPT_ASYNC], GT_U_COUNT, true);
		if (s->has_rt) {
			rt_add(fs, "g.io_submitted", "goroutine I/O submitted", (double)r[GT_RT_IO_SUBMITTED], true);
			rt_add(fs, "g.io_completed", "goroutine I/O completed", (double)r[GT_RT_IO_COMPLETED], true);
			char enters[48];
			snprintf(enters, sizeof(enters), "%s by the runtime", engine_wait_call(s));
			rt_add(fs, "g.ring_enters", enters, (double)r[GT_RT_RING_ENTERS], true);
		}
		rt_figures(s, fs, false);
		rt_span(s, fs, first);
		return;
	}
	for (int i = 0; i < s->nthreads; i++)
		in_g += (double)s->threads[i].s.g_os_switches;
	gt_fig_add(fs, "g.spawned", "goroutines spawned", (double)c[GT_G_SPAWN], GT_U_COUNT, true);
	gt_fig_add(fs, "g.exited", "goroutines exited", (double)c[GT_G_EXIT], GT_U_COUNT, true);
	gt_fig_add(fs, "g.switches", "switches (switch probes)", (double)c[GT_G_SWITCH], GT_U_COUNT, true);
	gt_fig_add(fs, "g.switches_to_goroutine", "  into a goroutine", (double)c[GT_G_SWITCH_TO_G], GT_U_COUNT, true);
	gt_fig_add(fs, "g.parks", "parks", (double)c[GT_G_PARK], GT_U_COUNT, true);
	for (int i = 0; i < NREASONS && i < GT_MAX_REASONS; i++)
		if (c[GT_G_PARK_REASON + i])
			gt_fig_add(fs, reason_keys[i], reasons[i], (double)c[GT_G_PARK_REASON + i],
				   GT_U_COUNT, true);
	gt_fig_add(fs, "g.ready", "made ready", (double)c[GT_G_READY], GT_U_COUNT, true);
	gt_fig_add(fs, "g.steals", "steals", (double)c[GT_G_STEAL], GT_U_COUNT, true);
	gt_fig_add(fs, "g.stolen", "  goroutines moved", (double)c[GT_G_STOLEN], GT_U_COUNT, true);
	gt_fig_add(fs, "g.preempt_sync", "preemptions at a safe point", (double)c[GT_G_PREEMPT_SYNC], GT_U_COUNT, true);
	gt_fig_add(fs, "g.preempt_async", "preemptions by signal", (double)c[GT_G_PREEMPT_ASYNC], GT_U_COUNT, true);
	gt_fig_add(fs, "g.io_submitted", "goroutine I/O submitted", (double)c[GT_G_IO_SUBMIT], GT_U_COUNT, true);
	gt_fig_add(fs, "g.io_completed", "goroutine I/O completed", (double)c[GT_G_IO_COMPLETE], GT_U_COUNT, true);
	gt_fig_add(fs, "g.io_errors", "  with an error result", (double)c[GT_G_IO_ERRORS], GT_U_COUNT, true);
	gt_fig_add(fs, "g.os_switches_in_goroutine", "OS switches while a goroutine ran", in_g, GT_U_COUNT, true);
	int first = fs->n;
	rt_figures(s, fs, true);
	rt_span(s, fs, first);
}

void gt_greenrt_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	struct gt_figures fs = { .n = 0 };
	char a[32], b[32], c[32], d[32], src[256];
	if (!s->greenrt) {
		fprintf(f, "Goroutines: none seen - goroutine figures need a program built with greenrt "
			"(its USDT probes were not found in the target)\n");
		return;
	}
	gt_greenrt_figures(s, &fs);
	fprintf(f, "Goroutines (greenrt probes in %s)\n", s->usdt_where);
	fprintf(f, "  figures %s\n", gt_greenrt_source(s, src, sizeof(src)));
	if (gt_greenrt_engine(s))
		fprintf(f, "  I/O engine %s\n", gt_greenrt_engine(s));
	if (from_counters(s) && !s->has_rt)
		fprintf(f, "  (greenrt fires its stats probe about once a second while goroutines "
			"run and when gr_run returns; --goroutines counts every event instead)\n");
	gt_figures_print(f, &fs, 0, s, o);
	if (s->rt.bad_version)
		fprintf(f, "  %llu stats snapshots of an unknown layout ignored: use a gtrace as new as the runtime\n",
			(unsigned long long)s->rt.bad_version);
	if (from_counters(s)) {
		if (o->per_thread || o->hist)
			fprintf(f, "\n  per-thread and per-goroutine figures and run-span histograms need "
				"--goroutines (per-event probes, ~1 us of the target's time each)\n");
		return;
	}
	if (s->ngtop && s->gtop[0].s.os_switches) {
		fprintf(f, "\n  goroutines hit by most OS switches (of %s seen)\n",
			gt_fmt_num((double)s->ngoroutines, a));
		fprintf(f, "  %-10s %12s %12s %10s %12s\n", "GOROUTINE", "OS SWITCHES", "RUNS", "PARKS", "RUN TIME");
		for (int i = 0; i < s->ngtop && s->gtop[i].s.os_switches; i++) {
			const struct gt_goroutine *g = &s->gtop[i];
			fprintf(f, "  %-10llu %12s %12s %10s %12s\n", (unsigned long long)g->id,
				gt_fmt_num((double)g->s.os_switches, a), gt_fmt_num((double)g->s.runs, b),
				gt_fmt_num((double)g->s.parks, c), gt_fmt_ns((double)g->s.run_ns, d));
		}
	}
	if (o->per_thread) {
		fprintf(f, "\n  %-8s %-16s %6s %12s %10s %8s %9s %14s\n", "TID", "COMM", "WORKER",
			"G SWITCHES", "PARKS", "STEALS", "PREEMPTS", "OS SW IN A G");
		for (int i = 0; i < s->nthreads; i++) {
			const struct gt_thread *t = &s->threads[i];
			if (!t->s.g_switches && t->worker < 0)
				continue;
			snprintf(d, sizeof(d), "%lld", (long long)t->worker);
			fprintf(f, "  %-8u %-16s %6s %12s %10s %8llu %9llu %14s\n", t->tid, t->comm,
				t->worker >= 0 ? d : "-", gt_fmt_num((double)t->s.g_switches, a),
				gt_fmt_num((double)t->s.g_parks, b), (unsigned long long)t->s.g_steals,
				(unsigned long long)t->s.g_preempts, gt_fmt_num((double)t->s.g_os_switches, c));
		}
	}
	if (o->hist) {
		fprintf(f, "\n  goroutine run spans (switch-in to switch-out)\n");
		gt_hist_print(f, s->hists[GT_HIST_GRUN].slots, GT_HIST_SLOTS, "nsecs");
	}
}
