/*
 * sched.c - the OS scheduling section: context switches (voluntary /
 * involuntary), CPU migrations, on/off-CPU time and run-queue latency,
 * for the target's own threads and, on separate lines, for the io_uring
 * kernel workers (iou-wrk-*, iou-sqp-*) that share its thread group.
 */
#include <string.h>
#include "gtrace_cli.h"

struct agg {
	int threads;
	double vol, invol, mig, oncpu, offcpu, runq_ns, runq_cnt;
};

static struct agg sum(const struct gt_snapshot *s, uint32_t kind)
{
	struct agg a = { 0 };
	for (int i = 0; i < s->nthreads; i++) {
		const struct gt_thread *t = &s->threads[i];
		if (t->kind != kind)
			continue;
		a.threads++;
		a.vol += (double)t->s.vol;
		a.invol += (double)t->s.invol;
		a.mig += (double)t->s.migrations;
		a.oncpu += (double)t->s.oncpu_ns;
		a.offcpu += (double)t->s.offcpu_ns;
		a.runq_ns += (double)t->s.runq_ns;
		a.runq_cnt += (double)t->s.runq_cnt;
	}
	return a;
}

void gt_sched_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	struct agg a = sum(s, GT_KIND_TARGET), w = sum(s, GT_KIND_IOWORKER);
	gt_fig_add(fs, "sched.threads", "threads seen", a.threads, GT_U_COUNT, false);
	gt_fig_add(fs, "sched.switches", "context switches", a.vol + a.invol, GT_U_COUNT, true);
	gt_fig_add(fs, "sched.voluntary", "  voluntary (blocked)", a.vol, GT_U_COUNT, true);
	gt_fig_add(fs, "sched.involuntary", "  involuntary (preempted)", a.invol, GT_U_COUNT, true);
	gt_fig_add(fs, "sched.migrations", "CPU migrations", a.mig, GT_U_COUNT, true);
	gt_fig_add(fs, "sched.oncpu_ns", "on-CPU time", a.oncpu, GT_U_NS, true);
	gt_fig_add(fs, "sched.offcpu_ns", "off-CPU time", a.offcpu, GT_U_NS, false);
	gt_fig_add(fs, "sched.runq_waits", "run-queue waits", a.runq_cnt, GT_U_COUNT, true);
	gt_fig_add(fs, "sched.runq_avg_ns", "run-queue latency (avg)",
		   a.runq_cnt ? a.runq_ns / a.runq_cnt : 0, GT_U_NS, false);
	gt_fig_add(fs, "iow.threads", "io_uring worker threads", w.threads, GT_U_COUNT, false);
	gt_fig_add(fs, "iow.voluntary", "  voluntary switches", w.vol, GT_U_COUNT, true);
	gt_fig_add(fs, "iow.involuntary", "  involuntary switches", w.invol, GT_U_COUNT, true);
	gt_fig_add(fs, "iow.oncpu_ns", "  on-CPU time", w.oncpu, GT_U_NS, true);
	gt_fig_add(fs, "iow.runq_avg_ns", "  run-queue latency (avg)",
		   w.runq_cnt ? w.runq_ns / w.runq_cnt : 0, GT_U_NS, false);
}

static void thread_table(FILE *f, const struct gt_snapshot *s)
{
	char a[32], b[32], c[32], d[32], e[32], g[32];
	fprintf(f, "\n  %-8s %-16s %10s %10s %8s %10s %10s %10s %10s\n", "TID", "COMM",
		"VOLUNTARY", "INVOLUNT", "MIGRATE", "ON-CPU", "OFF-CPU", "RUNQ AVG", "SYSCALLS");
	for (int i = 0; i < s->nthreads; i++) {
		const struct gt_thread *t = &s->threads[i];
		fprintf(f, "  %-8u %-16s %10s %10s %8s %10s %10s %10s %10s%s\n", t->tid, t->comm,
			gt_fmt_num((double)t->s.vol, a), gt_fmt_num((double)t->s.invol, b),
			gt_fmt_num((double)t->s.migrations, c), gt_fmt_ns((double)t->s.oncpu_ns, d),
			gt_fmt_ns((double)t->s.offcpu_ns, e),
			gt_fmt_ns(t->s.runq_cnt ? (double)t->s.runq_ns / (double)t->s.runq_cnt : 0, g),
			gt_fmt_num((double)t->s.syscalls, c),
			t->kind == GT_KIND_IOWORKER ? "  (io_uring worker)" : "");
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
