/*
 * offcpu.c - `--offcpu`: where the threads and goroutines waited, with
 * stacks, and what woke them (the BPF side and the vocabulary:
 * bpf/offcpu.bpf.c, bpf/offcpu.h).
 *
 * Collecting turns the maps into named entries: each stack id becomes
 * its frames (symbols.c), outermost first, the way the folded format and
 * flame graphs want them; entries whose stacks name the same frames are
 * merged (two return addresses in one function are one frame).  A span
 * still open at the snapshot - a thread blocked right now, a goroutine
 * parked - counts up to the snapshot (or its process's end): an idle
 * server's time waiting is what it is doing, and the figures of `-i`
 * intervals then add up to the total.  Names are cached per stack id for
 * the session, so the interval output does not symbolise every second.
 *
 * The report shows the top entries of each kind; --folded writes them
 * all, one line each:
 *     process;thread;user frames...;kernel frames_[k] NS
 *     process;[goroutines];frames at the park...;[chan recv] NS
 * (values in nanoseconds; kernel frames marked _[k], as perf's
 * stackcollapse marks them, so that flame graph tools colour them), and
 * --flamegraph draws them (flame.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <greenrt.h>
#include "gtrace_cli.h"
#include "gtrace.skel.h"

#define TOP_STACKS 8            /* entries of each kind in the text report */
#define TEXT_FRAMES 12          /* frames of a stack on one line */
#define FOLDED_MAX 16384        /* bytes of one folded line */

/* ---- names of stacks, cached for the session ---- */

/* Which stack map an id is of. */
enum stack_kind { STK_KERNEL, STK_WAKER, STK_USER };

struct cache_ent {
	int32_t id;
	uint32_t tgid;          /* user stacks: the process (whose mappings name them) */
	int user;               /* enum stack_kind, -1: empty slot */
	char *s;
};

struct gt_stack_cache {
	struct cache_ent *a;
	size_t cap, n;
};

void gt_stack_cache_free(struct gt_stack_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++)
		if (c->a[i].user >= 0)
			free(c->a[i].s);
	free(c->a);
	free(c);
}

static size_t slot_of(const struct gt_stack_cache *c, int32_t id, uint32_t tgid, int user)
{
	uint64_t h = ((uint64_t)(uint32_t)id * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)tgid << 1) ^ (uint64_t)user;
	size_t i = (size_t)(h % c->cap);
	while (c->a[i].user >= 0 && !(c->a[i].id == id && c->a[i].tgid == tgid && c->a[i].user == user))
		i = (i + 1) % c->cap;
	return i;
}

static int cache_grow(struct gt_stack_cache *c)
{
	struct gt_stack_cache n = { .cap = c->cap ? 2 * c->cap : 1024 };
	n.a = malloc(n.cap * sizeof(*n.a));
	if (!n.a)
		return -ENOMEM;
	for (size_t i = 0; i < n.cap; i++)
		n.a[i].user = -1;
	for (size_t i = 0; i < c->cap; i++) {
		if (c->a[i].user < 0)
			continue;
		n.a[slot_of(&n, c->a[i].id, c->a[i].tgid, c->a[i].user)] = c->a[i];
		n.n++;
	}
	free(c->a);
	*c = n;
	return 0;
}

/* Append name to buf (at *o) with a ';' before it unless first. */
static void append(char *buf, size_t len, size_t *o, const char *name, const char *suffix)
{
	if (*o >= len)
		return;
	int n = snprintf(buf + *o, len - *o, "%s%s%s", *o ? ";" : "", name, suffix);
	*o += n > 0 ? (size_t)n : 0;
	if (*o >= len)
		*o = len - 1;
}

/* A frame of BPF's own or of the tracepoint machinery: not the target's. */
static bool tracing_frame(const char *name)
{
	return !strncmp(name, "bpf_", 4) || !strncmp(name, "__bpf_", 6) ||
	       !strncmp(name, "__traceiter_", 12) || !strncmp(name, "perf_trace_", 11);
}

/* The frames of a kernel stack of depth frames, outermost first, each
 * marked _[k]. */
static char *kernel_stack(struct gt_session *s, int fd, int32_t id, int depth)
{
	__u64 ips[GT_OFF_KDEPTH];
	char buf[FOLDED_MAX], name[256];
	size_t o = 0;
	int n = 0, skip = 0;
	memset(ips, 0, sizeof(ips));
	if (depth > GT_OFF_KDEPTH || bpf_map_lookup_elem(fd, &id, ips))
		return strdup("[kernel stack lost]_[k]");
	while (n < depth && ips[n])
		n++;
	/* innermost first: the BPF program and the tracepoint come first */
	while (skip < n && tracing_frame(gt_syms_kernel(s->syms, ips[skip], name, sizeof(name))))
		skip++;
	buf[0] = 0;
	for (int i = n - 1; i >= skip; i--)
		append(buf, sizeof(buf), &o, gt_syms_kernel(s->syms, ips[i], name, sizeof(name)), "_[k]");
	return strdup(buf);
}

