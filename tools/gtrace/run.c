/*
 * run.c - the `run` and `attach` drivers.
 *
 * run: fork; the child blocks reading a pipe while the parent loads the
 * programs for the child's pid (the pid filter needs it before load) and
 * attaches them, then writes one byte; only then does the child execv()
 * the command (resolved before anything started, checks.c).  The exec
 * is held by the BPF side until gtrace has looked for greenrt probes in
 * the image (procs.bpf.c), so they are live from its first instruction,
 * and so are those of any image it, or a child of it, exec's later.  A
 * second, close-on-exec pipe carries errno back if the exec fails.  If
 * anything fails before the byte is written the parent closes the pipe
 * and the child exits 127 without running the command.
 *
 * Stopping.  gtrace stops tracing when the command exits, at -d, or on
 * SIGINT/SIGTERM.  It never reports a status it did not get from
 * waitpid(): a command still running when gtrace stops is asked to stop,
 * given STOP_GRACE_MS, then killed with SIGKILL, and waited for; the
 * report says what gtrace sent it and why.  Asking: a Ctrl-C typed at a
 * terminal reaches the whole foreground process group, the command
 * included, so gtrace sends nothing more; a SIGINT or SIGTERM sent to
 * gtrace alone (kill) is passed on to the command; -d sends SIGTERM.  A
 * second SIGINT/SIGTERM while waiting means "now": SIGKILL at once.
 * gtrace exits with the command's status (128+N if it died of signal N),
 * like a shell.
 *
 * attach: the same on a running pid; a pidfd tells when it exits.  A
 * target that exits while gtrace attaches is an error (nothing to
 * trace).  Its end is seen by the sched_process_exit tracepoint, not
 * waitpid (it is not gtrace's child); gtrace never signals it.
 *
 * Both always print the report gathered so far.  The report of `run`
 * goes to stderr (like time(1) and perf stat, so the command's own
 * stdout stays clean); the one of `attach` to stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gtrace_cli.h"
#include "gtrace.skel.h"

#define STOP_GRACE_MS 2000      /* from asking the command to stop to SIGKILL */
#define KILL_WAIT_MS 10000      /* from SIGKILL to giving up on waitpid() */
#define POLL_MS 100

volatile int gt_stop;
static volatile sig_atomic_t stops;     /* SIGINT/SIGTERM received */
static volatile sig_atomic_t stop_sig;  /* ... the last one */
static volatile sig_atomic_t stop_tty;  /* ... it came from a terminal */

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	stop_sig = sig;
	stop_tty = si && si->si_code == SI_KERNEL;
	stops++;
	gt_stop = 1;
}

static void handle_signals(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void main_comm(struct gt_snapshot *snap, const char *fallback)
{
	if (snap->nprocs && snap->procs[0].info.comm[0]) {
		memcpy(snap->comm, snap->procs[0].info.comm, sizeof(snap->comm));
		snap->comm[sizeof(snap->comm) - 1] = 0;
		return;
	}
	const char *b = strrchr(fallback, '/');
	snprintf(snap->comm, sizeof(snap->comm), "%s", b ? b + 1 : fallback);
}

/* Collect, write --json and --trace, print the report, unload. */
static int finish(struct gt_session *s, struct gt_opts *o, const struct gt_exit *ex,
		  const char *name, FILE *out, struct gt_interval *iv)
{
	struct gt_snapshot *snap = calloc(1, sizeof(*snap));
	int err = 0;
	if (!snap) {
		gt_session_close(s);
		return -ENOMEM;
	}
	if (o->tracer) {
		snap->traced_events = true;
		snap->trace = gt_trace_close(o->tracer, s);
		o->tracer = NULL;
		if (snap->trace.err) {
			gt_err("writing the trace file %s failed: %s", o->trace_path, strerror(-snap->trace.err));
			err = snap->trace.err;
		} else {
			fprintf(stderr, "gtrace: wrote %ld trace events to %s (open in ui.perfetto.dev)\n",
				snap->trace.written, o->trace_path);
		}
	}
	err = gt_collect(s, snap, true) ?: err;
	snap->exit = *ex;
	snap->exit_status = !ex->known ? -1
		: WIFEXITED(ex->status) ? WEXITSTATUS(ex->status)
		: WIFSIGNALED(ex->status) ? 128 + WTERMSIG(ex->status) : -1;
	main_comm(snap, name);
	gt_session_close(s);
	if (iv && gt_interval_last(iv, snap))
		err = -EIO;
	gt_interval_free(iv);
	if (o->folded_path && gt_folded_write(o->folded_path, snap))
		err = -EIO;
	if (o->flame_path && gt_flame_write(o->flame_path, snap))
		err = -EIO;
	if (o->json_file) {
		if (gt_json_write(o->json_file, o->json_path, snap, o))
			err = -EIO;
		if (fclose(o->json_file) && !err) {
			gt_err("cannot write %s: %s", o->json_path, strerror(errno));
			err = -EIO;
		}
		o->json_file = NULL;
	}
	gt_report_print(out, snap, o);
	gt_snapshot_free(snap);
	free(snap);
	return err;
}

/* Images without greenrt probes are not held at their exec: tell the BPF
 * side about the command's, if it has none (most commands). */
static void no_probes_in(struct gt_session *s, const char *exe)
{
	struct stat st;
	if (gt_usdt_has_probes(exe) != 0 || stat(exe, &st))
		return;
	/* the kernel's dev_t: major << 20 | minor */
	struct gt_inode ino = { .dev = ((__u64)major(st.st_dev) << 20) | minor(st.st_dev),
				.ino = st.st_ino };
	__u8 one = 1;
	bpf_map_update_elem(bpf_map__fd(s->skel->maps.noprobes), &ino, &one, BPF_ANY);
}

/* Wait for the child to end, up to ms (forever if < 0), tracing on
 * meanwhile; true once it is reaped.  Returns early when a new
 * SIGINT/SIGTERM arrives (stops != *seen). */
static bool reap(struct gt_session *s, pid_t pid, int pidfd, int *status, int ms, int *seen)
{
	int64_t end = gt_now_ns() + (int64_t)ms * 1000000;
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return true;
		if (w < 0 && errno != EINTR)
			return false;   /* not our child any more: cannot happen */
		if (stops != *seen) {
			*seen = stops;
			return false;
		}
		if (ms >= 0 && gt_now_ns() >= end)
			return false;
		gt_session_wait(s, pidfd, POLL_MS);
	}
}

