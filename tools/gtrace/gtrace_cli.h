/*
 * gtrace_cli.h - internal interfaces of the gtrace CLI.
 *
 * The tool is a pipeline: main.c parses the command line and checks.c
 * its files and processes, before anything starts; a session (session.c)
 * loads the BPF skeleton for one target thread group (and the processes
 * it forks) and attaches the tracepoints and, where a traced image has
 * them, the greenrt USDT probes (usdt.c), after measuring what its
 * probes cost (calib.c); a driver (run.c, top.c) waits in
 * gt_session_wait while the kernel aggregates; collect.c reads the maps
 * into a gt_snapshot, plain data with no BPF in it.  Everything after
 * that works on snapshots only: each concern (procs.c, sched.c,
 * syscalls.c, iouring.c, greenrt.c) turns a snapshot into named figures
 * and prints its section of the report; json.c writes figures and tables
 * in the schema of SCHEMA.md; diff.c reads two such files back.  So the
 * text report, the JSON and the diff can never disagree about what a
 * figure means.  (How a new view slots in: bpf/gtrace.h.)
 */
#ifndef GTRACE_TOOL_H
#define GTRACE_TOOL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>
#include "gtrace.h"        /* bpf/gtrace.h: types shared with the BPF side */

#define GT_JSON_VERSION 5       /* SCHEMA.md; diff reads 1 to 5 */

/* ---- command line (main.c) ---- */
enum gt_cmd { GT_CMD_NONE, GT_CMD_RUN, GT_CMD_ATTACH, GT_CMD_TOP, GT_CMD_DIFF };

struct gt_opts {
	enum gt_cmd cmd;
	pid_t pid;              /* attach, top */
	double duration;        /* -d seconds, 0 = until exit / Ctrl-C */
	const char *json_path;  /* --json */
	FILE *json_file;        /* ... opened before the run starts */
	const char *trace_path; /* --trace */
	double trace_max_mb;    /* --trace-max-mb, 0 = no cap */
	struct gt_tracer *tracer;       /* ... the file, created before the run */
	char *exe;              /* run: the command's path, resolved as execvp would */
	uint32_t max_threads;   /* GTRACE_MAX_THREADS: exited-thread table size, 0 = sized */
	uint32_t max_procs;     /* GTRACE_MAX_PROCS: process table size, 0 = sized */
	bool no_follow;         /* --no-follow: not the forked children */
	double per;             /* --per N, 0 = off */
	bool per_thread;        /* -T */
	bool hist;              /* --hist */
	bool goroutines;        /* --goroutines: per-event greenrt probes */
	bool offcpu;            /* --offcpu (or --folded, --flamegraph): stacks, wakers,
				 * distributions */
	const char *folded_path;        /* --folded: the off-CPU stacks, folded */
	const char *flame_path;         /* --flamegraph: ... as an SVG flame graph */
	bool counters;          /* --counters: perf_event_open counters */
	double interval;        /* -i SECONDS, 0 = off */
	bool no_syscalls;       /* --no-syscalls: do not count system calls */
	bool sys_tracepoints;   /* --sys-tracepoints: sys_enter/sys_exit, not fentry */
	bool verbose;           /* -v */
	char **argv;            /* run: the command */
	const char *diff_a, *diff_b;
};

/* Print "gtrace: <msg>\n" on stderr (one line, lowercase, says what to do). */
void gt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Check the options of o->cmd that name files and processes, before
 * anything is started (checks.c): 0, or -1 having said what is wrong. */
int gt_check_inputs(struct gt_opts *o);
/* A "/proc/sys/kernel/pid_max"-style file as a number, or dflt. */
long gt_read_long(const char *path, long dflt);

/* ---- the loaded programs (session.c) ---- */
#define GT_MAX_PROGS 128        /* programs in the skeleton, links */

struct gtrace_bpf;
struct bpf_link;
struct bpf_program;
struct ring_buffer;

