/*
 * groups.c - greenrt's goroutine groups in the goroutine figures: how
 * many were made, cancelled (and why), drained and freed, how long they
 * took to drain, and a table of the groups as a tree (the BPF side and
 * the vocabulary: bpf/groups.bpf.c, bpf/groups.h).
 *
 * The totals come from counters and the drain times from a distribution,
 * exact however many groups there were, and they add up over `-i`
 * intervals.  The table is what the kernel's tables itemised: every live
 * group (up to GT_MAX_GROUPS) and the latest GT_GROUPS_DONE freed ones;
 * the JSON lists them all, the text report the first TEXT_GROUPS in tree
 * order (each parent before its children, children by id), and both say
 * how many were left out.
 *
 * Per group, what the reader wants to know about a cancellation: where
 * the group sits in the tree, how many members it had (at most, when
 * cancelled, at the end), how many it started, when it was cancelled and
 * why - gr_group_cancel or a deadline, its own or an ancestor's -, and
 * how long its members took to leave (group_drained: the runtime's clock,
 * from the cancellation to the last member's exit), and whether it was
 * freed.  A group whose members were still leaving when the report was
 * made says so ("draining").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gtrace_cli.h"
#include "gtrace.skel.h"

#define TEXT_GROUPS 24          /* rows of the text table */
#define TREE_INDENT_MAX 8       /* levels the GROUP column indents */

static int cmp_grp(const void *a, const void *b)
{
	const struct gt_grp *x = a, *y = b;
	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	/* an earlier image's group of the same id (exec) first */
	return x->g.new_ts < y->g.new_ts ? -1 : x->g.new_ts > y->g.new_ts;
}

/* Append the entries of one table to snap->groups (*cap: its room). */
static int read_table(struct bpf_map *m, struct gt_snapshot *snap, int *cap)
{
	int fd = bpf_map__fd(m);
	struct gt_group_key k, next, *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		struct gt_group g;
		if (bpf_map_lookup_elem(fd, &k, &g))
			continue;       /* freed meanwhile: found in the other table */
		if (snap->ngroups == *cap) {
			int c = *cap ? 2 * *cap : 64;
			void *a = realloc(snap->groups, (size_t)c * sizeof(*snap->groups));
			if (!a)
				return -ENOMEM;
			snap->groups = a;
			*cap = c;
		}
		snap->groups[snap->ngroups++] = (struct gt_grp){ .tgid = k.tgid, .id = k.id, .g = g };
	}
	return 0;
}

int gt_groups_collect(struct gt_session *s, struct gt_snapshot *snap)
{
	int cap = 0, err;
	uint64_t from_start = 0;
	free(snap->groups);
	snap->groups = NULL;
	snap->ngroups = 0;
	snap->groups_unlisted = 0;
	snap->groups_on = s->g_groups;
	snap->groups_listed = false;
	if (!s->g_groups)
		return 0;
	/* live ones first: a group freed between the two reads is then seen
	 * in the second (or, at worst, in neither: counted unlisted) */
	if ((err = read_table(s->skel->maps.groups, snap, &cap)) ||
	    (err = read_table(s->skel->maps.groups_done, snap, &cap)))
		return err;
	if (snap->ngroups)
		qsort(snap->groups, (size_t)snap->ngroups, sizeof(*snap->groups), cmp_grp);
	for (int i = 0; i < snap->ngroups; i++)
		from_start += (snap->groups[i].g.flags & GT_GRP_F_NEW) != 0;
	if (snap->counters[GT_GRP_NEW] > from_start)
		snap->groups_unlisted = snap->counters[GT_GRP_NEW] - from_start;
	snap->groups_listed = true;
	return 0;
}

const char *gt_group_cause(const struct gt_group *g)
{
	if (!(g->flags & GT_GRP_F_CANCELLED))
		return NULL;
	return g->cause == GT_GRP_CAUSE_DEADLINE ? "deadline" : "cancel";
}

uint64_t gt_group_at(const struct gt_snapshot *s, uint32_t tgid, uint64_t addr)
{
	uint64_t found = 0;
	for (int i = 0; addr && i < s->ngroups; i++) {
		const struct gt_grp *x = &s->groups[i];
		if (x->tgid != tgid || x->g.addr != addr)
			continue;
		if (!(x->g.flags & GT_GRP_F_FREED))
			return x->id;
		found = x->id;
	}
	return found;
}

