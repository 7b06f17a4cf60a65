/*
 * iouring.c - the io_uring section: requests submitted (by the target's
 * threads, and apart by an sqpoll thread), completions posted on the
 * target's rings, cqring waits, task-work runs, requests punted to io-wq
 * and CQ overflows, plus submissions by opcode.  Opcode names are
 * generated at build time from linux/io_uring.h.  (Which rings are the
 * target's, and how a freed one stops being: bpf/iouring.bpf.c.)
 */
#include "gtrace_cli.h"

static const char *const ops[] = {
#include "io_op_names.h"
};

const char *gt_io_op_name(unsigned op)
{
	static char buf[24];
	if (op < sizeof(ops) / sizeof(ops[0]))
		return ops[op];
	snprintf(buf, sizeof(buf), "op_%u", op);
	return buf;
}

void gt_iouring_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	const uint64_t *c = s->counters;
	gt_fig_add(fs, "io.rings", "rings created while traced", (double)c[GT_IO_RINGS], GT_U_COUNT, false);
	gt_fig_add(fs, "io.submitted", "requests submitted", (double)c[GT_IO_SUBMIT], GT_U_COUNT, true);
	gt_fig_add(fs, "io.submitted_sqpoll", "  by the sqpoll thread", (double)c[GT_IO_SUBMIT_IOW], GT_U_COUNT, true);
	gt_fig_add(fs, "io.completed", "completions", (double)c[GT_IO_COMPLETE], GT_U_COUNT, true);
	gt_fig_add(fs, "io.cqring_waits", "cqring waits", (double)c[GT_IO_CQRING_WAIT], GT_U_COUNT, true);
	gt_fig_add(fs, "io.task_work_runs", "task-work runs", (double)(c[GT_IO_TASK_WORK] + c[GT_IO_LOCAL_WORK]), GT_U_COUNT, true);
	gt_fig_add(fs, "io.task_work_items", "  items run", (double)c[GT_IO_TASK_WORK_ITEMS], GT_U_COUNT, true);
	gt_fig_add(fs, "io.async_punted", "punted to io-wq workers", (double)c[GT_IO_ASYNC_WORK], GT_U_COUNT, true);
	gt_fig_add(fs, "io.cqe_overflows", "CQ overflows", (double)c[GT_IO_CQE_OVERFLOW], GT_U_COUNT, true);
	gt_fig_add(fs, "io.rings_forgotten", NULL, (double)c[GT_IO_RINGS_FORGOTTEN], GT_U_COUNT, false);
	gt_fig_add(fs, "io.rings_untracked", NULL, (double)c[GT_IO_RINGS_UNTRACKED], GT_U_COUNT, false);
}

void gt_iouring_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	struct gt_figures fs = { .n = 0 };
	char a[32];
	if (!s->iouring) {
		fprintf(f, "io_uring: this kernel has no io_uring tracepoints in its BTF; not traced\n");
		return;
	}
	gt_iouring_figures(s, &fs);
	double any_io = 0;
	for (int i = 0; i < fs.n; i++)
		any_io += fs.f[i].value;
	if (any_io == 0) {
		fprintf(f, "io_uring: no activity on the target's rings\n");
		return;
	}
	fprintf(f, "io_uring\n");
	gt_figures_print(f, &fs, 0, s, o);
	int any = 0;
	for (unsigned i = 0; i < GT_MAX_IO_OPS; i++) {
		if (!s->io_ops[i])
			continue;
		fprintf(f, "%s%s %s", any++ ? ", " : "  by opcode: ", gt_io_op_name(i),
			gt_fmt_num((double)s->io_ops[i], a));
	}
	if (any)
		fputc('\n', f);
	if (s->counters[GT_IO_RINGS_UNTRACKED])
		fprintf(f, "  (%llu rings not tracked: the table of the target's rings was full; "
			"their completions are missing above)\n",
			(unsigned long long)s->counters[GT_IO_RINGS_UNTRACKED]);
}
