/*
 * checks.c - the command line's files and processes, checked before
 * anything starts.
 *
 * A mistake found after a ten-minute run is a lost run: so the --json
 * file is opened (created or truncated, as perf -o does) and its first
 * byte written and flushed, the --trace file created and its header
 * flushed (/dev/full fails here, not at the end), `run`'s command is resolved the way execvp will, and `attach`'s
 * and `top`'s pid is checked to be a user-space process gtrace may
 * trace.  Each failure is one line saying what to do, exit status 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "gtrace_cli.h"

#define PF_KTHREAD 0x00200000   /* /proc/PID/stat flags: a kernel thread */

long gt_read_long(const char *path, long dflt)
{
	FILE *f = fopen(path, "re");
	long v = dflt;
	if (!f)
		return dflt;
	if (fscanf(f, "%ld", &v) != 1)
		v = dflt;
	fclose(f);
	return v;
}

/* Resolve a command the way execvp will (0, or -errno). */
static int find_exe(const char *cmd, char *out, size_t outsz)
{
	if (strchr(cmd, '/')) {
		snprintf(out, outsz, "%s", cmd);
		return access(out, X_OK) ? -errno : 0;
	}
	const char *path = getenv("PATH");
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *save, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		struct stat st;
		snprintf(out, outsz, "%s/%s", *d ? d : ".", cmd);
		if (!access(out, X_OK) && !stat(out, &st) && S_ISREG(st.st_mode))
			return 0;
	}
	return -ENOENT;
}

/* The process pid: there, not a kernel thread, not gtrace (0, or -1). */
static int check_pid(pid_t pid, const char *cmd)
{
	char path[64], buf[1024], comm[64] = "?";
	if (pid == getpid()) {
		gt_err("pid %d is gtrace itself: give the pid of the program to trace", (int)pid);
		return -1;
	}
	if (kill(pid, 0) && errno == ESRCH) {
		gt_err("no process with pid %d: check the pid (ps -e)", (int)pid);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	/* pid (comm) state ppid pgrp session tty tpgid flags ... */
	char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	if (open && close && close > open) {
		snprintf(comm, sizeof(comm), "%.*s", (int)(close - open - 1), open + 1);
		unsigned long flags = 0;
		if (sscanf(close + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1 && (flags & PF_KTHREAD)) {
			gt_err("pid %d (%s) is a kernel thread: %s traces user-space processes; give the pid "
			       "of a program (ps -e)", (int)pid, comm, cmd);
			return -1;
		}
	}
	if (kill(pid, 0) && errno == EPERM) {
		gt_err("not allowed to trace pid %d (%s): run gtrace as root (or with CAP_BPF, "
		       "CAP_PERFMON and CAP_SYS_PTRACE)", (int)pid, comm);
		return -1;
	}
	return 0;
}

/* A table size from the environment (the tests' knob: see gtrace(8)). */
static int env_size(const char *name, uint32_t max, uint32_t *out)
{
	const char *v = getenv(name);
	char *end;
	if (!v)
		return 0;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (!*v || *end || errno || n < 1 || n > max || strspn(v, "0123456789") != strlen(v)) {
		gt_err("%s='%s': give a whole number from 1 to %u, or unset it", name, v, max);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

/* A file written at the end (--folded, --flamegraph) can be: created
 * now, so that a wrong path fails before the run rather than after it. */
static int writable(const char *path, const char *opt)
{
	if (!path)
		return 0;
	FILE *f = fopen(path, "we");
	if (!f || fputc('\n', f) == EOF || fflush(f)) {
		gt_err("cannot write the %s file %s: %s (check the directory exists and is writable, "
		       "and the disk has room)", opt, path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

int gt_check_inputs(struct gt_opts *o)
{
	if (env_size("GTRACE_MAX_THREADS", 1u << 24, &o->max_threads) ||
	    env_size("GTRACE_MAX_PROCS", 4096, &o->max_procs))
		return -1;
	if (o->cmd == GT_CMD_RUN) {
		char exe[PATH_MAX];
		int err = find_exe(o->argv[0], exe, sizeof(exe));
		if (err) {
			gt_err("cannot run '%s': %s (check the command and PATH)", o->argv[0],
			       err == -ENOENT ? "not found" : strerror(-err));
			exit(127);      /* as a shell says "command not found" */
		}
		o->exe = strdup(exe);
		if (!o->exe)
			return -1;
	}
	if ((o->cmd == GT_CMD_ATTACH || o->cmd == GT_CMD_TOP) &&
	    check_pid(o->pid, o->cmd == GT_CMD_TOP ? "gtrace top" : "gtrace attach"))
		return -1;
	if (o->json_path) {
		/* the report's first byte now (with -i, the JSON lines' header
		 * line): a file that opens but cannot be written (/dev/full,
		 * /proc/version) fails here too */
		o->json_file = fopen(o->json_path, "we");
		if (!o->json_file ||
		    (o->interval > 0 ? fprintf(o->json_file, "{\"type\":\"header\",\"tool\":\"gtrace\","
					       "\"version\":%d,\"interval_s\":%g}\n", GT_JSON_VERSION,
					       o->interval) < 0
				     : fputc('{', o->json_file) == EOF) ||
		    fflush(o->json_file)) {
			gt_err("cannot write the --json file %s: %s (check the directory exists and is "
			       "writable, and the disk has room)", o->json_path, strerror(errno));
			return -1;
		}
	}
	if (o->trace_path && !(o->tracer = gt_trace_create(o->trace_path, o->trace_max_mb)))
		return -1;
	if (writable(o->folded_path, "--folded") || writable(o->flame_path, "--flamegraph"))
		return -1;
	return 0;
}
