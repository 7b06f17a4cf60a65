/*
 * run.c - the `run` and `attach` drivers.
 *
 * run: fork; the child blocks reading a pipe while the parent loads the
 * programs for the child's pid (the tgid filter needs it before load),
 * attaches the tracepoints and the greenrt USDT probes (uprobes on the
 * executable's inode, filtered on the pid, so they survive the exec),
 * then writes one byte; only then does the child execvp().  A second,
 * close-on-exec pipe carries errno back if the exec fails.  If anything
 * fails before the byte is written the parent just closes the pipe and
 * the child exits 127 without running the command.  gtrace exits with the
 * command's status (128+N if it died of signal N), like a shell.
 *
 * attach: the same on a running pid; a pidfd tells when it exits.  A
 * target that exits while gtrace attaches is an error (nothing to trace).
 *
 * Both stop on the target's exit, -d, or Ctrl-C / SIGTERM, and always
 * print the report gathered so far.  The report of `run` goes to stderr
 * (like time(1) and perf stat, so the command's own stdout stays clean);
 * the one of `attach` to stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "gtrace_cli.h"

volatile int gt_stop;

static void on_signal(int sig)
{
	(void)sig;
	gt_stop = 1;
}

static void handle_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Resolve a command the way execvp will (0, or -ENOENT). */
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
		snprintf(out, outsz, "%s/%s", *d ? d : ".", cmd);
		if (!access(out, X_OK))
			return 0;
	}
	return -ENOENT;
}

static void main_comm(struct gt_snapshot *snap, const char *fallback)
{
	for (int i = 0; i < snap->nthreads; i++)
		if ((pid_t)snap->threads[i].tid == snap->pid && snap->threads[i].comm[0]) {
			memcpy(snap->comm, snap->threads[i].comm, sizeof(snap->comm));
			return;
		}
	const char *b = strrchr(fallback, '/');
	snprintf(snap->comm, sizeof(snap->comm), "%s", b ? b + 1 : fallback);
}

/* Wait up to timeout_ms for the target, feeding the tracer meanwhile. */
static void wait_a_bit(struct gt_session *s, struct gt_tracer *tr, int pidfd, int timeout_ms)
{
	gt_session_tick(s);
	if (tr) {
		gt_trace_poll(tr, timeout_ms);
		return;
	}
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	poll(&p, pidfd >= 0 ? 1 : 0, timeout_ms);
}

/* Collect, write --json and --trace, print the report, unload. */
static int finish(struct gt_session *s, struct gt_tracer *tr, const struct gt_opts *o,
		  int exit_status, const char *name, FILE *out)
{
	struct gt_snapshot *snap = calloc(1, sizeof(*snap));
	int err = 0;
	if (!snap) {
		gt_session_close(s);
		return -ENOMEM;
	}
	if (tr) {
		long n = gt_trace_close(tr, s);
		if (n < 0)
			err = (int)n;
		else
			fprintf(stderr, "gtrace: wrote %ld trace events to %s (open in ui.perfetto.dev)\n",
				n, o->trace_path);
	}
	err = gt_collect(s, snap, true) ?: err;
	snap->exit_status = exit_status;
	main_comm(snap, name);
	gt_session_close(s);
	if (o->json_path && gt_json_write(o->json_path, snap, o))
		err = -EIO;
	gt_report_print(out, snap, o);
	gt_snapshot_free(snap);
	free(snap);
	return err;
}

