/*
 * sched.c - the OS scheduling section: context switches (voluntary /
 * involuntary), CPU migrations, on/off-CPU time and run-queue latency,
 * for the target's own threads and, on separate lines, for the io_uring
 * kernel workers (iou-wrk-*, iou-sqp-*) that share its thread group.
 * With followed children, "the target" is all the traced processes.
 *
 * The figures are the per-process totals (collect.c), which stay exact
 * however many threads come and go; the -T table lists threads one by
 * one, as many as the table of exited threads can hold, and says how
 * many it could not.
 */
#include <string.h>
#include "gtrace_cli.h"

void gt_sched_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	const struct gt_thread_stats *a = &s->totals[GT_KIND_TARGET], *w = &s->totals[GT_KIND_IOWORKER];
	gt_fig_add(fs, "sched.threads", "threads seen", (double)s->threads_seen[GT_KIND_TARGET],
		   GT_U_COUNT, false);
	gt_fig_add(fs, "sched.switches", "context switches", (double)(a->vol + a->invol), GT_U_COUNT, true);
	gt_fig_add(fs, "sched.voluntary", "  voluntary (blocked)", (double)a->vol, GT_U_COUNT, true);
	gt_fig_add(fs, "sched.involuntary", "  involuntary (preempted)", (double)a->invol, GT_U_COUNT, true);
	gt_fig_add(fs, "sched.migrations", "CPU migrations", (double)a->migrations, GT_U_COUNT, true);
	gt_fig_add(fs, "sched.oncpu_ns", "on-CPU time", (double)a->oncpu_ns, GT_U_NS, true);
	gt_fig_add(fs, "sched.offcpu_ns", "off-CPU time", (double)a->offcpu_ns, GT_U_NS, false);
	gt_fig_add(fs, "sched.runq_waits", "run-queue waits", (double)a->runq_cnt, GT_U_COUNT, true);
	gt_fig_add(fs, "sched.runq_avg_ns", "run-queue latency (avg)",
		   a->runq_cnt ? (double)a->runq_ns / (double)a->runq_cnt : 0, GT_U_NS, false);
	gt_fig_add(fs, "sched.thread_exits", NULL, (double)s->counters[GT_THREAD_EXITS], GT_U_COUNT, false);
	gt_fig_add(fs, "sched.threads_unlisted", NULL, (double)s->threads_unlisted, GT_U_COUNT, false);
	gt_fig_add(fs, "iow.threads", "io_uring worker threads", (double)s->threads_seen[GT_KIND_IOWORKER],
		   GT_U_COUNT, false);
	gt_fig_add(fs, "iow.voluntary", "  voluntary switches", (double)w->vol, GT_U_COUNT, true);
	gt_fig_add(fs, "iow.involuntary", "  involuntary switches", (double)w->invol, GT_U_COUNT, true);
	gt_fig_add(fs, "iow.oncpu_ns", "  on-CPU time", (double)w->oncpu_ns, GT_U_NS, true);
	gt_fig_add(fs, "iow.runq_avg_ns", "  run-queue latency (avg)",
		   w->runq_cnt ? (double)w->runq_ns / (double)w->runq_cnt : 0, GT_U_NS, false);
}

static void thread_table(FILE *f, const struct gt_snapshot *s)
{
	char vol[32], invol[32], mig[32], on[32], off[32], rq[32], sys[32];
	fprintf(f, "\n  %-8s %-16s %10s %10s %8s %10s %10s %10s %10s\n", "TID", "COMM",
		"VOLUNTARY", "INVOLUNT", "MIGRATE", "ON-CPU", "OFF-CPU", "RUNQ AVG", "SYSCALLS");
	for (int i = 0; i < s->nthreads; i++) {
		const struct gt_thread *t = &s->threads[i];
		fprintf(f, "  %-8u %-16s %10s %10s %8s %10s %10s %10s %10s%s%s\n", t->tid, t->comm,
			gt_fmt_num((double)t->s.vol, vol), gt_fmt_num((double)t->s.invol, invol),
			gt_fmt_num((double)t->s.migrations, mig), gt_fmt_ns((double)t->s.oncpu_ns, on),
			gt_fmt_ns((double)t->s.offcpu_ns, off),
			gt_fmt_ns(t->s.runq_cnt ? (double)t->s.runq_ns / (double)t->s.runq_cnt : 0, rq),
			gt_fmt_num((double)t->s.syscalls, sys),
			t->kind == GT_KIND_IOWORKER ? "  (io_uring worker)" : "",
			s->nprocs > 1 && t->tgid != (uint32_t)s->pid ? "  (child)" : "");
	}
	if (s->threads_unlisted) {
		fprintf(f, "  (%s more threads not listed: ", gt_fmt_num((double)s->threads_unlisted, vol));
		fprintf(f, "the table of exited threads holds %s; the totals above include them)\n",
			gt_fmt_num((double)s->max_threads, vol));
	}
}

void gt_sched_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	struct gt_figures fs = { .n = 0 };
	gt_sched_figures(s, &fs);
	int split = 0;
	while (split < fs.n && strncmp(fs.f[split].key, "iow.", 4))
		split++;
	fprintf(f, "OS scheduling (the target's threads)%*s%14s%s\n", 23, "", "per second",
		o->per > 0 ? "   per request" : "");
	struct gt_figures own = fs;
	own.n = split;
	gt_figures_print(f, &own, 0, s, o);
	if (s->threads_unlisted) {
		char a[32], b[32];
		fprintf(f, "    (%s threads itemised, %s more not: the table of exited threads was "
			"full; every figure here counts them all)\n",
			gt_fmt_num((double)s->nthreads, a), gt_fmt_num((double)s->threads_unlisted, b));
	}
	if (fs.f[split].value > 0) {
		fprintf(f, "io_uring kernel workers (iou-wrk/iou-sqp, not included above)\n");
		gt_figures_print(f, &fs, split + 1, s, o);
	}
	if (o->per_thread)
		thread_table(f, s);
	if (o->hist) {
		fprintf(f, "\n  run-queue latency, target threads\n");
		gt_hist_print(f, s->hists[GT_HIST_RUNQ].slots, GT_HIST_SLOTS, "nsecs");
		fprintf(f, "\n  off-CPU spans, target threads\n");
		gt_hist_print(f, s->hists[GT_HIST_OFFCPU].slots, GT_HIST_SLOTS, "nsecs");
		if (gt_hist_total(s->hists[GT_HIST_RUNQ_IOW].slots, GT_HIST_SLOTS) > 0) {
			fprintf(f, "\n  run-queue latency, io_uring workers\n");
			gt_hist_print(f, s->hists[GT_HIST_RUNQ_IOW].slots, GT_HIST_SLOTS, "nsecs");
		}
	}
}
