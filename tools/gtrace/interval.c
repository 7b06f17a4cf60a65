/*
 * interval.c - what happened between two snapshots, and `-i SECONDS`.
 *
 * gt_snapshot_delta() is the one code path for "over time": `top` draws
 * its screen from the delta of each second, and `run`/`attach -i` print
 * the delta of each interval.  A delta is itself a snapshot, so every
 * concern computes its figures from it as from a whole run: counts and
 * times are differences, averages and percentiles are those of the
 * interval's own events (a distribution's buckets subtract), levels (the
 * threads seen, the workers active) are the later snapshot's.  Since the
 * first interval starts from the empty snapshot at attach time and the
 * last one ends at the snapshot the final report is made of, the
 * intervals of a figure that adds up add up to the report's total,
 * exactly.
 *
 * Output: one line per interval on the report's stream (a header every
 * INTERVAL_HEADER_EVERY lines, as vmstat), and with --json one JSON
 * object per line (JSON lines): a header, an "interval" object per
 * interval whose "summary" holds every figure of the interval, then the
 * final report, compact, as the last line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "gtrace_cli.h"

#define INTERVAL_HEADER_EVERY 20

static void sub_u64(void *out, const void *a, const void *b, size_t size)
{
	const uint64_t *x = a, *y = b;
	uint64_t *o = out;
	for (size_t i = 0; i < size / 8; i++)
		o[i] = x[i] - y[i];
}

static const struct gt_thread *find_thread(const struct gt_snapshot *s, const struct gt_thread *t)
{
	for (int i = 0; i < s->nthreads; i++)
		if (s->threads[i].tid == t->tid && s->threads[i].start_ns == t->start_ns)
			return &s->threads[i];
	return NULL;
}

static const struct gt_process *find_proc(const struct gt_snapshot *s, uint32_t idx)
{
	for (int i = 0; i < s->nprocs; i++)
		if (s->procs[i].idx == idx)
			return &s->procs[i];
	return NULL;
}

int gt_snapshot_delta(const struct gt_snapshot *cur, const struct gt_snapshot *prev, struct gt_snapshot *out)
{
	static const struct gt_thread_stats zero_stats;
	*out = *cur;
	out->threads = NULL;
	out->procs = NULL;
	out->off = NULL;
	out->groups = NULL;     /* an interval has the groups' totals, not their table */
	out->ngroups = 0;
	out->groups_listed = false;
	out->nthreads = out->nprocs = 0;
	out->elapsed_s = cur->elapsed_s - prev->elapsed_s;
	for (int k = 0; k < 2; k++)
		sub_u64(&out->totals[k], &cur->totals[k], &prev->totals[k], sizeof(out->totals[k]));
	for (int i = 0; i < GT_MAX_SYSCALLS; i++) {
		out->sys[i].count = cur->sys[i].count - prev->sys[i].count;
		out->sys[i].total_ns = cur->sys[i].total_ns - prev->sys[i].total_ns;
		out->sys[i].errors = cur->sys[i].errors - prev->sys[i].errors;
		for (int j = 0; j < GT_HIST_SLOTS; j++)
			out->sys[i].hist[j] = cur->sys[i].hist[j] - prev->sys[i].hist[j];
	}
	for (int i = 0; i < GT_HIST_COUNT; i++)
		for (int j = 0; j < GT_HIST_SLOTS; j++)
			out->hists[i].slots[j] = cur->hists[i].slots[j] - prev->hists[i].slots[j];
	sub_u64(out->counters, cur->counters, prev->counters, sizeof(out->counters));
	sub_u64(out->io_ops, cur->io_ops, prev->io_ops, sizeof(out->io_ops));
	sub_u64(out->rtc, cur->rtc, prev->rtc, sizeof(out->rtc));
	for (int i = 0; i < GT_DIST_COUNT; i++)
		gt_dist_delta(&out->dists[i], &cur->dists[i], &prev->dists[i]);
	gt_pmu_delta(out, cur, prev);
	out->cost_runs = cur->cost_runs - prev->cost_runs;
	out->cost_ns = cur->cost_ns - prev->cost_ns;

	/* threads: those alive at some point of the interval */
	out->threads = calloc((size_t)cur->nthreads + 1, sizeof(*out->threads));
	out->procs = calloc((size_t)cur->nprocs + 1, sizeof(*out->procs));
	if (!out->threads || !out->procs)
		return -ENOMEM;
	for (int i = 0; i < cur->nthreads; i++) {
		const struct gt_thread *t = &cur->threads[i], *p = find_thread(prev, t);
		if (p && p->exited)
			continue;       /* gone before this interval */
		struct gt_thread *d = &out->threads[out->nthreads++];
		*d = *t;
		sub_u64(&d->s, &t->s, p ? &p->s : &zero_stats, sizeof(d->s));
	}
	for (int i = 0; i < cur->nprocs; i++) {
		const struct gt_process *c = &cur->procs[i], *p = find_proc(prev, c->idx);
		struct gt_process *d = &out->procs[out->nprocs++];
		*d = *c;
		for (int k = 0; k < 2; k++)
			sub_u64(&d->tot[k], &c->tot[k], p ? &p->tot[k] : &zero_stats, sizeof(d->tot[k]));
		d->syscalls = c->syscalls - (p ? p->syscalls : 0);
	}
	return gt_offcpu_delta(out, cur, prev);
}