/* ---- memory (mem.c) ---- */
enum { GT_MEMINFO_KSTACK, GT_MEMINFO_SLAB, GT_MEMINFO_PTE, GT_MEMINFO_COUNT };

/* The target's memory, sampled while traced (peaks; bytes). */
struct gt_mem {
	bool on;
	bool idle_baseline;     /* base taken before the command started (run) */
	pid_t pid;
	uint64_t samples;
	uint64_t vm_peak;       /* VmPeak: address space reserved */
	uint64_t rss_peak;      /* VmHWM */
	uint64_t pte_peak;      /* VmPTE, the largest sample */
	uint64_t threads_peak;  /* Threads, the largest sample */
	uint64_t kstack_bytes;  /* one kernel stack (measured), 0 unknown */
	uint64_t task_bytes;    /* one task_struct (slab object size), 0 unknown */
	uint64_t sockets_peak;  /* sockets among its descriptors, the largest sample */
	uint64_t socket_bytes;  /* a TCP socket's slab objects (TCP, inode, file, dentry) */
	uint64_t kernel_peak;   /* the largest sample of the per-task estimate (mem.c) */
	uint64_t sockets_now;   /* the latest count of its sockets */
	int64_t base[GT_MEMINFO_COUNT]; /* /proc/meminfo kB at the start (-1 missing) */
	int64_t peak[GT_MEMINFO_COUNT]; /* ... at the largest sum of the three */
};
/* Start: the baseline (idle_baseline: the command has not started). */
void gt_mem_start(struct gt_mem *m, pid_t pid, bool idle_baseline);
void gt_mem_sample(struct gt_mem *m);

/* ---- counters (counters.c) ---- */
enum gt_pmu_event {
	GT_PMU_CYCLES, GT_PMU_INSTRUCTIONS, GT_PMU_CACHE_REFS, GT_PMU_CACHE_MISSES,
	GT_PMU_BRANCH_MISSES, GT_PMU_L1D_MISSES, GT_PMU_DTLB_MISSES, GT_PMU_ITLB_MISSES,
	GT_PMU_TASK_CLOCK, GT_PMU_CSW, GT_PMU_MIGRATIONS, GT_PMU_FAULTS, GT_PMU_MINFLT,
	GT_PMU_MAJFLT, GT_PMU_COUNT
};

/* The counters as read (sums over the descriptors; ns for the times). */
struct gt_pmu {
	uint64_t raw[GT_PMU_COUNT];
	uint64_t enabled[GT_PMU_COUNT];         /* time enabled ... */
	uint64_t running[GT_PMU_COUNT];         /* ... and counting (multiplexing) */
	bool have[GT_PMU_COUNT];
	char hw_why[160];       /* why no hardware counters ("" if there are) */
	char why[160];          /* why no counters at all */
	double switch_ns;       /* a context switch's counter switch, calibrated; -1 unknown */
};
struct gt_pmu_set;
/* Open the counters on pid: run (the command before its exec, enabled
 * by it) or attach (every thread now).  Never NULL but for memory; what
 * could not be opened is said in the snapshot. */
struct gt_pmu_set *gt_pmu_open(pid_t pid, bool run);
void gt_pmu_close(struct gt_pmu_set *p);

/* A traced process whose greenrt probes are attached (usdt.c). */
struct gt_uproc {
	pid_t pid;
	bool from_start;        /* attached before its image ran a single
				 * instruction: its runtime counters are all ours */
	char where[256];        /* files the probes were attached in */
};
#define GT_MAX_UPROCS 64

