/*
 * session.c - load, attach and unload gtrace's BPF programs.
 *
 * One skeleton (all units statically linked, see bpf/maps.bpf.h) holds
 * every program.  Each tracepoint has a tp_btf and a raw_tp twin; before
 * load we look the tracepoint's btf_trace_<name> typedef up in the
 * kernel's BTF and keep the tp_btf one if it is there, the raw_tp one
 * otherwise (set_autoload(false) on the other), as libbpf-tools do.  The
 * scheduler and syscall tracepoints are required; the io_uring ones are
 * optional (a kernel without io_uring gets a note in the report).
 *
 * System calls are the exception to "tracepoints": by default they are
 * counted by fentry/fexit programs on x64_sys_call, the x86_64 syscall
 * dispatcher (bpf/syscalls.bpf.c says why: any program on the raw
 * syscall tracepoints sends every system call of every process through
 * the kernel's slow syscall path).  The sys_enter/sys_exit twins are the
 * fallback, taken when the kernel's BTF has no x64_sys_call, when the
 * fentry programs fail to load (the object is then loaded again without
 * them) or to attach (the tracepoint programs are loaded alongside for
 * that case), or with --sys-tracepoints.  The report's cost line says
 * which way was used, and why if it was the fallback.  --no-syscalls
 * leaves both out.
 *
 * The settings (target tgid, --trace) are const volatile globals written
 * into .rodata before load, so the kernel filters on the tgid and the
 * verifier prunes the tracing branches when they are off.
 *
 * gtrace's own cost: every program counts its runs itself (GT_RUN, a
 * per-CPU add), and the kernel's run-time statistics (bpf_enable_stats)
 * give the time per run.  Those statistics cost two clock reads around
 * every run of every BPF program in the machine - on this kind of VM as
 * much as the program itself - so they are on only STATS_ON_NS out of
 * every STATS_PERIOD_NS (10%; gt_session_tick switches them), and the
 * report multiplies the exact run count by the sampled time per run.
 * The first window opens at attach, so short commands are measured
 * whole.
 *
 * Cleanup is one path, gt_session_close(), used on success and on every
 * failure: links first, then the skeleton, so nothing stays loaded.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "gtrace_cli.h"
#include "gtrace.skel.h"

static bool verbose;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!verbose && level != LIBBPF_WARN)
		return 0;
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int64_t gt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct twin {
	const char *tp;
	struct bpf_program *btf, *raw;
	bool required;
};

static int twins(struct gtrace_bpf *k, struct twin *t)
{
	int n = 0;
#define T(tp_, b, r, req) t[n++] = (struct twin){ tp_, k->progs.b, k->progs.r, req }
	T("sched_switch", gt_switch_btf, gt_switch_raw, true);
	T("sched_wakeup", gt_wakeup_btf, gt_wakeup_raw, true);
	T("sched_wakeup_new", gt_wakenew_btf, gt_wakenew_raw, true);
	T("sched_migrate_task", gt_migrate_btf, gt_migrate_raw, true);
	T("sys_enter", gt_sysenter_btf, gt_sysenter_raw, true);
	T("sys_exit", gt_sysexit_btf, gt_sysexit_raw, true);
	T("io_uring_create", gt_iocreate_b, gt_iocreate_r, false);
	T("io_uring_submit_req", gt_iosubmit_b, gt_iosubmit_r, false);
	T("io_uring_complete", gt_iocomplete_b, gt_iocomplete_r, false);
	T("io_uring_cqring_wait", gt_iocqwait_b, gt_iocqwait_r, false);
	T("io_uring_task_work_run", gt_iotaskwork_b, gt_iotaskwork_r, false);
	T("io_uring_local_work_run", gt_iolocalwk_b, gt_iolocalwk_r, false);
	T("io_uring_queue_async_work", gt_ioasync_b, gt_ioasync_r, false);
	T("io_uring_cqe_overflow", gt_iooverflow_b, gt_iooverflow_r, false);
#undef T
	return n;
}

/* Open the skeleton and choose its programs; fentry: count system calls
 * with the x64_sys_call programs (keeping the tracepoint twins loaded as
 * the fallback for an attach failure). */