/* The frames of a user stack, outermost first.  A frame that no mapping
 * holds ends it: the frame pointer walk went astray in code built without
 * frame pointers, and what it read past there is not a caller. */
static char *user_stack(struct gt_session *s, int fd, int32_t id, uint32_t tgid)
{
	__u64 ips[GT_OFF_UDEPTH];
	char buf[FOLDED_MAX], names[GT_OFF_UDEPTH][256];
	size_t o = 0;
	int n = 0;
	memset(ips, 0, sizeof(ips));
	if (bpf_map_lookup_elem(fd, &id, ips))
		return strdup("[user stack lost]");
	while (n < GT_OFF_UDEPTH && ips[n]) {
		gt_syms_user(s->syms, (pid_t)tgid, ips[n], names[n], sizeof(names[n]));
		if (!strcmp(names[n++], "[unknown]"))
			break;
	}
	buf[0] = 0;
	for (int i = n - 1; i >= 0; i--)
		append(buf, sizeof(buf), &o, names[i], "");
	return strdup(buf);
}

/* The frames of stack id of a kind, named once per session; "" for no
 * stack. */
static const char *stack_name(struct gt_session *s, int32_t id, uint32_t tgid, enum stack_kind kind)
{
	struct gt_stack_cache *c = s->stack_cache;
	if (id < 0)
		return "";
	if (kind != STK_USER)
		tgid = 0;
	if ((c->n + 1) * 2 > c->cap && cache_grow(c))
		return "";
	size_t i = slot_of(c, id, tgid, (int)kind);
	if (c->a[i].user >= 0)
		return c->a[i].s ? c->a[i].s : "";
	char *str = kind == STK_USER ? user_stack(s, bpf_map__fd(s->skel->maps.ustacks), id, tgid)
		  : kind == STK_WAKER ? kernel_stack(s, bpf_map__fd(s->skel->maps.wstacks), id, GT_OFF_WDEPTH)
		  : kernel_stack(s, bpf_map__fd(s->skel->maps.kstacks), id, GT_OFF_KDEPTH);
	c->a[i] = (struct cache_ent){ .id = id, .tgid = tgid, .user = (int)kind, .s = str };
	c->n++;
	return str ? str : "";
}

/* ---- collecting ---- */

/* A raw span total, before its stacks are named. */
struct raw {
	struct gt_off_key k;
	uint64_t ns, count;
};

struct raws {
	struct raw *a;
	int n, cap;
};

static int grow(void **a, int n, int *cap, size_t size);

static int raw_add(struct raws *r, const struct gt_off_key *k, uint64_t ns, uint64_t count)
{
	if (grow((void **)&r->a, r->n, &r->cap, sizeof(*r->a)))
		return -ENOMEM;
	r->a[r->n++] = (struct raw){ *k, ns, count };
	return 0;
}

/* When a traced process ended (bpf_ktime), or now if it runs. */
static uint64_t end_of(const struct gt_snapshot *snap, uint32_t tgid, uint64_t now)
{
	for (int i = 0; i < snap->nprocs; i++)
		if (snap->procs[i].info.pid == tgid && snap->procs[i].info.exit_ktime &&
		    snap->procs[i].info.exit_ktime < now)
			return snap->procs[i].info.exit_ktime;
	return now;
}

/* The spans still open: threads off-CPU and goroutines waiting now. */
static int open_spans(struct gt_session *s, struct gt_snapshot *snap, struct raws *r, uint64_t now)
{
	int fd = bpf_map__fd(s->skel->maps.offstart), err = 0;
	__u32 tid, next, *prev = NULL;
	while (!err && bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct gt_off_start o;
		tid = next;
		prev = &tid;
		if (bpf_map_lookup_elem(fd, &tid, &o))
			continue;
		uint64_t end = end_of(snap, o.tgid, now);
		if (end <= o.ts)
			continue;
		struct gt_off_key k = { .tgid = o.tgid, .kstack = o.kstack, .ustack = o.ustack,
					.kind = o.vol ? GT_OFF_BLOCKED : GT_OFF_PREEMPTED };
		memcpy(k.comm, o.comm, sizeof(k.comm));
		err = raw_add(r, &k, end - o.ts, 1);
		snap->off->open_spans++;
	}
	fd = bpf_map__fd(s->skel->maps.gwait);
	struct gt_gkey gk, gn, *gp = NULL;
	while (!err && bpf_map_get_next_key(fd, gp, &gn) == 0) {
		struct gt_gwait w;
		gk = gn;
		gp = &gk;
		if (bpf_map_lookup_elem(fd, &gk, &w))
			continue;
		uint64_t since = w.park_ts ? w.park_ts : w.ready_ts, end = end_of(snap, gk.tgid, now);
		if (!since || end <= since)
			continue;
		struct gt_off_key k = { .tgid = gk.tgid, .kstack = -1, .ustack = w.stack, .reason = w.reason,
					.kind = w.park_ts ? GT_OFF_G_PARKED : GT_OFF_G_RUNNABLE };
		err = raw_add(r, &k, end - since, 1);
		snap->off->open_spans++;
	}
	return err;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct gt_off_entry *x = a, *y = b;
	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->reason != y->reason)
		return x->reason < y->reason ? -1 : 1;
	int c = strcmp(x->comm, y->comm);
	return c ? c : strcmp(x->stack, y->stack);
}

