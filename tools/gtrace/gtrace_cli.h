/*
 * gtrace_cli.h - internal interfaces of the gtrace CLI.
 *
 * The tool is a pipeline: a session (session.c) loads the BPF skeleton
 * for one target thread group and attaches the tracepoints and, where the
 * target has them, the greenrt USDT probes (usdt.c); a driver (run.c,
 * top.c) waits while the kernel aggregates; collect.c reads the maps into
 * a gt_snapshot, plain data with no BPF in it.  Everything after that
 * works on snapshots only: each concern (sched.c, syscalls.c, iouring.c,
 * greenrt.c) turns a snapshot into named figures and prints its section
 * of the report; json.c writes figures and tables in the schema of
 * SCHEMA.md; diff.c reads two such files back.  So the text report, the
 * JSON and the diff can never disagree about what a figure means.
 */
#ifndef GTRACE_TOOL_H
#define GTRACE_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>
#include "gtrace.h"        /* bpf/gtrace.h: types shared with the BPF side */

#define GT_JSON_VERSION 2       /* SCHEMA.md; diff reads 1 and 2 */

/* ---- command line (main.c) ---- */
enum gt_cmd { GT_CMD_NONE, GT_CMD_RUN, GT_CMD_ATTACH, GT_CMD_TOP, GT_CMD_DIFF };

struct gt_opts {
	enum gt_cmd cmd;
	pid_t pid;              /* attach, top */
	double duration;        /* -d seconds, 0 = until exit / Ctrl-C */
	const char *json_path;  /* --json */
	const char *trace_path; /* --trace */
	double per;             /* --per N, 0 = off */
	bool per_thread;        /* -T */
	bool hist;              /* --hist */
	bool goroutines;        /* --goroutines: per-event greenrt probes */
	bool no_syscalls;       /* --no-syscalls: do not count system calls */
	bool sys_tracepoints;   /* --sys-tracepoints: sys_enter/sys_exit, not fentry */
	bool verbose;           /* -v */
	char **argv;            /* run: the command */
	const char *diff_a, *diff_b;
};

/* Print "gtrace: <msg>\n" on stderr (one line, lowercase, says what to do). */
void gt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the loaded programs (session.c) ---- */
#define GT_MAX_USDT_LINKS 64
#define GT_MAX_PROGS 64

struct gtrace_bpf;
struct bpf_link;
struct bpf_program;
struct ring_buffer;

struct gt_session {
	struct gtrace_bpf *skel;
	struct bpf_link *links[GT_MAX_PROGS];
	int nlinks;
	struct bpf_link *usdt_links[GT_MAX_USDT_LINKS];
	int nusdt;
	int stats_fd;           /* bpf_enable_stats(BPF_STATS_RUN_TIME), -1 */
	bool stats_ok;          /* bpf_enable_stats worked */
	int64_t stats_mark;     /* when stats were last switched on or off */
	int64_t stats_on_ns;    /* time with stats on, closed windows */
	pid_t tgid;
	bool iouring;           /* io_uring tracepoints attached */
	bool raw_tp;            /* some tracepoint fell back to raw_tp */
	bool want_events;       /* --goroutines or --trace: attach the hot probes */
	bool syscalls;          /* system calls counted */
	bool sys_fentry;        /* ... by fentry/fexit on x64_sys_call, else by
				 * the sys_enter/sys_exit tracepoints */
	char sys_why[128];      /* why not fentry ("" if it is, or no syscalls) */
	struct bpf_program *sys_fe[2];  /* fentry, fexit on x64_sys_call */
	struct bpf_program *sys_tp[2];  /* sys_enter, sys_exit (tp_btf or raw_tp) */
	bool g_events;          /* per-event greenrt probes (switch, park...) attached */
	bool g_stats;           /* greenrt's `stats` probe attached */
	bool from_start;        /* traced from the first instruction (run) */
	char usdt_where[512];   /* files the greenrt probes were attached in */
	int64_t t_start;        /* CLOCK_MONOTONIC ns when attached */
};

