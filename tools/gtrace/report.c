/*
 * report.c - the text report: header, one section per concern, and what
 * the measurement itself cost.
 *
 * Figures are named numbers (struct gt_figure) so that the same list
 * feeds the text, the JSON "summary" object and `gtrace diff`.  A figure
 * flagged `rate` also gets a per-second column and, with --per N, a
 * per-request column; levels (thread counts, averages) get neither.
 *
 * The cost lines say what tracing cost, measured rather than assumed:
 * the time inside gtrace's BPF programs (bpf_stats, all processes), and
 * what that leaves out for the target - its greenrt probes' uprobe traps
 * and its system calls' slower path - each a calibrated cost per event
 * (calib.c) times the exact number of events.
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

/* What gtrace cost the target beyond the time inside BPF programs (see
 * calib.c): its uprobe traps and its system calls' slow path.  Each
 * part is -1 when it cannot be estimated. */
struct overhead {
	double uprobe_hits, uprobe_ns;          /* greenrt probe hits, their traps' cost */
	double uprobe_bpf_ns;                   /* ... their BPF programs' time, -1 unknown */
	double sys_extra_per_call, sys_ns;      /* the syscall path's extra, per call and in all */
	double counters_ns;                     /* --counters: switched with the target's threads */
	double target_ns;                       /* the sum of the known parts: at least this */
	double target_max_ns;                   /* ... with the probes' BPF time as bpf_stats
						 * times it (its clock reads inflate it) */
	double oncpu_ns;                        /* the target's on-CPU time */
};

static double target_syscalls(const struct gt_snapshot *s)
{
	return (double)(s->totals[0].syscalls + s->totals[1].syscalls);
}

/* The share of the BPF time that --offcpu's programs took (their
 * sampled run time over every program's), 0..1; -1 without --offcpu. */
static double offcpu_share(const struct gt_snapshot *s)
{
	double off = 0;
	if (!s->offcpu || !s->cost_sampled_ns)
		return -1;
	for (int i = 0; i < s->ncost; i++)
		if (!strncmp(s->cost[i].name, "gt_off_", 7) || !strncmp(s->cost[i].name, "gt_o_", 5))
			off += (double)s->cost[i].run_ns;
	return off / (double)s->cost_sampled_ns;
}

static struct overhead overhead(const struct gt_snapshot *s)
{
	struct overhead v = { .uprobe_ns = -1, .uprobe_bpf_ns = -1, .sys_extra_per_call = -1, .sys_ns = -1,
			      .counters_ns = -1 };
	double run_ns = 0, runs = 0;
	v.uprobe_hits = (double)s->counters[GT_UPROBE_HITS];
	if (s->uprobe_hit_ns > 0)
		v.uprobe_ns = v.uprobe_hits * s->uprobe_hit_ns;
	else if (v.uprobe_hits == 0)
		v.uprobe_ns = 0;
	/* The probes' programs run in the target only (each uprobe is for
	 * its pid): their BPF time, per run as bpf_stats sampled it, is the
	 * target's too. */
	for (int i = 0; i < s->ncost; i++)
		if (!strncmp(s->cost[i].name, "gt_g_", 5) || !strncmp(s->cost[i].name, "gt_o_", 5) ||
		    !strncmp(s->cost[i].name, "gt_grp_", 7)) {
			run_ns += (double)s->cost[i].run_ns;
			runs += (double)s->cost[i].run_cnt;
		}
	if (runs > 0)
		v.uprobe_bpf_ns = v.uprobe_hits * run_ns / runs;
	else if (v.uprobe_hits == 0)
		v.uprobe_bpf_ns = 0;
	if (s->syscalls && s->sys_plain_ns > 0 && s->sys_traced_ns > 0) {
		v.sys_extra_per_call = s->sys_traced_ns > s->sys_plain_ns ? s->sys_traced_ns - s->sys_plain_ns : 0;
		v.sys_ns = v.sys_extra_per_call * target_syscalls(s);
	}
	v.counters_ns = gt_pmu_cost_ns(s);
	v.target_ns = (v.uprobe_ns > 0 ? v.uprobe_ns : 0) + (v.sys_ns > 0 ? v.sys_ns : 0) +
		      (v.counters_ns > 0 ? v.counters_ns : 0);
	v.target_max_ns = v.target_ns + (v.uprobe_bpf_ns > 0 ? v.uprobe_bpf_ns : 0);
	v.oncpu_ns = (double)(s->totals[0].oncpu_ns + s->totals[1].oncpu_ns);
	return v;
}