void gt_groups_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	static char drain_keys[GT_DIST_FIGS][64];
	const uint64_t *c = s->counters;
	if (!s->groups_on)
		return;
	gt_fig_add(fs, "groups.created", "groups created", (double)c[GT_GRP_NEW], GT_U_COUNT, true);
	gt_fig_add(fs, "groups.cancelled", "  cancelled", (double)c[GT_GRP_CANCEL], GT_U_COUNT, true);
	gt_fig_add(fs, "groups.cancelled_by_deadline", "    by a deadline", (double)c[GT_GRP_DEADLINE],
		   GT_U_COUNT, true);
	gt_fig_add(fs, "groups.drained", "  drained after cancellation", (double)c[GT_GRP_DRAINED],
		   GT_U_COUNT, true);
	gt_fig_add(fs, "groups.freed", "  freed (gr_group_destroy)", (double)c[GT_GRP_FREE], GT_U_COUNT, true);
	gt_fig_add(fs, "groups.members_started", "  members started", (double)c[GT_GRP_JOIN], GT_U_COUNT, true);
	gt_fig_add(fs, "groups.members_exited", "  members exited", (double)c[GT_GRP_LEAVE], GT_U_COUNT, true);
	gt_fig_add(fs, "groups.untracked_events", NULL, (double)c[GT_GRP_UNTRACKED], GT_U_COUNT, false);
	if (s->groups_listed) {
		gt_fig_add(fs, "groups.itemised", NULL, (double)s->ngroups, GT_U_COUNT, false);
		gt_fig_add(fs, "groups.unlisted", NULL, (double)s->groups_unlisted, GT_U_COUNT, false);
	}
	gt_dist_add_figures(fs, "groups.drain", &s->dists[GT_DIST_G_DRAIN], drain_keys);
}

/* ---- the table, as a tree ---- */

/* The index of group (tgid, id) in s->groups, -1 if not itemised (the
 * live one if an exec left two). */
