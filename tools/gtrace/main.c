/*
 * main.c - gtrace's command line: the command, then argp parsing of its
 * options, and dispatch.
 *
 * gtrace has four commands (run, attach, top, diff).  Each has its own
 * argp parser - its own options, usage line, help text and examples, so
 * `gtrace run --help` is about run - built from one table of options in
 * which every option names the commands it applies to.  The command is
 * the first word that is neither an option nor an option's value, so
 * options may come before it (`gtrace --json a.json run -- ls`) as well
 * as after.  For `run`, argp stops at the first word after the command
 * (ARGP_IN_ORDER): that word and everything after it are the traced
 * program's, so both `gtrace run -- ./srv -p 80` and `gtrace run ./srv`
 * work.
 *
 * Errors are one line, "gtrace: what is wrong: what to do", exit status
 * 2, and are found before anything starts: argp's own messages (two
 * lines, some of them misleading) are turned off (ARGP_NO_ERRS) and
 * written here, and the values of options are checked strictly (a pid
 * is decimal and fits pid_max; a duration is finite).  Files and
 * processes are checked by gt_check_inputs (checks.c).
 */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <greenrt.h>
#include "gtrace_cli.h"

/* gtrace is released with the library: its version is greenrt's (the
 * VERSION file, which the build checks against greenrt.h). */
#define GT_STR(x) #x
#define GT_XSTR(x) GT_STR(x)
#define GT_VERSION "gtrace " GT_XSTR(GREENRT_VERSION_MAJOR) "." \
	GT_XSTR(GREENRT_VERSION_MINOR) "." GT_XSTR(GREENRT_VERSION_PATCH)
#define GT_MAX_DURATION_S (366.0 * 24 * 3600)   /* -d: a year at most */
#define GT_MAX_TRACE_MB 1e6                     /* --trace-max-mb: a terabyte */
#define GT_MIN_INTERVAL_S 0.1                   /* -i: the drivers wake every POLL_MS (run.c) */

enum {
	OPT_JSON = 1000, OPT_TRACE, OPT_TRACE_MAX, OPT_PER, OPT_HIST, OPT_GOROUTINES,
	OPT_NOSYSCALLS, OPT_SYSTP, OPT_NOFOLLOW, OPT_USAGE, OPT_OFFCPU, OPT_FOLDED, OPT_FLAME,
	OPT_COUNTERS,
};

/* Which commands an option applies to. */
#define C_RUN (1u << GT_CMD_RUN)
#define C_ATTACH (1u << GT_CMD_ATTACH)
#define C_TOP (1u << GT_CMD_TOP)
#define C_DIFF (1u << GT_CMD_DIFF)
#define C_ALL (C_RUN | C_ATTACH | C_TOP | C_DIFF)
#define C_TRACE (C_RUN | C_ATTACH | C_TOP)     /* the ones that trace */

struct opt {
	struct argp_option a;
	unsigned cmds;
};

