/*
 * top.c - `gtrace top -p PID`: a live view, refreshed each second.
 *
 * Each second the maps are read into a snapshot, and what is shown is
 * the delta from the previous one (gt_snapshot_delta, interval.c: the
 * code path `run -i` prints its intervals with), per second: for the
 * whole process, then per thread (sorted by context switches).  The
 * per-goroutine map is not walked (it can hold 65536 entries).
 *
 * Goroutine rates come from greenrt's `stats` snapshots (the runtime's
 * own counters, about one a second): the difference between two
 * successive snapshots over the runtime's own time stamps, so a refresh
 * that falls between two snapshots does not show a zero followed by a
 * double.  With --goroutines the per-event probes are attached as well
 * and each worker thread's switch rate is shown.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <poll.h>
#include <unistd.h>
#include "gtrace_cli.h"

static void on_signal(int sig)
{
	(void)sig;
	gt_stop = 1;
}

/* Goroutine rates from successive stats snapshots. */
struct rt_rates {
	uint64_t hits;          /* rt.hits of the snapshot the rates end at */
	int64_t at_ns;          /* its time stamp (the runtime's clock) */
	uint64_t tot[GT_RT_NCOUNTERS];
	double rate[GT_RT_NCOUNTERS];
	bool have;              /* rate[] holds one interval */
	bool seen;              /* tot/at_ns hold a snapshot */
};

static void rt_update(struct rt_rates *r, const struct gt_snapshot *s)
{
	if (!s->has_rt || s->rt.hits == r->hits)
		return;
	uint64_t tot[GT_RT_NCOUNTERS];
	for (int i = 0; i < GT_RT_NCOUNTERS; i++)
		tot[i] = s->rt.base.c[i] + s->rt.last.c[i];
	double dt = (double)(s->rt.last.at_ns - r->at_ns) / 1e9;
	if (r->seen && dt > 0) {
		for (int i = 0; i < GT_RT_NCOUNTERS; i++)
			r->rate[i] = (double)(tot[i] - r->tot[i]) / dt;
		r->have = true;
	}
	memcpy(r->tot, tot, sizeof(tot));
	r->at_ns = s->rt.last.at_ns;
	r->hits = s->rt.hits;
	r->seen = true;
}

struct row {
	const struct gt_thread *t;
	double vol, invol, sys, mig, cpu, gsw;
};

static int by_switches(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	double p = x->vol + x->invol, q = y->vol + y->invol;
	return p < q ? 1 : p > q ? -1 : 0;
}

static double total_sys(const struct gt_snapshot *s)
{
	double n = 0;
	for (int i = 0; i < GT_MAX_SYSCALLS; i++)
		n += (double)s->sys[i].count;
	return n;
}