struct gt_session {
	struct gtrace_bpf *skel;
	const struct gt_opts *opts;
	struct bpf_link *links[GT_MAX_PROGS];
	int nlinks;
	struct bpf_link **usdt_links;   /* greenrt probes, all processes */
	int nusdt, cap_usdt;
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
	bool g_groups;          /* the group_* probes attached (groups.c) */
	bool offcpu;            /* --offcpu: its programs loaded and attached */
	bool g_offcpu;          /* ... and the goroutine ones on some process */
	struct gt_syms *syms;   /* --offcpu: names for the stacks (symbols.c) */
	struct gt_stack_cache *stack_cache;     /* ... stacks named so far (offcpu.c) */
	struct gt_pmu_set *pmu; /* --counters, NULL without */
	struct gt_mem mem;      /* the target's memory, sampled at each tick */
	int64_t maps_read_at;   /* when the traced processes' maps were last read */
	bool g_stats;           /* greenrt's `stats` probe attached */
	bool from_start;        /* traced from the first instruction (run) */
	char usdt_where[512];   /* files the greenrt probes were attached in */
	bool follow;            /* forked children are traced too */
	struct gt_uproc uprocs[GT_MAX_UPROCS];  /* processes with greenrt probes */
	int nuprocs;
	int uprocs_lost;        /* ... beyond GT_MAX_UPROCS, not attached */
	int exec_looks;         /* execs held for a look at the new image */
	bool closing;           /* gt_session_close: held execs are only let go */
	struct ring_buffer *rb; /* the ctl ring, and --trace's events ring */
	struct gt_tracer *tracer;
	uint32_t max_procs;     /* process table size (pinfo - 1) */
	uint32_t max_threads;   /* exited-thread table size */
	/* calibration (calib.c): what gtrace's probes cost per hit */
	double uprobe_hit_ns;   /* a greenrt probe's uprobe trap, 0 unknown */
	double sys_plain_ns;    /* a getppid() before the syscall programs */
	double sys_traced_ns;   /* ... and after (an untraced process's call) */
	uint64_t runs_before;   /* GT_PROG_RUNS when tracing began */
	int64_t t_start;        /* CLOCK_MONOTONIC ns when attached */
};

/* Open and load the skeleton for thread group tgid; nothing attached yet.
 * Returns 0 or -errno, having printed what is wrong. */
int gt_session_load(struct gt_session *s, pid_t tgid, const struct gt_opts *o);
/* Wait up to timeout_ms for gtrace's ring buffers (and pidfd, if >= 0,
 * to become readable: the target exited), handling what arrives: held
 * execs (their greenrt probes attached, then SIGCONT) and --trace
 * events; also switches bpf_stats (gt_session_tick).  Returns 1 if
 * pidfd is readable, else 0. */
int gt_session_wait(struct gt_session *s, int pidfd, int timeout_ms);
/* Resume every process still held at an exec (on the way out). */
void gt_session_release(struct gt_session *s);
/* The ids of the BPF programs and maps gtrace loaded (for tests: what
 * must be gone once it exits), as "prog 12 13 ... map 4 5 ...". */
void gt_session_ids(const struct gt_session *s, char *buf, size_t len);
/* How system calls would be counted on this kernel, and why (--version). */
void gt_sys_way(char *buf, size_t len);
/* The kernel's id of BPF program or map fd, 0 if unknown. */
__u32 gt_obj_id(int fd);
/* Attach the tracepoints (0 or -errno, message printed). */
int gt_session_attach(struct gt_session *s);
/* How system calls are counted: "fentry" (fentry/fexit on x64_sys_call),
 * "tracepoint" (sys_enter/sys_exit), NULL (--no-syscalls).  Valid after
 * gt_session_attach. */
const char *gt_session_sys_via(const struct gt_session *s);
/* Detach and unload everything; safe on a partly set up session. */
void gt_session_close(struct gt_session *s);
/* Call at least every POLL_MS (run.c) while tracing: switches bpf_stats on
 * and off (STATS_ON_NS of every STATS_PERIOD_NS, session.c). */
void gt_session_tick(struct gt_session *s);
/* ns with bpf_stats on so far */
int64_t gt_session_stats_ns(const struct gt_session *s);
int64_t gt_now_ns(void);

