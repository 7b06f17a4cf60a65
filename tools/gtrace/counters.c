/*
 * counters.c - `--counters`: what the target's work cost the CPU, from
 * the kernel's performance counters (perf_event_open, as `perf stat`).
 *
 * A context switch costs more than its count says: the caches and TLBs
 * the next task finds are the last one's.  Cycles, instructions (so
 * instructions per cycle), cache references and misses, L1d, dTLB and
 * iTLB misses and branch misses show it, per second and, with --per, per
 * request; the software counters (task clock, context switches,
 * migrations, page faults) come with them.
 *
 * How they are counted: one counter per event that follows the target's
 * threads and the threads and processes they create (inherit), summed
 * by the kernel - for `run` opened on the command before its exec and
 * enabled by the exec (enable_on_exec), so the figures cover exactly
 * what `perf stat CMD` covers; for `attach` one per existing thread
 * (inherited from there on), so a target with many threads needs many
 * descriptors: past a budget of the open-files limit the counters are
 * not opened and the report says why.  Hardware events that share too
 * few PMU counters are multiplexed by the kernel; each is scaled by its
 * time enabled over its time running, as perf stat does, and the report
 * says when that happened.
 *
 * On a machine without a PMU (most VMs without a virtual PMU) the
 * hardware events cannot be opened: the report says "not available
 * here", with the kernel's reason, and still gives the software ones.
 *
 * Cost: the kernel switches the counters with the target's threads at
 * every context switch of theirs.  calib_switch() measures that in
 * gtrace's own process - two threads ping-ponging, with and without the
 * same counters on them - and the report multiplies it by the target's
 * context switches.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "gtrace_cli.h"

#define PMU_FD_BUDGET_DIV 2     /* at most half the open-files limit */
#define CALIB_PINGS 2000        /* round trips per calibration round */
#define CALIB_ROUNDS 3

