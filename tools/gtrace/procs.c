/*
 * procs.c - the processes section: which processes the figures cover.
 *
 * By default gtrace follows the processes the target forks (and those
 * they fork), as `perf stat` does, and counts them into every total;
 * the report's header says so ("pid 123 and 3 children") and this
 * section lists each one: pid, parent, name, threads, system calls,
 * context switches, on-CPU time and how it ended.  With --no-follow the
 * children are left out, and the section says how many were.
 */
#define _GNU_SOURCE            /* sigabbrev_np */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include "gtrace_cli.h"

const char *gt_wait_status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (SIG%s)%s", WTERMSIG(status),
			 sigabbrev_np(WTERMSIG(status)) ?: "?", WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "wait status 0x%x", (unsigned)status);
	return buf;
}

static int children(const struct gt_snapshot *s)
{
	int n = 0;
	for (int i = 0; i < s->nprocs; i++)
		n += s->procs[i].idx != 0;
	return n;
}

const char *gt_procs_scope(const struct gt_snapshot *s, char *buf, size_t len)
{
	int n = children(s);
	uint64_t unfollowed = s->counters[GT_FORKS_UNFOLLOWED];
	uint64_t followed = s->counters[GT_FORKS_FOLLOWED];
	if (n)
		snprintf(buf, len, "pid %d (%s) and %llu %s", (int)s->pid, s->comm[0] ? s->comm : "?",
			 (unsigned long long)followed, followed == 1 ? "child" : "children");
	else
		snprintf(buf, len, "pid %d (%s)", (int)s->pid, s->comm[0] ? s->comm : "?");
	if (unfollowed) {
		size_t l = strlen(buf);
		snprintf(buf + l, len - l, "; %llu forked %s not traced (--no-follow)",
			 (unsigned long long)unfollowed, unfollowed == 1 ? "child" : "children");
	}
	return buf;
}

void gt_procs_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	gt_fig_add(fs, "procs.traced", NULL, (double)(1 + s->counters[GT_FORKS_FOLLOWED]), GT_U_COUNT, false);
	gt_fig_add(fs, "procs.children_unfollowed", NULL, (double)s->counters[GT_FORKS_UNFOLLOWED],
		   GT_U_COUNT, false);
	gt_fig_add(fs, "procs.unlisted", NULL, (double)s->counters[GT_PROCS_UNLISTED], GT_U_COUNT, false);
}

/* How process p ended, or that it had not. */
static const char *ending(const struct gt_snapshot *s, const struct gt_process *p, char *buf, size_t len)
{
	if (p->idx == 0 && s->exit.known)
		return gt_wait_status_str(s->exit.status, buf, len);
	if (p->info.flags & GT_PROC_EXITED)
		return gt_wait_status_str(p->info.exit_code, buf, len);
	snprintf(buf, len, "still running");
	return buf;
}

void gt_procs_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	char a[32], b[32], c[32], d[32], end[64];
	int n = children(s);
	uint64_t unfollowed = s->counters[GT_FORKS_UNFOLLOWED];
	(void)o;
	if (!n) {
		if (unfollowed)
			fprintf(f, "Processes: the target only; it forked %llu %s, not traced (--no-follow)\n",
				(unsigned long long)unfollowed, unfollowed == 1 ? "child" : "children");
		return;
	}
	uint64_t forked = s->counters[GT_FORKS_FOLLOWED];
	fprintf(f, "Processes (%llu: the target and the %llu it forked; every figure below counts "
		"them all)\n", (unsigned long long)forked + 1, (unsigned long long)forked);
	fprintf(f, "  %-8s %-8s %-16s %8s %12s %12s %10s  %s\n", "PID", "PARENT", "COMM", "THREADS",
		"SYSCALLS", "SWITCHES", "ON-CPU", "END");
	for (int i = 0; i < s->nprocs; i++) {
		const struct gt_process *p = &s->procs[i];
		const struct gt_thread_stats *t = &p->tot[GT_KIND_TARGET];
		if (p->idx == s->procs[s->nprocs - 1].idx && p->info.pid == 0) {
			fprintf(f, "  %-8s %-8s %-16s %8s %12s %12s %10s  (processes past the table)\n",
				"others", "-", "-", gt_fmt_num((double)p->info.threads[0], a),
				gt_fmt_num((double)p->syscalls, b), gt_fmt_num((double)(t->vol + t->invol), c),
				gt_fmt_ns((double)t->oncpu_ns, d));
			continue;
		}
		char ppid[16];
		snprintf(ppid, sizeof(ppid), "%u", p->info.ppid);
		fprintf(f, "  %-8u %-8s %-16.16s %8s %12s %12s %10s  %s%s\n", p->info.pid,
			p->idx ? ppid : "-", p->info.comm, gt_fmt_num((double)p->info.threads[0], a),
			s->syscalls ? gt_fmt_num((double)p->syscalls, b) : "-",
			gt_fmt_num((double)(t->vol + t->invol), c), gt_fmt_ns((double)t->oncpu_ns, d),
			ending(s, p, end, sizeof(end)), p->greenrt ? "  (greenrt)" : "");
	}
	if (s->counters[GT_PROCS_UNLISTED])
		fprintf(f, "  (%llu processes past the process table: counted together as \"others\")\n",
			(unsigned long long)s->counters[GT_PROCS_UNLISTED]);
}
