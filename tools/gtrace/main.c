/*
 * main.c - gtrace's command line: argp parsing and dispatch.
 *
 * gtrace has four commands (run, attach, top, diff) sharing one option
 * table, as libbpf-tools tools share theirs.  argp runs in order
 * (ARGP_IN_ORDER) so that, for `run`, everything from the first word
 * after the command on belongs to the traced program: both
 * `gtrace run -- ./srv -p 80` and `gtrace run ./srv` work, and options
 * after the program name are the program's.
 */
#include <argp.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <greenrt.h>
#include "gtrace_cli.h"

/* gtrace is released with the library: its version is greenrt's (the
 * VERSION file, which the build checks against greenrt.h). */
#define GT_STR(x) #x
#define GT_XSTR(x) GT_STR(x)
const char *argp_program_version = "gtrace " GT_XSTR(GREENRT_VERSION_MAJOR) "."
	GT_XSTR(GREENRT_VERSION_MINOR) "." GT_XSTR(GREENRT_VERSION_PATCH);
const char *argp_program_bug_address = "<https://github.com/greenrt/greenrt/issues>";

static const char doc[] =
"gtrace - what a process costs the kernel, and what greenrt does above it.\n"
"\n"
"Counts the target's OS context switches (voluntary / involuntary),\n"
"run-queue latency, CPU migrations, system calls, io_uring traffic, and,\n"
"for programs built with greenrt, goroutine spawns, switches, parks,\n"
"steals and preemptions, with eBPF (needs root or CAP_BPF+CAP_PERFMON,\n"
"and a kernel with BTF).\n"
"\v"
"COMMANDS:\n"
"  run [OPTS] -- CMD ARGS...   start CMD, trace it until it exits or Ctrl-C;\n"
"                              exit with CMD's status\n"
"  attach -p PID [-d SECONDS]  trace a running process\n"
"  top -p PID                  live per-thread rates, refreshed each second\n"
"  diff A.json B.json          compare two --json reports side by side\n"
"\n"
"COST: by default the goroutine figures are the runtime's own counters,\n"
"which greenrt hands over about once a second (its `stats` probe), and\n"
"only rare greenrt probes (spawn, exit, steal, preempt) are attached.\n"
"--goroutines (implied by --trace) also attaches the probes on the\n"
"scheduler's hot paths (switch, park, ready, io_submit, io_complete):\n"
"each hit is a uprobe trap of ~1 us in the target, several per request,\n"
"for per-thread and per-goroutine figures, `made ready` counts and OS\n"
"switches charged to goroutines.  The OS probes cost every process in\n"
"the machine, traced or not.  System calls are counted by fentry/fexit\n"
"on the kernel's syscall dispatcher x64_sys_call where the kernel allows\n"
"it (a BPF trampoline on each system call), else by the sys_enter/\n"
"sys_exit tracepoints, which send every system call in the machine\n"
"through the kernel's slow path (a getppid() ~0.17 us -> ~0.34 us: make\n"
"bench-gtrace-syscalls); the report's cost line says which way was\n"
"used.  --no-syscalls leaves them out.  Measured with a 1000-\n"
"connection echo load on 2 shared cores (make bench-gtrace-overhead),\n"
"extra CPU per request, server + load generator: default with the\n"
"tracepoints ~8%, --no-syscalls ~4%, --goroutines ~25%.\n"
"\n"
"EXAMPLES:\n"
"  gtrace run -- ./build/examples/echo_server -p 9000\n"
"                              # trace a program from its first instruction\n"
"  gtrace run -T --hist -- ls  # per-thread tables and latency histograms\n"
"  gtrace attach -p 1234 -d 10 --json a.json\n"
"                              # 10 s of pid 1234, saved as JSON\n"
"  gtrace run --per 100000 -- ./bench 100000\n"
"                              # figures per request as well\n"
"  gtrace run --trace t.json -- ./prog\n"
"                              # timeline for ui.perfetto.dev\n"
"  gtrace run --goroutines -T -- ./prog\n"
"                              # every goroutine event, per worker thread\n"
"  gtrace top -p 1234          # live view\n"
"  gtrace diff threads.json goroutines.json\n"
"                              # two runs side by side, with ratios\n"
"\n"
"Exit status: run exits with CMD's status (128+N if killed by signal N);\n"
"otherwise 0, or non-zero after a one-line 'gtrace: ...' error.";

static const char args_doc[] = "run|attach|top|diff [ARGS...]";

