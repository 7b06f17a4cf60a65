/*
 * collect.c - read gtrace's maps into a gt_snapshot.
 *
 * Per-CPU maps come back as one value per possible CPU; they are summed
 * here, so nothing downstream knows about CPUs.  The snapshot is read
 * while the programs keep running: each value is consistent on its own,
 * figures taken together may be a few events apart (irrelevant for a
 * report, and `run` reads after the target has exited).
 *
 * Threads: the live ones are in tstate (keyed by tid), the exited ones
 * in `threads` (keyed by tid and start time, so a reused tid is another
 * thread); both are listed.  The totals come from ptotals, per process,
 * not from adding up the threads: they are exact even when the thread
 * table overflowed (threads_unlisted says by how many).
 *
 * The runtime's counters (greenrt's `stats` probe, rtstats) are one
 * entry per tgid; rtc[] is the span gtrace traced, summed over the
 * processes with greenrt probes: everything for a process traced from
 * its first instruction (its counters start at zero with it), the
 * growth since the first snapshot seen otherwise (`attach`, `top`).
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

static int by_runq(const void *a, const void *b)
{
	const struct gt_goroutine *x = a, *y = b;
	if (x->s.runq_ns != y->s.runq_ns)
		return x->s.runq_ns < y->s.runq_ns ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Keep the GT_TOP_GOROUTINES first of top[0..*n] plus g, by cmp. */
static void top_add(struct gt_goroutine *top, int *n, const struct gt_goroutine *g,
		    int (*cmp)(const void *, const void *))
{
	top[(*n)++] = *g;
	qsort(top, (size_t)*n, sizeof(*top), cmp);
	if (*n > GT_TOP_GOROUTINES)
		*n = GT_TOP_GOROUTINES;
}

static int cmp_goroutine(const void *a, const void *b)
{
	const struct gt_goroutine *x = a, *y = b;
	if (x->s.os_switches != y->s.os_switches)
		return x->s.os_switches < y->s.os_switches ? 1 : -1;
	return x->s.run_ns < y->s.run_ns ? 1 : x->s.run_ns > y->s.run_ns ? -1 : 0;
}

