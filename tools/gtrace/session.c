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
 * Table sizes come from the machine, not from constants: live threads
 * (tstate) and processes (procs, tgid_bits) are bounded by pid_max; the
 * table of exited threads by a memory budget (GT_THREAD_TABLE_BUDGET),
 * and what does not fit there is counted, not itemised, while the
 * per-process totals, which every event adds to, stay exact.  The hash
 * tables are BPF_F_NO_PREALLOC: they cost what they hold.
 *
 * The `ctl` ring buffer carries what the BPF side needs gtrace to do:
 * a traced process exec'ed an image gtrace has not looked at, and is
 * held (SIGSTOP, procs.bpf.c) until gtrace has looked for greenrt
 * probes in it and attached them (gt_session_wait -> on_ctl).  Every
 * driver waits in gt_session_wait, so no hold lasts longer than a look.
 *
 * Cleanup is one path, gt_session_close(), used on success and on every
 * failure: held processes are let go, links detached, then the skeleton
 * destroyed, so nothing stays loaded.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "gtrace_cli.h"
#include "gtrace.skel.h"

static bool verbose;

#define MAPS_READ_NS 1000000000LL       /* --offcpu: re-read the traced processes' maps */
#define MAPS_AFTER_EXEC_NS 100000000LL  /* ... and this soon after an exec (ld.so's mappings) */

static int register_target(struct gt_session *s);
static int on_ctl(void *ctx, void *data, size_t size);

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
	bool offcpu;            /* --offcpu only */
};

static int twins(struct gtrace_bpf *k, struct twin *t)
{
	int n = 0;
#define T(tp_, b, r, req) t[n++] = (struct twin){ tp_, k->progs.b, k->progs.r, req, false }
#define OFF(tp_, b, r) t[n++] = (struct twin){ tp_, k->progs.b, k->progs.r, true, true }
	T("sched_switch", gt_switch_btf, gt_switch_raw, true);
	T("sched_wakeup", gt_wakeup_btf, gt_wakeup_raw, true);
	T("sched_wakeup_new", gt_wakenew_btf, gt_wakenew_raw, true);
	T("sched_migrate_task", gt_migrate_btf, gt_migrate_raw, true);
	T("sys_enter", gt_sysenter_btf, gt_sysenter_raw, true);
	T("sys_exit", gt_sysexit_btf, gt_sysexit_raw, true);
	T("sched_process_fork", gt_fork_btf, gt_fork_raw, true);
	T("sched_process_exec", gt_exec_btf, gt_exec_raw, true);
	T("sched_process_exit", gt_exit_btf, gt_exit_raw, true);
	T("sched_process_free", gt_free_btf, gt_free_raw, true);
	T("io_uring_create", gt_iocreate_b, gt_iocreate_r, false);
	T("io_uring_submit_req", gt_iosubmit_b, gt_iosubmit_r, false);
	T("io_uring_complete", gt_iocomplete_b, gt_iocomplete_r, false);
	T("io_uring_cqring_wait", gt_iocqwait_b, gt_iocqwait_r, false);
	T("io_uring_task_work_run", gt_iotaskwork_b, gt_iotaskwork_r, false);
	T("io_uring_local_work_run", gt_iolocalwk_b, gt_iolocalwk_r, false);
	T("io_uring_queue_async_work", gt_ioasync_b, gt_ioasync_r, false);
	T("io_uring_cqe_overflow", gt_iooverflow_b, gt_iooverflow_r, false);
	OFF("sched_switch", gt_off_switch_b, gt_off_switch_r);
	OFF("sched_waking", gt_off_waking_b, gt_off_waking_r);
#undef OFF
#undef T
	return n;
}

#define GT_THREAD_TABLE_BUDGET (256UL << 20)     /* bytes for exited threads */
#define GT_PROC_TOTALS_BUDGET (16UL << 20)       /* bytes for per-process totals */
#define GT_HASH_ENTRY_OVERHEAD 64                /* a hash element's own bytes, roughly */

