/*
 * json.c - the --json report, schema version GT_JSON_VERSION, documented
 * in tools/gtrace/SCHEMA.md.  "summary" holds every figure of the text
 * report under its stable key; the other members are the tables.
 * Written with jansson so that diff.c can read it back with the same
 * library.
 *
 * Names come from the kernel and the command line as bytes, and JSON
 * strings must be UTF-8 (jansson refuses anything else, and a refused
 * string used to drop the whole member: a comm cut in the middle of a
 * character emptied `threads`).  So every name goes through jstr():
 * valid UTF-8 is written as is; otherwise each invalid byte becomes
 * U+FFFD and a sibling member NAME_hex holds the exact bytes in hex.
 * Nothing is lost and every string parses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <jansson.h>
#include <greenrt.h>
#include "gtrace_cli.h"

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid. */
static int utf8_len(const unsigned char *p)
{
	unsigned c = p[0];
	int n;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000;
	else
		return 0;
	unsigned cp = c & (0x3f >> (n - 1));
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* s as a JSON string; invalid bytes become U+FFFD and *lossy is set. */
static json_t *jstr(const char *s, bool *lossy)
{
	size_t len = strlen(s), o = 0;
	char *out = malloc(3 * len + 1);
	*lossy = false;
	if (!out)
		return json_string("");
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		int n = utf8_len(p);
		if (n) {
			memcpy(out + o, p, (size_t)n);
			o += (size_t)n;
			p += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);  /* U+FFFD */
			o += 3;
			p++;
			*lossy = true;
		}
	}
	json_t *j = json_stringn(out, o);
	free(out);
	return j ? j : json_string("");
}

static json_t *hexstr(const char *s)
{
	size_t len = strlen(s);
	char *h = malloc(2 * len + 1);
	if (!h)
		return json_string("");
	for (size_t i = 0; i < len; i++)
		snprintf(h + 2 * i, 3, "%02x", (unsigned char)s[i]);
	h[2 * len] = 0;
	json_t *j = json_string(h);
	free(h);
	return j;
}

/* obj[key] = s, and obj[key_hex] = its bytes if s is not valid UTF-8 */
static void set_name(json_t *obj, const char *key, const char *s)
{
	bool lossy;
	char hk[64];
	json_object_set_new(obj, key, jstr(s, &lossy));
	if (lossy) {
		snprintf(hk, sizeof(hk), "%s_hex", key);
		json_object_set_new(obj, hk, hexstr(s));
	}
}

/* A folded stack as an array of frames, outermost first. */
static json_t *frames_json(const char *folded)
{
	json_t *a = json_array();
	char *dup = strdup(folded ? folded : "");
	bool lossy;
	for (char *save, *t = dup ? strtok_r(dup, ";", &save) : NULL; t; t = strtok_r(NULL, ";", &save))
		json_array_append_new(a, jstr(t, &lossy));
	free(dup);
	return a;
}

static const char *const off_kinds[] = { "blocked", "preempted", "parked", "runnable" };

/* --offcpu: the stacks, the wakers and the goroutines that waited
 * longest (the distributions are in "summary", dist.*). */