static const struct opt table[] = {
	{ { "pid", 'p', "PID", 0, "The process to trace", 0 }, C_ATTACH | C_TOP },
	{ { "duration", 'd', "SECONDS", 0,
	    "Stop after SECONDS (default: when the target exits, or Ctrl-C)", 0 }, C_TRACE },
	{ { "json", OPT_JSON, "FILE", 0,
	    "Also write the report as JSON (schema: tools/gtrace/SCHEMA.md)", 0 }, C_RUN | C_ATTACH },
	{ { "trace", OPT_TRACE, "FILE", 0,
	    "Record a Chrome/Perfetto timeline of goroutines on workers into FILE "
	    "(implies --goroutines)", 0 }, C_RUN | C_ATTACH },
	{ { "trace-max-mb", OPT_TRACE_MAX, "MB", 0,
	    "Stop recording the --trace timeline once the file reaches MB megabytes "
	    "(the report says how many events were left out)", 0 }, C_RUN | C_ATTACH },
	{ { "no-follow", OPT_NOFOLLOW, NULL, 0,
	    "Do not trace the processes the target forks (by default they are followed "
	    "and counted, as perf stat does)", 0 }, C_TRACE },
	{ { "goroutines", OPT_GOROUTINES, NULL, 0,
	    "Count every goroutine event with per-event probes: per-thread and per-goroutine "
	    "figures and the goroutine groups (members, cancelled when and why, time to drain), "
	    "at a uprobe trap (~1 us of the target's time) per event", 0 }, C_TRACE },
	{ { "offcpu", OPT_OFFCPU, NULL, 0,
	    "Where the threads and goroutines waited: off-CPU time by kernel and user stack, "
	    "goroutine park time by reason and park-site stack, run-queue time, who woke whom, "
	    "and the waits as distributions (p50/p90/p99/max); see COST", 0 }, C_RUN | C_ATTACH },
	{ { "folded", OPT_FOLDED, "FILE", 0,
	    "Write every --offcpu stack to FILE in the folded format flame graph tools read "
	    "(implies --offcpu)", 0 }, C_RUN | C_ATTACH },
	{ { "flamegraph", OPT_FLAME, "FILE.svg", 0,
	    "Draw the --offcpu stacks as a flame graph: one self-contained SVG file "
	    "(implies --offcpu)", 0 }, C_RUN | C_ATTACH },
	{ { "counters", OPT_COUNTERS, NULL, 0,
	    "CPU counters of the target (perf_event_open, as perf stat): cycles, instructions "
	    "(IPC), cache, TLB and branch misses where the machine has a PMU; task clock, "
	    "context switches, migrations, page faults always", 0 }, C_RUN | C_ATTACH },
	{ { "interval", 'i', "SECONDS", 0,
	    "Also print the figures of each SECONDS as one line (with --json: one JSON object "
	    "per interval, JSON lines), so warm-up and steady state can be told apart; the "
	    "intervals add up to the report's totals", 0 }, C_RUN | C_ATTACH },
	{ { "no-syscalls", OPT_NOSYSCALLS, NULL, 0,
	    "Do not count system calls (the cheap mode: see COST in gtrace --help)", 0 }, C_TRACE },
	{ { "sys-tracepoints", OPT_SYSTP, NULL, 0,
	    "Count system calls with the sys_enter/sys_exit tracepoints rather than "
	    "fentry/fexit on x64_sys_call (slower for every process in the machine; the "
	    "fallback anyway where the kernel refuses fentry)", 0 }, C_TRACE },
	{ { "per", OPT_PER, "N", 0, "Also show figures divided by N (requests served)", 0 },
	  C_RUN | C_ATTACH },
	{ { "threads", 'T', NULL, 0, "Per-thread tables (and per-program costs)", 0 }, C_RUN | C_ATTACH },
	{ { "hist", OPT_HIST, NULL, 0, "Print log2 latency histograms", 0 }, C_RUN | C_ATTACH },
	{ { "verbose", 'v', NULL, 0, "Show libbpf's messages and the ids of the BPF objects loaded", 0 },
	  C_ALL },
	{ { "help", 'h', NULL, 0, "Give this help (gtrace COMMAND --help: that command's)", -1 }, C_ALL },
	{ { "usage", OPT_USAGE, NULL, 0, "Give a short usage message", -1 }, C_ALL },
	{ { "version", 'V', NULL, 0, "Print the version, and how system calls are counted on this "
	    "kernel (fentry or the tracepoints)", -1 }, C_ALL },
};
#define NOPTS (sizeof(table) / sizeof(table[0]))

static const char cost_doc[] =
"COST: the OS figures come from scheduler tracepoints, which run for every\n"
"process in the machine and filter on the target's pid in the kernel.\n"
"System calls are counted by fentry/fexit on the kernel's syscall\n"
"dispatcher x64_sys_call where the kernel allows it, else by the\n"
"sys_enter/sys_exit tracepoints, which send every system call in the\n"
"machine through the kernel's slow path; --no-syscalls leaves them out.\n"
"Goroutine figures come, by default, from greenrt's own counters (its\n"
"`stats` probe, about once a second); --goroutines (implied by --trace)\n"
"adds a uprobe on each goroutine switch, park, ready and I/O, and on each\n"
"group event (a member's start and exit, a cancellation), a trap of\n"
"~1 us of the target's time each.  --offcpu adds two scheduler\n"
"programs that walk the kernel and user stacks of every switch-out and\n"
"wakeup of the target's threads, and, for greenrt programs, uprobes on\n"
"every goroutine park, ready, switch and exit (a trap each, and a stack\n"
"walk at each park and ready).  The report's last lines give what\n"
"tracing cost: the time in gtrace's BPF programs (and the part --offcpu's\n"
"took) and, measured on this machine at start, what the uprobe traps and\n"
"the slower system calls cost the target on top of it.\n";