static const struct {
	const char *key, *label;
	__u32 type;
	__u64 config;
} evs[GT_PMU_COUNT] = {
#define HWC(cache, op, res) \
	(PERF_COUNT_HW_CACHE_##cache | PERF_COUNT_HW_CACHE_OP_##op << 8 | PERF_COUNT_HW_CACHE_RESULT_##res << 16)
	[GT_PMU_CYCLES] = { "pmu.cycles", "cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES },
	[GT_PMU_INSTRUCTIONS] = { "pmu.instructions", "instructions", PERF_TYPE_HARDWARE,
				  PERF_COUNT_HW_INSTRUCTIONS },
	[GT_PMU_CACHE_REFS] = { "pmu.cache_references", "cache references", PERF_TYPE_HARDWARE,
				PERF_COUNT_HW_CACHE_REFERENCES },
	[GT_PMU_CACHE_MISSES] = { "pmu.cache_misses", "cache misses (last level)", PERF_TYPE_HARDWARE,
				  PERF_COUNT_HW_CACHE_MISSES },
	[GT_PMU_BRANCH_MISSES] = { "pmu.branch_misses", "branch misses", PERF_TYPE_HARDWARE,
				   PERF_COUNT_HW_BRANCH_MISSES },
	[GT_PMU_L1D_MISSES] = { "pmu.l1d_load_misses", "L1d load misses", PERF_TYPE_HW_CACHE,
				HWC(L1D, READ, MISS) },
	[GT_PMU_DTLB_MISSES] = { "pmu.dtlb_load_misses", "dTLB load misses", PERF_TYPE_HW_CACHE,
				 HWC(DTLB, READ, MISS) },
	[GT_PMU_ITLB_MISSES] = { "pmu.itlb_load_misses", "iTLB load misses", PERF_TYPE_HW_CACHE,
				 HWC(ITLB, READ, MISS) },
	[GT_PMU_TASK_CLOCK] = { "pmu.task_clock_ns", "task clock", PERF_TYPE_SOFTWARE,
				PERF_COUNT_SW_TASK_CLOCK },
	[GT_PMU_CSW] = { "pmu.context_switches", "context switches", PERF_TYPE_SOFTWARE,
			 PERF_COUNT_SW_CONTEXT_SWITCHES },
	[GT_PMU_MIGRATIONS] = { "pmu.cpu_migrations", "CPU migrations", PERF_TYPE_SOFTWARE,
				PERF_COUNT_SW_CPU_MIGRATIONS },
	[GT_PMU_FAULTS] = { "pmu.page_faults", "page faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS },
	[GT_PMU_MINFLT] = { "pmu.minor_faults", "  minor", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN },
	[GT_PMU_MAJFLT] = { "pmu.major_faults", "  major (read from disk)", PERF_TYPE_SOFTWARE,
			    PERF_COUNT_SW_PAGE_FAULTS_MAJ },
#undef HWC
};

struct gt_pmu_set {
	int *fd[GT_PMU_COUNT];  /* per event, one per thread counted (attach) or one (run) */
	int nfd;                /* fds per event */
	bool have[GT_PMU_COUNT];
	char hw_why[160];       /* hardware counters missing: why */
	char why[160];          /* no counters at all: why */
	double switch_ns;       /* calibrated cost of a context switch's counter switch */
};

static int perf_open(__u32 type, __u64 config, pid_t pid, bool on_exec)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = type;
	a.config = config;
	a.inherit = 1;
	a.exclude_hv = 1;
	a.disabled = on_exec;
	a.enable_on_exec = on_exec;
	a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
	return (int)syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static bool is_hw(int e)
{
	return evs[e].type == PERF_TYPE_HARDWARE || evs[e].type == PERF_TYPE_HW_CACHE;
}

/* The threads of pid (attach), into *tids; how many, or -errno. */
static int list_threads(pid_t pid, pid_t **tids)
{
	char path[64];
	int n = 0, cap = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			pid_t *a = realloc(*tids, (size_t)cap * sizeof(*a));
			if (!a) {
				closedir(d);
				return -ENOMEM;
			}
			*tids = a;
		}
		(*tids)[n++] = (pid_t)atoi(e->d_name);
	}
	closedir(d);
	return n;
}

static void close_set(struct gt_pmu_set *p)
{
	for (int e = 0; e < GT_PMU_COUNT; e++) {
		for (int i = 0; p->fd[e] && i < p->nfd; i++)
			if (p->fd[e][i] >= 0)
				close(p->fd[e][i]);
		free(p->fd[e]);
		p->fd[e] = NULL;
		p->have[e] = false;
	}
	p->nfd = 0;
}

/* Open every event on tids[0..n) (on_exec: a `run` command before its
 * exec); 0, or -errno with p->why said. */
static int open_set(struct gt_pmu_set *p, const pid_t *tids, int n, bool on_exec)
{
	p->nfd = n;
	for (int e = 0; e < GT_PMU_COUNT; e++) {
		p->fd[e] = malloc((size_t)n * sizeof(int));
		if (!p->fd[e])
			return -ENOMEM;
		for (int i = 0; i < n; i++)
			p->fd[e][i] = -1;
	}
	bool hw = true;
	for (int e = 0; e < GT_PMU_COUNT; e++) {
		if (is_hw(e) && !hw)
			continue;
		int ok = 0, err = 0;
		for (int i = 0; i < n; i++) {
			int fd = perf_open(evs[e].type, evs[e].config, tids[i], on_exec);
			if (fd < 0) {
				err = errno;
				if (err == ESRCH)
					continue;       /* the thread is gone */
				break;
			}
			p->fd[e][i] = fd;
			ok++;
		}
		p->have[e] = ok > 0 && (!err || err == ESRCH);
		if (p->have[e])
			continue;
		if (e == GT_PMU_CYCLES) {
			hw = false;
			snprintf(p->hw_why, sizeof(p->hw_why), "%s%s",
				 err == ENOENT || err == EOPNOTSUPP || err == ENODEV
				 ? "no PMU on this machine (a VM without a virtual PMU?): " : "",
				 strerror(err));
		} else if (!is_hw(e) && err) {
			snprintf(p->why, sizeof(p->why), "perf_event_open(%s): %s", evs[e].label, strerror(err));
			return -err;
		}
	}
	return 0;
}

/* CPU ns of the calling thread. */
static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct pinger {
	int efd_in, efd_out;
	int64_t cpu_ns;
	pid_t tid;
	volatile int ready;
};

static void *ponger(void *arg)
{
	struct pinger *p = arg;
	uint64_t v;
	p->tid = (pid_t)syscall(SYS_gettid);
	p->ready = 1;
	int64_t t0 = thread_cpu_ns();
	for (int i = 0; i < CALIB_PINGS; i++) {
		if (read(p->efd_in, &v, sizeof(v)) != sizeof(v) || write(p->efd_out, &v, sizeof(v)) != sizeof(v))
			break;
	}
	p->cpu_ns = thread_cpu_ns() - t0;
	return NULL;
}

/* CPU ns per context switch of two threads ping-ponging through
 * eventfds; with_counters: the counters of p on both (without inherit
 * or enable_on_exec: opened on each thread); -1 if it cannot tell. */
static double pingpong_ns(const struct gt_pmu_set *p, bool with_counters)
{
	struct pinger q = { .efd_in = eventfd(0, EFD_CLOEXEC), .efd_out = eventfd(0, EFD_CLOEXEC) };
	pthread_t t;
	int fds[2 * GT_PMU_COUNT], nf = 0;
	double r = -1;
	uint64_t v = 1;
	if (q.efd_in < 0 || q.efd_out < 0 || pthread_create(&t, NULL, ponger, &q))
		goto out;
	while (!q.ready)
		sched_yield();
	pid_t me = (pid_t)syscall(SYS_gettid);
	for (int e = 0; with_counters && e < GT_PMU_COUNT; e++) {
		if (!p->have[e])
			continue;
		if ((fds[nf] = perf_open(evs[e].type, evs[e].config, me, false)) >= 0)
			nf++;
		if ((fds[nf] = perf_open(evs[e].type, evs[e].config, q.tid, false)) >= 0)
			nf++;
	}
	int64_t t0 = thread_cpu_ns();
	int i;
	for (i = 0; i < CALIB_PINGS; i++)
		if (write(q.efd_in, &v, sizeof(v)) != sizeof(v) || read(q.efd_out, &v, sizeof(v)) != sizeof(v))
			break;
	int64_t mine = thread_cpu_ns() - t0;
	pthread_join(t, NULL);
	if (i == CALIB_PINGS)
		r = (double)(mine + q.cpu_ns) / (4.0 * CALIB_PINGS);  /* 2 switches each way */
	for (int k = 0; k < nf; k++)
		close(fds[k]);
out:
	if (q.efd_in >= 0)
		close(q.efd_in);
	if (q.efd_out >= 0)
		close(q.efd_out);
	return r;
}

static void calib_switch(struct gt_pmu_set *p)
{
	double plain = -1, with = -1;
	for (int r = 0; r < CALIB_ROUNDS; r++) {
		double a = pingpong_ns(p, false), b = pingpong_ns(p, true);
		if (a > 0 && (plain < 0 || a < plain))
			plain = a;
		if (b > 0 && (with < 0 || b < with))
			with = b;
	}
	p->switch_ns = plain > 0 && with > 0 ? (with > plain ? with - plain : 0) : -1;
}

struct gt_pmu_set *gt_pmu_open(pid_t pid, bool run)
{
	struct gt_pmu_set *p = calloc(1, sizeof(*p));
	pid_t *tids = NULL;
	int n;
	struct rlimit rl;
	if (!p)
		return NULL;
	if (run) {
		n = 1;
		tids = malloc(sizeof(*tids));
		if (tids)
			tids[0] = pid;
		else
			n = -ENOMEM;
	} else {
		n = list_threads(pid, &tids);
	}
	long budget = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long)(rl.rlim_cur / PMU_FD_BUDGET_DIV) : 512;
	if (n < 0) {
		snprintf(p->why, sizeof(p->why), "cannot list the threads of pid %d: %s", (int)pid, strerror(-n));
	} else if ((long)n * GT_PMU_COUNT > budget) {
		snprintf(p->why, sizeof(p->why), "the target has %d threads: %d counters each would take more "
			 "than half the open-files limit (%ld); trace it with `gtrace run`, which needs %d",
			 n, GT_PMU_COUNT, (long)rl.rlim_cur, GT_PMU_COUNT);
	} else if (open_set(p, tids, n, run) == 0) {
		calib_switch(p);
	} else {
		close_set(p);
	}
	free(tids);
	return p;
}