static int by_time(const void *a, const void *b)
{
	const struct gt_off_entry *x = a, *y = b;
	if (x->ns != y->ns)
		return x->ns < y->ns ? 1 : -1;
	return cmp_entry(a, b);
}

/* Name the stacks of the raw totals, merge those that name the same
 * frames, largest first. */
static int name_entries(struct gt_session *s, struct gt_offcpu *off, const struct raws *r)
{
	off->e = calloc((size_t)r->n + 1, sizeof(*off->e));
	if (!off->e)
		return -ENOMEM;
	for (int i = 0; i < r->n; i++) {
		const struct gt_off_key *k = &r->a[i].k;
		struct gt_off_entry *e = &off->e[off->n];
		const char *u = stack_name(s, k->ustack, k->tgid, STK_USER);
		const char *kn = stack_name(s, k->kstack, k->tgid, STK_KERNEL);
		size_t len = strlen(u) + strlen(kn) + 2;
		e->stack = malloc(len + 16);
		if (!e->stack)
			return -ENOMEM;
		if (k->kind >= GT_OFF_G_PARKED && k->ustack < 0)
			snprintf(e->stack, len + 16, "[park site not seen]");
		else
			snprintf(e->stack, len + 16, "%s%s%s", u, *u && *kn ? ";" : "", kn);
		e->tgid = k->tgid;
		e->kind = k->kind;
		e->reason = k->reason;
		memcpy(e->comm, k->comm, sizeof(e->comm));
		e->comm[GT_COMM_LEN - 1] = 0;
		e->ns = r->a[i].ns;
		e->count = r->a[i].count;
		off->n++;
	}
	if (off->n > 1)
		qsort(off->e, (size_t)off->n, sizeof(*off->e), cmp_entry);
	int o = 0;
	for (int i = 0; i < off->n; i++) {
		if (o && !cmp_entry(&off->e[o - 1], &off->e[i])) {
			off->e[o - 1].ns += off->e[i].ns;
			off->e[o - 1].count += off->e[i].count;
			free(off->e[i].stack);
			continue;
		}
		off->e[o++] = off->e[i];
	}
	off->n = o;
	if (off->n > 1)
		qsort(off->e, (size_t)off->n, sizeof(*off->e), by_time);
	return 0;
}

/* Where a wakeup ran, from the waker's kernel stack: in an interrupt
 * the task named is only the one that was interrupted (swapper, or any
 * process), and the stack (hrtimer_interrupt, tcp_v4_rcv...) is the
 * waker. */
static const char *wake_context(const char *stack)
{
	if (strstr(stack, "handle_softirqs_[k]") || strstr(stack, "__do_softirq_[k]"))
		return "softirq";
	if (strstr(stack, "sysvec_") || strstr(stack, "common_interrupt_[k]") ||
	    strstr(stack, "handle_irq_event_[k]"))
		return "hardirq";
	return "task";
}

/* Room for one more element in *a (n used, *cap allocated), or -ENOMEM. */
static int grow(void **a, int n, int *cap, size_t size)
{
	if (n < *cap)
		return 0;
	int c = *cap ? 2 * *cap : 64;
	void *b = realloc(*a, (size_t)c * size);
	if (!b)
		return -ENOMEM;
	*a = b;
	*cap = c;
	return 0;
}