static int find(const struct gt_snapshot *s, uint32_t tgid, uint64_t id)
{
	int lo = 0, hi = s->ngroups - 1, hit = -1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		const struct gt_grp *x = &s->groups[mid];
		if (x->tgid < tgid || (x->tgid == tgid && x->id < id)) {
			lo = mid + 1;
		} else if (x->tgid == tgid && x->id == id) {
			hit = mid;      /* the last of equal ids: the newest */
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return hit;
}

/* The groups in tree order (out[], with their depth): each parent before
 * its children, children by id; a group whose parent is not itemised is
 * a root.  The count (s->ngroups), or -ENOMEM. */
static int tree_order(const struct gt_snapshot *s, int *out, int *depth)
{
	int n = s->ngroups, k = 0;
	int *first = malloc((size_t)n * sizeof(int)), *next = malloc((size_t)n * sizeof(int));
	int *stack = malloc((size_t)n * sizeof(int)), *parent = malloc((size_t)n * sizeof(int));
	bool *done = calloc((size_t)n, sizeof(bool));
	if (!first || !next || !stack || !parent || !done) {
		k = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const struct gt_grp *x = &s->groups[i];
		first[i] = -1;
		parent[i] = -1;
		if ((x->g.flags & GT_GRP_F_PARENT) && x->g.parent > 0)
			parent[i] = find(s, x->tgid, (uint64_t)x->g.parent);
	}
	/* children lists in decreasing id order, so that pushed in list
	 * order the smallest id is on top */
	for (int i = 0; i < n; i++)
		if (parent[i] >= 0 && parent[i] != i) {
			next[i] = first[parent[i]];
			first[parent[i]] = i;
		}
	/* from each root (in id order), then from whatever is left: a cycle,
	 * which the runtime cannot make, would otherwise be lost */
	for (int pass = 0; pass < 2; pass++) {
		for (int r = 0; r < n; r++) {
			if (done[r] || (pass == 0 && parent[r] >= 0 && parent[r] != r))
				continue;
			int sp = 0;
			depth[r] = 0;
			stack[sp++] = r;
			done[r] = true;
			while (sp) {
				int i = stack[--sp];
				out[k++] = i;
				for (int c = first[i]; c >= 0; c = next[c])
					if (!done[c]) {
						done[c] = true;
						depth[c] = depth[i] + 1;
						stack[sp++] = c;
					}
			}
		}
	}
out:
	free(first), free(next), free(stack), free(parent), free(done);
	return k;
}

/* seconds from the start of the trace */
static const char *at(const struct gt_snapshot *s, uint64_t ts, char *buf)
{
	snprintf(buf, 32, "%.3f s", ((double)ts - (double)s->t_start) / 1e9);
	return buf;
}

static void print_row(FILE *f, const struct gt_snapshot *s, const struct gt_grp *x, int depth, bool pids)
{
	const struct gt_group *g = &x->g;
	char id[48], par[32], peak[32], now[32], started[32], canc[32], cause[48], drain[32], freed[32];
	int ind = 2 * (depth < TREE_INDENT_MAX ? depth : TREE_INDENT_MAX);
	if (pids)
		snprintf(id, sizeof(id), "%*s%u/%llu", ind, "", x->tgid, (unsigned long long)x->id);
	else
		snprintf(id, sizeof(id), "%*s%llu", ind, "", (unsigned long long)x->id);
	if (!(g->flags & GT_GRP_F_PARENT))
		snprintf(par, sizeof(par), "?");
	else if (g->parent > 0)
		snprintf(par, sizeof(par), "%lld", (long long)g->parent);
	else
		snprintf(par, sizeof(par), "-");
	gt_fmt_num((double)g->members_peak, peak);
	gt_fmt_num((double)g->members, now);
	gt_fmt_num((double)g->joined, started);
	const char *why = gt_group_cause(g);
	if (why) {
		at(s, g->cancel_ts, canc);
		if (g->origin > 0 && (uint64_t)g->origin != x->id)
			snprintf(cause, sizeof(cause), "%s of %lld", why, (long long)g->origin);
		else
			snprintf(cause, sizeof(cause), "%s", why);
		if (g->flags & GT_GRP_F_DRAINED)
			gt_fmt_ns((double)g->drain_ns, drain);
		else
			snprintf(drain, sizeof(drain), "draining");
	} else {
		snprintf(canc, sizeof(canc), "-");
		snprintf(cause, sizeof(cause), "-");
		snprintf(drain, sizeof(drain), "-");
	}
	if (g->flags & GT_GRP_F_FREED)
		at(s, g->free_ts, freed);
	else
		snprintf(freed, sizeof(freed), "no");
	fprintf(f, "    %-18s %7s %8s %8s %8s  %11s %-16s %10s %11s%s\n", id, par, peak, now, started, canc,
		cause, drain, freed, g->flags & GT_GRP_F_NEW ? "" : "  (made before tracing)");
}

void gt_groups_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	struct gt_figures fs = { .n = 0 };
	char a[32], b[32], c[32], d[32];
	const uint64_t *k = s->counters;
	if (!s->greenrt || !s->g_events)
		return;         /* the default mode attaches no group probes */
	fputc('\n', f);
	if (!s->groups_on) {
		fprintf(f, "  Goroutine groups: this runtime has no group probes (a greenrt older than "
			"gr_group)\n");
		return;
	}
	if (!k[GT_GRP_NEW] && !k[GT_GRP_JOIN] && !k[GT_GRP_LEAVE] && !k[GT_GRP_CANCEL] && !k[GT_GRP_FREE] &&
	    !s->ngroups) {
		fprintf(f, "  Goroutine groups: none used\n");
		return;
	}
	fprintf(f, "  Goroutine groups (gr_group: cancelled, waited for and freed together)\n");
	gt_groups_figures(s, &fs);
	gt_figures_print(f, &fs, 0, s, o);
	const struct gt_dist *dr = &s->dists[GT_DIST_G_DRAIN];
	if (dr->count)
		fprintf(f, "  %-34s %14s  p50 %s, p99 %s, max %s (cancelled -> last member out)\n",
			"time to drain", gt_fmt_num((double)dr->count, a), gt_fmt_ns(gt_dist_pct(dr, 0.5), b),
			gt_fmt_ns(gt_dist_pct(dr, 0.99), c), gt_fmt_ns((double)dr->max, d));
	if (s->counters[GT_GRP_UNTRACKED])
		fprintf(f, "  %s events of groups the tables could not take: those groups are only in "
			"the totals\n", gt_fmt_num((double)s->counters[GT_GRP_UNTRACKED], a));
	if (!s->groups_listed || !s->ngroups)
		return;
	int *order = malloc((size_t)s->ngroups * sizeof(int)), *depth = malloc((size_t)s->ngroups * sizeof(int));
	int n = order && depth ? tree_order(s, order, depth) : -ENOMEM;
	bool pids = s->groups[0].tgid != s->groups[s->ngroups - 1].tgid;
	if (n < 0) {
		fprintf(f, "  (no memory for the groups table)\n");
	} else {
		fprintf(f, "\n    %-18s %7s %8s %8s %8s  %11s %-16s %10s %11s\n", pids ? "PID/GROUP" : "GROUP",
			"PARENT", "PEAK", "MEMBERS", "STARTED", "CANCELLED", "CAUSE", "DRAINED IN", "FREED");
		for (int i = 0; i < n && i < TEXT_GROUPS; i++)
			print_row(f, s, &s->groups[order[i]], depth[order[i]], pids);
		if (n > TEXT_GROUPS)
			fprintf(f, "    ... %s more group%s itemised (all in --json)\n",
				gt_fmt_num((double)(n - TEXT_GROUPS), a), n - TEXT_GROUPS == 1 ? "" : "s");
		fprintf(f, "    (times from the start of the trace; MEMBERS: at the end, as the last member to "
			"start or exit left it; PARENT ?: not decided while traced)\n");
	}
	if (s->groups_unlisted)
		fprintf(f, "    %s group%s not itemised: the tables hold %s live groups and the latest %s "
			"freed ones (the totals above count every group)\n",
			gt_fmt_num((double)s->groups_unlisted, a), s->groups_unlisted == 1 ? "" : "s",
			gt_fmt_num(GT_MAX_GROUPS, b), gt_fmt_num(GT_GROUPS_DONE, c));
	free(order);
	free(depth);
}