void gt_pmu_close(struct gt_pmu_set *p)
{
	if (!p)
		return;
	close_set(p);
	free(p);
}

void gt_pmu_read(const struct gt_pmu_set *p, struct gt_snapshot *snap)
{
	memset(&snap->pmu, 0, sizeof(snap->pmu));
	snap->pmu_on = p != NULL;
	if (!p)
		return;
	snprintf(snap->pmu.hw_why, sizeof(snap->pmu.hw_why), "%s", p->hw_why);
	snprintf(snap->pmu.why, sizeof(snap->pmu.why), "%s", p->why);
	snap->pmu.switch_ns = p->switch_ns;
	for (int e = 0; e < GT_PMU_COUNT; e++) {
		snap->pmu.have[e] = p->have[e];
		for (int i = 0; p->have[e] && i < p->nfd; i++) {
			__u64 v[3];
			if (p->fd[e][i] < 0 || read(p->fd[e][i], v, sizeof(v)) != (ssize_t)sizeof(v))
				continue;
			snap->pmu.raw[e] += v[0];
			snap->pmu.enabled[e] += v[1];
			snap->pmu.running[e] += v[2];
		}
	}
}

void gt_pmu_delta(struct gt_snapshot *out, const struct gt_snapshot *cur, const struct gt_snapshot *prev)
{
	for (int e = 0; e < GT_PMU_COUNT; e++) {
		out->pmu.raw[e] = cur->pmu.raw[e] - prev->pmu.raw[e];
		out->pmu.enabled[e] = cur->pmu.enabled[e] - prev->pmu.enabled[e];
		out->pmu.running[e] = cur->pmu.running[e] - prev->pmu.running[e];
	}
}