/* Size the tables from the machine (see the top of the file). */
static int size_maps(struct gt_session *s)
{
	struct gtrace_bpf *k = s->skel;
	long pid_max = gt_read_long("/proc/sys/kernel/pid_max", 4194304);
	long ncpu = libbpf_num_possible_cpus();
	if (ncpu < 1)
		ncpu = 1;
	if (pid_max < 1024)
		pid_max = 1024;
	unsigned long done_sz = sizeof(struct gt_thread_done) + sizeof(struct gt_thread_key) +
				GT_HASH_ENTRY_OVERHEAD;
	unsigned long threads = GT_THREAD_TABLE_BUDGET / done_sz;
	if (threads > 4UL * (unsigned long)pid_max)
		threads = 4UL * (unsigned long)pid_max;
	unsigned long procs = GT_PROC_TOTALS_BUDGET / ((unsigned long)ncpu * 2 * sizeof(struct gt_thread_stats));
	if (procs > 4096)
		procs = 4096;
	if (procs < 64)
		procs = 64;
	/* GTRACE_MAX_THREADS, GTRACE_MAX_PROCS (checks.c): smaller tables,
	 * so that the tests can see what happens when one is full */
	if (s->opts->max_threads)
		threads = s->opts->max_threads;
	if (s->opts->max_procs)
		procs = s->opts->max_procs;
	s->max_procs = (uint32_t)procs;
	s->max_threads = (uint32_t)threads;
	int err = 0;
	err = err ?: bpf_map__set_max_entries(k->maps.tstate, (__u32)pid_max);
	err = err ?: bpf_map__set_max_entries(k->maps.threads, (__u32)threads);
	err = err ?: bpf_map__set_max_entries(k->maps.procs, (__u32)pid_max);
	err = err ?: bpf_map__set_max_entries(k->maps.tgid_bits, (__u32)(pid_max / 64 + 1));
	err = err ?: bpf_map__set_max_entries(k->maps.pinfo, (__u32)procs + 1);
	err = err ?: bpf_map__set_max_entries(k->maps.ptotals, 2 * ((__u32)procs + 1));
	err = err ?: bpf_map__set_max_entries(k->maps.offstart, (__u32)pid_max);
	return err;
}

/* Without --offcpu its programs are not loaded, nor its maps created
 * (the stack maps are preallocated: tens of MB). */
static void offcpu_off(struct gtrace_bpf *k)
{
	struct bpf_program *progs[] = { k->progs.gt_o_park, k->progs.gt_o_ready, k->progs.gt_o_switch,
					k->progs.gt_o_exit };
	struct bpf_map *maps[] = { k->maps.kstacks, k->maps.wstacks, k->maps.ustacks, k->maps.offstart, k->maps.offcpu,
				   k->maps.owakers, k->maps.gwait, k->maps.gwakers, k->maps.gexited };
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		bpf_program__set_autoload(progs[i], false);
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		bpf_map__set_autocreate(maps[i], false);
}

/* Without --goroutines or --trace the group programs are not loaded, nor
 * their tables created: the report shows no groups then, and the probes
 * stay nops. */
