/*
 * json.c - the --json report, schema version GT_JSON_VERSION, documented
 * in tools/gtrace/SCHEMA.md.  "summary" holds every figure of the text
 * report under its stable key; the other members are the tables.
 * Written with jansson so that diff.c can read it back with the same
 * library.
 */
#include <errno.h>
#include <string.h>
#include <jansson.h>
#include "gtrace_cli.h"

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

int gt_json_write(const char *path, const struct gt_snapshot *s, const struct gt_opts *o)
{
	struct gt_figures fs;
	json_t *root = json_object(), *sum = json_object(), *arr;

	json_object_set_new(root, "version", json_integer(GT_JSON_VERSION));
	json_object_set_new(root, "tool", json_string("gtrace"));
	json_t *tg = json_object();
	json_object_set_new(tg, "pid", json_integer(s->pid));
	json_object_set_new(tg, "comm", json_string(s->comm));
	if (o->argv) {
		arr = json_array();
		for (char **a = o->argv; *a; a++)
			json_array_append_new(arr, json_string(*a));
		json_object_set_new(tg, "command", arr);
	}
	json_object_set_new(tg, "exit_status", s->exit_status >= 0 ? json_integer(s->exit_status) : json_null());
	json_object_set_new(tg, "greenrt", json_boolean(s->greenrt));
	json_object_set_new(root, "target", tg);
	/* where the g.* figures come from (version 2) */
	json_object_set_new(root, "goroutine_figures",
			    !s->greenrt ? json_null()
			    : json_string(s->g_events ? "probes" : "runtime_counters"));
	if (s->has_rt)
		json_object_set_new(root, "runtime_counters", json_pack("{s:I, s:I, s:b, s:i, s:f}",
			"snapshots", (json_int_t)s->rt.hits, "finals", (json_int_t)s->rt.finals,
			"last_final", (int)s->rt.last_final, "nprocs", (int)s->rt.last.nprocs,
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
	for (int i = 0; i < s->nthreads; i++) {
		const struct gt_thread *t = &s->threads[i];
		json_t *j = json_pack("{s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			"tid", (int)t->tid, "comm", t->comm,
			"kind", t->kind == GT_KIND_IOWORKER ? "io_worker" : "thread",
			"worker", (json_int_t)t->worker,
			"voluntary", (json_int_t)t->s.vol, "involuntary", (json_int_t)t->s.invol,
			"migrations", (json_int_t)t->s.migrations, "oncpu_ns", (json_int_t)t->s.oncpu_ns,
			"offcpu_ns", (json_int_t)t->s.offcpu_ns, "runq_ns", (json_int_t)t->s.runq_ns,
			"runq_waits", (json_int_t)t->s.runq_cnt, "syscalls", (json_int_t)t->s.syscalls,
			"syscall_ns", (json_int_t)t->s.syscall_ns, "g_switches", (json_int_t)t->s.g_switches,
			"g_os_switches", (json_int_t)t->s.g_os_switches);
		if (j)
			json_array_append_new(arr, j);
	}
	json_object_set_new(root, "threads", arr);

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

	arr = json_array();
	for (int i = 0; i < s->ncost; i++)
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "name", s->cost[i].name,
			"run_cnt", (json_int_t)s->cost[i].run_cnt, "run_time_ns", (json_int_t)s->cost[i].run_ns));
	json_object_set_new(root, "bpf_programs", arr);

	int err = json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (err) {
		gt_err("cannot write %s: %s (check the directory exists and is writable)", path, strerror(errno));
		return -EIO;
	}
	return 0;
}
