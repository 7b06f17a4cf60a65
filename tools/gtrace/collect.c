/*
 * collect.c - read gtrace's maps into a gt_snapshot.
 *
 * Per-CPU maps come back as one value per possible CPU; they are summed
 * here, so nothing downstream knows about CPUs.  The snapshot is read
 * while the programs keep running: each value is consistent on its own,
 * figures taken together may be a few events apart (irrelevant for a
 * report, and `run` reads after the target has exited).
 *
 * The runtime's counters (greenrt's `stats` probe, rtstats) are one
 * entry per tgid; rtc[] is the span gtrace traced: everything for `run`
 * (the counters start at zero with the process), the growth since the
 * first snapshot seen for `attach` and `top`.
 *
 * The cost figures: the programs' own count of their runs (exact), times
 * the time per run that the kernel's bpf_stats measured while they were
 * on (run_time_ns / run_cnt of every loaded program, summed; sampled, see
 * session.c).  Over every process in the machine, since the tracepoints
 * fire for all of them and filter in the program.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gtrace_cli.h"
#include "gtrace.skel.h"

static int ncpus(void)
{
	static int n;
	if (!n)
		n = libbpf_num_possible_cpus();
	return n;
}

/* Sum a per-CPU array of u64/u32 structs field by field. */
static void sum_u64(void *out, const void *vals, size_t size, int n)
{
	memset(out, 0, size);
	for (int c = 0; c < n; c++) {
		const __u64 *v = (const __u64 *)((const char *)vals + (size_t)c * size);
		for (size_t i = 0; i < size / 8; i++)
			((__u64 *)out)[i] += v[i];
	}
}

static void sum_syscall(struct gt_syscall_stats *out, const struct gt_syscall_stats *v, int n)
{
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < n; c++) {
		out->count += v[c].count;
		out->total_ns += v[c].total_ns;
		out->errors += v[c].errors;
		for (int i = 0; i < GT_HIST_SLOTS; i++)
			out->hist[i] += v[c].hist[i];
	}
}

static int cmp_goroutine(const void *a, const void *b)
{
	const struct gt_goroutine *x = a, *y = b;
	if (x->s.os_switches != y->s.os_switches)
		return x->s.os_switches < y->s.os_switches ? 1 : -1;
	return x->s.run_ns < y->s.run_ns ? 1 : x->s.run_ns > y->s.run_ns ? -1 : 0;
}