static void groups_off(struct gtrace_bpf *k)
{
	struct bpf_program *progs[] = { k->progs.gt_grp_new, k->progs.gt_grp_parent, k->progs.gt_grp_join,
					k->progs.gt_grp_leave, k->progs.gt_grp_cancel, k->progs.gt_grp_drained,
					k->progs.gt_grp_free };
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		bpf_program__set_autoload(progs[i], false);
	bpf_map__set_autocreate(k->maps.groups, false);
	bpf_map__set_autocreate(k->maps.groups_done, false);
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
	s->skel->rodata->follow = s->follow;
	s->skel->rodata->dists_on = s->offcpu;
	s->skel->rodata->exec_notify = s->offcpu;
	s->skel->rodata->hits_counted = s->want_events;
	if (!s->offcpu)
		offcpu_off(s->skel);
	if (!s->want_events)
		groups_off(s->skel);
	err = size_maps(s);
	if (err) {
		gt_err("cannot size the BPF maps: %s", strerror(-err));
		return err;
	}
	s->skel->rodata->max_procs = s->max_procs;

	n = twins(s->skel, t);
	s->iouring = true;
	s->raw_tp = false;
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "btf_trace_%s", t[i].tp);
		bool has_btf = btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
		if (t[i].offcpu && !s->offcpu) {
			bpf_program__set_autoload(t[i].btf, false);
			bpf_program__set_autoload(t[i].raw, false);
		} else if (has_btf) {
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

/* Can system calls be counted with fentry here?  If not, why not, in why. */
static bool sys_fentry_ok(const struct btf *vmlinux, char *why, size_t len)
{
	int err = fentry_probe(vmlinux, "x64_sys_call");
	if (err == -ENOENT)
		snprintf(why, len, "the kernel's BTF has no x64_sys_call");
	else if (err)
		snprintf(why, len, "the kernel refused a fentry program (%s)", strerror(-err));
	return !err;
}

void gt_sys_way(char *buf, size_t len)
{
	char why[128];
	libbpf_set_print(print_libbpf);
	struct btf *vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		snprintf(buf, len, "unknown (cannot read the kernel's BTF: %s)", strerror(errno));
	else if (sys_fentry_ok(vmlinux, why, sizeof(why)))
		snprintf(buf, len, "fentry/fexit on x64_sys_call");
	else
		snprintf(buf, len, "the sys_enter/sys_exit tracepoints, as %s", why);
	btf__free(vmlinux);
}

int gt_session_load(struct gt_session *s, pid_t tgid, const struct gt_opts *o)
{
	struct btf *vmlinux = NULL;
	int err;

	memset(s, 0, sizeof(*s));
	s->stats_fd = -1;
	s->tgid = tgid;
	s->opts = o;
	s->follow = !o->no_follow;
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
	s->offcpu = o->offcpu;
	if (s->offcpu && !(s->syms = gt_syms_new())) {
		gt_err("out of memory");
		return -ENOMEM;
	}
	s->syscalls = !o->no_syscalls;
	bool fentry = s->syscalls && !o->sys_tracepoints;
	if (s->syscalls && o->sys_tracepoints) {
		snprintf(s->sys_why, sizeof(s->sys_why), "--sys-tracepoints asked");
	} else if (fentry && !sys_fentry_ok(vmlinux, s->sys_why, sizeof(s->sys_why))) {
		fentry = false;
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
	err = register_target(s);
	if (err) {
		gt_err("cannot set up the process table: %s", strerror(-err));
		goto fail;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.ctl), on_ctl, s, NULL);
	if (!s->rb) {
		err = -errno;
		gt_err("cannot open the BPF ring buffer: %s", strerror(-err));
		goto fail;
	}
	if (verbose) {
		char ids[1024];
		gt_session_ids(s, ids, sizeof(ids));
		fprintf(stderr, "gtrace: loaded BPF %s\n", ids);
	}
	return 0;
fail:
	btf__free(vmlinux);
	gt_session_close(s);
	return err;
}

/* The target is process 0 (procs.h); traced() knows it by targ_tgid. */
static int register_target(struct gt_session *s)
{
	struct gtrace_bpf *k = s->skel;
	struct gt_proc p = { .pid = (__u32)s->tgid };
	__u32 zero = 0, tgid = (__u32)s->tgid;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)s->tgid);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fgets(p.comm, sizeof(p.comm), f))
			p.comm[strcspn(p.comm, "\n")] = 0;
		fclose(f);
	}
	if (bpf_map_update_elem(bpf_map__fd(k->maps.pinfo), &zero, &p, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(k->maps.procs), &tgid, &zero, BPF_ANY))
		return -errno;
	return 0;
}