/* process, then kind, then start */
static int cmp_thread(const void *a, const void *b)
{
	const struct gt_thread *x = a, *y = b;
	if (x->proc != y->proc)
		return x->proc < y->proc ? -1 : 1;
	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static void collect_cost(struct gt_session *s, struct gt_snapshot *snap)
{
	struct bpf_program *p;
	struct bpf_map *m;
	bpf_object__for_each_program(p, s->skel->obj) {
		int fd = bpf_program__fd(p);
		if (fd < 0 || snap->ncost >= GT_MAX_PROGS)
			continue;
		if (s->sys_fentry && (p == s->sys_tp[0] || p == s->sys_tp[1]))
			continue;       /* the fallback, loaded but not attached */
		if (p == s->skel->progs.gt_calib)
			continue;       /* ran in gtrace's own process (calib.c) */
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		struct gt_prog_cost *c = &snap->cost[snap->ncost++];
		snprintf(c->name, sizeof(c->name), "%s", bpf_program__name(p));
		c->id = info.id;
		c->run_ns = info.run_time_ns;
		c->run_cnt = info.run_cnt;
		snap->cost_sampled_ns += info.run_time_ns;
		snap->cost_sampled_runs += info.run_cnt;
	}
	snap->nmap_ids = 0;
	bpf_object__for_each_map(m, s->skel->obj) {
		__u32 id = gt_obj_id(bpf_map__fd(m));
		if (id && snap->nmap_ids < (int)(sizeof(snap->map_ids) / sizeof(snap->map_ids[0])))
			snap->map_ids[snap->nmap_ids++] = id;
	}
	snap->cost_sampled_s = (double)gt_session_stats_ns(s) / 1e9;
	snap->cost_runs = snap->counters[GT_PROG_RUNS] - s->runs_before;
	snap->cost_ns = snap->cost_sampled_runs
		? (uint64_t)((double)snap->cost_runs * (double)snap->cost_sampled_ns /
			     (double)snap->cost_sampled_runs)
		: 0;
}


/* A new entry at the end of snap->threads (*cap: its room), or NULL. */
static struct gt_thread *add_thread(struct gt_snapshot *snap, int *cap, uint32_t tid, uint32_t tgid,
				    uint64_t start_ns, const char *comm)
{
	if (snap->nthreads == *cap) {
		int c = *cap ? 2 * *cap : 64;
		struct gt_thread *a = realloc(snap->threads, (size_t)c * sizeof(*a));
		if (!a)
			return NULL;
		snap->threads = a;
		*cap = c;
	}
	struct gt_thread *t = &snap->threads[snap->nthreads++];
	*t = (struct gt_thread){ .tid = tid, .tgid = tgid, .start_ns = start_ns, .worker = -1 };
	memcpy(t->comm, comm, sizeof(t->comm));
	t->comm[GT_COMM_LEN - 1] = 0;
	return t;
}

static int collect_threads(struct gt_session *s, struct gt_snapshot *snap)
{
	struct gtrace_bpf *k = s->skel;
	int lfd = bpf_map__fd(k->maps.tstate), dfd = bpf_map__fd(k->maps.threads), cap = 0;
	struct gt_thread *t;

	free(snap->threads);
	snap->threads = NULL;
	snap->nthreads = 0;
	/* live threads */
	__u32 tid, next, *prev = NULL;
	while (bpf_map_get_next_key(lfd, prev, &next) == 0) {
		struct gt_thread_state st;
		tid = next;
		prev = &tid;
		if (bpf_map_lookup_elem(lfd, &tid, &st))
			continue;
		t = add_thread(snap, &cap, tid, st.tgid, st.start_ns, st.comm);
		if (!t)
			return -ENOMEM;
		t->kind = st.kind;
		t->worker = st.worker;
		t->proc = st.proc;
		t->s = st.s;
	}
	/* exited threads */
	struct gt_thread_key key, nkey, *kp = NULL;
	while (bpf_map_get_next_key(dfd, kp, &nkey) == 0) {
		struct gt_thread_done d;
		key = nkey;
		kp = &key;
		if (bpf_map_lookup_elem(dfd, &key, &d))
			continue;
		t = add_thread(snap, &cap, key.tid, key.tgid, key.start_ns, d.comm);
		if (!t)
			return -ENOMEM;
		t->kind = d.kind;
		t->worker = d.worker;
		t->proc = d.proc;
		t->s = d.s;
		t->exited = true;
	}
	if (snap->nthreads)
		qsort(snap->threads, (size_t)snap->nthreads, sizeof(*snap->threads), cmp_thread);
	return 0;
}

/* pinfo and ptotals: one gt_process per index in use, the "other
 * processes" slot last if anything landed there. */
static void collect_procs(struct gt_session *s, struct gt_snapshot *snap, void *vals, int ncpu)
{
	struct gtrace_bpf *k = s->skel;
	int ifd = bpf_map__fd(k->maps.pinfo), tfd = bpf_map__fd(k->maps.ptotals);
	uint32_t used = k->data->next_proc;

	if (used > s->max_procs)
		used = s->max_procs;
	free(snap->procs);
	snap->procs = calloc((size_t)used + 1, sizeof(*snap->procs));
	snap->nprocs = 0;
	memset(snap->totals, 0, sizeof(snap->totals));
	memset(snap->threads_seen, 0, sizeof(snap->threads_seen));
	if (!snap->procs)
		return;
	for (uint32_t i = 0; i <= used; i++) {
		uint32_t idx = i < used ? i : s->max_procs;    /* the overflow slot last */
		struct gt_process *p = &snap->procs[snap->nprocs];
		if (bpf_map_lookup_elem(ifd, &idx, &p->info))
			continue;
		p->idx = idx;
		for (uint32_t kind = 0; kind < 2; kind++) {
			uint32_t key = 2 * idx + kind;
			if (bpf_map_lookup_elem(tfd, &key, vals) == 0)
				sum_u64(&p->tot[kind], vals, sizeof(p->tot[kind]), ncpu);
			snap->threads_seen[kind] += p->info.threads[kind];
			const uint64_t *a = (const uint64_t *)&p->tot[kind];
			uint64_t *b = (uint64_t *)&snap->totals[kind];
			for (size_t f = 0; f < sizeof(p->tot[kind]) / 8; f++)
				b[f] += a[f];
		}
		p->syscalls = p->tot[0].syscalls + p->tot[1].syscalls;
		if (idx == s->max_procs && !p->info.threads[0] && !p->info.threads[1])
			continue;       /* nothing overflowed */
		for (int u = 0; u < s->nuprocs; u++)
			p->greenrt |= s->uprocs[u].pid == (pid_t)p->info.pid;
		snap->nprocs++;
	}
}

/* Add the runtime-counter state of one process into the aggregate. */
static void rt_add_state(struct gt_snapshot *snap, const struct gt_rt_state *r, bool from_start)
{
	struct gt_rt_state *a = &snap->rt;
	for (int i = 0; i < GT_RT_NCOUNTERS; i++) {
		uint64_t total = r->base.c[i] + r->last.c[i];
		snap->rtc[i] += from_start ? total : total - r->first.c[i];
		a->base.c[i] += r->base.c[i];
		a->last.c[i] += r->last.c[i];
		a->first.c[i] += r->first.c[i];
	}
	if (!snap->has_rt) {
		a->first_ktime = r->first_ktime;
		a->last_final = 1;
		a->first.at_ns = r->first.at_ns;
		a->last.at_ns = r->last.at_ns;
		a->last.nprocs = r->last.nprocs;
		a->last.version = r->last.version;
		a->last.engine = r->last.engine;
	} else if (a->last.engine != r->last.engine) {
		a->last.engine = GT_RT_ENGINE_MIXED;    /* processes on different engines */
	}
	if (r->last_ktime > a->last_ktime)
		a->last_ktime = r->last_ktime;
	a->hits += r->hits;
	a->finals += r->finals;
	a->bad_version += r->bad_version;
	a->last_final &= r->last_final;
	a->workers_active += r->workers_active;
	a->workers_changes += r->workers_changes;
	snap->rt_from_start &= from_start;
	snap->has_rt = true;
}

static void collect_rt(struct gt_session *s, struct gt_snapshot *snap)
{
	int fd = bpf_map__fd(s->skel->maps.rtstats);
	snap->has_rt = false;
	snap->rt_from_start = true;
	memset(&snap->rt, 0, sizeof(snap->rt));
	memset(snap->rtc, 0, sizeof(snap->rtc));
	if (!snap->g_stats)
		return;
	for (int i = 0; i < s->nuprocs; i++) {
		__u32 tgid = (__u32)s->uprocs[i].pid;
		struct gt_rt_state r;
		if (bpf_map_lookup_elem(fd, &tgid, &r) == 0 && r.hits > 0)
			rt_add_state(snap, &r, s->uprocs[i].from_start);
	}
	if (!snap->has_rt)
		snap->rt_from_start = s->from_start;
}

int gt_collect(struct gt_session *s, struct gt_snapshot *snap, bool goroutines)
{
	struct gtrace_bpf *k = s->skel;
	int n = ncpus(), err = 0;
	/* room for one per-CPU value of any map */
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
	snap->iouring = s->iouring;
	snprintf(snap->usdt_where, sizeof(snap->usdt_where), "%s", s->usdt_where);
	snap->elapsed_s = (double)(gt_now_ns() - s->t_start) / 1e9;
	snap->t_start = s->t_start;
	snap->follow = s->follow;
	snap->max_threads = s->max_threads;
	snap->uprobe_hit_ns = s->uprobe_hit_ns;
	snap->sys_plain_ns = s->sys_plain_ns;
	snap->sys_traced_ns = s->sys_traced_ns;
	snap->exec_looks = (uint64_t)s->exec_looks;
	snap->uprocs_lost = s->uprocs_lost;

	err = collect_threads(s, snap);
	collect_procs(s, snap, vals, n);

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
	snap->threads_unlisted = snap->counters[GT_THREADS_UNLISTED];

	collect_rt(s, snap);
	err = gt_offcpu_collect(s, snap) ?: err;
	/* the groups table (only for a report: -i needs the totals only) */
	snap->groups_on = s->g_groups;
	if (goroutines)
		err = gt_groups_collect(s, snap) ?: err;
	gt_pmu_read(s->pmu, snap);
	gt_mem_sample(&s->mem);
	snap->mem = s->mem;

	/* goroutines: keep the ones with most OS switches, and (--offcpu)
	 * those that waited longest for a worker */
	snap->ngtop = snap->ngwait_top = 0;
	snap->ngoroutines = 0;
	if (goroutines && snap->greenrt) {
		fd = bpf_map__fd(k->maps.gstats);
		__u64 gk, gn, *gp = NULL;
		struct gt_goroutine all[GT_TOP_GOROUTINES + 1], waited[GT_TOP_GOROUTINES + 1];
		int na = 0, nw = 0;
		while (bpf_map_get_next_key(fd, gp, &gn) == 0) {
			gk = gn;
			gp = &gk;
			struct gt_goroutine g = { .id = gk };
			if (bpf_map_lookup_elem(fd, &gk, &g.s))
				continue;
			snap->ngoroutines++;
			top_add(all, &na, &g, cmp_goroutine);
			if (g.s.runq_cnt)
				top_add(waited, &nw, &g, by_runq);
		}
		memcpy(snap->gtop, all, (size_t)na * sizeof(all[0]));
		snap->ngtop = na;
		memcpy(snap->gwait_top, waited, (size_t)nw * sizeof(waited[0]));
		snap->ngwait_top = nw;
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
	free(snap->procs);
	snap->procs = NULL;
	snap->nprocs = 0;
	gt_offcpu_free(snap->off);
	snap->off = NULL;
	free(snap->groups);
	snap->groups = NULL;
	snap->ngroups = 0;
}