static int collect_wakers(struct gt_session *s, struct gt_offcpu *off)
{
	int fd = bpf_map__fd(s->skel->maps.owakers), cap = 0;
	struct gt_owake_key k, n, *p = NULL;
	while (bpf_map_get_next_key(fd, p, &n) == 0) {
		struct gt_off_val v;
		k = n;
		p = &k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;
		if (grow((void **)&off->w, off->nw, &cap, sizeof(*off->w)))
			return -ENOMEM;
		struct gt_off_waker *w = &off->w[off->nw++];
		*w = (struct gt_off_waker){ .waker_tgid = k.waker_tgid, .waker_tid = k.waker_tid,
					    .wakee_tgid = k.wakee_tgid, .wakee_tid = k.wakee_tid };
		memcpy(w->waker_comm, k.waker_comm, GT_COMM_LEN);
		memcpy(w->wakee_comm, k.wakee_comm, GT_COMM_LEN);
		w->waker_comm[GT_COMM_LEN - 1] = w->wakee_comm[GT_COMM_LEN - 1] = 0;
		w->ns = v.ns;
		w->count = v.count;
		w->stack = strdup(stack_name(s, k.waker_kstack, 0, STK_WAKER));
		w->context = wake_context(w->stack ? w->stack : "");
	}
	fd = bpf_map__fd(s->skel->maps.gwakers);
	cap = 0;
	struct gt_gwake_key gk, gn, *gp = NULL;
	while (bpf_map_get_next_key(fd, gp, &gn) == 0) {
		struct gt_off_val v;
		gk = gn;
		gp = &gk;
		if (bpf_map_lookup_elem(fd, &gk, &v))
			continue;
		if (grow((void **)&off->gw, off->ngw, &cap, sizeof(*off->gw)))
			return -ENOMEM;
		struct gt_off_gwaker *w = &off->gw[off->ngw++];
		*w = (struct gt_off_gwaker){ .tgid = gk.tgid, .source = gk.source, .reason = gk.reason,
					     .obj = gk.obj, .ns = v.ns, .count = v.count };
		w->waker_stack = strdup(stack_name(s, gk.waker_stack, gk.tgid, STK_USER));
		w->park_stack = strdup(gk.park_stack < 0 ? "[park site not seen]"
					: stack_name(s, gk.park_stack, gk.tgid, STK_USER));
	}
	return 0;
}

/* Waker entries that differ only in their tids. */
static int cmp_waker(const void *a, const void *b)
{
	const struct gt_off_waker *x = a, *y = b;
	int c;
	if (x->waker_tgid != y->waker_tgid)
		return x->waker_tgid < y->waker_tgid ? -1 : 1;
	if (x->wakee_tgid != y->wakee_tgid)
		return x->wakee_tgid < y->wakee_tgid ? -1 : 1;
	if ((c = strcmp(x->waker_comm, y->waker_comm)) || (c = strcmp(x->wakee_comm, y->wakee_comm)))
		return c;
	return strcmp(x->stack ? x->stack : "", y->stack ? y->stack : "");
}

static int cmp_waker_tid(const void *a, const void *b)
{
	const struct gt_off_waker *x = a, *y = b;
	int c = cmp_waker(a, b);
	return c ? c : (x->waker_tid > y->waker_tid) - (x->waker_tid < y->waker_tid);
}

static int cmp_wakee_tid(const void *a, const void *b)
{
	const struct gt_off_waker *x = a, *y = b;
	int c = cmp_waker(a, b);
	return c ? c : (x->wakee_tid > y->wakee_tid) - (x->wakee_tid < y->wakee_tid);
}

/* Merge the waker entries of one name pair and path: counts add up, the
 * tids become counts of distinct threads (a tid is kept if only one). */
static void merge_wakers(struct gt_offcpu *off)
{
	int n = off->nw, o = 0;
	if (!n)
		return;
	/* distinct wakees per group: sorted by wakee tid, count the changes */
	qsort(off->w, (size_t)n, sizeof(*off->w), cmp_wakee_tid);
	for (int i = 0; i < n; i++) {
		struct gt_off_waker *w = &off->w[i];
		bool same = i && !cmp_waker(w, w - 1);
		w->wakee_threads = same ? w[-1].wakee_threads + (w->wakee_tid != w[-1].wakee_tid) : 1;
	}
	/* ... carried to the group's last element, which sorts last again */
	qsort(off->w, (size_t)n, sizeof(*off->w), cmp_waker_tid);
	for (int i = 0; i < n; i++) {
		struct gt_off_waker *w = &off->w[i];
		if (o && !cmp_waker(w, &off->w[o - 1])) {
			struct gt_off_waker *g = &off->w[o - 1];
			g->waker_threads += w->waker_tid != g->waker_tid;
			if (w->waker_tid != g->waker_tid)
				g->waker_tid = w->waker_tid;    /* the last seen, cleared below */
			g->count += w->count;
			g->ns += w->ns;
			if (w->wakee_threads > g->wakee_threads)
				g->wakee_threads = w->wakee_threads;
			if (w->wakee_tid != g->wakee_tid)
				g->wakee_tid = 0;
			free(w->stack);
			continue;
		}
		off->w[o] = *w;
		off->w[o].waker_threads = 1;
		o++;
	}
	off->nw = o;
	for (int i = 0; i < o; i++) {
		if (off->w[i].waker_threads > 1)
			off->w[i].waker_tid = 0;
		if (off->w[i].wakee_threads > 1)
			off->w[i].wakee_tid = 0;
	}
}

static int by_count_w(const void *a, const void *b)
{
	const struct gt_off_waker *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : (x->ns < y->ns) - (x->ns > y->ns);
}

static int by_count_gw(const void *a, const void *b)
{
	const struct gt_off_gwaker *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : (x->ns < y->ns) - (x->ns > y->ns);
}

