/*
 * dist.c - `--offcpu`'s distributions: how long the waits were, for the
 * threads and the goroutines on one scale.
 *
 *   threads    blocked -> woken          (sched_switch out, sched_wakeup)
 *              woken -> on a CPU         (the OS run queue, as runqlat)
 *   goroutines parked -> ready, by wait reason   (greenrt's probes)
 *              ready -> running          (greenrt's run queues)
 *
 * Each is a log-linear histogram (bpf/offcpu.h: 8 buckets per power of
 * two) with the exact count, sum and maximum beside it.  A percentile is
 * read as the upper bound of the bucket that holds it, so it is at most
 * 12.5% above the true value and never below it; the maximum is exact.
 * --hist also prints each as a log2 histogram, as libbpf-tools do.
 */
#include <math.h>
#include <string.h>
#include "gtrace_cli.h"

/* The largest value bucket s holds. */
static double slot_hi(int s)
{
	if (s < GT_DIST_SUB)
		return s;
	int o = s / GT_DIST_SUB + GT_DIST_SUB_BITS - 1, sub = s % GT_DIST_SUB;
	double lo = ldexp(GT_DIST_SUB + sub, o - GT_DIST_SUB_BITS);
	return lo + ldexp(1, o - GT_DIST_SUB_BITS) - 1;
}

double gt_dist_pct(const struct gt_dist *d, double p)
{
	uint64_t n = 0;
	for (int i = 0; i < GT_DIST_SLOTS; i++)
		n += d->slots[i];
	if (!n)
		return 0;
	double want = ceil(p * (double)n);
	if (want < 1)
		want = 1;
	double cum = 0;
	for (int i = 0; i < GT_DIST_SLOTS; i++) {
		cum += d->slots[i];
		if (cum >= want) {
			double v = slot_hi(i);
			return d->max && v > (double)d->max ? (double)d->max : v;
		}
	}
	return (double)d->max;
}

struct dist_row {
	int id;
	const char *key;        /* dist.KEY.* in the summary */
	char label[48];
};

/* The distributions that have samples, in report order. */
static int rows(const struct gt_snapshot *s, struct dist_row *r)
{
	static const struct { int id; const char *key, *label; } fixed[] = {
		{ GT_DIST_OS_BLOCKED, "os_blocked", "threads: blocked -> woken" },
		{ GT_DIST_OS_RUNQ, "os_runq", "threads: woken -> running" },
		{ GT_DIST_G_RUNQ, "g_runq", "goroutines: ready -> running" },
	};
	static char keys[GT_MAX_REASONS][40];
	int n = 0;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (fixed[i].id == GT_DIST_G_RUNQ && !s->g_offcpu)
			continue;
		r[n] = (struct dist_row){ fixed[i].id, fixed[i].key, "" };
		snprintf(r[n].label, sizeof(r[n].label), "%s", fixed[i].label);
		n++;
	}
	for (int reason = 0; s->g_offcpu && reason < GT_MAX_REASONS; reason++) {
		int id = GT_DIST_G_PARK + reason;
		if (!s->dists[id].count)
			continue;
		snprintf(keys[reason], sizeof(keys[reason]), "g_park.%s", gt_wait_reason_key((unsigned)reason));
		r[n] = (struct dist_row){ id, keys[reason], "" };
		snprintf(r[n].label, sizeof(r[n].label), "goroutines parked: %s",
			 gt_wait_reason_name((unsigned)reason));
		n++;
	}
	return n;
}

void gt_dist_add_figures(struct gt_figures *fs, const char *prefix, const struct gt_dist *d,
			 char keys[GT_DIST_FIGS][64])
{
	static const char *const parts[GT_DIST_FIGS] = { "count", "mean_ns", "p50_ns", "p90_ns", "p99_ns",
							 "max_ns" };
	double v[GT_DIST_FIGS] = { (double)d->count, d->count ? (double)d->sum / (double)d->count : 0,
				   gt_dist_pct(d, 0.5), gt_dist_pct(d, 0.9), gt_dist_pct(d, 0.99),
				   (double)d->max };
	for (int k = 0; k < GT_DIST_FIGS; k++) {
		snprintf(keys[k], sizeof(keys[k]), "%s.%s", prefix, parts[k]);
		gt_fig_add(fs, keys[k], NULL, v[k], k ? GT_U_NS : GT_U_COUNT, false);
	}
}

void gt_dist_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	static char keys[GT_DIST_COUNT][GT_DIST_FIGS][64];
	struct dist_row r[GT_DIST_COUNT];
	char prefix[64];
	if (!s->offcpu)
		return;
	int n = rows(s, r);
	for (int i = 0; i < n; i++) {
		snprintf(prefix, sizeof(prefix), "dist.%s", r[i].key);
		gt_dist_add_figures(fs, prefix, &s->dists[r[i].id], keys[i]);
	}
}

/* A distribution as a log2 histogram (buckets merged by power of two). */
static void print_log2(FILE *f, const struct gt_dist *d)
{
	uint32_t h[GT_HIST_SLOTS] = { 0 };
	for (int i = 0; i < GT_DIST_SLOTS; i++) {
		int o = i < GT_DIST_SUB ? (i ? (int)log2(i) : 0) : i / GT_DIST_SUB + GT_DIST_SUB_BITS - 1;
		h[o < GT_HIST_SLOTS ? o : GT_HIST_SLOTS - 1] += d->slots[i];
	}
	gt_hist_print(f, h, GT_HIST_SLOTS, "nsecs");
}

void gt_dist_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	struct dist_row r[GT_DIST_COUNT];
	char a[32], b[32], c[32], d[32], e[32], g[32];
	if (!s->offcpu)
		return;
	int n = rows(s, r);
	fprintf(f, "How long the waits were (--offcpu; percentiles at most 12.5%% high, the maximum exact)\n");
	fprintf(f, "  %-34s %10s %10s %10s %10s %10s %10s\n", "", "COUNT", "MEAN", "P50", "P90", "P99", "MAX");
	for (int i = 0; i < n; i++) {
		const struct gt_dist *x = &s->dists[r[i].id];
		if (!x->count) {
			fprintf(f, "  %-34s %10s\n", r[i].label, "0");
			continue;
		}
		fprintf(f, "  %-34s %10s %10s %10s %10s %10s %10s\n", r[i].label,
			gt_fmt_num((double)x->count, a), gt_fmt_ns((double)x->sum / (double)x->count, b),
			gt_fmt_ns(gt_dist_pct(x, 0.5), c), gt_fmt_ns(gt_dist_pct(x, 0.9), d),
			gt_fmt_ns(gt_dist_pct(x, 0.99), e), gt_fmt_ns((double)x->max, g));
	}
	if (!o->hist)
		return;
	for (int i = 0; i < n; i++) {
		if (!s->dists[r[i].id].count)
			continue;
		fprintf(f, "\n  %s\n", r[i].label);
		print_log2(f, &s->dists[r[i].id]);
	}
}

void gt_dist_delta(struct gt_dist *out, const struct gt_dist *cur, const struct gt_dist *prev)
{
	int top = -1;
	out->count = cur->count - prev->count;
	out->sum = cur->sum - prev->sum;
	for (int i = 0; i < GT_DIST_SLOTS; i++)
		if ((out->slots[i] = cur->slots[i] - prev->slots[i]))
			top = i;
	/* the interval's own maximum is not kept: the top bucket's bound,
	 * and never above the whole run's maximum */
	out->max = top < 0 ? 0 : (uint64_t)slot_hi(top);
	if (out->max > cur->max)
		out->max = cur->max;
}