/* ---- greenrt USDT probes (usdt.c) ---- */
/* Attach the greenrt probes for pid: the rare ones (worker_start, steal,
 * preempt, stats, workers) always; the per-event ones (switch, park,
 * ready, io_submit, io_complete, spawn, exit) only if s->want_events, or
 * if the runtime has no `stats` probe to count with.  exe: the image
 * (the process is held at its exec, or running: proc_maps, which also
 * looks in /proc/pid/maps for a loaded libgreenrt.so); from_start: the
 * process has not run an instruction of it yet.  Returns the number of
 * probes attached (0: none in the image) or -errno with a message
 * printed. */
int gt_usdt_attach(struct gt_session *s, pid_t pid, const char *exe, bool proc_maps,
		   bool from_start);
/* Does the image at path (or the libgreenrt.so it needs) carry greenrt
 * probes?  1, 0, or -errno. */
int gt_usdt_has_probes(const char *path);

/* ---- calibration (calib.c) ---- */
/* Measure, in gtrace's own process, what one uprobe hit costs (sets
 * s->uprobe_hit_ns; a few tens of ms). */
void gt_calib_uprobe(struct gt_session *s);
/* CPU ns of one getppid() in gtrace's own process, now. */
double gt_calib_syscall(void);

/* ---- a snapshot of the maps (collect.c) ---- */
struct gt_thread {
	uint32_t tid;
	uint32_t tgid;
	uint64_t start_ns;      /* with tid, names the thread (tids are reused) */
	uint32_t kind;          /* enum gt_kind */
	uint32_t proc;          /* its process's index */
	int64_t worker;         /* greenrt worker index, -1 */
	bool exited;            /* its last switch-out was seen */
	char comm[GT_COMM_LEN];
	struct gt_thread_stats s;
};

struct gt_goroutine {
	uint64_t id;
	struct gt_g_stats s;
};

/* A traced process (procs.h), as collected. */
struct gt_process {
	struct gt_proc info;
	uint32_t idx;           /* process index; max_procs: the others */
	struct gt_thread_stats tot[2];  /* its threads' totals, by gt_kind */
	uint64_t syscalls;      /* = tot[0].syscalls + tot[1].syscalls */
	bool greenrt;           /* its greenrt probes were attached */
};

struct gt_prog_cost {
	char name[32];
	uint32_t id;            /* the kernel's program id */
	uint64_t run_ns, run_cnt;
};

#define GT_TOP_GOROUTINES 10

/* What a --trace file got (trace.c). */
struct gt_trace_result {
	long written;           /* events written */
	long lost;              /* events lost in gtrace: the file was too slow */
	uint64_t bytes;         /* file size */
	long capped;            /* events left out: --trace-max-mb reached */
	double capped_at_s;     /* ... from this many seconds into the trace */
	int err;                /* 0, or -errno writing the file */
};

/* How the target ended, as far as gtrace saw it (run). */
struct gt_exit {
	bool known;             /* waitpid() returned its status */
	int status;             /* ... the raw wait status */
	int signal_sent;        /* the last signal gtrace sent it, 0 none */
	bool escalated;         /* gtrace had to send SIGKILL */
	char why[96];           /* why gtrace stopped it ("" if it exited alone) */
};