/* ---- -i: one line (and JSON line) per interval ---- */

struct gt_interval {
	const struct gt_opts *o;
	FILE *out;
	struct gt_snapshot *prev;       /* where the next interval starts */
	int64_t next;                   /* when it is due (gt_now_ns) */
	int n;                          /* intervals printed */
	int err;                        /* writing the JSON lines failed */
};

struct gt_interval *gt_interval_new(const struct gt_opts *o, FILE *out, int64_t t_start)
{
	struct gt_interval *iv = calloc(1, sizeof(*iv));
	if (!iv)
		return NULL;
	iv->o = o;
	iv->out = out;
	iv->prev = calloc(1, sizeof(*iv->prev));       /* the empty start */
	if (!iv->prev) {
		free(iv);
		return NULL;
	}
	iv->prev->t_start = t_start;
	iv->next = t_start + (int64_t)(o->interval * 1e9);
	return iv;
}

void gt_interval_free(struct gt_interval *iv)
{
	if (!iv)
		return;
	gt_snapshot_free(iv->prev);
	free(iv->prev);
	free(iv);
}

/* A figure of fs by key, or NAN-like -1 if absent. */
static double fig(const struct gt_figures *fs, const char *key)
{
	for (int i = 0; i < fs->n; i++)
		if (!strcmp(fs->f[i].key, key))
			return fs->f[i].value;
	return -1;
}

static void header(FILE *f, const struct gt_snapshot *d)
{
	fprintf(f, "%9s %7s %9s %9s %10s %9s %10s", "TIME", "CPU%", "VOL/s", "INVOL/s", "SYSCALL/s",
		"RUNQ AVG", "IO SUBM/s");
	if (d->greenrt)
		fprintf(f, " %10s %9s", "G SW/s", "G PARK/s");
	if (d->offcpu)
		fprintf(f, " %9s%s", "RUNQ P99", d->g_offcpu ? " G RUNQ P99" : "");
	if (d->pmu_on)
		fprintf(f, " %6s %9s", "IPC", "FAULTS/s");
	fputc('\n', f);
}

static const char *rate(double v, double dt, char *buf)
{
	if (v < 0)
		return "-";
	return gt_fmt_num(v / dt < 100 ? (double)(long long)(v / dt * 100) / 100 : (double)(long long)(v / dt + 0.5),
			  buf);
}