void gt_figures_all(const struct gt_snapshot *s, struct gt_figures *fs)
{
	struct overhead v = overhead(s);
	fs->n = 0;
	gt_procs_figures(s, fs);
	gt_sched_figures(s, fs);
	gt_syscalls_figures(s, fs);
	gt_iouring_figures(s, fs);
	gt_greenrt_figures(s, fs);
	gt_groups_figures(s, fs);
	gt_pmu_figures(s, fs);
	gt_mem_figures(s, fs);
	gt_offcpu_figures(s, fs);
	gt_dist_figures(s, fs);
	gt_fig_add(fs, "cost.bpf_runs", "BPF program runs", (double)s->cost_runs, GT_U_COUNT, true);
	gt_fig_add(fs, "cost.bpf_ns", "time in BPF programs", (double)s->cost_ns, GT_U_NS, true);
	gt_fig_add(fs, "cost.stats_s", NULL, s->cost_sampled_s, GT_U_COUNT, false);
	if (offcpu_share(s) >= 0)
		gt_fig_add(fs, "cost.offcpu_bpf_ns", NULL, offcpu_share(s) * (double)s->cost_ns, GT_U_NS, false);
	gt_fig_add(fs, "cost.uprobe_hits", NULL, v.uprobe_hits, GT_U_COUNT, false);
	if (s->uprobe_hit_ns > 0)
		gt_fig_add(fs, "cost.uprobe_hit_ns", NULL, s->uprobe_hit_ns, GT_U_NS, false);
	if (v.uprobe_ns >= 0)
		gt_fig_add(fs, "cost.uprobe_ns", NULL, v.uprobe_ns, GT_U_NS, false);
	if (v.uprobe_bpf_ns >= 0)
		gt_fig_add(fs, "cost.uprobe_bpf_ns", NULL, v.uprobe_bpf_ns, GT_U_NS, false);
	if (v.sys_ns >= 0) {
		gt_fig_add(fs, "cost.syscall_plain_ns", NULL, s->sys_plain_ns, GT_U_NS, false);
		gt_fig_add(fs, "cost.syscall_traced_ns", NULL, s->sys_traced_ns, GT_U_NS, false);
		gt_fig_add(fs, "cost.syscall_extra_ns", NULL, v.sys_ns, GT_U_NS, false);
	}
	if (v.counters_ns >= 0)
		gt_fig_add(fs, "cost.counters_ns", NULL, v.counters_ns, GT_U_NS, false);
	gt_fig_add(fs, "cost.target_ns", NULL, v.target_ns, GT_U_NS, false);
	gt_fig_add(fs, "cost.target_max_ns", NULL, v.target_max_ns, GT_U_NS, false);
	if (s->traced_events) {
		gt_fig_add(fs, "trace.events_written", NULL, (double)s->trace.written, GT_U_COUNT, false);
		gt_fig_add(fs, "trace.events_lost", NULL,
			   (double)(s->counters[GT_RB_DROPS] + (uint64_t)s->trace.lost), GT_U_COUNT, false);
		gt_fig_add(fs, "trace.events_capped", NULL,
			   (double)(s->counters[GT_RB_CAPPED] + (uint64_t)s->trace.capped), GT_U_COUNT, false);
		gt_fig_add(fs, "trace.bytes", NULL, (double)s->trace.bytes, GT_U_COUNT, false);
	}
}