struct gt_snapshot {
	pid_t pid;
	char comm[GT_COMM_LEN];
	double elapsed_s;
	int64_t t_start;        /* CLOCK_MONOTONIC ns when tracing began */
	int exit_status;        /* 0..255, 128+N if killed by signal N; -1 unknown */
	struct gt_exit exit;    /* run: the details */
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
	struct gt_thread *threads;      /* every thread itemised, live and exited */
	int nthreads;
	uint64_t threads_seen[2];       /* exact, by gt_kind (may exceed nthreads) */
	uint64_t threads_unlisted;      /* threads not itemised (table full) */
	uint32_t max_threads;           /* the size of that table */
	struct gt_thread_stats totals[2];       /* every traced process, by gt_kind */
	struct gt_process *procs;       /* the target first, then children in order */
	int nprocs;
	bool follow;            /* children followed */
	double uprobe_hit_ns;   /* calibration (gt_session) */
	double sys_plain_ns, sys_traced_ns;
	uint32_t map_ids[64];   /* gtrace's BPF maps (JSON: tests check they go) */
	int nmap_ids;
	bool traced_events;     /* --trace was on */
	struct gt_trace_result trace;   /* ... and what it wrote */
	uint64_t exec_looks;    /* execs held to look for greenrt probes */
	int uprocs_lost;        /* greenrt processes past GT_MAX_UPROCS */
	struct gt_syscall_stats sys[GT_MAX_SYSCALLS];
	struct gt_hist hists[GT_HIST_COUNT];
	uint64_t counters[GT_COUNTER_COUNT];
	uint64_t io_ops[GT_MAX_IO_OPS];
	struct gt_goroutine gtop[GT_TOP_GOROUTINES]; /* most OS switches */
	int ngtop;
	struct gt_goroutine gwait_top[GT_TOP_GOROUTINES]; /* --offcpu: longest run-queue time */
	int ngwait_top;
	bool offcpu;            /* --offcpu figures below */
	bool g_offcpu;          /* ... with goroutines */
	struct gt_offcpu *off;  /* the stacks and wakers (offcpu.c), NULL without */
	bool groups_on;         /* greenrt's group probes attached (--goroutines) */
	bool groups_listed;     /* ... and the tables read into groups[] */
	struct gt_grp *groups;  /* every group itemised, live and freed */
	int ngroups;
	uint64_t groups_unlisted;       /* created while traced, not itemised */
	struct gt_dist dists[GT_DIST_COUNT];
	bool pmu_on;            /* --counters */
	struct gt_pmu pmu;
	struct gt_mem mem;
	uint64_t ngoroutines;   /* entries in gstats */
	struct gt_prog_cost cost[GT_MAX_PROGS];
	int ncost;
	uint64_t cost_ns, cost_runs;   /* estimated time, exact runs */
	uint64_t cost_sampled_ns, cost_sampled_runs; /* bpf_stats, while on */
	double cost_sampled_s;  /* seconds bpf_stats was on */
};

/* ---- --offcpu: stacks, wakers, distributions (offcpu.c) ---- */
/* One off-CPU entry: a stack and a kind, with the time spent there. */
struct gt_off_entry {
	uint32_t tgid;
	uint16_t kind;          /* enum gt_off_kind */
	uint16_t reason;        /* goroutines: enum gr_wait_reason */
	char comm[GT_COMM_LEN]; /* threads: the thread's name */
	uint64_t ns, count;     /* including the spans still open at the snapshot */
	char *stack;            /* frames, outermost first, ';'-separated (folded) */
};

/* Who woke a thread: wakeups of threads of one name by threads of one
 * name from one kernel path (a thread-per-connection server's thousand
 * threads are one entry), with how many threads were on each side. */
struct gt_off_waker {
	uint32_t waker_tgid, waker_tid, wakee_tgid, wakee_tid;  /* a tid: if only one */
	uint32_t waker_threads, wakee_threads;                  /* distinct tids */
	char waker_comm[GT_COMM_LEN], wakee_comm[GT_COMM_LEN];
	uint64_t ns, count;     /* the wakee's off-CPU time, spans */
	char *stack;            /* the waker's kernel stack, folded */
	const char *context;    /* "task", or "hardirq"/"softirq": the waker
				 * only happened to be interrupted */
};

/* What made goroutines runnable. */
struct gt_off_gwaker {
	uint32_t tgid;
	uint16_t source;        /* enum gr_wake_source */
	uint16_t reason;        /* the wakee's wait reason */
	uint64_t obj;           /* the gr_chan for GR_WAKE_CHAN, the wakee's gr_group
				 * for GR_WAKE_CANCEL */
	uint64_t ns, count;     /* park time ended, wakes */
	char *waker_stack, *park_stack;
};

struct gt_offcpu {
	struct gt_off_entry *e;
	int n;
	struct gt_off_waker *w;
	int nw;
	struct gt_off_gwaker *gw;
	int ngw;
	uint64_t open_spans;    /* spans still open at the snapshot, counted in */
};

