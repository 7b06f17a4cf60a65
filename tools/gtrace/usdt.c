/*
 * usdt.c - find the greenrt USDT probes of a target and attach them.
 *
 * greenrt's probes (provider "greenrt") live in whichever file the
 * runtime was linked into: the executable itself when the program links
 * libgreenrt.a, or libgreenrt.so.  We read the .note.stapsdt notes with
 * libelf to learn which files carry greenrt probes and which probe names
 * they have, then call bpf_program__attach_usdt() for the target pid on
 * each (probe, file).  The attachment is a uprobe on the file's inode
 * filtered on the pid, so for `run` it is made after fork() and before
 * exec(): the probes are live from the program's first instruction.
 *
 * Which processes: `attach` looks at the running target; every image a
 * traced process exec's later (the first one of `run` included: gtrace
 * runs `taskset -c 0 ./server` or `sh -c 'exec ./server'` as readily as
 * ./server) is looked at while the process is held at the exec
 * (bpf/procs.bpf.c), before it runs an instruction.
 *
 * Finding libgreenrt.so: for a running process, /proc/PID/maps shows it;
 * for a program about to start, its DT_NEEDED names are resolved the way
 * ld.so does for the common cases: DT_RPATH/DT_RUNPATH (with $ORIGIN),
 * LD_LIBRARY_PATH, then the system directories.  A library loaded with
 * dlopen() later is not seen by `run` (use attach).
 *
 * Which probes: a uprobe hit traps into the kernel (~0.7 us here), so the
 * probes that fire per goroutine or per request - switch, park, ready,
 * io_submit, io_complete, spawn, exit - are attached only when per-event
 * figures are asked for (--goroutines, --trace), and so are the group_*
 * probes (bpf/groups.bpf.c), which only those modes report.  Otherwise the
 * goroutine counts come from the `stats` probe, which the runtime fires
 * about once a second with its own counters.  A runtime without `stats`
 * (older than gtrace) gets the per-event probes regardless: slow but
 * still counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "gtrace_cli.h"
#include "gtrace.skel.h"

#define MAX_PROBES 32

struct probes {
	char names[MAX_PROBES][32];
	int n;
};

/* Collect greenrt probe names from path's .note.stapsdt (0 or -errno). */
static int elf_probes(const char *path, struct probes *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	int err = 0;
	if (!e) {
		err = -EINVAL;
		goto out;
	}
	size_t shstrndx;
	if (elf_getshdrstrndx(e, &shstrndx)) {
		err = -EINVAL;
		goto out;
	}
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		const char *sname = elf_strptr(e, shstrndx, sh.sh_name);
		if (!sname || strcmp(sname, ".note.stapsdt"))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nh;
		while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type != 3 || nh.n_descsz < 3 * 8)
				continue;
			const char *desc = (const char *)d->d_buf + desc_off;
			const char *prov = desc + 3 * 8;   /* pc, base, semaphore */
			size_t left = nh.n_descsz - 3 * 8;
			size_t plen = strnlen(prov, left);
			if (plen + 1 >= left || strcmp(prov, "greenrt"))
				continue;
			const char *pname = prov + plen + 1;
			bool dup = false;
			for (int i = 0; i < out->n; i++)
				dup |= !strcmp(out->names[i], pname);
			if (!dup && out->n < MAX_PROBES)
				snprintf(out->names[out->n++], sizeof(out->names[0]), "%.31s", pname);
		}
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return err;
}