static json_t *offcpu_json(const struct gt_snapshot *s)
{
	if (!s->offcpu || !s->off)
		return json_null();
	const struct gt_offcpu *off = s->off;
	json_t *j = json_object(), *th = json_array(), *go = json_array(), *a;
	for (int i = 0; i < off->n; i++) {
		const struct gt_off_entry *e = &off->e[i];
		json_t *x = json_pack("{s:i, s:s}", "pid", (int)e->tgid, "kind", off_kinds[e->kind & 3]);
		if (e->kind < GT_OFF_G_PARKED)
			set_name(x, "thread", e->comm);
		else
			json_object_set_new(x, "reason", json_string(gt_wait_reason_key(e->reason)));
		json_object_update_new(x, json_pack("{s:I, s:I}", "ns", (json_int_t)e->ns,
						    "count", (json_int_t)e->count));
		json_object_set_new(x, "stack", frames_json(e->stack));
		json_array_append_new(e->kind < GT_OFF_G_PARKED ? th : go, x);
	}
	json_object_set_new(j, "threads", th);
	json_object_set_new(j, "goroutines", s->g_offcpu ? go : (json_decref(go), json_null()));
	a = json_array();
	for (int i = 0; i < off->nw; i++) {
		const struct gt_off_waker *w = &off->w[i];
		json_t *x = json_pack("{s:i, s:o, s:i, s:i, s:o, s:i}", "waker_pid", (int)w->waker_tgid,
				      "waker_tid", w->waker_threads == 1 ? json_integer(w->waker_tid) : json_null(),
				      "waker_threads", (int)w->waker_threads, "wakee_pid", (int)w->wakee_tgid,
				      "wakee_tid", w->wakee_threads == 1 ? json_integer(w->wakee_tid) : json_null(),
				      "wakee_threads", (int)w->wakee_threads);
		set_name(x, "waker_comm", w->waker_comm);
		json_object_set_new(x, "waker_context", json_string(w->context));
		set_name(x, "wakee_comm", w->wakee_comm);
		json_object_update_new(x, json_pack("{s:I, s:I}", "count", (json_int_t)w->count,
						    "ns", (json_int_t)w->ns));
		json_object_set_new(x, "waker_stack", frames_json(w->stack));
		json_array_append_new(a, x);
	}
	json_object_set_new(j, "wakers", a);
	a = json_array();
	for (int i = 0; i < off->ngw; i++) {
		const struct gt_off_gwaker *w = &off->gw[i];
		json_t *x = json_pack("{s:i, s:s, s:s, s:I, s:I}", "pid", (int)w->tgid,
				      "source", gt_wake_source_name(w->source),
				      "reason", gt_wait_reason_key(w->reason),
				      "count", (json_int_t)w->count, "ns", (json_int_t)w->ns);
		bool chan = w->source == GR_WAKE_CHAN, grp = w->source == GR_WAKE_CANCEL;
		uint64_t gid = grp ? gt_group_at(s, w->tgid, w->obj) : 0;
		json_object_set_new(x, "channel", chan && w->obj ? json_integer((json_int_t)w->obj) : json_null());
		json_object_set_new(x, "group", grp && w->obj ? json_integer((json_int_t)w->obj) : json_null());
		json_object_set_new(x, "group_id", gid ? json_integer((json_int_t)gid) : json_null());
		json_object_set_new(x, "waker_stack", frames_json(w->waker_stack));
		json_object_set_new(x, "park_stack", frames_json(w->park_stack));
		json_array_append_new(a, x);
	}
	json_object_set_new(j, "goroutine_wakers", a);
	a = json_array();
	for (int i = 0; i < s->ngwait_top; i++) {
		const struct gt_goroutine *g = &s->gwait_top[i];
		json_array_append_new(a, json_pack("{s:I, s:I, s:I, s:I}", "id", (json_int_t)g->id,
			"runq_ns", (json_int_t)g->s.runq_ns, "runq_waits", (json_int_t)g->s.runq_cnt,
			"park_ns", (json_int_t)g->s.park_ns));
	}
	json_object_set_new(j, "goroutines_longest_runq", a);
	json_object_set_new(j, "open_spans", json_integer((json_int_t)off->open_spans));
	return j;
}

/* ns from the start of the trace, or null for 0 (not seen) */
static json_t *since_start(const struct gt_snapshot *s, uint64_t ts)
{
	return ts ? json_integer((json_int_t)(ts - (uint64_t)s->t_start)) : json_null();
}

static json_t *maybe_int(bool have, int64_t v)
{
	return have ? json_integer((json_int_t)v) : json_null();
}

