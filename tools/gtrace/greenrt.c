/*
 * greenrt.c - the goroutine section, from the greenrt USDT probes:
 * spawns, exits, switches, parks by reason, ready, steals, preemptions,
 * goroutine I/O, and the OS context switches that hit a worker while a
 * goroutine ran on it (the bridge between the two schedulers).
 *
 * A spawn is counted per `spawn` probe; greenrt fires it for the main
 * goroutine gr_run starts too, so a program that calls gr_go K times
 * shows K+1 spawns.
 */
#include <string.h>
#include "gtrace_cli.h"

/* enum gr_wait_reason, in order (runtime/include/greenrt.h) */
static const char *const reasons[] = {
	"none", "chan send", "chan recv", "select", "select (no cases)", "sleep",
	"mutex", "rwmutex read", "rwmutex write", "cond", "waitgroup", "once",
	"io", "blocking call",
};
static const char *const reason_keys[] = {
	"g.park.none", "g.park.chan_send", "g.park.chan_recv", "g.park.select",
	"g.park.select_no_cases", "g.park.sleep", "g.park.mutex", "g.park.rwmutex_r",
	"g.park.rwmutex_w", "g.park.cond", "g.park.wg", "g.park.once", "g.park.io",
	"g.park.blocking",
};
#define NREASONS (int)(sizeof(reasons) / sizeof(reasons[0]))

const char *gt_wait_reason_name(unsigned r)
{
	return r < (unsigned)NREASONS ? reasons[r] : "unknown";
}

void gt_greenrt_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	const uint64_t *c = s->counters;
	double in_g = 0;
	if (!s->greenrt)
		return;
	for (int i = 0; i < s->nthreads; i++)
		in_g += (double)s->threads[i].s.g_os_switches;
	gt_fig_add(fs, "g.workers", "workers started", (double)c[GT_G_WORKER_START], GT_U_COUNT, false);
	gt_fig_add(fs, "g.spawned", "goroutines spawned", (double)c[GT_G_SPAWN], GT_U_COUNT, true);
	gt_fig_add(fs, "g.exited", "goroutines exited", (double)c[GT_G_EXIT], GT_U_COUNT, true);
	gt_fig_add(fs, "g.switches", "switches (switch probes)", (double)c[GT_G_SWITCH], GT_U_COUNT, true);
	gt_fig_add(fs, "g.switches_to_goroutine", "  into a goroutine", (double)c[GT_G_SWITCH_TO_G], GT_U_COUNT, true);
	gt_fig_add(fs, "g.parks", "parks", (double)c[GT_G_PARK], GT_U_COUNT, true);
	for (int r = 0; r < NREASONS && r < GT_MAX_REASONS; r++)
		if (c[GT_G_PARK_REASON + r])
			gt_fig_add(fs, reason_keys[r], reasons[r], (double)c[GT_G_PARK_REASON + r],
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
}

void gt_greenrt_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	struct gt_figures fs = { .n = 0 };
	char a[32], b[32], c[32], d[32];
	if (!s->greenrt) {
		fprintf(f, "Goroutines: none seen - goroutine figures need a program built with greenrt "
			"(its USDT probes were not found in the target)\n");
		return;
	}
	gt_greenrt_figures(s, &fs);
	fprintf(f, "Goroutines (greenrt probes in %s)\n", s->usdt_where);
	gt_figures_print(f, &fs, 0, s, o);
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