static void collect_dists(struct gt_session *s, struct gt_snapshot *snap)
{
	int n = libbpf_num_possible_cpus(), fd = bpf_map__fd(s->skel->maps.dists);
	struct gt_dist *v = calloc((size_t)(n > 0 ? n : 1), sizeof(*v));
	memset(snap->dists, 0, sizeof(snap->dists));
	for (__u32 id = 0; v && id < GT_DIST_COUNT; id++) {
		struct gt_dist *d = &snap->dists[id];
		if (bpf_map_lookup_elem(fd, &id, v))
			continue;
		for (int c = 0; c < n; c++) {
			d->count += v[c].count;
			d->sum += v[c].sum;
			if (v[c].max > d->max)
				d->max = v[c].max;
			for (int i = 0; i < GT_DIST_SLOTS; i++)
				d->slots[i] += v[c].slots[i];
		}
	}
	free(v);
}

void gt_offcpu_free(struct gt_offcpu *off)
{
	if (!off)
		return;
	for (int i = 0; i < off->n; i++)
		free(off->e[i].stack);
	for (int i = 0; i < off->nw; i++)
		free(off->w[i].stack);
	for (int i = 0; i < off->ngw; i++) {
		free(off->gw[i].waker_stack);
		free(off->gw[i].park_stack);
	}
	free(off->e);
	free(off->w);
	free(off->gw);
	free(off);
}

int gt_offcpu_collect(struct gt_session *s, struct gt_snapshot *snap)
{
	struct raws r = { 0 };
	int err = 0;

	gt_offcpu_free(snap->off);
	snap->off = NULL;
	snap->offcpu = s->offcpu;
	snap->g_offcpu = s->g_offcpu;
	collect_dists(s, snap);
	if (!s->offcpu)
		return 0;
	snap->off = calloc(1, sizeof(*snap->off));
	if (!snap->off || (!s->stack_cache && !(s->stack_cache = calloc(1, sizeof(*s->stack_cache)))))
		return -ENOMEM;
	uint64_t now = (uint64_t)gt_now_ns();
	int fd = bpf_map__fd(s->skel->maps.offcpu);
	struct gt_off_key k, n, *p = NULL;
	while (!err && bpf_map_get_next_key(fd, p, &n) == 0) {
		struct gt_off_val v;
		k = n;
		p = &k;
		if (bpf_map_lookup_elem(fd, &k, &v) == 0)
			err = raw_add(&r, &k, v.ns, v.count);
	}
	err = err ?: open_spans(s, snap, &r, now);
	err = err ?: name_entries(s, snap->off, &r);
	err = err ?: collect_wakers(s, snap->off);
	free(r.a);
	merge_wakers(snap->off);
	if (snap->off->nw > 1)
		qsort(snap->off->w, (size_t)snap->off->nw, sizeof(*snap->off->w), by_count_w);
	if (snap->off->ngw > 1)
		qsort(snap->off->gw, (size_t)snap->off->ngw, sizeof(*snap->off->gw), by_count_gw);
	return err;
}

/* ---- over time ---- */

int gt_offcpu_delta(struct gt_snapshot *out, const struct gt_snapshot *cur, const struct gt_snapshot *prev)
{
	const struct gt_offcpu *c = cur->off, *p = prev->off;
	struct gt_off_entry *sorted = NULL;
	out->off = NULL;
	if (!c)
		return 0;
	out->off = calloc(1, sizeof(*out->off));
	if (!out->off || !(out->off->e = calloc((size_t)c->n + 1, sizeof(*out->off->e))))
		return -ENOMEM;
	if (p && p->n) {
		sorted = malloc((size_t)p->n * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, p->e, (size_t)p->n * sizeof(*sorted));
		qsort(sorted, (size_t)p->n, sizeof(*sorted), cmp_entry);
	}
	for (int i = 0; i < c->n; i++) {
		const struct gt_off_entry *e = &c->e[i];
		const struct gt_off_entry *q = sorted ? bsearch(e, sorted, (size_t)p->n, sizeof(*sorted),
								cmp_entry) : NULL;
		uint64_t ns = e->ns - (q ? q->ns : 0), n = e->count - (q ? q->count : 0);
		if (!ns && !n)
			continue;
		struct gt_off_entry *d = &out->off->e[out->off->n];
		*d = *e;
		d->ns = ns;
		d->count = n;
		if (!(d->stack = strdup(e->stack))) {
			free(sorted);
			return -ENOMEM;
		}
		out->off->n++;
	}
	free(sorted);
	/* wakers are whole-run tables: not split by interval */
	return 0;
}

/* ---- figures ---- */

/* enum gr_wake_source, in order: as keys (JSON, summary) and as text */
static const char *const wake_sources[] = { "goroutine", "channel", "timer", "io", "blocking", "cancel" };
static const char *const wake_labels[] = { "goroutine", "channel", "timer", "io", "blocking",
					   "group cancel" };
_Static_assert(sizeof(wake_labels) == sizeof(wake_sources), "wake source labels");
#define NSOURCES (int)(sizeof(wake_sources) / sizeof(wake_sources[0]))
_Static_assert(NSOURCES == GR_WAKE_SOURCE_COUNT, "wake source names");