enum { OPT_JSON = 1000, OPT_TRACE, OPT_PER, OPT_HIST, OPT_GOROUTINES, OPT_NOSYSCALLS,
       OPT_SYSTP };

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "Process to trace (attach, top)", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after SECONDS (default: until the target exits or Ctrl-C)", 0 },
	{ "json", OPT_JSON, "FILE", 0, "Also write the report as JSON (schema: tools/gtrace/SCHEMA.md)", 0 },
	{ "trace", OPT_TRACE, "FILE", 0, "Record a Chrome/Perfetto trace-event timeline into FILE (implies --goroutines)", 0 },
	{ "no-syscalls", OPT_NOSYSCALLS, NULL, 0, "Do not count system calls (see COST)", 0 },
	{ "sys-tracepoints", OPT_SYSTP, NULL, 0, "Count system calls with the sys_enter/sys_exit tracepoints "
	  "rather than fentry/fexit on x64_sys_call: slower for every process in the machine "
	  "(see COST); the fallback anyway where the kernel lacks x64_sys_call or refuses fentry programs", 0 },
	{ "goroutines", OPT_GOROUTINES, NULL, 0, "Count every goroutine event with per-event probes: per-thread and "
	  "per-goroutine figures, but ~1 us of the target's time per event (see COST)", 0 },
	{ "per", OPT_PER, "N", 0, "Also show figures divided by N (requests served)", 0 },
	{ "threads", 'T', NULL, 0, "Per-thread tables", 0 },
	{ "hist", OPT_HIST, NULL, 0, "Print log2 latency histograms", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages", 0 },
	{ 0 },
};

void gt_err(const char *fmt, ...)
{
	va_list ap;
	fputs("gtrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double parse_num(const char *arg, const char *what, bool integer)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v > 0) || (integer && v != (long long)v)) {
		gt_err("invalid %s '%s': give a positive %s", what, arg,
		       integer ? "integer" : "number");
		exit(2);
	}
	return v;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct gt_opts *o = state->input;
	static int ndiff;

	switch (key) {
	case 'p':
		o->pid = (pid_t)parse_num(arg, "pid", true);
		break;
	case 'd':
		o->duration = parse_num(arg, "duration", false);
		break;
	case OPT_JSON:
		o->json_path = arg;
		break;
	case OPT_TRACE:
		o->trace_path = arg;
		break;
	case OPT_PER:
		o->per = parse_num(arg, "--per count", false);
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
	case OPT_SYSTP:
		o->sys_tracepoints = true;
		break;
	case 'v':
		o->verbose = true;
		break;
	case ARGP_KEY_ARG:
		if (o->cmd == GT_CMD_NONE) {
			if (!strcmp(arg, "run"))
				o->cmd = GT_CMD_RUN;
			else if (!strcmp(arg, "attach"))
				o->cmd = GT_CMD_ATTACH;
			else if (!strcmp(arg, "top"))
				o->cmd = GT_CMD_TOP;
			else if (!strcmp(arg, "diff"))
				o->cmd = GT_CMD_DIFF;
			else {
				gt_err("unknown command '%s': use run, attach, top or diff (see gtrace --help)", arg);
				exit(2);
			}
			break;
		}
		if (o->cmd == GT_CMD_RUN) {
			/* the program and all its arguments */
			o->argv = &state->argv[state->next - 1];
			state->next = state->argc;
			break;
		}
		if (o->cmd == GT_CMD_DIFF && ndiff < 2) {
			if (ndiff++ == 0)
				o->diff_a = arg;
			else
				o->diff_b = arg;
			break;
		}
		gt_err("unexpected argument '%s' (see gtrace --help)", arg);
		exit(2);
	case ARGP_KEY_END:
		if (o->cmd == GT_CMD_NONE) {
			gt_err("no command given: use gtrace run|attach|top|diff (see gtrace --help)");
			exit(2);
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int check(const struct gt_opts *o)
{
	switch (o->cmd) {
	case GT_CMD_RUN:
		if (!o->argv || !o->argv[0]) {
			gt_err("run needs a command: gtrace run [OPTIONS] -- CMD [ARGS...]");
			return -1;
		}
		if (o->pid) {
			gt_err("-p is for attach and top; run starts its own process");
			return -1;
		}
		break;
	case GT_CMD_ATTACH:
	case GT_CMD_TOP:
		if (!o->pid) {
			gt_err("%s needs a process: gtrace %s -p PID",
			       o->cmd == GT_CMD_TOP ? "top" : "attach",
			       o->cmd == GT_CMD_TOP ? "top" : "attach");
			return -1;
		}
		if (o->cmd == GT_CMD_TOP && (o->json_path || o->trace_path || o->per)) {
			gt_err("top shows live rates only: use attach for --json, --trace or --per");
			return -1;
		}
		break;
	case GT_CMD_DIFF:
		if (!o->diff_b) {
			gt_err("diff needs two files: gtrace diff A.json B.json");
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, args_doc, doc, NULL, NULL, NULL };
	struct gt_opts o = { 0 };

	argp_err_exit_status = 2;
	argv[0] = (char *)"gtrace";    /* getopt's messages: "gtrace: ..." */
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &o))
		return 2;
	if (check(&o))
		return 2;
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