static int cmp_thread(const void *a, const void *b)
{
	const struct gt_thread *x = a, *y = b;
	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static void collect_cost(struct gt_session *s, struct gt_snapshot *snap)
{
	struct bpf_program *p;
	bpf_object__for_each_program(p, s->skel->obj) {
		int fd = bpf_program__fd(p);
		if (fd < 0 || snap->ncost >= GT_MAX_PROGS)
			continue;
		if (s->sys_fentry && (p == s->sys_tp[0] || p == s->sys_tp[1]))
			continue;       /* the fallback, loaded but not attached */
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		struct gt_prog_cost *c = &snap->cost[snap->ncost++];
		snprintf(c->name, sizeof(c->name), "%s", bpf_program__name(p));
		c->run_ns = info.run_time_ns;
		c->run_cnt = info.run_cnt;
		snap->cost_sampled_ns += info.run_time_ns;
		snap->cost_sampled_runs += info.run_cnt;
	}
	snap->cost_sampled_s = (double)gt_session_stats_ns(s) / 1e9;
	snap->cost_runs = snap->counters[GT_PROG_RUNS];
	snap->cost_ns = snap->cost_sampled_runs
		? (uint64_t)((double)snap->cost_runs * (double)snap->cost_sampled_ns /
			     (double)snap->cost_sampled_runs)
		: 0;
}

int gt_collect(struct gt_session *s, struct gt_snapshot *snap, bool goroutines)
{
	struct gtrace_bpf *k = s->skel;
	int n = ncpus(), err = 0;
	void *vals = calloc((size_t)n, sizeof(struct gt_syscall_stats) + sizeof(struct gt_thread_stats)
			    + sizeof(struct gt_hist) + sizeof(struct gt_g_stats));
	if (!vals)
		return -ENOMEM;

	snap->pid = s->tgid;
	snap->greenrt = s->nusdt > 0;
	snap->g_events = s->g_events;
	snap->syscalls = s->syscalls;
	snap->sys_via = gt_session_sys_via(s);
	snprintf(snap->sys_why, sizeof(snap->sys_why), "%s", s->sys_why);
	snap->g_stats = s->g_stats;
	snap->rt_from_start = s->from_start;
	snap->iouring = s->iouring;
	snprintf(snap->usdt_where, sizeof(snap->usdt_where), "%s", s->usdt_where);
	snap->elapsed_s = (double)(gt_now_ns() - s->t_start) / 1e9;
	snap->t_start = s->t_start;

	/* threads */
	int tfd = bpf_map__fd(k->maps.threads), sfd = bpf_map__fd(k->maps.tstate);
	__u32 key, next, *prev = NULL;
	int cap = 64;
	free(snap->threads);
	snap->threads = calloc((size_t)cap, sizeof(*snap->threads));
	snap->nthreads = 0;
	while (snap->threads && bpf_map_get_next_key(tfd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(tfd, &key, vals))
			continue;
		if (snap->nthreads == cap) {
			void *t = realloc(snap->threads, (size_t)cap * 2 * sizeof(*snap->threads));
			if (!t)
				break;
			snap->threads = t;
			cap *= 2;
		}
		struct gt_thread *t = &snap->threads[snap->nthreads++];
		memset(t, 0, sizeof(*t));
		t->tid = key;
		t->worker = -1;
		sum_u64(&t->s, vals, sizeof(t->s), n);
		struct gt_thread_state st;
		if (bpf_map_lookup_elem(sfd, &key, &st) == 0) {
			t->kind = st.kind;
			t->worker = st.worker;
			memcpy(t->comm, st.comm, sizeof(t->comm));
			t->comm[GT_COMM_LEN - 1] = 0;
		}
	}
	if (!snap->threads)
		err = -ENOMEM;
	else
		qsort(snap->threads, (size_t)snap->nthreads, sizeof(*snap->threads), cmp_thread);

	/* syscalls, histograms, counters, io opcodes */
	int fd = bpf_map__fd(k->maps.syscalls);
	for (__u32 i = 0; i < GT_MAX_SYSCALLS; i++)
		if (bpf_map_lookup_elem(fd, &i, vals) == 0)
			sum_syscall(&snap->sys[i], vals, n);
	fd = bpf_map__fd(k->maps.hists);
	for (__u32 i = 0; i < GT_HIST_COUNT; i++) {
		if (bpf_map_lookup_elem(fd, &i, vals))
			continue;
		memset(&snap->hists[i], 0, sizeof(snap->hists[i]));
		for (int c = 0; c < n; c++)
			for (int j = 0; j < GT_HIST_SLOTS; j++)
				snap->hists[i].slots[j] += ((struct gt_hist *)vals)[c].slots[j];
	}
	fd = bpf_map__fd(k->maps.counters);
	for (__u32 i = 0; i < GT_COUNTER_COUNT; i++)
		if (bpf_map_lookup_elem(fd, &i, vals) == 0)
			sum_u64(&snap->counters[i], vals, 8, n);
	fd = bpf_map__fd(k->maps.io_ops);
	for (__u32 i = 0; i < GT_MAX_IO_OPS; i++)
		if (bpf_map_lookup_elem(fd, &i, vals) == 0)
			sum_u64(&snap->io_ops[i], vals, 8, n);

	/* greenrt's own counters, from the last `stats` snapshot */
	snap->has_rt = false;
	memset(&snap->rt, 0, sizeof(snap->rt));
	memset(snap->rtc, 0, sizeof(snap->rtc));
	__u32 tgid = (__u32)s->tgid;
	if (snap->g_stats &&
	    bpf_map_lookup_elem(bpf_map__fd(k->maps.rtstats), &tgid, &snap->rt) == 0 &&
	    snap->rt.hits > 0) {
		snap->has_rt = true;
		for (int i = 0; i < GT_RT_NCOUNTERS; i++) {
			uint64_t total = snap->rt.base.c[i] + snap->rt.last.c[i];
			snap->rtc[i] = snap->rt_from_start ? total : total - snap->rt.first.c[i];
		}
	}

	/* goroutines: keep the ones with most OS switches */
	snap->ngtop = 0;
	snap->ngoroutines = 0;
	if (goroutines && snap->greenrt) {
		fd = bpf_map__fd(k->maps.gstats);
		__u64 gk, gn, *gp = NULL;
		struct gt_goroutine all[GT_TOP_GOROUTINES + 1];
		int na = 0;
		while (bpf_map_get_next_key(fd, gp, &gn) == 0) {
			gk = gn;
			gp = &gk;
			struct gt_g_stats gs;
			if (bpf_map_lookup_elem(fd, &gk, &gs))
				continue;
			snap->ngoroutines++;
			all[na].id = gk;
			all[na].s = gs;
			na++;
			qsort(all, (size_t)na, sizeof(all[0]), cmp_goroutine);
			if (na > GT_TOP_GOROUTINES)
				na = GT_TOP_GOROUTINES;
		}
		memcpy(snap->gtop, all, (size_t)na * sizeof(all[0]));
		snap->ngtop = na;
	}

	snap->ncost = 0;
	snap->cost_ns = snap->cost_runs = 0;
	snap->cost_sampled_ns = snap->cost_sampled_runs = 0;
	collect_cost(s, snap);
	free(vals);
	return err;
}

void gt_snapshot_free(struct gt_snapshot *snap)
{
	free(snap->threads);
	snap->threads = NULL;
	snap->nthreads = 0;
}