int gt_run_main(const struct gt_opts *o)
{
	struct gt_session s = { .stats_fd = -1 };
	struct gt_tracer *tr = NULL;
	char exe[PATH_MAX];
	int go[2], ex[2], status = 0, rc = 1;
	pid_t pid;

	if (find_exe(o->argv[0], exe, sizeof(exe))) {
		gt_err("cannot find '%s' (not in PATH or not executable): check the command", o->argv[0]);
		return 127;
	}
	if (pipe2(go, O_CLOEXEC) || pipe2(ex, O_CLOEXEC)) {
		gt_err("pipe: %s", strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		gt_err("fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		char c;
		close(go[1]);
		close(ex[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);     /* gtrace gave up: do not run the command */
		execv(exe, o->argv);   /* exe: resolved as execvp would */
		int e = errno;
		if (write(ex[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	close(go[0]);
	close(ex[1]);
	handle_signals();

	if (gt_session_load(&s, pid, o) || gt_session_attach(&s))
		goto fail;
	s.from_start = true;    /* the runtime's counters all happen while traced */
	if (gt_usdt_attach(&s, pid, exe, false) < 0)
		goto fail;
	if (o->trace_path && !(tr = gt_trace_open(&s, o->trace_path)))
		goto fail;
	if (write(go[1], "g", 1) != 1) {
		gt_err("cannot start the command: %s", strerror(errno));
		goto fail;
	}
	close(go[1]);
	go[1] = -1;
	int e;
	if (read(ex[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		gt_err("cannot run %s: %s", o->argv[0], strerror(e));
		waitpid(pid, NULL, 0);
		if (tr)
			gt_trace_close(tr, &s);
		gt_session_close(&s);
		return 127;
	}
	close(ex[0]);

	int64_t deadline = o->duration > 0 ? s.t_start + (int64_t)(o->duration * 1e9) : 0;
	bool exited = false;
	while (!gt_stop) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			exited = true;
			break;
		}
		if (deadline && gt_now_ns() >= deadline)
			break;
		wait_a_bit(&s, tr, -1, 100);
	}
	if (!exited) {
		/* Ctrl-C reached the command too (same process group); -d
		 * or a SIGTERM to gtrace alone: stop the command. */
		if (!gt_stop || o->duration > 0)
			kill(pid, SIGTERM);
		for (int i = 0; i < 50 && !exited; i++) {
			if (waitpid(pid, &status, WNOHANG) == pid)
				exited = true;
			else
				usleep(20000);
		}
		if (!exited) {
			kill(pid, SIGTERM);
			exited = waitpid(pid, &status, 0) == pid;
		}
	}
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
	if (finish(&s, tr, o, rc, o->argv[0], stderr) && rc == 0)
		rc = 1;
	return rc;
fail:
	if (tr)
		gt_trace_close(tr, &s);
	gt_session_close(&s);
	if (go[1] >= 0)
		close(go[1]);   /* the child sees EOF and exits 127 unrun */
	waitpid(pid, NULL, 0);
	return 1;
}

int gt_attach_main(const struct gt_opts *o)
{
	struct gt_session s = { .stats_fd = -1 };
	struct gt_tracer *tr = NULL;
	char exe[PATH_MAX], link[64];
	pid_t pid = o->pid;

	if (kill(pid, 0) && errno == ESRCH) {
		gt_err("no process with pid %d: check the pid (ps -e)", (int)pid);
		return 1;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0) {
		if (errno != EACCES) {
			gt_err("cannot read %s: %s (run as root)", link, strerror(errno));
			return 1;
		}
		n = 0;  /* hidden executable (another pid namespace): OS figures only */
	}
	exe[n] = 0;
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)")) {
		exe[n - 10] = 0;
		snprintf(exe, sizeof(exe), "%s", link);
	}
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	handle_signals();

	if (gt_session_load(&s, pid, o) || gt_session_attach(&s) ||
	    gt_usdt_attach(&s, pid, exe, true) < 0 ||
	    (o->trace_path && !(tr = gt_trace_open(&s, o->trace_path)))) {
		if (tr)
			gt_trace_close(tr, &s);
		gt_session_close(&s);
		if (pidfd >= 0)
			close(pidfd);
		return 1;
	}
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	if ((pidfd >= 0 && poll(&p, 1, 0) == 1) || (kill(pid, 0) && errno == ESRCH)) {
		gt_err("pid %d exited while gtrace was attaching: nothing to trace", (int)pid);
		if (tr)
			gt_trace_close(tr, &s);
		gt_session_close(&s);
		close(pidfd);
		return 1;
	}
	fprintf(stderr, "gtrace: tracing pid %d%s... Ctrl-C to stop\n", (int)pid,
		!s.nusdt ? "" : s.g_events ? " (greenrt: per-event probes)"
				     : " (greenrt: the runtime's counters)");
	int64_t deadline = o->duration > 0 ? s.t_start + (int64_t)(o->duration * 1e9) : 0;
	while (!gt_stop) {
		if (pidfd >= 0 && poll(&p, 1, 0) == 1)
			break;
		if (pidfd < 0 && kill(pid, 0) && errno == ESRCH)
			break;
		if (deadline && gt_now_ns() >= deadline)
			break;
		wait_a_bit(&s, tr, pidfd, 100);
	}
	if (pidfd >= 0)
		close(pidfd);
	return finish(&s, tr, o, -1, exe, stdout) ? 1 : 0;
}