const char *gt_wake_source_name(unsigned v)
{
	return v < (unsigned)NSOURCES ? wake_sources[v] : "unknown";
}

/* Total time of the entries of kind. */
static double kind_ns(const struct gt_snapshot *s, int kind)
{
	double t = 0;
	for (int i = 0; s->off && i < s->off->n; i++)
		if (s->off->e[i].kind == kind)
			t += (double)s->off->e[i].ns;
	return t;
}

void gt_offcpu_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	static const char *const src_keys[] = { "offcpu.g_wakes.goroutine", "offcpu.g_wakes.channel",
		"offcpu.g_wakes.timer", "offcpu.g_wakes.io", "offcpu.g_wakes.blocking", "offcpu.g_wakes.cancel" };
	_Static_assert(sizeof(src_keys) / sizeof(src_keys[0]) == NSOURCES, "keys");
	if (!s->offcpu)
		return;
	gt_fig_add(fs, "offcpu.blocked_ns", NULL, kind_ns(s, GT_OFF_BLOCKED), GT_U_NS, false);
	gt_fig_add(fs, "offcpu.preempted_ns", NULL, kind_ns(s, GT_OFF_PREEMPTED), GT_U_NS, false);
	gt_fig_add(fs, "offcpu.stacks", NULL, s->off ? s->off->n : 0, GT_U_COUNT, false);
	gt_fig_add(fs, "offcpu.open_spans", NULL, s->off ? (double)s->off->open_spans : 0, GT_U_COUNT, false);
	gt_fig_add(fs, "offcpu.stacks_lost", NULL, (double)s->counters[GT_OFF_STACKS_LOST], GT_U_COUNT, false);
	gt_fig_add(fs, "offcpu.spans_lost", NULL, (double)s->counters[GT_OFF_KEYS_LOST], GT_U_COUNT, false);
	gt_fig_add(fs, "offcpu.wakers_lost", NULL, (double)s->counters[GT_OFF_WAKERS_LOST], GT_U_COUNT, false);
	if (!s->g_offcpu)
		return;
	gt_fig_add(fs, "offcpu.g_parked_ns", NULL, kind_ns(s, GT_OFF_G_PARKED), GT_U_NS, false);
	gt_fig_add(fs, "offcpu.g_runnable_ns", NULL, kind_ns(s, GT_OFF_G_RUNNABLE), GT_U_NS, false);
	gt_fig_add(fs, "offcpu.g_parks_lost", NULL, (double)s->counters[GT_OFF_GWAIT_LOST], GT_U_COUNT, false);
	for (int i = 0; i < NSOURCES; i++)
		gt_fig_add(fs, src_keys[i], NULL, (double)s->counters[GT_G_WAKE_SOURCE + i], GT_U_COUNT, true);
}

/* ---- folded lines ---- */

static const char *proc_comm(const struct gt_snapshot *s, uint32_t tgid)
{
	for (int i = 0; i < s->nprocs; i++)
		if (s->procs[i].info.pid == tgid && s->procs[i].info.comm[0])
			return s->procs[i].info.comm;
	return "?";
}

const char *gt_off_folded(const struct gt_snapshot *s, const struct gt_off_entry *e, char *buf, size_t len)
{
	const char *p = proc_comm(s, e->tgid);
	switch (e->kind) {
	case GT_OFF_BLOCKED:
		snprintf(buf, len, "%s;%s;%s", p, e->comm, e->stack);
		break;
	case GT_OFF_PREEMPTED:
		snprintf(buf, len, "%s;%s;%s;[preempted]", p, e->comm, e->stack);
		break;
	case GT_OFF_G_PARKED:
		snprintf(buf, len, "%s;[goroutines];%s;[%s]", p, e->stack, gt_wait_reason_name(e->reason));
		break;
	default:
		snprintf(buf, len, "%s;[goroutines];%s;[runnable]", p, e->stack);
		break;
	}
	/* a frame with nothing in it (no user stack) reads as two ';' */
	for (char *q; (q = strstr(buf, ";;"));)
		memmove(q, q + 1, strlen(q + 1) + 1);
	return buf;
}

int gt_folded_write(const char *path, const struct gt_snapshot *s)
{
	char *line = malloc(FOLDED_MAX + 64);
	FILE *f = fopen(path, "we");
	int err = 0;
	if (!f || !line) {
		err = -errno;
		gt_err("cannot write the folded stacks to %s: %s", path, strerror(errno));
		free(line);
		if (f)
			fclose(f);
		return err ? err : -ENOMEM;
	}
	for (int i = 0; s->off && i < s->off->n; i++)
		fprintf(f, "%s %llu\n", gt_off_folded(s, &s->off->e[i], line, FOLDED_MAX),
			(unsigned long long)s->off->e[i].ns);
	if (ferror(f) | fclose(f)) {
		gt_err("cannot write the folded stacks to %s: %s (check the disk has room)", path,
		       strerror(errno));
		err = -EIO;
	}
	free(line);
	return err;
}