/* An event's count, scaled for multiplexing as perf stat does; -1 if
 * it was not counted. */
static double value(const struct gt_snapshot *s, int e)
{
	const struct gt_pmu *m = &s->pmu;
	if (!m->have[e])
		return -1;
	if (!m->running[e])
		return m->enabled[e] ? -1 : 0;
	return (double)m->raw[e] * (double)m->enabled[e] / (double)m->running[e];
}

void gt_pmu_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	if (!s->pmu_on)
		return;
	for (int e = 0; e < GT_PMU_COUNT; e++) {
		double v = value(s, e);
		if (v < 0)
			continue;
		gt_fig_add(fs, evs[e].key, evs[e].label, v, e == GT_PMU_TASK_CLOCK ? GT_U_NS : GT_U_COUNT, true);
		if (e == GT_PMU_INSTRUCTIONS && value(s, GT_PMU_CYCLES) > 0)
			gt_fig_add(fs, "pmu.ipc", "  per cycle (IPC)", v / value(s, GT_PMU_CYCLES), GT_U_COUNT, false);
	}
	if (s->pmu.switch_ns >= 0 && s->pmu.have[GT_PMU_TASK_CLOCK])
		gt_fig_add(fs, "cost.counters_switch_ns", NULL, s->pmu.switch_ns, GT_U_NS, false);
}

void gt_pmu_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	struct gt_figures fs = { .n = 0 };
	if (!s->pmu_on)
		return;
	fprintf(f, "CPU counters (--counters: perf_event_open on the target's threads and the tasks they "
		"create)%*s%s\n", 1, "", o->per > 0 ? "" : "");
	if (s->pmu.why[0]) {
		fprintf(f, "  not counted: %s\n", s->pmu.why);
		return;
	}
	gt_pmu_figures(s, &fs);
	gt_figures_print(f, &fs, 0, s, o);
	if (s->pmu.hw_why[0])
		fprintf(f, "  hardware counters (cycles, instructions, cache, TLB and branch misses): not "
			"available here: %s\n", s->pmu.hw_why);
	for (int e = 0; e < GT_PMU_COUNT; e++) {
		const struct gt_pmu *m = &s->pmu;
		if (m->have[e] && m->running[e] && m->running[e] < m->enabled[e]) {
			fprintf(f, "  (hardware events shared the PMU's counters: each counted part of the time "
				"and scaled up, as perf stat does; %s %.0f%% of the time)\n", evs[e].label,
				100.0 * (double)m->running[e] / (double)m->enabled[e]);
			break;
		}
	}
}

/* The counters' cost to the target: its context switches x the cost of
 * switching the counters with them (for report.c's cost lines). */
double gt_pmu_cost_ns(const struct gt_snapshot *s)
{
	if (!s->pmu_on || s->pmu.why[0] || s->pmu.switch_ns < 0)
		return -1;
	return s->pmu.switch_ns * (double)(s->totals[0].vol + s->totals[0].invol);
}