/* A held exec (procs.bpf.c): look for greenrt probes in the new image,
 * attach them for that process, let it go. */
static int on_ctl(void *ctx, void *data, size_t size)
{
	struct gt_session *s = ctx;
	const struct gt_ctl_event *e = data;
	char link[64], exe[PATH_MAX];

	if (size < sizeof(*e) || (e->type != GT_CTL_EXEC && e->type != GT_CTL_EXEC_SEEN))
		return 0;
	if (e->type == GT_CTL_EXEC_SEEN) {
		/* --offcpu: the image's mappings, now and once ld.so has
		 * mapped its libraries */
		gt_syms_add_pid(s->syms, (pid_t)e->tgid);
		s->maps_read_at = gt_now_ns() - MAPS_READ_NS + MAPS_AFTER_EXEC_NS;
		return 0;
	}
	if (s->closing) {
		if (e->stopped)
			kill((pid_t)e->tgid, SIGCONT);
		return 0;
	}
	s->exec_looks++;
	snprintf(link, sizeof(link), "/proc/%u/exe", e->tgid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		/* another mount namespace, or deleted: the magic link opens it */
		if (access(exe, R_OK) || (n > 10 && !strcmp(exe + n - 10, " (deleted)")))
			snprintf(exe, sizeof(exe), "%s", link);
	} else {
		snprintf(exe, sizeof(exe), "%s", link);
	}
	if (s->syms) {
		/* the image is mapped already, its libraries soon: read the
		 * maps now and again in MAPS_AFTER_EXEC_NS (read_maps) */
		gt_syms_add_file(s->syms, exe);
		gt_syms_add_pid(s->syms, (pid_t)e->tgid);
		s->maps_read_at = gt_now_ns() - MAPS_READ_NS + MAPS_AFTER_EXEC_NS;
	}
	int has = gt_usdt_has_probes(exe);
	if (has == 0) {
		struct gt_inode ino = { .dev = e->dev, .ino = e->ino };
		__u8 one = 1;
		bpf_map_update_elem(bpf_map__fd(s->skel->maps.noprobes), &ino, &one, BPF_ANY);
	} else if (has > 0) {
		/* a failure was reported; the trace goes on without them */
		gt_usdt_attach(s, (pid_t)e->tgid, exe, false, true);
	}
	if (e->stopped)
		kill((pid_t)e->tgid, SIGCONT);
	return 0;
}

int gt_session_wait(struct gt_session *s, int pidfd, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = ring_buffer__epoll_fd(s->rb), .events = POLLIN },
		{ .fd = pidfd, .events = POLLIN },
	};
	int exited = 0;

	gt_session_tick(s);
	if (poll(p, pidfd >= 0 ? 2 : 1, timeout_ms) > 0 && pidfd >= 0 && (p[1].revents & POLLIN))
		exited = 1;
	ring_buffer__consume(s->rb);
	return exited;
}

void gt_session_release(struct gt_session *s)
{
	/* a held exec not yet seen: handling it lets it go (on_ctl, which
	 * only resumes it once the session is closing) */
	if (s->rb)
		ring_buffer__consume(s->rb);
}

__u32 gt_obj_id(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	memset(&info, 0, sizeof(info));
	_Static_assert(offsetof(struct bpf_map_info, id) == offsetof(struct bpf_prog_info, id), "id");
	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id : 0;
}