int gt_elf_needed(const char *exe, char (*out)[PATH_MAX], int max)
{
	char needed[32][256], runpath[1024] = "";
	int nneeded = 0, n = 0;
	int fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;
	while (e && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn dyn;
			if (!gelf_getdyn(d, (int)i, &dyn))
				break;
			const char *s = NULL;
			if (dyn.d_tag == DT_NEEDED || dyn.d_tag == DT_RUNPATH || dyn.d_tag == DT_RPATH)
				s = elf_strptr(e, sh.sh_link, dyn.d_un.d_val);
			if (!s)
				continue;
			if (dyn.d_tag != DT_NEEDED)
				snprintf(runpath, sizeof(runpath), "%s", s);
			else if (nneeded < (int)(sizeof(needed) / sizeof(needed[0])))
				snprintf(needed[nneeded++], sizeof(needed[0]), "%s", s);
		}
	}
	if (e)
		elf_end(e);
	close(fd);

	char origin[PATH_MAX];
	snprintf(origin, sizeof(origin), "%s", exe);
	char *slash = strrchr(origin, '/');
	if (slash)
		*slash = 0;
	else
		strcpy(origin, ".");
	const char *ld = getenv("LD_LIBRARY_PATH");
	for (int k = 0; k < nneeded && n < max; k++) {
		char dirs[4096];
		snprintf(dirs, sizeof(dirs), "%s:%s:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:"
			 "/lib64:/usr/lib64:/lib:/usr/lib:/usr/local/lib", runpath, ld ? ld : "");
		for (char *save, *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
			char d[PATH_MAX / 2];
			if (!strncmp(dir, "$ORIGIN", 7))
				snprintf(d, sizeof(d), "%s%s", origin, dir + 7);
			else
				snprintf(d, sizeof(d), "%s", dir);
			snprintf(out[n], PATH_MAX, "%s/%s", d, needed[k]);
			if (!access(out[n], R_OK)) {
				n++;
				break;
			}
		}
	}
	return n;
}

/* DT_NEEDED libgreenrt* of exe, resolved to a path in out (0 or -ENOENT). */
static int find_needed_greenrt(const char *exe, char *out, size_t outsz)
{
	char libs[32][PATH_MAX];
	int n = gt_elf_needed(exe, libs, 32);
	for (int i = 0; i < n; i++) {
		const char *b = strrchr(libs[i], '/');
		size_t len = strlen(libs[i]);
		if (!strncmp(b ? b + 1 : libs[i], "libgreenrt", 10) && len < outsz) {
			memcpy(out, libs[i], len + 1);
			return 0;
		}
	}
	return -ENOENT;
}

/* A libgreenrt*.so mapped by pid, from /proc/pid/maps (0 or -ENOENT). */
static int find_mapped_greenrt(pid_t pid, char *out, size_t outsz)
{
	char path[64], line[4096];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int err = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');
		if (!p || !strstr(p, "/libgreenrt"))
			continue;
		p[strcspn(p, "\n")] = 0;
		snprintf(out, outsz, "%s", p);
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

static struct bpf_program *prog_for(struct gtrace_bpf *k, const char *probe)
{
	static const struct { const char *probe; size_t off; } map[] = {
#define P(n, f) { n, offsetof(struct gtrace_bpf, progs.f) }
		P("worker_start", gt_g_worker), P("spawn", gt_g_spawn),
		P("switch", gt_g_switch), P("park", gt_g_park),
		P("ready", gt_g_ready), P("steal", gt_g_steal),
		P("preempt", gt_g_preempt), P("exit", gt_g_exit),
		P("io_submit", gt_g_iosubmit), P("io_complete", gt_g_iocomplete),
		P("stats", gt_g_stats), P("workers", gt_g_workers),
		P("group_new", gt_grp_new), P("group_parent", gt_grp_parent),
		P("group_join", gt_grp_join), P("group_leave", gt_grp_leave),
		P("group_cancel", gt_grp_cancel), P("group_drained", gt_grp_drained),
		P("group_free", gt_grp_free),
#undef P
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].probe, probe))
			return *(struct bpf_program **)((char *)k + map[i].off);
	return NULL;
}

/* The probes that fire per goroutine switch, spawn or exit, or per I/O
 * request: a uprobe trap each (see calib.c), so attached only for
 * per-event figures.  (spawn and exit were once attached always, and
 * cost a goroutine-per-connection server ~1.4 us per connection.) */
static bool hot(const char *probe)
{
	static const char *const names[] = { "switch", "park", "ready", "io_submit", "io_complete",
					     "spawn", "exit" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i], probe))
			return true;
	return false;
}

/* The group probes (bpf/groups.bpf.c): attached, and their programs
 * loaded, only for the modes that show groups (--goroutines, --trace). */
static bool group_probe(const char *probe)
{
	return !strncmp(probe, "group_", 6);
}

/* --offcpu's program on probe (bpf/offcpu.bpf.c), or NULL. */
static struct bpf_program *offcpu_prog(struct gtrace_bpf *k, const char *probe)
{
	if (!strcmp(probe, "park"))
		return k->progs.gt_o_park;
	if (!strcmp(probe, "ready"))
		return k->progs.gt_o_ready;
	if (!strcmp(probe, "switch"))
		return k->progs.gt_o_switch;
	if (!strcmp(probe, "exit"))
		return k->progs.gt_o_exit;
	return NULL;
}

