/*
 * calib.c - what gtrace's probes cost, measured on this machine.
 *
 * The kernel's bpf_stats give the time spent inside BPF programs, which
 * is not what tracing costs the target: a greenrt USDT probe hit is a
 * uprobe, a trap into the kernel (breakpoint, uprobe lookup, single-step
 * out of line) that costs far more than the program it runs, and a
 * program on the raw syscall tracepoints sends every system call of
 * every process through the kernel's slow entry/exit path.  Neither is
 * in bpf_stats: a report that only quoted them once said "35% of the
 * target's on-CPU time" for a target whose CPU time had gone up 70x.
 *
 * So gtrace measures both in its own process, in CPU time
 * (CLOCK_THREAD_CPUTIME_ID: the trap and the syscall path are CPU time
 * of the thread that pays them, and preemption by other programs is
 * not), the best of CALIB_ROUNDS:
 *   - a uprobe hit: gtrace's own USDT probe gtrace:calib, with and
 *     without a BPF program attached (a program that returns at once:
 *     the time inside the real programs is in bpf_stats already);
 *   - a system call: getppid() before and after the syscall programs
 *     are attached (session.c), the cost every untraced process pays
 *     per call while gtrace runs.
 * The report multiplies these by the exact number of hits and calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/sdt.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "gtrace_cli.h"
#include "gtrace.skel.h"

#define CALIB_ROUNDS 3
#define CALIB_UPROBE_HITS 4000          /* per round: ~4 ms at ~1 us a hit */
#define CALIB_SYSCALLS 10000            /* per round: ~2-6 ms */

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The probe site: a nop until a uprobe is attached to it. */
static __attribute__((noinline)) void calib_point(void)
{
	DTRACE_PROBE(gtrace, calib);
}

/* Best CPU ns per call of fn over CALIB_ROUNDS rounds of n calls. */
static double best_ns(void (*fn)(void), int n)
{
	double best = -1;
	for (int r = 0; r < CALIB_ROUNDS; r++) {
		int64_t t0 = cpu_ns();
		for (int i = 0; i < n; i++)
			fn();
		double per = (double)(cpu_ns() - t0) / n;
		if (best < 0 || per < best)
			best = per;
	}
	return best;
}

void gt_calib_uprobe(struct gt_session *s)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = 0;
	double plain = best_ns(calib_point, CALIB_UPROBE_HITS);
	struct bpf_link *l = bpf_program__attach_usdt(s->skel->progs.gt_calib, getpid(), exe,
						      "gtrace", "calib", NULL);
	if (!l)
		return;         /* the report says the cost per hit is unknown */
	double hit = best_ns(calib_point, CALIB_UPROBE_HITS);
	bpf_link__destroy(l);
	s->uprobe_hit_ns = hit > plain ? hit - plain : 0;
}

static void getppid_call(void)
{
	syscall(SYS_getppid);
}

double gt_calib_syscall(void)
{
	return best_ns(getppid_call, CALIB_SYSCALLS);
}