void gt_session_ids(const struct gt_session *s, char *buf, size_t len)
{
	struct bpf_program *p;
	struct bpf_map *m;
	size_t o = 0;
	__u32 id;

	buf[0] = 0;
	if (!s->skel)
		return;
	o += (size_t)snprintf(buf + o, len - o, "prog");
	bpf_object__for_each_program(p, s->skel->obj)
		if ((id = gt_obj_id(bpf_program__fd(p))) && o < len)
			o += (size_t)snprintf(buf + o, len - o, " %u", id);
	if (o < len)
		o += (size_t)snprintf(buf + o, len - o, " map");
	bpf_object__for_each_map(m, s->skel->obj)
		if ((id = gt_obj_id(bpf_map__fd(m))) && o < len)
			o += (size_t)snprintf(buf + o, len - o, " %u", id);
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

/* GT_PROG_RUNS summed over the CPUs. */
static uint64_t count_runs(struct gt_session *s)
{
	int n = libbpf_num_possible_cpus();
	__u32 key = GT_PROG_RUNS;
	uint64_t sum = 0;
	__u64 *v = calloc((size_t)(n > 0 ? n : 1), sizeof(*v));
	if (v && bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.counters), &key, v) == 0)
		for (int i = 0; i < n; i++)
			sum += v[i];
	free(v);
	return sum;
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
	/* what a system call costs an untraced process, before and after */
	if (s->syscalls)
		s->sys_plain_ns = gt_calib_syscall();
	err = attach_syscalls(s);
	if (err)
		return err;
	if (s->syscalls)
		s->sys_traced_ns = gt_calib_syscall();
	/* what ran so far (the calibration's own system calls) is not the
	 * trace's: its cost counts from here, and bpf_stats start here */
	s->runs_before = count_runs(s);
	s->t_start = gt_now_ns();
	s->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	s->stats_ok = s->stats_fd >= 0;     /* if not, the report says the cost is unknown */
	s->stats_on_ns = 0;
	s->stats_mark = s->t_start;
	return 0;
}

#define STATS_ON_NS 200000000LL         /* 0.2 s ... */
#define STATS_PERIOD_NS 2000000000LL    /* ... out of every 2 s */


/* --offcpu: the files the traced processes map now (libraries loaded
 * since the last look), for symbols.c; the processes still running. */
static void read_maps(struct gt_session *s, int64_t now)
{
	uint32_t used = s->skel->data->next_proc;
	int fd = bpf_map__fd(s->skel->maps.pinfo);
	s->maps_read_at = now;
	if (used > s->max_procs)
		used = s->max_procs;
	for (uint32_t i = 0; i < used; i++) {
		struct gt_proc p;
		if (bpf_map_lookup_elem(fd, &i, &p) == 0 && p.pid && !(p.flags & GT_PROC_EXITED))
			gt_syms_add_pid(s->syms, (pid_t)p.pid);
	}
}

void gt_session_tick(struct gt_session *s)
{
	int64_t now = gt_now_ns();
	if (s->syms && s->skel && now - s->maps_read_at >= MAPS_READ_NS)
		read_maps(s, now);
	gt_mem_sample(&s->mem);
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

#define GT_DETACH_SETTLE_US 20000        /* for a program run begun before its detach */

void gt_session_close(struct gt_session *s)
{
	/* Links first, so that no exec is held any more; then let go of
	 * those held meanwhile (a program may still be finishing a run on
	 * another CPU: look twice); then the rest. */
	s->closing = true;
	for (int i = s->nusdt - 1; i >= 0; i--)
		bpf_link__destroy(s->usdt_links[i]);
	free(s->usdt_links);
	s->usdt_links = NULL;
	s->nusdt = s->cap_usdt = 0;
	for (int i = s->nlinks - 1; i >= 0; i--)
		bpf_link__destroy(s->links[i]);
	s->nlinks = 0;
	if (s->rb) {
		gt_session_release(s);
		usleep(GT_DETACH_SETTLE_US);
		gt_session_release(s);
		ring_buffer__free(s->rb);
	}
	s->rb = NULL;
	if (s->skel)
		gtrace_bpf__destroy(s->skel);
	s->skel = NULL;
	if (s->stats_fd >= 0)
		close(s->stats_fd);
	s->stats_fd = -1;
	gt_syms_free(s->syms);
	s->syms = NULL;
	gt_stack_cache_free(s->stack_cache);
	s->stack_cache = NULL;
	gt_pmu_close(s->pmu);
	s->pmu = NULL;
}
