/*
 * report.c - the text report: header, one section per concern, and what
 * the measurement itself cost.
 *
 * Figures are named numbers (struct gt_figure) so that the same list
 * feeds the text, the JSON "summary" object and `gtrace diff`.  A figure
 * flagged `rate` also gets a per-second column and, with --per N, a
 * per-request column; levels (thread counts, averages) get neither.
 */
#include <math.h>
#include <string.h>
#include "gtrace_cli.h"

void gt_fig_add(struct gt_figures *fs, const char *key, const char *label,
		double v, enum gt_unit unit, bool rate)
{
	if (fs->n >= GT_MAX_FIGURES)
		return;
	fs->f[fs->n++] = (struct gt_figure){ key, label, v, unit, rate, 0 };
}

const char *gt_fmt_ns(double ns, char *buf)
{
	if (ns < 1e3)
		snprintf(buf, 32, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, 32, "%.1f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, 32, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, 32, "%.2f s", ns / 1e9);
	return buf;
}

/* 1234567 -> "1,234,567"; fractions keep two digits */
const char *gt_fmt_num(double v, char *buf)
{
	char tmp[32];
	if (v != floor(v) || fabs(v) >= 1e15) {
		snprintf(buf, 32, fabs(v) < 10 ? "%.2f" : "%.1f", v);
		return buf;
	}
	snprintf(tmp, sizeof(tmp), "%.0f", fabs(v));
	int len = (int)strlen(tmp), o = 0;
	if (v < 0)
		buf[o++] = '-';
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

static const char *fmt_val(double v, enum gt_unit u, char *buf)
{
	return u == GT_U_NS ? gt_fmt_ns(v, buf) : gt_fmt_num(v, buf);
}

void gt_figures_print(FILE *f, const struct gt_figures *fs, int from,
		      const struct gt_snapshot *s, const struct gt_opts *o)
{
	char a[32], b[32], c[32];
	for (int i = from; i < fs->n; i++) {
		const struct gt_figure *g = &fs->f[i];
		if (!g->label)
			continue;       /* JSON only */
		fprintf(f, "  %-34s %14s", g->label, fmt_val(g->value, g->unit, a));
		double el = g->span_s > 0 ? g->span_s : s->elapsed_s;
		if (g->rate && el > 0) {
			double r = g->value / el;
			if (g->unit == GT_U_NS)
				snprintf(b, sizeof(b), "%.1f%%", r / 1e7);  /* ns/s as % of a CPU */
			else if (r < 100)
				snprintf(b, sizeof(b), "%.2f/s", r);
			else
				snprintf(b, sizeof(b), "%s/s", gt_fmt_num(round(r), c));
			fprintf(f, " %14s", b);
			if (o->per > 0) {
				double q = g->value / o->per;
				if (g->unit == GT_U_NS)
					fprintf(f, " %12s/req", gt_fmt_ns(q, c));
				else
					fprintf(f, " %12.3f/req", q);
			}
		}
		fputc('\n', f);
	}
}

void gt_figures_all(const struct gt_snapshot *s, struct gt_figures *fs)
{
	fs->n = 0;
	gt_sched_figures(s, fs);
	gt_syscalls_figures(s, fs);
	gt_iouring_figures(s, fs);
	gt_greenrt_figures(s, fs);
	gt_fig_add(fs, "cost.bpf_runs", "BPF program runs", (double)s->cost_runs, GT_U_COUNT, true);
	gt_fig_add(fs, "cost.bpf_ns", "time in BPF programs", (double)s->cost_ns, GT_U_NS, true);
	gt_fig_add(fs, "cost.stats_s", NULL, s->cost_sampled_s, GT_U_COUNT, false);
}

/* How system calls were counted, the other half of gtrace's cost: the
 * tracepoints also slow every system call in the machine down by more
 * than the BPF time shows (the slow syscall path). */
static void print_sys_via(FILE *f, const struct gt_snapshot *s)
{
	if (!s->sys_via)
		fprintf(f, "  (system calls not counted: --no-syscalls)\n");
	else if (!strcmp(s->sys_via, "fentry"))
		fprintf(f, "  (system calls counted by fentry/fexit on x64_sys_call: "
			"a BPF trampoline on every system call in the machine)\n");
	else
		fprintf(f, "  (system calls counted by the sys_enter/sys_exit tracepoints%s%s; they "
			"send every system call in the machine through the kernel's slow path, "
			"a cost not in the BPF time)\n",
			s->sys_why[0] ? ", as " : "", s->sys_why);
}

static void print_cost(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	char a[32], b[32], c[32];
	if (!s->cost_sampled_runs) {
		fprintf(f, "gtrace's own cost: %s BPF program runs; time unknown (%s)\n",
			gt_fmt_num((double)s->cost_runs, a),
			s->cost_sampled_s > 0 ? "no program ran while BPF run-time statistics were on"
					      : "BPF run-time statistics unavailable");
		print_sys_via(f, s);
		return;
	}
	double oncpu = 0;
	for (int i = 0; i < s->nthreads; i++)
		oncpu += (double)s->threads[i].s.oncpu_ns;
	fprintf(f, "gtrace's own cost: %s BPF program runs, %s in BPF (%s/run), all CPUs, all processes",
		gt_fmt_num((double)s->cost_runs, a), gt_fmt_ns((double)s->cost_ns, b),
		gt_fmt_ns(s->cost_runs ? (double)s->cost_ns / (double)s->cost_runs : 0, c));
	if (s->elapsed_s > 0)
		fprintf(f, "; %.3f%% of one CPU", (double)s->cost_ns / (s->elapsed_s * 1e7));
	if (oncpu > 0)
		fprintf(f, "; = %.2f%% of the target's own on-CPU time", 100.0 * (double)s->cost_ns / oncpu);
	fprintf(f, "\n  (runs counted by the programs; time per run from the kernel's bpf_stats, "
		"on %.1f s of the %.1f s traced%s)\n", s->cost_sampled_s, s->elapsed_s,
		s->cost_sampled_s < s->elapsed_s - 0.05 ? " to keep their own cost down" : "");
	print_sys_via(f, s);
	if (o->per_thread) {
		fprintf(f, "  %-20s %14s %14s %10s   (while bpf_stats was on)\n", "PROGRAM", "RUNS", "TIME", "PER RUN");
		for (int i = 0; i < s->ncost; i++) {
			const struct gt_prog_cost *p = &s->cost[i];
			fprintf(f, "  %-20s %14s %14s %10s\n", p->name, gt_fmt_num((double)p->run_cnt, a),
				gt_fmt_ns((double)p->run_ns, b),
				gt_fmt_ns(p->run_cnt ? (double)p->run_ns / (double)p->run_cnt : 0, c));
		}
	}
}

void gt_report_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	fprintf(f, "\ngtrace: pid %d (%s), traced for %.2f s", (int)s->pid,
		s->comm[0] ? s->comm : "?", s->elapsed_s);
	if (s->exit_status >= 128)
		fprintf(f, ", killed by signal %d", s->exit_status - 128);
	else if (s->exit_status >= 0)
		fprintf(f, ", exited with status %d", s->exit_status);
	if (o->per > 0)
		fprintf(f, ", per request: / %g", o->per);
	fprintf(f, "\n\n");
	gt_sched_print(f, s, o);
	fputc('\n', f);
	gt_syscalls_print(f, s, o);
	fputc('\n', f);
	gt_iouring_print(f, s, o);
	fputc('\n', f);
	gt_greenrt_print(f, s, o);
	fputc('\n', f);
	print_cost(f, s, o);
}