/* greenrt's goroutine groups (groups.c): every group itemised. */
static json_t *groups_json(const struct gt_snapshot *s)
{
	if (!s->groups_on || !s->groups_listed)
		return json_null();
	json_t *a = json_array();
	for (int i = 0; i < s->ngroups; i++) {
		const struct gt_grp *x = &s->groups[i];
		const struct gt_group *g = &x->g;
		bool cancelled = g->flags & GT_GRP_F_CANCELLED, drained = g->flags & GT_GRP_F_DRAINED;
		const char *cause = gt_group_cause(g);
		json_t *j = json_pack("{s:i, s:I, s:b}", "pid", (int)x->tgid, "id", (json_int_t)x->id,
				      "from_start", (g->flags & GT_GRP_F_NEW) != 0);
		json_object_set_new(j, "parent", maybe_int(g->flags & GT_GRP_F_PARENT, g->parent));
		json_object_set_new(j, "address", maybe_int(g->addr, (int64_t)g->addr));
		json_object_set_new(j, "created_ns", since_start(s, g->new_ts));
		json_object_update_new(j, json_pack("{s:I, s:I, s:I, s:I, s:b}",
			"members_peak", (json_int_t)g->members_peak, "members_end", (json_int_t)g->members,
			"members_started", (json_int_t)g->joined, "members_exited", (json_int_t)g->left,
			"cancelled", cancelled));
		json_object_set_new(j, "cancelled_ns", cancelled ? since_start(s, g->cancel_ts) : json_null());
		json_object_set_new(j, "cause", cause ? json_string(cause) : json_null());
		json_object_set_new(j, "origin", maybe_int(cancelled, g->origin));
		json_object_set_new(j, "members_at_cancel", maybe_int(cancelled, g->members_at_cancel));
		json_object_set_new(j, "drained", json_boolean(drained));
		json_object_set_new(j, "drain_ns", maybe_int(drained, (int64_t)g->drain_ns));
		json_object_set_new(j, "freed", json_boolean(g->flags & GT_GRP_F_FREED));
		json_object_set_new(j, "freed_ns", g->flags & GT_GRP_F_FREED ? since_start(s, g->free_ts)
									  : json_null());
		json_array_append_new(a, j);
	}
	return a;
}

static json_t *hist_json(const uint32_t *slots)
{
	json_t *a = json_array();
	int last = -1;
	for (int i = 0; i < GT_HIST_SLOTS; i++)
		if (slots[i])
			last = i;
	for (int i = 0; i <= last; i++)
		json_array_append_new(a, json_integer(slots[i]));
	return a;
}

static json_t *thread_json(const struct gt_thread *t)
{
	json_t *j = json_pack("{s:i, s:i}", "tid", (int)t->tid, "pid", (int)t->tgid);
	set_name(j, "comm", t->comm);
	json_object_update_new(j, json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"kind", t->kind == GT_KIND_IOWORKER ? "io_worker" : "thread",
		"exited", (int)t->exited, "worker", (json_int_t)t->worker,
		"voluntary", (json_int_t)t->s.vol, "involuntary", (json_int_t)t->s.invol,
		"migrations", (json_int_t)t->s.migrations, "oncpu_ns", (json_int_t)t->s.oncpu_ns,
		"offcpu_ns", (json_int_t)t->s.offcpu_ns, "runq_ns", (json_int_t)t->s.runq_ns,
		"runq_waits", (json_int_t)t->s.runq_cnt, "syscalls", (json_int_t)t->s.syscalls,
		"syscall_ns", (json_int_t)t->s.syscall_ns, "g_switches", (json_int_t)t->s.g_switches,
		"g_os_switches", (json_int_t)t->s.g_os_switches));
	return j;
}

static json_t *process_json(const struct gt_snapshot *s, const struct gt_process *p)
{
	const struct gt_thread_stats *t = &p->tot[GT_KIND_TARGET];
	bool exited = p->idx == 0 && s->exit.known ? true : (p->info.flags & GT_PROC_EXITED) != 0;
	int status = p->idx == 0 && s->exit.known ? s->exit.status : p->info.exit_code;
	json_t *j = json_pack("{s:i, s:i, s:b}", "pid", (int)p->info.pid, "ppid", (int)p->info.ppid,
			      "others", p->info.pid == 0);
	set_name(j, "comm", p->info.comm);
	json_object_update_new(j, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b}",
		"threads", (json_int_t)p->info.threads[GT_KIND_TARGET],
		"io_workers", (json_int_t)p->info.threads[GT_KIND_IOWORKER],
		"syscalls", (json_int_t)p->syscalls, "voluntary", (json_int_t)t->vol,
		"involuntary", (json_int_t)t->invol, "oncpu_ns", (json_int_t)t->oncpu_ns,
		"children", (json_int_t)p->info.children, "execs", (json_int_t)p->info.execs,
		"from_start", (p->info.flags & GT_PROC_FROM_START) != 0 || p->idx == 0,
		"greenrt", p->greenrt));
	json_object_set_new(j, "exit_code", exited && WIFEXITED(status) ? json_integer(WEXITSTATUS(status))
									: json_null());
	json_object_set_new(j, "signal", exited && WIFSIGNALED(status) ? json_integer(WTERMSIG(status))
								       : json_null());
	return j;
}