/* ---- the report ---- */

/* A folded stack as text, innermost first, kernel and user frames apart:
 * "pipe_read < vfs_read < ... | read < main"; at most TEXT_FRAMES. */
static void print_stack(FILE *f, const char *folded, int max)
{
	char *dup = strdup(folded), *fr[512];
	int n = 0;
	if (!dup)
		return;
	for (char *save, *t = strtok_r(dup, ";", &save); t && n < 512; t = strtok_r(NULL, ";", &save))
		fr[n++] = t;
	int shown = 0;
	bool was_kernel = false;
	for (int i = n - 1; i >= 0 && shown < max; i--, shown++) {
		size_t l = strlen(fr[i]);
		bool k = l > 4 && !strcmp(fr[i] + l - 4, "_[k]");
		if (k)
			fr[i][l - 4] = 0;
		fprintf(f, "%s%s", shown ? (was_kernel && !k ? " | " : " < ") : "", fr[i]);
		was_kernel = k;
	}
	if (shown < n)
		fprintf(f, " < ...");
	if (!n)
		fprintf(f, "(no stack)");
	free(dup);
}

static void print_kind(FILE *f, const struct gt_snapshot *s, int kind, const char *title,
		       const char *col, int *shown_any)
{
	char a[32], b[32];
	double tot = kind_ns(s, kind);
	int n = 0, shown = 0;
	for (int i = 0; i < s->off->n; i++)
		n += s->off->e[i].kind == kind;
	if (!n)
		return;
	fprintf(f, "\n  %s (%s in all, %d stack%s%s)\n", title, gt_fmt_ns(tot, a), n, n == 1 ? "" : "s",
		n > TOP_STACKS ? "; the largest" : "");
	fprintf(f, "  %10s %6s %9s  %-16s %s\n", "TIME", "SHARE", "SPANS", col, "STACK, INNERMOST FIRST");
	for (int i = 0; i < s->off->n && shown < TOP_STACKS; i++) {
		const struct gt_off_entry *e = &s->off->e[i];
		if (e->kind != kind)
			continue;
		fprintf(f, "  %10s %5.1f%% %9s  %-16s ", gt_fmt_ns((double)e->ns, a),
			tot > 0 ? 100.0 * (double)e->ns / tot : 0, gt_fmt_num((double)e->count, b),
			kind < GT_OFF_G_PARKED ? e->comm
			: kind == GT_OFF_G_RUNNABLE && !e->reason ? "yield/preempt"
			: gt_wait_reason_name(e->reason));
		print_stack(f, e->stack, TEXT_FRAMES);
		fputc('\n', f);
		shown++;
	}
	*shown_any = 1;
}

/* "1234", or "(1,000 threads)" for an entry that merged several. */
static void thread_ids(char *buf, size_t len, uint32_t tid, uint32_t n)
{
	char c[32];
	if (n > 1)
		snprintf(buf, len, "(%s threads)", gt_fmt_num((double)n, c));
	else
		snprintf(buf, len, "%u", tid);
}

static void print_wakers(FILE *f, const struct gt_snapshot *s)
{
	char a[32], b[32], who[96], whom[80];
	const struct gt_offcpu *off = s->off;
	if (off->nw) {
		fprintf(f, "\n  Who woke the threads (%d waker -> wakee kinds%s; the time is the wakee's "
			"off-CPU span)\n", off->nw, off->nw > TOP_STACKS ? ", the most frequent" : "");
		fprintf(f, "  %9s %10s  %-38s %-30s %s\n", "WAKEUPS", "TIME", "WAKER (PID/TID)",
			"WAKEE (PID/TID)", "WAKER'S KERNEL STACK");
		for (int i = 0; i < off->nw && i < TOP_STACKS; i++) {
			const struct gt_off_waker *w = &off->w[i];
			char wt[24], et[24];
			thread_ids(wt, sizeof(wt), w->waker_tid, w->waker_threads);
			thread_ids(et, sizeof(et), w->wakee_tid, w->wakee_threads);
			if (strcmp(w->context, "task"))
				snprintf(who, sizeof(who), "%s, in %s %u/%s", w->context, w->waker_comm,
					 w->waker_tgid, wt);
			else
				snprintf(who, sizeof(who), "%s %u/%s", w->waker_comm, w->waker_tgid, wt);
			snprintf(whom, sizeof(whom), "%s %u/%s", w->wakee_comm, w->wakee_tgid, et);
			fprintf(f, "  %9s %10s  %-38s %-30s ", gt_fmt_num((double)w->count, a),
				gt_fmt_ns((double)w->ns, b), who, whom);
			print_stack(f, w->stack, 4);
			fputc('\n', f);
		}
	}
	if (!s->g_offcpu)
		return;
	fprintf(f, "\n  What made the goroutines runnable: ");
	for (int i = 0; i < NSOURCES; i++)
		fprintf(f, "%s%s %s", i ? ", " : "", wake_labels[i],
			gt_fmt_num((double)s->counters[GT_G_WAKE_SOURCE + i], a));
	fputc('\n', f);
	if (!off->ngw)
		return;
	fprintf(f, "  %9s %10s  %-12s %-14s %s\n", "WAKES", "PARKED", "SOURCE", "WAKEE'S WAIT",
		"THE WAKER'S STACK, INNERMOST FIRST");
	for (int i = 0; i < off->ngw && i < TOP_STACKS; i++) {
		const struct gt_off_gwaker *w = &off->gw[i];
		fprintf(f, "  %9s %10s  %-12s %-14s ", gt_fmt_num((double)w->count, a),
			gt_fmt_ns((double)w->ns, b), w->source < NSOURCES ? wake_labels[w->source] : "unknown",
			gt_wait_reason_name(w->reason));
		print_stack(f, w->waker_stack, 6);
		uint64_t gid = w->source == GR_WAKE_CANCEL ? gt_group_at(s, w->tgid, w->obj) : 0;
		if (w->obj && w->source == GR_WAKE_CHAN)
			fprintf(f, "  (channel 0x%llx)", (unsigned long long)w->obj);
		else if (gid)
			fprintf(f, "  (group %llu)", (unsigned long long)gid);
		else if (w->obj && w->source == GR_WAKE_CANCEL)
			fprintf(f, "  (gr_group 0x%llx)", (unsigned long long)w->obj);
		fputc('\n', f);
	}
}