static const char top_doc[] =
"gtrace - what a process costs the kernel, and what greenrt does above it.\n"
"\n"
"Counts the target's OS context switches (voluntary / involuntary),\n"
"run-queue latency, CPU migrations, system calls, io_uring traffic, and,\n"
"for programs built with greenrt, goroutine spawns, switches, parks,\n"
"steals and preemptions, with eBPF (needs root or CAP_BPF+CAP_PERFMON,\n"
"and a kernel with BTF).  Processes the target forks are followed and\n"
"counted too (--no-follow: not).  Every report gives the target's memory:\n"
"reserved, resident, and what the kernel holds for it.\n"
"\n"
"Asked, it says why: --offcpu where the threads and goroutines waited\n"
"(stacks, wait reasons, who woke them, distributions; --folded and\n"
"--flamegraph write every stack), --counters what the work cost the CPU\n"
"(cycles, IPC, cache and TLB misses, page faults), -i how the figures\n"
"moved over time.\n"
"\v"
"COMMANDS (gtrace COMMAND --help for each):\n"
"  run [OPTS] -- CMD ARGS...   start CMD, trace it until it exits or Ctrl-C;\n"
"                              exit with CMD's status\n"
"  attach -p PID [OPTS]        trace a running process\n"
"  top -p PID                  live per-thread rates, refreshed each second\n"
"  diff A.json B.json          compare two --json reports side by side\n"
"\n"
"EXAMPLES:\n"
"  gtrace run -- build/echo_greenrt --port 9000\n"
"                              # the example greenrt server, from its first\n"
"                              # instruction, until Ctrl-C\n"
"  gtrace run -T --hist -- ls  # per-thread tables and latency histograms\n"
"  gtrace run -- make -j2      # make and every process it forks\n"
"  gtrace attach -p 1234 -d 10 --json a.json\n"
"                              # 10 s of pid 1234, saved as JSON\n"
"  gtrace diff threads.json goroutines.json\n"
"                              # two runs side by side, with ratios\n"
"\n";

static const char exit_doc[] =
"\nExit status: run exits with CMD's status (128+N if it was killed by\n"
"signal N; 127 if it cannot be run); otherwise 0.  A one-line 'gtrace: ...'\n"
"message comes with 2 for a mistake in the command line, 1 for any other\n"
"failure (no such process, a file that cannot be written, no BPF).";

static const char run_doc[] =
"gtrace run - start a command and trace it from its first instruction.\n"
"\n"
"The report goes to stderr when the command exits (or at -d, or Ctrl-C),\n"
"like time(1) and perf stat; gtrace then exits with the command's status.\n"
"The processes the command forks are traced too (--no-follow: not), and\n"
"greenrt programs are found behind wrappers (taskset, sh -c 'exec ...').\n"
"Ctrl-C reaches the command too; if it has not exited 2 s later, or at a\n"
"second Ctrl-C, gtrace kills it (SIGKILL) and says so.\n"
"\v"
"EXAMPLES:\n"
"  gtrace run -- build/echo_greenrt --port 9000\n"
"                              # a greenrt server, until Ctrl-C\n"
"  gtrace run -T --hist -- ls  # per-thread tables and latency histograms\n"
"  gtrace run --json a.json -- taskset -c 0 build/echo_greenrt --port 0\n"
"                              # behind a wrapper, saved as JSON\n"
"  gtrace run --per 100000 --goroutines -- build/tests/gtrace/goroutines 1000 100000\n"
"                              # every goroutine event, figures per request\n"
"  gtrace run --trace t.json --trace-max-mb 200 -- build/echo_greenrt --port 0\n"
"                              # a timeline for ui.perfetto.dev, at most 200 MB\n"
"  gtrace run --offcpu --flamegraph off.svg -- build/echo_threads --port 0\n"
"                              # where 1,000 threads wait: stacks, wakers, a flame graph\n"
"  gtrace run --counters --per 100000 -i 1 -- build/echo_greenrt --port 0\n"
"                              # cycles, IPC, faults per request; a line a second\n"
"  gtrace run --goroutines --offcpu -- build/tests/gtrace/groups 5 7 4 3 6\n"
"                              # nested goroutine groups, a deadline, a cancel: each\n"
"                              # group's time to drain, the goroutines it woke\n";