/* Stop the command (see the top of the file) and wait for it; ex->why
 * tells what gtrace did, for the report. */
static void stop_command(struct gt_session *s, pid_t pid, int pidfd, struct gt_exit *ex,
			 bool deadline)
{
	int seen = stops, asked = stops;
	char first[64] = "";
	if (deadline) {
		ex->signal_sent = SIGTERM;
		snprintf(first, sizeof(first), "SIGTERM when -d %g s had passed", s->opts->duration);
	} else if (!stop_tty) {
		ex->signal_sent = stop_sig;
		snprintf(first, sizeof(first), "the SIG%s gtrace got", sigabbrev_np(stop_sig) ?: "?");
	} else {
		snprintf(first, sizeof(first), "Ctrl-C");
	}
	if (ex->signal_sent) {
		kill(pid, ex->signal_sent);
		snprintf(ex->why, sizeof(ex->why), "gtrace sent it %s", first);
	}
	if (reap(s, pid, pidfd, &ex->status, STOP_GRACE_MS, &seen)) {
		ex->known = true;
		return;
	}
	ex->signal_sent = SIGKILL;
	ex->escalated = true;
	if (stops != asked)
		snprintf(ex->why, sizeof(ex->why), "gtrace sent it SIGKILL at a second stop request, "
			 "after %s", first);
	else
		snprintf(ex->why, sizeof(ex->why), "gtrace sent it SIGKILL: still running %d s after %s",
			 STOP_GRACE_MS / 1000, first);
	kill(pid, SIGKILL);
	ex->known = reap(s, pid, pidfd, &ex->status, KILL_WAIT_MS, &seen) ||
		    reap(s, pid, pidfd, &ex->status, KILL_WAIT_MS, &seen);
	if (!ex->known)
		snprintf(ex->why, sizeof(ex->why), "still running %d s after gtrace sent it SIGKILL",
			 KILL_WAIT_MS / 1000);
}