/* Open and load the skeleton for thread group tgid; nothing attached yet.
 * Returns 0 or -errno, having printed what is wrong. */
int gt_session_load(struct gt_session *s, pid_t tgid, const struct gt_opts *o);
/* Attach the tracepoints (0 or -errno, message printed). */
int gt_session_attach(struct gt_session *s);
/* How system calls are counted: "fentry" (fentry/fexit on x64_sys_call),
 * "tracepoint" (sys_enter/sys_exit), NULL (--no-syscalls).  Valid after
 * gt_session_attach. */
const char *gt_session_sys_via(const struct gt_session *s);
/* Detach and unload everything; safe on a partly set up session. */
void gt_session_close(struct gt_session *s);
/* Call every <= 100 ms while tracing: switches bpf_stats on and off. */
void gt_session_tick(struct gt_session *s);
/* ns with bpf_stats on so far */
int64_t gt_session_stats_ns(const struct gt_session *s);
int64_t gt_now_ns(void);

/* ---- greenrt USDT probes (usdt.c) ---- */
/* Attach the greenrt probes for pid: the cheap ones (worker_start, spawn,
 * exit, steal, preempt, stats) always; the per-event ones on hot paths
 * (switch, park, ready, io_submit, io_complete) only if s->want_events,
 * or if the runtime has no `stats` probe to count with.  exe: the executable (for `run`,
 * before the exec); proc_maps: also look in /proc/pid/maps for a loaded
 * libgreenrt.so.  Returns the number of probes attached (0: the target
 * has no greenrt probes) or -errno with a message printed. */
int gt_usdt_attach(struct gt_session *s, pid_t pid, const char *exe, bool proc_maps);

/* ---- a snapshot of the maps (collect.c) ---- */
struct gt_thread {
	uint32_t tid;
	uint32_t kind;          /* enum gt_kind */
	int64_t worker;         /* greenrt worker index, -1 */
	char comm[GT_COMM_LEN];
	struct gt_thread_stats s;
};

struct gt_goroutine {
	uint64_t id;
	struct gt_g_stats s;
};

struct gt_prog_cost {
	char name[32];
	uint64_t run_ns, run_cnt;
};

#define GT_TOP_GOROUTINES 10

struct gt_snapshot {
	pid_t pid;
	char comm[GT_COMM_LEN];
	double elapsed_s;
	int64_t t_start;        /* CLOCK_MONOTONIC ns when tracing began */
	int exit_status;        /* -1 unknown (still running) */
	bool greenrt;           /* greenrt probes attached */
	bool g_events;          /* ... including the per-event ones */
	bool g_stats;           /* ... including `stats` */
	bool has_rt;            /* rt holds at least one stats snapshot */
	bool rt_from_start;     /* rtc counts from the process start (run) */
	struct gt_rt_state rt;  /* what the stats probe left (bpf/gtrace.h) */
	/* the runtime's counters over the traced span: base + last, minus
	 * first for attach (the counts from before gtrace came) */
	uint64_t rtc[GT_RT_NCOUNTERS];
	bool iouring;
	bool syscalls;          /* system calls traced */
	const char *sys_via;    /* gt_session_sys_via() */
	char sys_why[128];      /* gt_session.sys_why */
	char usdt_where[512];
	struct gt_thread *threads;
	int nthreads;
	struct gt_syscall_stats sys[GT_MAX_SYSCALLS];
	struct gt_hist hists[GT_HIST_COUNT];
	uint64_t counters[GT_COUNTER_COUNT];
	uint64_t io_ops[GT_MAX_IO_OPS];
	struct gt_goroutine gtop[GT_TOP_GOROUTINES]; /* most OS switches */
	int ngtop;
	uint64_t ngoroutines;   /* entries in gstats */
	struct gt_prog_cost cost[GT_MAX_PROGS];
	int ncost;
	uint64_t cost_ns, cost_runs;   /* estimated time, exact runs */
	uint64_t cost_sampled_ns, cost_sampled_runs; /* bpf_stats, while on */
	double cost_sampled_s;  /* seconds bpf_stats was on */
};