static const char attach_doc[] =
"gtrace attach - trace a running process for a while.\n"
"\n"
"Traces pid PID (and, unless --no-follow, the processes it forks from\n"
"now on) until it exits, -d SECONDS pass, or Ctrl-C; the report goes to\n"
"stdout.  Goroutine figures are the growth of greenrt's counters over\n"
"that time.\n"
"\v"
"EXAMPLES:\n"
"  gtrace attach -p 1234 -d 10 --json a.json\n"
"                              # 10 s of pid 1234, saved as JSON\n"
"  gtrace attach -p $(pidof echo_greenrt) --goroutines -T\n"
"                              # per-worker goroutine figures\n"
"  gtrace attach -p $(pidof echo_greenrt) -d 5 --offcpu --folded off.txt\n"
"                              # where goroutines park, by reason and park site\n";

static const char toplive_doc[] =
"gtrace top - live per-thread rates of a running process, each second.\n"
"\v"
"EXAMPLES:\n"
"  gtrace top -p 1234\n"
"  gtrace top -p $(pidof echo_greenrt) --goroutines\n";

static const char diff_doc[] =
"gtrace diff - two --json reports side by side, with ratios B/A.\n"
"\n"
"Every figure of the two reports' summaries, per second and (when both\n"
"were made with --per) per request, then the system calls by name.\n"
"\v"
"EXAMPLES:\n"
"  gtrace run --json threads.json --per 100000 -- ./echo_threads ...\n"
"  gtrace run --json goroutines.json --per 100000 -- ./echo_greenrt ...\n"
"  gtrace diff threads.json goroutines.json\n";

struct cmd_info {
	const char *name;
	const char *args;       /* argp's args_doc */
	const char *doc;
};

static const struct cmd_info cmds[] = {
	[GT_CMD_NONE] = { "gtrace", "run|attach|top|diff [ARGS...]", NULL },
	[GT_CMD_RUN] = { "gtrace run", "[--] CMD [ARGS...]", run_doc },
	[GT_CMD_ATTACH] = { "gtrace attach", "", attach_doc },
	[GT_CMD_TOP] = { "gtrace top", "", toplive_doc },
	[GT_CMD_DIFF] = { "gtrace diff", "A.json B.json", diff_doc },
};

static struct argp_option cmd_options[NOPTS + 1];
static struct argp cmd_argp;
static char doc_buf[8192];

void gt_err(const char *fmt, ...)
{
	va_list ap;
	fputs("gtrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* argp for command c: its options, usage and help text. */
static void build_argp(enum gt_cmd c, error_t (*parser)(int, char *, struct argp_state *))
{
	int n = 0;
	for (size_t i = 0; i < NOPTS; i++)
		if (c == GT_CMD_NONE || (table[i].cmds & (1u << c)))
			cmd_options[n++] = table[i].a;
	memset(&cmd_options[n], 0, sizeof(cmd_options[n]));
	if (c == GT_CMD_NONE)
		snprintf(doc_buf, sizeof(doc_buf), "%s%s%s", top_doc, cost_doc, exit_doc);
	else if (c == GT_CMD_DIFF)
		snprintf(doc_buf, sizeof(doc_buf), "%s%s", cmds[c].doc, exit_doc);
	else
		snprintf(doc_buf, sizeof(doc_buf), "%s\n%s%s", cmds[c].doc, cost_doc, exit_doc);
	cmd_argp = (struct argp){ cmd_options, parser, cmds[c].args, doc_buf, NULL, NULL, NULL };
}

static const struct opt *find_long(const char *name, size_t len)
{
	const struct opt *hit = NULL;
	for (size_t i = 0; i < NOPTS; i++) {
		if (strncmp(table[i].a.name, name, len))
			continue;
		if (strlen(table[i].a.name) == len)
			return &table[i];
		hit = hit ? NULL : &table[i];   /* a unique prefix, as getopt allows */
	}
	return hit;
}

static const struct opt *find_short(int key)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (table[i].a.key == key)
			return &table[i];
	return NULL;
}

/* The index of the command word in argv, 0 if there is none. */
static int find_command(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			return 0;
		if (a[0] != '-' || !a[1])
			return i;
		const struct opt *o = NULL;
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			o = find_long(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
			if (o && o->a.arg && !eq)
				i++;    /* its value is the next word */
			continue;
		}
		for (const char *p = a + 1; *p; p++) {
			o = find_short(*p);
			if (o && o->a.arg) {
				if (!p[1])
					i++;
				break;
			}
		}
	}
	return 0;
}