int gt_run_main(struct gt_opts *o)
{
	struct gt_session s = { .stats_fd = -1 };
	struct gt_exit ex = { 0 };
	int go[2], fail_pipe[2], rc = 1, pidfd = -1;
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) || pipe2(fail_pipe, O_CLOEXEC)) {
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
		close(fail_pipe[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);     /* gtrace gave up: do not run the command */
		execv(o->exe, o->argv);
		int e = errno;
		if (write(fail_pipe[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	close(go[0]);
	close(fail_pipe[1]);
	handle_signals();
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (gt_session_load(&s, pid, o) || gt_session_attach(&s))
		goto fail;
	s.from_start = true;    /* the runtime's counters all happen while traced */
	gt_syms_add_file(s.syms, o->exe);
	gt_mem_start(&s.mem, pid, true);
	if (o->counters && !(s.pmu = gt_pmu_open(pid, true)))
		goto fail;
	no_probes_in(&s, o->exe);
	if (o->tracer && gt_trace_start(o->tracer, &s))
		goto fail;
	if (write(go[1], "g", 1) != 1) {
		gt_err("cannot start the command: %s", strerror(errno));
		goto fail;
	}
	close(go[1]);
	go[1] = -1;
	int e;
	if (read(fail_pipe[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		gt_err("cannot run %s: %s", o->argv[0], strerror(e));
		waitpid(pid, NULL, 0);
		rc = 127;
		goto fail;
	}
	close(fail_pipe[0]);

	int64_t deadline = o->duration > 0 ? s.t_start + (int64_t)(o->duration * 1e9) : 0;
	bool timed_out = false;
	struct gt_interval *iv = o->interval > 0 ? gt_interval_new(o, stderr, s.t_start) : NULL;
	while (!gt_stop) {
		if (waitpid(pid, &ex.status, WNOHANG) == pid) {
			ex.known = true;
			break;
		}
		if (deadline && gt_now_ns() >= deadline) {
			timed_out = true;
			break;
		}
		gt_session_wait(&s, pidfd, POLL_MS);
		gt_interval_poll(iv, &s);
	}
	if (!ex.known)
		stop_command(&s, pid, pidfd, &ex, timed_out);
	rc = !ex.known ? 1 : WIFEXITED(ex.status) ? WEXITSTATUS(ex.status)
	     : WIFSIGNALED(ex.status) ? 128 + WTERMSIG(ex.status) : 1;
	if (finish(&s, o, &ex, o->argv[0], stderr, iv) && rc == 0)
		rc = 1;
	if (pidfd >= 0)
		close(pidfd);
	return rc;
fail:
	if (o->tracer)
		gt_trace_close(o->tracer, &s);
	o->tracer = NULL;
	gt_session_close(&s);
	if (go[1] >= 0)
		close(go[1]);   /* the child sees EOF and exits 127 unrun */
	waitpid(pid, NULL, 0);
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}

int gt_attach_main(struct gt_opts *o)
{
	struct gt_session s = { .stats_fd = -1 };
	struct gt_exit ex = { 0 };
	char exe[PATH_MAX], link[64];
	pid_t pid = o->pid;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0) {
		if (errno != EACCES && errno != ENOENT) {
			gt_err("cannot read %s: %s", link, strerror(errno));
			return 1;
		}
		n = 0;  /* hidden executable (another pid namespace): OS figures only */
	}
	exe[n] = 0;
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		snprintf(exe, sizeof(exe), "%s", link);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	handle_signals();

	if (gt_session_load(&s, pid, o) || gt_session_attach(&s) ||
	    (exe[0] && gt_usdt_attach(&s, pid, exe, true, false) < 0) ||
	    (o->tracer && gt_trace_start(o->tracer, &s)) ||
	    (o->counters && !(s.pmu = gt_pmu_open(pid, false)))) {
		if (o->tracer)
			gt_trace_close(o->tracer, &s);
		o->tracer = NULL;
		gt_session_close(&s);
		if (pidfd >= 0)
			close(pidfd);
		return 1;
	}
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	if ((pidfd >= 0 && poll(&p, 1, 0) == 1) || (kill(pid, 0) && errno == ESRCH)) {
		gt_err("pid %d exited while gtrace was attaching: nothing to trace", (int)pid);
		if (o->tracer)
			gt_trace_close(o->tracer, &s);
		o->tracer = NULL;
		gt_session_close(&s);
		close(pidfd);
		return 1;
	}
	fprintf(stderr, "gtrace: tracing pid %d%s... Ctrl-C to stop\n", (int)pid,
		!s.nusdt ? "" : s.g_events ? " (greenrt: per-event probes)"
				     : " (greenrt: the runtime's counters)");
	gt_mem_start(&s.mem, pid, false);
	gt_syms_add_pid(s.syms, pid);
	int64_t deadline = o->duration > 0 ? s.t_start + (int64_t)(o->duration * 1e9) : 0;
	struct gt_interval *iv = o->interval > 0 ? gt_interval_new(o, stdout, s.t_start) : NULL;
	while (!gt_stop) {
		if (pidfd < 0 && kill(pid, 0) && errno == ESRCH)
			break;
		if (deadline && gt_now_ns() >= deadline)
			break;
		if (gt_session_wait(&s, pidfd, POLL_MS))
			break;
		gt_interval_poll(iv, &s);
	}
	if (pidfd >= 0)
		close(pidfd);
	return finish(&s, o, &ex, exe[0] ? exe : link, stdout, iv) ? 1 : 0;
}