static void print_goroutines(FILE *f, const struct gt_snapshot *s)
{
	char a[32], b[32], c[32], d[32];
	if (!s->ngwait_top || !s->gwait_top[0].s.runq_cnt)
		return;
	fprintf(f, "\n  Goroutines that waited longest for a worker (made ready -> running)\n");
	fprintf(f, "  %-10s %12s %9s %10s %12s\n", "GOROUTINE", "RUN-QUEUE", "WAITS", "AVG", "PARKED");
	for (int i = 0; i < s->ngwait_top && s->gwait_top[i].s.runq_cnt; i++) {
		const struct gt_goroutine *g = &s->gwait_top[i];
		fprintf(f, "  %-10llu %12s %9s %10s %12s\n", (unsigned long long)g->id,
			gt_fmt_ns((double)g->s.runq_ns, a), gt_fmt_num((double)g->s.runq_cnt, b),
			gt_fmt_ns((double)g->s.runq_ns / (double)g->s.runq_cnt, c),
			gt_fmt_ns((double)g->s.park_ns, d));
	}
}

void gt_offcpu_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	char a[32], b[32], c[32], d[32];
	int any = 0;
	if (!s->offcpu || !s->off)
		return;
	fprintf(f, "Off-CPU (--offcpu): where the threads%s waited, and who woke them\n",
		s->g_offcpu ? " and goroutines" : "");
	if (o->folded_path || o->flame_path)
		fprintf(f, "  every stack: %s%s%s\n", o->folded_path ? o->folded_path : "",
			o->folded_path && o->flame_path ? ", " : "", o->flame_path ? o->flame_path : "");
	else
		fprintf(f, "  (every stack: --folded FILE, --flamegraph FILE.svg)\n");
	if (s->off->open_spans)
		fprintf(f, "  (%s waits still open at the end are counted up to it)\n",
			gt_fmt_num((double)s->off->open_spans, a));
	print_kind(f, s, GT_OFF_BLOCKED, "Threads: blocked", "THREAD", &any);
	print_kind(f, s, GT_OFF_PREEMPTED, "Threads: preempted, waiting for a CPU", "THREAD", &any);
	if (s->g_offcpu) {
		print_kind(f, s, GT_OFF_G_PARKED, "Goroutines: parked, by park site", "REASON", &any);
		print_kind(f, s, GT_OFF_G_RUNNABLE, "Goroutines: made ready, waiting for a worker",
			   "AFTER", &any);
		print_goroutines(f, s);
	} else if (s->greenrt) {
		fprintf(f, "  (no goroutine stacks: the runtime has no park/ready/switch probes)\n");
	}
	if (!any)
		fprintf(f, "  no off-CPU time seen\n");
	print_wakers(f, s);
	uint64_t lost = s->counters[GT_OFF_STACKS_LOST], spans = s->counters[GT_OFF_KEYS_LOST],
		 wk = s->counters[GT_OFF_WAKERS_LOST], gw = s->counters[GT_OFF_GWAIT_LOST];
	if (lost || spans || wk || gw)
		fprintf(f, "  LOST: %s stacks (a stack map was full or two stacks collided), %s spans "
			"(the off-CPU table was full), %s wakers, %s parks not followed (%s)\n",
			gt_fmt_num((double)lost, a), gt_fmt_num((double)spans, b),
			gt_fmt_num((double)wk, c), gt_fmt_num((double)gw, d),
			"their time is missing above");
}
