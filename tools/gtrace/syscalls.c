/*
 * syscalls.c - the system call section: totals, then a table by syscall
 * name with io_uring_enter always on its own first line (for a greenrt
 * program it is the syscall that matters).  Names come from a table
 * generated at build time from asm/unistd_64.h (mk/gtrace.mk).
 */
#include <stdlib.h>
#include <string.h>
#include "gtrace_cli.h"

static const char *const names[GT_MAX_SYSCALLS] = {
#include "syscall_names.h"
};

const char *gt_syscall_name(unsigned nr)
{
	static char buf[32];
	if (nr < GT_MAX_SYSCALLS && names[nr])
		return names[nr];
	snprintf(buf, sizeof(buf), "syscall_%u", nr);
	return buf;
}

uint32_t gt_syscall_nr_io_uring_enter(void)
{
	for (unsigned i = 0; i < GT_MAX_SYSCALLS; i++)
		if (names[i] && !strcmp(names[i], "io_uring_enter"))
			return i;
	return GT_MAX_SYSCALLS;
}

void gt_syscalls_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	double n = 0, ns = 0, err = 0;
	if (!s->syscalls)
		return;         /* --no-syscalls: no figures rather than zeros */
	for (int i = 0; i < GT_MAX_SYSCALLS; i++) {
		n += (double)s->sys[i].count;
		ns += (double)s->sys[i].total_ns;
		err += (double)s->sys[i].errors;
	}
	uint32_t ue = gt_syscall_nr_io_uring_enter();
	gt_fig_add(fs, "syscalls.total", "system calls", n, GT_U_COUNT, true);
	gt_fig_add(fs, "syscalls.errors", "  returning an error", err, GT_U_COUNT, true);
	gt_fig_add(fs, "syscalls.time_ns", "  time inside them", ns, GT_U_NS, true);
	gt_fig_add(fs, "syscalls.io_uring_enter", "  io_uring_enter",
		   ue < GT_MAX_SYSCALLS ? (double)s->sys[ue].count : 0, GT_U_COUNT, true);
}

static const struct gt_snapshot *sort_snap;
static int by_count(const void *a, const void *b)
{
	uint64_t x = sort_snap->sys[*(const int *)a].count, y = sort_snap->sys[*(const int *)b].count;
	return x < y ? 1 : x > y ? -1 : *(const int *)a - *(const int *)b;
}

#define TOP_SYSCALLS 15

void gt_syscalls_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	struct gt_figures fs = { .n = 0 };
	char a[32], b[32], c[32], d[32];
	int idx[GT_MAX_SYSCALLS], n = 0;
	uint32_t ue = gt_syscall_nr_io_uring_enter();

	if (!s->syscalls) {
		fprintf(f, "System calls: not traced (--no-syscalls)\n");
		return;
	}
	gt_syscalls_figures(s, &fs);
	fprintf(f, "System calls\n");
	gt_figures_print(f, &fs, 0, s, o);
	for (int i = 0; i < GT_MAX_SYSCALLS; i++)
		if (s->sys[i].count && (uint32_t)i != ue)
			idx[n++] = i;
	sort_snap = s;
	qsort(idx, (size_t)n, sizeof(idx[0]), by_count);
	if (!n && (ue >= GT_MAX_SYSCALLS || !s->sys[ue].count))
		return;
	fprintf(f, "\n  %-22s %12s %8s %12s %10s%s\n", "SYSCALL", "COUNT", "ERRORS", "TOTAL",
		"AVG", o->per > 0 ? "      PER REQ" : "");
	int shown = o->per_thread ? n : (n < TOP_SYSCALLS ? n : TOP_SYSCALLS);
	for (int j = -1; j < shown; j++) {
		int i = j < 0 ? (int)ue : idx[j];
		if (i >= GT_MAX_SYSCALLS || (j < 0 && !s->sys[i].count))
			continue;
		const struct gt_syscall_stats *x = &s->sys[i];
		fprintf(f, "  %-22s %12s %8s %12s %10s", gt_syscall_name((unsigned)i),
			gt_fmt_num((double)x->count, a), gt_fmt_num((double)x->errors, b),
			gt_fmt_ns((double)x->total_ns, c),
			gt_fmt_ns(x->count ? (double)x->total_ns / (double)x->count : 0, d));
		if (o->per > 0)
			fprintf(f, " %12.3f", (double)x->count / o->per);
		fputc('\n', f);
		if (j < 0)
			fprintf(f, "  %-22s\n", "--");
	}
	if (shown < n)
		fprintf(f, "  (%d more; -T shows all)\n", n - shown);
	if (o->hist) {
		for (int j = -1; j < (n < 5 ? n : 5); j++) {
			int i = j < 0 ? (int)ue : idx[j];
			if (i >= GT_MAX_SYSCALLS || !s->sys[i].count)
				continue;
			fprintf(f, "\n  %s latency\n", gt_syscall_name((unsigned)i));
			gt_hist_print(f, s->sys[i].hist, GT_HIST_SLOTS, "nsecs");
		}
	}
}