static void print_cost(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	char a[32], b[32], c[32], d[32], e[32];
	struct overhead v = overhead(s);

	if (!s->cost_sampled_runs)
		fprintf(f, "gtrace's own cost: %s BPF program runs; time in them unknown (%s)\n",
			gt_fmt_num((double)s->cost_runs, a),
			s->cost_sampled_s > 0 ? "no program ran while BPF run-time statistics were on"
					      : "BPF run-time statistics unavailable");
	else
		fprintf(f, "gtrace's own cost: %s BPF program runs, %s in BPF (%s/run), all CPUs, "
			"all processes; %.3f%% of one CPU\n",
			gt_fmt_num((double)s->cost_runs, a), gt_fmt_ns((double)s->cost_ns, b),
			gt_fmt_ns(s->cost_runs ? (double)s->cost_ns / (double)s->cost_runs : 0, c),
			s->elapsed_s > 0 ? (double)s->cost_ns / (s->elapsed_s * 1e7) : 0);
	if (offcpu_share(s) >= 0)
		fprintf(f, "  of which --offcpu's programs (stack walks, wakers, goroutine waits): ~%s (%.0f%%)\n",
			gt_fmt_ns(offcpu_share(s) * (double)s->cost_ns, a), 100 * offcpu_share(s));
	/* what the BPF time leaves out, for the target */
	if (v.uprobe_hits > 0) {
		if (v.uprobe_ns >= 0)
			fprintf(f, "  + greenrt probes: %s uprobe hits x %s a hit (a trap into the kernel, "
				"calibrated here) = ~%s of the target's CPU time, and %s in their BPF programs "
				"(bpf_stats)\n",
				gt_fmt_num(v.uprobe_hits, a), gt_fmt_ns(s->uprobe_hit_ns, b), gt_fmt_ns(v.uprobe_ns, c),
				v.uprobe_bpf_ns >= 0 ? gt_fmt_ns(v.uprobe_bpf_ns, d) : "an unmeasured time");
		else
			fprintf(f, "  + greenrt probes: %s uprobe hits, each a trap into the kernel that costs "
				"the target more than the BPF time shows (cost per hit not measured)\n",
				gt_fmt_num(v.uprobe_hits, a));
	}
	if (!s->sys_via) {
		fprintf(f, "  (system calls not counted: --no-syscalls)\n");
	} else {
		bool fe = !strcmp(s->sys_via, "fentry");
		char why[200] = "";
		if (!fe && s->sys_why[0])
			snprintf(why, sizeof(why), " (as %s)", s->sys_why);
		fprintf(f, "  + system calls counted by %s%s: %s", fe ? "fentry/fexit on x64_sys_call"
			: "the sys_enter/sys_exit tracepoints", why,
			fe ? "a BPF trampoline on every system call in the machine"
			   : "every system call in the machine takes the kernel's slow path");
		if (v.sys_ns >= 0)
			fprintf(f, ", %s more (getppid %s -> %s, calibrated here)",
				gt_fmt_ns(v.sys_extra_per_call, a), gt_fmt_ns(s->sys_plain_ns, b),
				gt_fmt_ns(s->sys_traced_ns, c));
		if (v.sys_ns > 0)
			fprintf(f, " = ~%s for the target's %s", gt_fmt_ns(v.sys_ns, d),
				gt_fmt_num(target_syscalls(s), e));
		fputc('\n', f);
	}
	if (s->pmu_on && v.counters_ns >= 0)
		fprintf(f, "  + --counters: switched with the target's threads at each of their %s context "
			"switches, %s each (calibrated here) = ~%s\n",
			gt_fmt_num((double)(s->totals[0].vol + s->totals[0].invol), a),
			gt_fmt_ns(s->pmu.switch_ns, b), gt_fmt_ns(v.counters_ns, c));
	else if (s->pmu_on && !s->pmu.why[0])
		fprintf(f, "  + --counters: switched with the target's threads at each of their context "
			"switches (cost per switch not measured)\n");
	if (v.oncpu_ns > 0 && v.target_max_ns > v.target_ns * 1.01)
		fprintf(f, "  = %s to %s of the target's %s on-CPU time is gtrace's (%.0f%% to %.0f%%): the "
			"traps and slower system calls, then with the probes' BPF time, which bpf_stats' "
			"own clock reads inflate\n", gt_fmt_ns(v.target_ns, a), gt_fmt_ns(v.target_max_ns, b),
			gt_fmt_ns(v.oncpu_ns, c), 100.0 * v.target_ns / v.oncpu_ns,
			100.0 * v.target_max_ns / v.oncpu_ns);
	else if (v.oncpu_ns > 0 && v.target_ns > 0)
		fprintf(f, "  = at least %s of the target's %s on-CPU time is gtrace's (%.*f%%)\n",
			gt_fmt_ns(v.target_ns, a), gt_fmt_ns(v.oncpu_ns, b),
			v.target_ns < v.oncpu_ns / 100 ? 2 : 0, 100.0 * v.target_ns / v.oncpu_ns);
	if (s->cost_sampled_runs)
		fprintf(f, "  (BPF runs counted by the programs; time per run from the kernel's bpf_stats, "
			"on %.1f s of the %.1f s traced%s)\n", s->cost_sampled_s, s->elapsed_s,
			s->cost_sampled_s < s->elapsed_s - 0.05 ? " to keep their own cost down" : "");
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

/* --trace: what went into the file, and what did not. */
static void print_trace(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	char a[32], b[32], c[32];
	uint64_t lost = s->counters[GT_RB_DROPS] + (uint64_t)s->trace.lost;
	uint64_t capped = s->counters[GT_RB_CAPPED] + (uint64_t)s->trace.capped;
	if (!s->traced_events)
		return;
	fprintf(f, "Trace: %s events written to %s (%.1f MB)", gt_fmt_num((double)s->trace.written, a),
		o->trace_path, (double)s->trace.bytes / 1e6);
	if (s->trace.err)
		fprintf(f, "; writing it failed: %s", strerror(-s->trace.err));
	fputc('\n', f);
	if (lost)
		fprintf(f, "  %s events LOST: the file did not take them fast enough (a slow disk or "
			"pipe); the timeline has gaps (--trace-max-mb bounds the file instead)\n",
			gt_fmt_num((double)lost, b));
	if (capped)
		fprintf(f, "  %s events not recorded: --trace-max-mb %g reached %.1f s into the trace\n",
			gt_fmt_num((double)capped, c), o->trace_max_mb, s->trace.capped_at_s);
}

/* ", exited with status 3" and the like: only what gtrace saw. */
static void print_ending(FILE *f, const struct gt_snapshot *s)
{
	char buf[96];
	const struct gt_process *t = s->nprocs ? &s->procs[0] : NULL;
	if (s->exit.known) {
		fprintf(f, ", %s", gt_wait_status_str(s->exit.status, buf, sizeof(buf)));
		if (s->exit.why[0])
			fprintf(f, " (%s)", s->exit.why);
	} else if (s->exit.why[0]) {
		fprintf(f, ", status unknown: %s", s->exit.why);
	} else if (t && (t->info.flags & GT_PROC_EXITED)) {
		fprintf(f, ", %s", gt_wait_status_str(t->info.exit_code, buf, sizeof(buf)));
	}
}

void gt_report_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	char scope[160];
	fprintf(f, "\ngtrace: %s, traced for %.2f s", gt_procs_scope(s, scope, sizeof(scope)),
		s->elapsed_s);
	print_ending(f, s);
	if (o->per > 0)
		fprintf(f, ", per request: / %g", o->per);
	fprintf(f, "\n\n");
	if (s->nprocs > 1 || s->counters[GT_FORKS_UNFOLLOWED]) {
		gt_procs_print(f, s, o);
		fputc('\n', f);
	}
	gt_sched_print(f, s, o);
	fputc('\n', f);
	gt_syscalls_print(f, s, o);
	fputc('\n', f);
	gt_iouring_print(f, s, o);
	fputc('\n', f);
	gt_greenrt_print(f, s, o);
	gt_groups_print(f, s, o);
	fputc('\n', f);
	if (s->pmu_on) {
		gt_pmu_print(f, s, o);
		fputc('\n', f);
	}
	if (s->mem.on && s->mem.samples) {
		gt_mem_print(f, s, o);
		fputc('\n', f);
	}
	if (s->offcpu) {
		gt_offcpu_print(f, s, o);
		fputc('\n', f);
		gt_dist_print(f, s, o);
		fputc('\n', f);
	}
	if (s->traced_events) {
		print_trace(f, s, o);
		fputc('\n', f);
	}
	print_cost(f, s, o);
}