static int open_skel(struct gt_session *s, const struct gt_opts *o,
		     const struct btf *vmlinux, bool fentry)
{
	struct twin t[32];
	char name[128];
	int err, n;

	s->skel = gtrace_bpf__open();
	if (!s->skel) {
		err = -errno;
		gt_err("cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	s->skel->rodata->targ_tgid = (__u32)s->tgid;
	s->skel->rodata->trace_events = o->trace_path != NULL;
	s->skel->rodata->trace_os = o->trace_path != NULL;

	n = twins(s->skel, t);
	s->iouring = true;
	s->raw_tp = false;
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "btf_trace_%s", t[i].tp);
		bool has_btf = btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
		if (has_btf) {
			bpf_program__set_autoload(t[i].raw, false);
		} else if (t[i].required) {
			bpf_program__set_autoload(t[i].btf, false);
			s->raw_tp = true;
		} else {
			/* an optional tracepoint the kernel's BTF does not
			 * know: assume the kernel does not have it */
			bpf_program__set_autoload(t[i].btf, false);
			bpf_program__set_autoload(t[i].raw, false);
			if (strcmp(t[i].tp, "io_uring_local_work_run") &&
			    strcmp(t[i].tp, "io_uring_create"))
				s->iouring = false;
		}
		if (!strcmp(t[i].tp, "sys_enter"))
			s->sys_tp[0] = has_btf ? t[i].btf : t[i].raw;
		else if (!strcmp(t[i].tp, "sys_exit"))
			s->sys_tp[1] = has_btf ? t[i].btf : t[i].raw;
	}
	s->sys_fe[0] = s->skel->progs.gt_sysenter_fe;
	s->sys_fe[1] = s->skel->progs.gt_sysexit_fx;
	s->sys_fentry = fentry;
	for (int i = 0; i < 2; i++) {
		if (!fentry)
			bpf_program__set_autoload(s->sys_fe[i], false);
		if (!s->syscalls)
			bpf_program__set_autoload(s->sys_tp[i], false);
	}
	return 0;
}

/* Can a fentry program be loaded on kernel function fn?  A two-instruction
 * program, as libbpf-tools' fentry_can_attach(): the kernel may lack BPF
 * trampolines, or a security policy may refuse tracing programs (EPERM
 * even for root) while it allows tracepoints.  0 or -errno. */
static int fentry_probe(const struct btf *vmlinux, const char *fn)
{
	static const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int id = btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC);
	if (id <= 0)
		return -ENOENT;
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .expected_attach_type = BPF_TRACE_FENTRY,
		    .attach_btf_id = (__u32)id);
	int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "gt_probe_fe", "GPL", insns, 2, &lo);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int gt_session_load(struct gt_session *s, pid_t tgid, const struct gt_opts *o)
{
	struct btf *vmlinux = NULL;
	int err;

	memset(s, 0, sizeof(*s));
	s->stats_fd = -1;
	s->tgid = tgid;
	verbose = o->verbose;
	libbpf_set_print(print_libbpf);

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		gt_err("this kernel has no BTF (/sys/kernel/btf/vmlinux): use a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOENT;
	}
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		err = -errno;
		gt_err("cannot read the kernel's BTF: %s (run as root, or check /sys/kernel/btf/vmlinux)",
		       strerror(-err));
		return err;
	}
	s->want_events = o->goroutines || o->trace_path != NULL;
	s->syscalls = !o->no_syscalls;
	bool fentry = s->syscalls && !o->sys_tracepoints;
	if (s->syscalls && o->sys_tracepoints) {
		snprintf(s->sys_why, sizeof(s->sys_why), "--sys-tracepoints asked");
	} else if (fentry && (err = fentry_probe(vmlinux, "x64_sys_call"))) {
		fentry = false;
		if (err == -ENOENT)
			snprintf(s->sys_why, sizeof(s->sys_why), "the kernel's BTF has no x64_sys_call");
		else
			snprintf(s->sys_why, sizeof(s->sys_why),
				 "the kernel refused a fentry program (%s)", strerror(-err));
	}

	err = open_skel(s, o, vmlinux, fentry);
	if (!err)
		err = gtrace_bpf__load(s->skel);
	if (err && fentry && s->skel) {
		/* the probe passed but the real programs did not load: try
		 * again without them (if it was a matter of permission, the
		 * second load fails too and says so) */
		snprintf(s->sys_why, sizeof(s->sys_why),
			 "the fentry programs did not load (%s)", strerror(-err));
		gtrace_bpf__destroy(s->skel);
		s->skel = NULL;
		err = open_skel(s, o, vmlinux, false);
		if (!err)
			err = gtrace_bpf__load(s->skel);
	}
	btf__free(vmlinux);
	vmlinux = NULL;
	if (err) {
		if (!s->skel)
			;       /* open_skel said what is wrong */
		else if (err == -EPERM || err == -EACCES)
			gt_err("not allowed to load BPF programs: run as root (or with CAP_BPF and CAP_PERFMON)");
		else
			gt_err("failed to load the BPF programs: %s (rerun with -v for libbpf's log)",
			       strerror(-err));
		goto fail;
	}
	s->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	s->stats_ok = s->stats_fd >= 0;
	s->stats_mark = gt_now_ns();
	/* if stats can't be enabled the report says the cost is unknown */
	return 0;