static void print_line(struct gt_interval *iv, const struct gt_snapshot *d, const struct gt_figures *fs,
		       double t_end)
{
	FILE *f = iv->out;
	char a[32], b[32], c[32], e[32], g[32], h[32], k[32];
	double dt = d->elapsed_s > 0 ? d->elapsed_s : 1e-9;
	if (iv->n % INTERVAL_HEADER_EVERY == 0)
		header(f, d);
	double rq = fig(fs, "sched.runq_avg_ns");
	fprintf(f, "%8.1fs %6.1f%% %9s %9s %10s %9s %10s", t_end, fig(fs, "sched.oncpu_ns") / dt / 1e7,
		rate(fig(fs, "sched.voluntary"), dt, a), rate(fig(fs, "sched.involuntary"), dt, b),
		rate(fig(fs, "syscalls.total"), dt, c), rq > 0 ? gt_fmt_ns(rq, e) : "-",
		rate(fig(fs, "io.submitted"), dt, g));
	if (d->greenrt)
		fprintf(f, " %10s %9s", rate(fig(fs, "g.switches"), dt, a), rate(fig(fs, "g.parks"), dt, b));
	if (d->offcpu) {
		double p = fig(fs, "dist.os_runq.p99_ns"), q = fig(fs, "dist.g_runq.p99_ns");
		fprintf(f, " %9s", p > 0 ? gt_fmt_ns(p, h) : "-");
		if (d->g_offcpu)
			fprintf(f, " %11s", q > 0 ? gt_fmt_ns(q, k) : "-");
	}
	if (d->pmu_on) {
		double ipc = fig(fs, "pmu.ipc");
		snprintf(h, sizeof(h), "%.2f", ipc);
		fprintf(f, " %6s %9s", ipc > 0 ? h : "-", rate(fig(fs, "pmu.page_faults"), dt, k));
	}
	fputc('\n', f);
	fflush(f);
}

static void json_line(struct gt_interval *iv, const struct gt_snapshot *d, const struct gt_figures *fs,
		      double t_end)
{
	FILE *f = iv->o->json_file;
	if (!f || iv->err)
		return;
	json_t *sum = json_object();
	for (int i = 0; i < fs->n; i++)
		json_object_set_new(sum, fs->f[i].key, json_real(fs->f[i].value));
	json_t *j = json_pack("{s:s, s:i, s:f, s:f, s:o}", "type", "interval", "n", iv->n,
			      "t_s", t_end, "duration_s", d->elapsed_s, "summary", sum);
	char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!text || fputs(text, f) == EOF || fputc('\n', f) == EOF || fflush(f)) {
		gt_err("cannot write %s: %s (check the disk has room)", iv->o->json_path, strerror(errno));
		iv->err = -EIO;
	}
	free(text);
}

/* Print the interval that ends at snapshot cur; with `take`, cur becomes
 * the start of the next (iv frees it), else it stays the caller's. */
static int emit(struct gt_interval *iv, struct gt_snapshot *cur, bool take)
{
	struct gt_snapshot *d = calloc(1, sizeof(*d));
	struct gt_figures *fs = calloc(1, sizeof(*fs));
	int err = !d || !fs ? -ENOMEM : gt_snapshot_delta(cur, iv->prev, d);
	if (!err) {
		gt_figures_all(d, fs);
		print_line(iv, d, fs, cur->elapsed_s);
		json_line(iv, d, fs, cur->elapsed_s);
		iv->n++;
	}
	if (d)
		gt_snapshot_free(d);
	free(d);
	free(fs);
	if (take) {
		gt_snapshot_free(iv->prev);
		free(iv->prev);
		iv->prev = cur;
	}
	return err ?: iv->err;
}

int gt_interval_poll(struct gt_interval *iv, struct gt_session *s)
{
	int64_t now = gt_now_ns();
	if (!iv || now < iv->next)
		return 0;
	while (iv->next <= now)
		iv->next += (int64_t)(iv->o->interval * 1e9);
	struct gt_snapshot *cur = calloc(1, sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	int err = gt_collect(s, cur, false);
	if (err) {
		gt_snapshot_free(cur);
		free(cur);
		return err;
	}
	return emit(iv, cur, true);
}

int gt_interval_last(struct gt_interval *iv, struct gt_snapshot *final)
{
	return iv ? emit(iv, final, false) : 0;
}