static enum gt_cmd cmd_of(const char *w)
{
	for (int c = GT_CMD_RUN; c <= GT_CMD_DIFF; c++)
		if (!strcmp(w, cmds[c].name + 7))
			return (enum gt_cmd)c;
	return GT_CMD_NONE;
}

static _Noreturn void usage_error(enum gt_cmd c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static _Noreturn void usage_error(enum gt_cmd c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gt_err("%s (see %s --help)", msg, cmds[c].name);
	exit(2);
}

/* Strict numbers: a positive finite decimal number, at most max. */
static double parse_num(enum gt_cmd c, const char *arg, const char *what, double max)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	bool hex = strchr(arg, 'x') || strchr(arg, 'X');
	if (errno || end == arg || *end || hex || !isfinite(v) || !(v > 0))
		usage_error(c, "invalid %s '%s': give a positive decimal number", what, arg);
	if (v > max)
		usage_error(c, "%s '%s' is too large: at most %.0f", what, arg, max);
	return v;
}

/* A pid: decimal digits only, 1..pid_max. */
static pid_t parse_pid(enum gt_cmd c, const char *arg)
{
	long max = gt_read_long("/proc/sys/kernel/pid_max", 4194304);
	char *end;
	if (!*arg || strspn(arg, "0123456789") != strlen(arg))
		usage_error(c, "invalid pid '%s': give a process id in decimal, 1 to %ld", arg, max);
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || v < 1 || v > (unsigned long long)max)
		usage_error(c, "invalid pid '%s': process ids here run from 1 to %ld (pid_max)", arg, max);
	return (pid_t)v;
}

static enum gt_cmd parsing;    /* the command whose options argp is parsing */