/* Read every map into *snap (allocates snap->threads).  goroutines: also
 * walk the per-goroutine map (slow with many goroutines; top skips it). */
int gt_collect(struct gt_session *s, struct gt_snapshot *snap, bool goroutines);
void gt_snapshot_free(struct gt_snapshot *snap);

/* ---- figures: the named numbers of a snapshot ---- */
enum gt_unit { GT_U_COUNT, GT_U_NS };

struct gt_figure {
	const char *key;        /* stable JSON key, e.g. "sched.voluntary" */
	const char *label;      /* for the text report; NULL: JSON only */
	double value;
	enum gt_unit unit;
	bool rate;              /* meaningful per second / per request */
	double span_s;          /* seconds the figure covers, 0: the traced time */
};

#define GT_MAX_FIGURES 160
struct gt_figures {
	struct gt_figure f[GT_MAX_FIGURES];
	int n;
};
void gt_fig_add(struct gt_figures *fs, const char *key, const char *label,
		double v, enum gt_unit unit, bool rate);

/* Each concern adds its figures and prints its section. */
void gt_sched_figures(const struct gt_snapshot *s, struct gt_figures *fs);
void gt_sched_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);
void gt_syscalls_figures(const struct gt_snapshot *s, struct gt_figures *fs);
void gt_syscalls_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);
const char *gt_syscall_name(unsigned nr);
uint32_t gt_syscall_nr_io_uring_enter(void);
void gt_iouring_figures(const struct gt_snapshot *s, struct gt_figures *fs);
void gt_iouring_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);
const char *gt_io_op_name(unsigned op);
void gt_greenrt_figures(const struct gt_snapshot *s, struct gt_figures *fs);
/* "from the runtime's counters (...)" / "from per-event probes" */
const char *gt_greenrt_source(const struct gt_snapshot *s, char *buf, size_t len);
void gt_greenrt_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);
const char *gt_wait_reason_name(unsigned reason);

/* The whole report (report.c): header, each section, gtrace's cost. */
void gt_report_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);
void gt_figures_all(const struct gt_snapshot *s, struct gt_figures *fs);
/* "12.3 ms" style; buf >= 32 bytes */
const char *gt_fmt_ns(double ns, char *buf);
const char *gt_fmt_num(double v, char *buf);
/* Print figures from..to of fs as "label value /s /req" lines. */
void gt_figures_print(FILE *f, const struct gt_figures *fs, int from,
		      const struct gt_snapshot *s, const struct gt_opts *o);

/* log2 histogram as libbpf-tools print it (hist.c) */
void gt_hist_print(FILE *f, const uint32_t *slots, int n, const char *unit);
double gt_hist_total(const uint32_t *slots, int n);

/* ---- outputs ---- */
int gt_json_write(const char *path, const struct gt_snapshot *s,
		  const struct gt_opts *o);                       /* json.c */
int gt_diff_main(const struct gt_opts *o);                       /* diff.c */
int gt_top_main(const struct gt_opts *o);                        /* top.c */
int gt_run_main(const struct gt_opts *o);                        /* run.c */
int gt_attach_main(const struct gt_opts *o);                     /* run.c */

/* --trace timeline (trace.c) */
struct gt_tracer;
struct gt_tracer *gt_trace_open(struct gt_session *s, const char *path);
int gt_trace_poll(struct gt_tracer *t, int timeout_ms);
/* Flushes and closes; returns events written or -errno. */
long gt_trace_close(struct gt_tracer *t, struct gt_session *s);

/* Set by SIGINT/SIGTERM handlers (run.c). */
extern volatile int gt_stop;

#endif /* GTRACE_TOOL_H */