/* Attach p to greenrt probe `probe` of path for pid (0 or -errno, said). */
static int add_usdt(struct gt_session *s, struct bpf_program *p, pid_t pid, const char *path,
		    const char *probe)
{
	if (s->nusdt == s->cap_usdt) {
		int cap = s->cap_usdt ? 2 * s->cap_usdt : 32;
		void *a = realloc(s->usdt_links, (size_t)cap * sizeof(*s->usdt_links));
		if (!a)
			return -ENOMEM;
		s->usdt_links = a;
		s->cap_usdt = cap;
	}
	struct bpf_link *l = bpf_program__attach_usdt(p, pid, path, "greenrt", probe, NULL);
	if (!l) {
		int err = -errno;
		gt_err("cannot attach greenrt probe %s in %s: %s (rerun with -v)", probe, path,
		       strerror(-err));
		return err;
	}
	s->usdt_links[s->nusdt++] = l;
	return 0;
}

static int attach_file(struct gt_session *s, pid_t pid, const char *path, struct gt_uproc *up)
{
	struct probes pr = { .n = 0 };
	bool has_stats = false;
	int n = 0, err, noff = 0;

	if (elf_probes(path, &pr) || pr.n == 0)
		return 0;
	for (int i = 0; i < pr.n; i++)
		has_stats |= !strcmp(pr.names[i], "stats");
	bool events = s->want_events || !has_stats;
	for (int i = 0; i < pr.n; i++) {
		struct bpf_program *p = prog_for(s->skel, pr.names[i]);
		struct bpf_program *op = s->offcpu ? offcpu_prog(s->skel, pr.names[i]) : NULL;
		if (op) {
			if ((err = add_usdt(s, op, pid, path, pr.names[i])))
				return err;
			n++;
			noff++;
		}
		if (!p)
			continue;       /* a probe this gtrace does not know */
		if (hot(pr.names[i]) && !events)
			continue;       /* counted by `stats` instead */
		if (group_probe(pr.names[i]) && !s->want_events)
			continue;       /* no groups in this report */
		if ((err = add_usdt(s, p, pid, path, pr.names[i])))
			return err;
		n++;
		if (hot(pr.names[i]))
			s->g_events = true;
		else if (group_probe(pr.names[i]))
			s->g_groups = true;
		else if (!strcmp(pr.names[i], "stats"))
			s->g_stats = true;
	}
	/* park, ready, switch and exit: the goroutines' waits are followed */
	if (noff == 4)
		s->g_offcpu = true;
	if (n) {
		size_t len = strlen(up->where);
		snprintf(up->where + len, sizeof(up->where) - len, "%s%s", len ? ", " : "", path);
		len = strlen(s->usdt_where);
		if (!strstr(s->usdt_where, path))
			snprintf(s->usdt_where + len, sizeof(s->usdt_where) - len, "%s%s",
				 len ? ", " : "", path);
	}
	return n;
}

int gt_usdt_has_probes(const char *path)
{
	struct probes pr = { .n = 0 };
	char lib[PATH_MAX];
	int err = elf_probes(path, &pr);
	if (err)
		return err;
	if (pr.n)
		return 1;
	return find_needed_greenrt(path, lib, sizeof(lib)) == 0;
}

int gt_usdt_attach(struct gt_session *s, pid_t pid, const char *exe, bool proc_maps,
		   bool from_start)
{
	struct gt_uproc *up;
	char lib[PATH_MAX];
	int total = 0, n;

	if (s->nuprocs >= GT_MAX_UPROCS) {
		s->uprocs_lost++;       /* the report says how many */
		return 0;
	}
	up = &s->uprocs[s->nuprocs];
	*up = (struct gt_uproc){ .pid = pid, .from_start = from_start };
	n = attach_file(s, pid, exe, up);
	if (n < 0)
		return n;
	total += n;
	if ((proc_maps ? find_mapped_greenrt(pid, lib, sizeof(lib))
		       : find_needed_greenrt(exe, lib, sizeof(lib))) == 0) {
		n = attach_file(s, pid, lib, up);
		if (n < 0)
			return n;
		total += n;
	}
	if (total > 0) {
		s->nuprocs++;
		if (!s->uprobe_hit_ns)
			gt_calib_uprobe(s);
	}
	return total;
}