int gt_json_write(FILE *f, const char *path, const struct gt_snapshot *s, const struct gt_opts *o)
{
	struct gt_figures fs;
	json_t *root = json_object(), *sum = json_object(), *arr;

	if (o->interval > 0)
		json_object_set_new(root, "type", json_string("report"));
	json_object_set_new(root, "version", json_integer(GT_JSON_VERSION));
	json_object_set_new(root, "tool", json_string("gtrace"));
	json_t *tg = json_object();
	json_object_set_new(tg, "pid", json_integer(s->pid));
	set_name(tg, "comm", s->comm);
	if (o->argv) {
		json_t *hex = json_array();
		bool any = false, lossy;
		arr = json_array();
		for (char **a = o->argv; *a; a++) {
			json_array_append_new(arr, jstr(*a, &lossy));
			json_array_append_new(hex, hexstr(*a));
			any |= lossy;
		}
		json_object_set_new(tg, "command", arr);
		if (any)
			json_object_set_new(tg, "command_hex", hex);
		else
			json_decref(hex);
	}
	json_object_set_new(tg, "exit_status", s->exit_status >= 0 ? json_integer(s->exit_status) : json_null());
	bool known = s->exit.known;
	json_object_set_new(tg, "exit_code", known && WIFEXITED(s->exit.status)
				? json_integer(WEXITSTATUS(s->exit.status)) : json_null());
	json_object_set_new(tg, "signal", known && WIFSIGNALED(s->exit.status)
				? json_integer(WTERMSIG(s->exit.status)) : json_null());
	json_object_set_new(tg, "signal_sent", s->exit.signal_sent ? json_integer(s->exit.signal_sent)
								   : json_null());
	json_object_set_new(tg, "greenrt", json_boolean(s->greenrt));
	json_object_set_new(root, "target", tg);
	json_object_set_new(root, "follow", json_boolean(s->follow));
	arr = json_array();
	for (int i = 0; i < s->nprocs; i++)
		json_array_append_new(arr, process_json(s, &s->procs[i]));
	json_object_set_new(root, "processes", arr);
	/* where the g.* figures come from (version 2) */
	json_object_set_new(root, "goroutine_figures",
			    !s->greenrt ? json_null()
			    : json_string(s->g_events ? "probes" : "runtime_counters"));
	if (s->has_rt)
		json_object_set_new(root, "runtime_counters", json_pack("{s:I, s:I, s:b, s:i, s:o, s:f}",
			"snapshots", (json_int_t)s->rt.hits, "finals", (json_int_t)s->rt.finals,
			"last_final", (int)s->rt.last_final, "nprocs", (int)s->rt.last.nprocs,
			"engine", gt_greenrt_engine(s) ? json_string(gt_greenrt_engine(s)) : json_null(),
			"span_s", s->rt_from_start ? (double)(s->rt.last_ktime - (uint64_t)s->t_start) / 1e9
						   : (double)(s->rt.last.at_ns - s->rt.first.at_ns) / 1e9));
	else
		json_object_set_new(root, "runtime_counters", json_null());
	json_object_set_new(root, "duration_s", json_real(s->elapsed_s));
	json_object_set_new(root, "per", o->per > 0 ? json_real(o->per) : json_null());

	gt_figures_all(s, &fs);
	for (int i = 0; i < fs.n; i++)
		json_object_set_new(sum, fs.f[i].key, json_real(fs.f[i].value));
	json_object_set_new(root, "summary", sum);

	arr = json_array();
	for (int i = 0; i < s->nthreads; i++)
		json_array_append_new(arr, thread_json(&s->threads[i]));
	json_object_set_new(root, "threads", arr);
	json_object_set_new(root, "threads_unlisted", json_integer((json_int_t)s->threads_unlisted));

	arr = json_array();
	for (unsigned i = 0; i < GT_MAX_SYSCALLS; i++) {
		const struct gt_syscall_stats *x = &s->sys[i];
		if (!x->count)
			continue;
		json_t *j = json_pack("{s:i, s:s, s:I, s:I, s:I}", "nr", (int)i,
			"name", gt_syscall_name(i), "count", (json_int_t)x->count,
			"errors", (json_int_t)x->errors, "total_ns", (json_int_t)x->total_ns);
		json_object_set_new(j, "hist_log2_ns", hist_json(x->hist));
		json_array_append_new(arr, j);
	}
	json_object_set_new(root, "syscalls", arr);
	json_object_set_new(root, "syscalls_via", s->sys_via ? json_string(s->sys_via) : json_null());

	json_t *ops = json_object();
	for (unsigned i = 0; i < GT_MAX_IO_OPS; i++)
		if (s->io_ops[i])
			json_object_set_new(ops, gt_io_op_name(i), json_integer((json_int_t)s->io_ops[i]));
	json_object_set_new(root, "io_uring_opcodes", ops);

	json_t *h = json_object();
	json_object_set_new(h, "runq_ns", hist_json(s->hists[GT_HIST_RUNQ].slots));
	json_object_set_new(h, "runq_io_worker_ns", hist_json(s->hists[GT_HIST_RUNQ_IOW].slots));
	json_object_set_new(h, "offcpu_ns", hist_json(s->hists[GT_HIST_OFFCPU].slots));
	json_object_set_new(h, "goroutine_run_ns", hist_json(s->hists[GT_HIST_GRUN].slots));
	json_object_set_new(root, "histograms", h);

	arr = json_array();
	for (int i = 0; i < s->ngtop; i++) {
		const struct gt_goroutine *g = &s->gtop[i];
		json_array_append_new(arr, json_pack("{s:I, s:I, s:I, s:I, s:I}",
			"id", (json_int_t)g->id, "os_switches", (json_int_t)g->s.os_switches,
			"runs", (json_int_t)g->s.runs, "parks", (json_int_t)g->s.parks,
			"run_ns", (json_int_t)g->s.run_ns));
	}
	json_object_set_new(root, "top_goroutines", arr);
	json_object_set_new(root, "groups", groups_json(s));
	json_object_set_new(root, "groups_unlisted", s->groups_on && s->groups_listed
				? json_integer((json_int_t)s->groups_unlisted) : json_null());

	arr = json_array();
	for (int i = 0; i < s->ncost; i++)
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I}", "name", s->cost[i].name,
			"id", (json_int_t)s->cost[i].id,
			"run_cnt", (json_int_t)s->cost[i].run_cnt, "run_time_ns", (json_int_t)s->cost[i].run_ns));
	json_object_set_new(root, "bpf_programs", arr);
	if (s->traced_events) {
		json_t *t = json_pack("{s:I, s:I, s:I, s:I}",
			"events_written", (json_int_t)s->trace.written,
			"events_lost", (json_int_t)(s->counters[GT_RB_DROPS] + (uint64_t)s->trace.lost),
			"events_capped", (json_int_t)(s->counters[GT_RB_CAPPED] + (uint64_t)s->trace.capped),
			"bytes", (json_int_t)s->trace.bytes);
		set_name(t, "path", o->trace_path);
		json_object_set_new(t, "max_mb", o->trace_max_mb > 0 ? json_real(o->trace_max_mb) : json_null());
		json_object_set_new(root, "trace", t);
	} else {
		json_object_set_new(root, "trace", json_null());
	}
	json_object_set_new(root, "offcpu", offcpu_json(s));
	arr = json_array();
	for (int i = 0; i < s->nmap_ids; i++)
		json_array_append_new(arr, json_integer(s->map_ids[i]));
	json_object_set_new(root, "bpf_map_ids", arr);

	/* checks.c wrote the opening brace before the run; with -i, the
	 * header line, and the report is the last of the JSON lines */
	bool lines = o->interval > 0;
	char *text = json_dumps(root, lines ? JSON_COMPACT | JSON_PRESERVE_ORDER
					    : JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	int err = !text || text[0] != '{' || fputs(text + !lines, f) == EOF || fputc('\n', f) == EOF ||
		  fflush(f) ? -1 : 0;
	free(text);
	if (err) {
		gt_err("cannot write %s: %s (check the disk has room)", path, strerror(errno));
		return -EIO;
	}
	return 0;
}