fail:
	btf__free(vmlinux);
	gt_session_close(s);
	return err;
}

static bool is_sys_prog(const struct gt_session *s, const struct bpf_program *p)
{
	return p == s->sys_fe[0] || p == s->sys_fe[1] || p == s->sys_tp[0] || p == s->sys_tp[1];
}

static int add_link(struct gt_session *s, struct bpf_program *p)
{
	if (s->nlinks >= GT_MAX_PROGS)
		return -E2BIG;
	struct bpf_link *l = bpf_program__attach(p);
	if (!l)
		return -errno;
	s->links[s->nlinks++] = l;
	return 0;
}

static void attach_failed(const struct bpf_program *p, int err)
{
	const char *sec = bpf_program__section_name(p);
	const char *tp = strchr(sec, '/');
	gt_err("cannot attach to tracepoint %s: %s (this kernel may lack it; rerun with -v)",
	       tp ? tp + 1 : sec, strerror(-err));
}

/* fexit then fentry on x64_sys_call (an exit without its entry is
 * ignored, so no call is mis-timed in between); if either fails, detach
 * the other and use the tracepoints. */
static int attach_syscalls(struct gt_session *s)
{
	int err;

	if (!s->syscalls)
		return 0;
	if (s->sys_fentry) {
		int n0 = s->nlinks;
		err = add_link(s, s->sys_fe[1]);
		if (!err)
			err = add_link(s, s->sys_fe[0]);
		if (!err)
			return 0;
		while (s->nlinks > n0)
			bpf_link__destroy(s->links[--s->nlinks]);
		snprintf(s->sys_why, sizeof(s->sys_why),
			 "fentry on x64_sys_call did not attach (%s)", strerror(-err));
		s->sys_fentry = false;
	}
	for (int i = 0; i < 2; i++) {
		err = add_link(s, s->sys_tp[i]);
		if (err) {
			attach_failed(s->sys_tp[i], err);
			return err;
		}
	}
	return 0;
}

const char *gt_session_sys_via(const struct gt_session *s)
{
	if (!s->syscalls)
		return NULL;
	return s->sys_fentry ? "fentry" : "tracepoint";
}

int gt_session_attach(struct gt_session *s)
{
	struct bpf_program *p;
	int err;

	bpf_object__for_each_program(p, s->skel->obj) {
		const char *sec = bpf_program__section_name(p);
		if (!bpf_program__autoload(p) || !strncmp(sec, "usdt", 4) || is_sys_prog(s, p))
			continue;
		err = add_link(s, p);
		if (err) {
			attach_failed(p, err);
			return err;
		}
	}
	err = attach_syscalls(s);
	if (err)
		return err;
	s->t_start = gt_now_ns();
	if (s->stats_fd >= 0) {
		/* the first sample window starts now, with the tracing */
		s->stats_on_ns = 0;
		s->stats_mark = s->t_start;
	}
	return 0;
}

#define STATS_ON_NS 200000000LL         /* 0.2 s ... */
#define STATS_PERIOD_NS 2000000000LL    /* ... out of every 2 s */

void gt_session_tick(struct gt_session *s)
{
	int64_t now = gt_now_ns();
	if (!s->stats_ok)
		return;
	if (s->stats_fd >= 0 && now - s->stats_mark >= STATS_ON_NS) {
		close(s->stats_fd);
		s->stats_fd = -1;
		s->stats_on_ns += now - s->stats_mark;
		s->stats_mark = now;
	} else if (s->stats_fd < 0 && now - s->stats_mark >= STATS_PERIOD_NS - STATS_ON_NS) {
		s->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		s->stats_mark = now;
	}
}

int64_t gt_session_stats_ns(const struct gt_session *s)
{
	return s->stats_on_ns + (s->stats_fd >= 0 ? gt_now_ns() - s->stats_mark : 0);
}

void gt_session_close(struct gt_session *s)
{
	for (int i = s->nusdt - 1; i >= 0; i--)
		bpf_link__destroy(s->usdt_links[i]);
	s->nusdt = 0;
	for (int i = s->nlinks - 1; i >= 0; i--)
		bpf_link__destroy(s->links[i]);
	s->nlinks = 0;
	if (s->skel)
		gtrace_bpf__destroy(s->skel);
	s->skel = NULL;
	if (s->stats_fd >= 0)
		close(s->stats_fd);
	s->stats_fd = -1;
}