/* What was wrong with argv[state->next - 1], in one line. */
static _Noreturn void bad_option(struct argp_state *state)
{
	const char *a = state->next > 0 && state->next <= state->argc ? state->argv[state->next - 1] : "?";
	const struct opt *o = NULL;
	const char *eq = NULL;
	if (a[0] == '-' && a[1] == '-') {
		eq = strchr(a + 2, '=');
		o = find_long(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
	} else if (a[0] == '-' && a[1]) {
		o = find_short(a[1]);
	}
	if (!o)
		usage_error(parsing, "unknown option '%s'", a);
	if (!(o->cmds & (1u << parsing)))
		usage_error(parsing, "option '--%s' does not apply to %s", o->a.name, cmds[parsing].name);
	if (o->a.arg && !eq)
		usage_error(parsing, "option '--%s' needs a value: --%s=%s", o->a.name, o->a.name, o->a.arg);
	usage_error(parsing, "option '--%s' takes no value", o->a.name);
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct gt_opts *o = state->input;
	enum gt_cmd c = parsing;

	switch (key) {
	case 'p':
		o->pid = parse_pid(c, arg);
		break;
	case 'd':
		o->duration = parse_num(c, arg, "duration", GT_MAX_DURATION_S);
		break;
	case OPT_JSON:
		o->json_path = arg;
		break;
	case OPT_TRACE:
		o->trace_path = arg;
		break;
	case OPT_TRACE_MAX:
		o->trace_max_mb = parse_num(c, arg, "--trace-max-mb size", GT_MAX_TRACE_MB);
		break;
	case OPT_PER:
		o->per = parse_num(c, arg, "--per count", 1e18);
		break;
	case 'T':
		o->per_thread = true;
		break;
	case OPT_HIST:
		o->hist = true;
		break;
	case OPT_GOROUTINES:
		o->goroutines = true;
		break;
	case OPT_NOSYSCALLS:
		o->no_syscalls = true;
		break;
	case OPT_OFFCPU:
		o->offcpu = true;
		break;
	case OPT_COUNTERS:
		o->counters = true;
		break;
	case 'i':
		o->interval = parse_num(c, arg, "interval", GT_MAX_DURATION_S);
		if (o->interval < GT_MIN_INTERVAL_S)
			usage_error(c, "interval '%s' is too short: at least %g s", arg, GT_MIN_INTERVAL_S);
		break;
	case OPT_FOLDED:
		o->folded_path = arg;
		o->offcpu = true;
		break;
	case OPT_FLAME:
		o->flame_path = arg;
		o->offcpu = true;
		break;
	case OPT_SYSTP:
		o->sys_tracepoints = true;
		break;
	case OPT_NOFOLLOW:
		o->no_follow = true;
		break;
	case 'v':
		o->verbose = true;
		break;
	case 'h':
		argp_help(&cmd_argp, stdout, ARGP_HELP_STD_HELP, (char *)cmds[c].name);
		exit(0);
	case OPT_USAGE:
		argp_help(&cmd_argp, stdout, ARGP_HELP_USAGE, (char *)cmds[c].name);
		exit(0);
	case 'V': {
		char way[256];
		gt_sys_way(way, sizeof(way));
		printf("%s\nsystem calls on this kernel: counted by %s\n", GT_VERSION, way);
		exit(0);
	}
	case ARGP_KEY_ARG:
		if (c == GT_CMD_RUN) {
			/* the program and all its arguments */
			o->argv = &state->argv[state->next - 1];
			state->next = state->argc;
			break;
		}
		if (c == GT_CMD_DIFF && !o->diff_b) {
			if (!o->diff_a)
				o->diff_a = arg;
			else
				o->diff_b = arg;
			break;
		}
		usage_error(c, "unexpected argument '%s'", arg);
	case ARGP_KEY_ERROR:
		bad_option(state);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int check(const struct gt_opts *o)
{
	switch (o->cmd) {
	case GT_CMD_RUN:
		if (!o->argv || !o->argv[0])
			usage_error(o->cmd, "run needs a command: gtrace run [OPTIONS] -- CMD [ARGS...]");
		break;
	case GT_CMD_ATTACH:
	case GT_CMD_TOP:
		if (!o->pid)
			usage_error(o->cmd, "%s needs a process: %s -p PID", cmds[o->cmd].name + 7,
				    cmds[o->cmd].name);
		break;
	case GT_CMD_DIFF:
		if (!o->diff_b)
			usage_error(o->cmd, "diff needs two files: gtrace diff A.json B.json");
		break;
	default:
		break;
	}
	if (o->trace_max_mb > 0 && !o->trace_path)
		usage_error(o->cmd, "--trace-max-mb limits a --trace file: give --trace FILE too");
	return 0;
}

int main(int argc, char **argv)
{
	/* static: what they point to lives as long as the process */
	static struct gt_opts o;
	static char **args;
	int ci = find_command(argc, argv), n = 0;

	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		return 1;
	o.cmd = ci ? cmd_of(argv[ci]) : GT_CMD_NONE;
	if (ci && o.cmd == GT_CMD_NONE) {
		gt_err("unknown command '%s': use run, attach, top or diff (see gtrace --help)", argv[ci]);
		return 2;
	}
	/* argv without the command word, named after it for argp's help */
	args[n++] = (char *)cmds[o.cmd].name;
	for (int i = 1; i < argc; i++)
		if (i != ci)
			args[n++] = argv[i];
	parsing = o.cmd;
	build_argp(o.cmd, parse_opt);
	if (argp_parse(&cmd_argp, n, args, ARGP_IN_ORDER | ARGP_NO_ERRS | ARGP_NO_HELP, NULL, &o))
		return 2;
	if (o.cmd == GT_CMD_NONE) {
		gt_err("no command given: use gtrace run|attach|top|diff (see gtrace --help)");
		return 2;
	}
	if (check(&o))
		return 2;
	if (gt_check_inputs(&o))
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	switch (o.cmd) {
	case GT_CMD_RUN:
		return gt_run_main(&o);
	case GT_CMD_ATTACH:
		return gt_attach_main(&o);
	case GT_CMD_TOP:
		return gt_top_main(&o);
	case GT_CMD_DIFF:
		return gt_diff_main(&o);
	default:
		return 2;
	}
}