struct gt_session;
struct gt_figures;
/* Read the off-CPU maps into snap->off (symbolising the stacks). */
int gt_offcpu_collect(struct gt_session *s, struct gt_snapshot *snap);
void gt_offcpu_free(struct gt_offcpu *off);
/* Free a session's stack names (gt_session_close). */
void gt_stack_cache_free(struct gt_stack_cache *c);
void gt_offcpu_figures(const struct gt_snapshot *s, struct gt_figures *fs);
void gt_offcpu_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);
/* The distributions section (dist.c). */
void gt_dist_figures(const struct gt_snapshot *s, struct gt_figures *fs);
void gt_dist_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);
/* p (0..1) of a distribution, in ns; 0 for an empty one */
double gt_dist_pct(const struct gt_dist *d, double p);
/* Add d's figures as PREFIX.count, .mean_ns, .p50_ns, .p90_ns, .p99_ns,
 * .max_ns; keys: their storage, which must outlive fs. */
#define GT_DIST_FIGS 6
void gt_dist_add_figures(struct gt_figures *fs, const char *prefix, const struct gt_dist *d,
			 char keys[GT_DIST_FIGS][64]);
/* The frames of an entry as the folded format has them, root first:
 * "process;thread;frames...[;leaf]" (goroutines: "process;[goroutines];
 * frames...;[reason]"). */
const char *gt_off_folded(const struct gt_snapshot *s, const struct gt_off_entry *e,
			  char *buf, size_t len);
/* Write the folded stacks (0, or -errno having said why). */
int gt_folded_write(const char *path, const struct gt_snapshot *s);
/* Write the SVG flame graph (flame.c; 0, or -errno having said why). */
int gt_flame_write(const char *path, const struct gt_snapshot *s);
/* cur - prev of the off-CPU entries, into out->off (interval.c). */
int gt_offcpu_delta(struct gt_snapshot *out, const struct gt_snapshot *cur,
		    const struct gt_snapshot *prev);
/* A distribution of the events between two snapshots. */
void gt_dist_delta(struct gt_dist *out, const struct gt_dist *cur, const struct gt_dist *prev);
/* The counters (counters.c) and the memory (mem.c) sections. */
void gt_pmu_read(const struct gt_pmu_set *p, struct gt_snapshot *snap);
void gt_pmu_delta(struct gt_snapshot *out, const struct gt_snapshot *cur, const struct gt_snapshot *prev);
void gt_pmu_figures(const struct gt_snapshot *s, struct gt_figures *fs);
void gt_pmu_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);
/* What switching the counters cost the target (ns), -1 unknown. */
double gt_pmu_cost_ns(const struct gt_snapshot *s);
void gt_mem_figures(const struct gt_snapshot *s, struct gt_figures *fs);
void gt_mem_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);

/* ---- greenrt's goroutine groups (groups.c; bpf/groups.h) ---- */
struct gt_grp {
	uint32_t tgid;
	uint64_t id;
	struct gt_group g;
};
/* Read the group tables into snap->groups (by process, then id). */
int gt_groups_collect(struct gt_session *s, struct gt_snapshot *snap);
void gt_groups_figures(const struct gt_snapshot *s, struct gt_figures *fs);
void gt_groups_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);
/* "cancel", "deadline", NULL for a group not cancelled */
const char *gt_group_cause(const struct gt_group *g);
/* The id of the group whose gr_group is at addr in process tgid, 0 if
 * none itemised (a live one first: addresses are reused). */
uint64_t gt_group_at(const struct gt_snapshot *s, uint32_t tgid, uint64_t addr);

/* ---- over time (interval.c): the delta of two snapshots, -i ---- */
/* out = what happened from prev to cur (see interval.c); free it with
 * gt_snapshot_free.  0 or -ENOMEM. */
int gt_snapshot_delta(const struct gt_snapshot *cur, const struct gt_snapshot *prev,
		      struct gt_snapshot *out);