/* d: the delta of the last second (gt_snapshot_delta), over dt s. */
static void draw(const struct gt_snapshot *d, double dt, pid_t pid, const struct rt_rates *rt)
{
	char a[32], b[32], c[32], e[32], g[32], a2[32], b2[32];
	const uint64_t *C = d->counters;
	struct row *rows = calloc((size_t)d->nthreads + 1, sizeof(*rows));
	if (!rows)
		return;
	int n = 0;
	for (int i = 0; i < d->nthreads; i++) {
		const struct gt_thread *t = &d->threads[i];
		rows[n++] = (struct row){ t, (double)t->s.vol / dt, (double)t->s.invol / dt,
					  (double)t->s.syscalls / dt, (double)t->s.migrations / dt,
					  (double)t->s.oncpu_ns / dt / 1e7, (double)t->s.g_switches / dt };
	}
	qsort(rows, (size_t)n, sizeof(rows[0]), by_switches);
	/* the totals, which count the threads that came and went too */
	printf("\033[H\033[2J");
	printf("gtrace top - pid %d - %.0f s - per second (Ctrl-C to quit)\n\n", (int)pid, d->elapsed_s);
	printf("  switches %s vol / %s invol   syscalls %s   io_uring submit %s complete %s\n",
	       gt_fmt_num(round((double)d->totals[0].vol / dt), a),
	       gt_fmt_num(round((double)d->totals[0].invol / dt), b),
	       gt_fmt_num(round(total_sys(d) / dt), c),
	       gt_fmt_num(round((double)C[GT_IO_SUBMIT] / dt), e),
	       gt_fmt_num(round((double)C[GT_IO_COMPLETE] / dt), g));
	if (d->greenrt && rt->have) {
		const double *q = rt->rate;
		double age = (double)(gt_now_ns() - rt->at_ns) / 1e9;
		printf("  goroutines: spawn %s  switch %s  park %s  steal %s  preempt %s  io %s  ring enters %s\n",
		       gt_fmt_num(round(q[GT_RT_SPAWNED]), a), gt_fmt_num(round(q[GT_RT_SWITCHES]), b),
		       gt_fmt_num(round(q[GT_RT_PARKS]), c), gt_fmt_num(round(q[GT_RT_STEALS]), e),
		       gt_fmt_num(round(q[GT_RT_PREEMPTIONS]), g),
		       gt_fmt_num(round(q[GT_RT_IO_SUBMITTED]), a2),
		       gt_fmt_num(round(q[GT_RT_RING_ENTERS]), b2));
		printf("              (the runtime's counters; snapshot %.1f s old%s)\n", age,
		       age > 2.5 ? ": the runtime sends none while all its workers are idle" : "");
	} else if (d->greenrt && !d->g_events) {
		printf("  goroutines: waiting for the runtime's counters (a snapshot about every second)\n");
	}
	if (d->greenrt && d->g_events)
		printf("  goroutine probes: spawn %s  switch %s  park %s  steal %s  preempt %s\n",
		       gt_fmt_num((double)C[GT_G_SPAWN] / dt, a), gt_fmt_num((double)C[GT_G_SWITCH] / dt, b),
		       gt_fmt_num((double)C[GT_G_PARK] / dt, c), gt_fmt_num((double)C[GT_G_STEAL] / dt, e),
		       gt_fmt_num((double)(C[GT_G_PREEMPT_SYNC] + C[GT_G_PREEMPT_ASYNC]) / dt, g));
	bool gsw = d->g_events;        /* per-thread switches need the switch probe */
	printf("\n  %-8s %-16s %10s %10s %10s %8s %7s %10s\n", "TID", "COMM", "VOL/s", "INVOL/s",
	       "SYSCALL/s", "MIGR/s", "CPU%", gsw ? "G SW/s" : "");
	for (int i = 0; i < n && i < 40; i++) {
		const struct row *r = &rows[i];
		printf("  %-8u %-16s %10s %10s %10s %8s %6.1f%% %10s%s\n", r->t->tid, r->t->comm,
		       gt_fmt_num(r->vol, a), gt_fmt_num(r->invol, b), gt_fmt_num(r->sys, c),
		       gt_fmt_num(r->mig, e), r->cpu, gsw ? gt_fmt_num(r->gsw, g) : "",
		       r->t->kind == GT_KIND_IOWORKER ? " io-wq" : "");
	}
	fflush(stdout);
	free(rows);
}

int gt_top_main(const struct gt_opts *o)
{
	struct gt_session s = { .stats_fd = -1 };
	struct gt_snapshot *cur = calloc(1, sizeof(*cur)), *prev = calloc(1, sizeof(*prev));
	char exe[PATH_MAX], link[64];
	int rc = 1;
	pid_t pid = o->pid;

	if (!cur || !prev) {
		gt_err("out of memory");
		goto out;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0 && errno != EACCES && errno != ENOENT) {
		gt_err("cannot read %s: %s", link, strerror(errno));
		goto out;
	}
	if (n < 0)
		n = 0;  /* hidden executable (another pid namespace): OS figures only */
	exe[n] = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (gt_session_load(&s, pid, o) || gt_session_attach(&s) || (exe[0] && gt_usdt_attach(&s, pid, exe, true, false) < 0))
		goto out;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct rt_rates rt = { .hits = 0 };
	gt_collect(&s, prev, false);
	rt_update(&rt, prev);
	int64_t last = gt_now_ns(), deadline = o->duration > 0 ? last + (int64_t)(o->duration * 1e9) : 0;
	rc = 0;
	while (!gt_stop) {
		bool gone = false;
		for (int i = 0; i < 10 && !gt_stop && !gone; i++)
			gone = gt_session_wait(&s, pidfd, 100);
		if (gone) {
			printf("gtrace: pid %d exited\n", (int)pid);
			break;
		}
		if (gt_stop)
			break;
		gt_collect(&s, cur, false);
		rt_update(&rt, cur);
		int64_t now = gt_now_ns();
		struct gt_snapshot *d = calloc(1, sizeof(*d));
		if (d && !gt_snapshot_delta(cur, prev, d))
			draw(d, (double)(now - last) / 1e9, pid, &rt);
		if (d)
			gt_snapshot_free(d);
		free(d);
		last = now;
		struct gt_snapshot *t = prev;
		prev = cur;
		cur = t;
		if (deadline && now >= deadline)
			break;
	}
	if (pidfd >= 0)
		close(pidfd);
out:
	gt_session_close(&s);
	if (cur)
		gt_snapshot_free(cur);
	if (prev)
		gt_snapshot_free(prev);
	free(cur);
	free(prev);
	return rc;
}