struct gt_interval;
/* -i: intervals from t_start, printed on out (and o->json_file). */
struct gt_interval *gt_interval_new(const struct gt_opts *o, FILE *out, int64_t t_start);
/* Print the interval that has ended, if one has (call while waiting). */
int gt_interval_poll(struct gt_interval *iv, struct gt_session *s);
/* The last interval, ending at the final snapshot (iv may be NULL). */
int gt_interval_last(struct gt_interval *iv, struct gt_snapshot *final);
void gt_interval_free(struct gt_interval *iv);

/* The name of enum gr_wake_source v. */
const char *gt_wake_source_name(unsigned v);

/* ---- symbols (symbols.c) ---- */
struct gt_syms *gt_syms_new(void);
void gt_syms_free(struct gt_syms *y);
/* Index an executable and the libraries it needs (before they are mapped). */
void gt_syms_add_file(struct gt_syms *y, const char *path);
/* Read pid's code mappings (replacing the ones read before), and index
 * their files. */
void gt_syms_add_pid(struct gt_syms *y, pid_t pid);
const char *gt_syms_kernel(struct gt_syms *y, uint64_t ip, char *buf, size_t len);
/* The function at address ip of process pid, or [file] / [unknown]. */
const char *gt_syms_user(struct gt_syms *y, pid_t pid, uint64_t ip, char *buf, size_t len);
/* The DT_NEEDED libraries of an ELF file, resolved as ld.so would (the
 * common cases: RPATH/RUNPATH with $ORIGIN, LD_LIBRARY_PATH, the system
 * directories); how many were found (usdt.c). */
int gt_elf_needed(const char *exe, char (*out)[PATH_MAX], int max);

/* Read every map into *snap (allocates snap->threads).  goroutines: also
 * walk the per-goroutine map and the group tables (slow with many
 * goroutines; top and -i skip it). */
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
/* The target runtime's I/O engine ("uring", "epoll", or "mixed" when
 * the traced processes ran different ones), from its stats snapshots;
 * NULL when none arrived or the code is unknown. */
#define GT_RT_ENGINE_MIXED 0xffffffffu
const char *gt_greenrt_engine(const struct gt_snapshot *s);
void gt_greenrt_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);
const char *gt_wait_reason_name(unsigned reason);
/* "chan_recv": the reason as a key (the g.park.* summary keys) */
const char *gt_wait_reason_key(unsigned reason);

/* The process list (procs.c): "pid 123 and 3 children", a line each. */
const char *gt_procs_scope(const struct gt_snapshot *s, char *buf, size_t len);
void gt_procs_figures(const struct gt_snapshot *s, struct gt_figures *fs);
void gt_procs_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o);
/* "exited with status 3" / "killed by signal 9 (SIGKILL)" for a wait status */
const char *gt_wait_status_str(int status, char *buf, size_t len);

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
int gt_json_write(FILE *f, const char *path, const struct gt_snapshot *s,
		  const struct gt_opts *o);                       /* json.c */
int gt_diff_main(const struct gt_opts *o);                       /* diff.c */
int gt_top_main(const struct gt_opts *o);                        /* top.c */
int gt_run_main(struct gt_opts *o);                              /* run.c */
int gt_attach_main(struct gt_opts *o);                           /* run.c */

/* --trace timeline (trace.c) */
struct gt_tracer;
/* Open path and write the header (so a file that cannot take it is
 * found before the run: NULL, having said why). */
struct gt_tracer *gt_trace_create(const char *path, double max_mb);
/* Feed it from the session's `events` ring buffer (0 or -errno). */
int gt_trace_start(struct gt_tracer *t, struct gt_session *s);
/* Flush and close (t is freed). */
struct gt_trace_result gt_trace_close(struct gt_tracer *t, struct gt_session *s);

/* Set by SIGINT/SIGTERM handlers (run.c). */
extern volatile int gt_stop;

#endif /* GTRACE_TOOL_H */
