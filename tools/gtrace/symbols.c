/*
 * symbols.c - names for the addresses in --offcpu's stacks.
 *
 * Kernel frames: /proc/kallsyms, read once and sorted.
 *
 * User frames are addresses in a process (bpf/offcpu.h says why not
 * build-ids), so what names them is that process's mappings: gtrace reads
 * /proc/PID/maps of every traced process at attach, at each exec it holds
 * (the new image; and again ~0.1 s later, once ld.so has mapped the
 * libraries) and about once a second while tracing, and keeps the latest
 * code mappings of each, so that a process that has exited by the time the
 * report is made (`gtrace run`) is still named.  An address becomes a
 * file and an offset in it (address - mapping start + file offset: PIE,
 * ASLR, a library mapped anywhere), the offset an address in the ELF file
 * through the PT_LOAD segment that holds it, and that address a function
 * through the symbol that covers it: from .symtab, else from the separate
 * debug file the file's GNU build-id names
 * (/usr/lib/debug/.build-id/xx/yyyy.debug, when installed), else from
 * .dynsym.  A file is known by its device and inode, as the mapping shows
 * them: if the path now holds another file (the binary was rebuilt while
 * it ran), the mapped one is read through /proc/PID/map_files while the
 * process lives, so its frames never get the new binary's names.
 *
 * What stays unknown is shown as [unknown] (no mapping holds the address:
 * a frame pointer walk gone astray), or [file] for code of a known file
 * that no symbol covers (a static function of a stripped library), never
 * guessed.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "gtrace_cli.h"

#define BUILD_ID_MAX 20                 /* a GNU build-id (SHA-1) */
#define DEBUG_DIR "/usr/lib/debug/.build-id"

struct sym {
	uint64_t addr, size;
	const char *name;               /* into the file's strings */
};

struct seg {
	uint64_t off, vaddr, filesz;    /* a PT_LOAD segment */
};

struct symfile {
	char *path;
	dev_t dev;
	ino_t ino;
	unsigned char bid[BUILD_ID_MAX];
	int bid_len;                    /* 0: the file has none */
	bool loaded;                    /* syms and segs read (or tried) */
	struct sym *syms;
	int nsyms;
	char *strs;                     /* the names, copied */
	struct seg *segs;
	int nsegs;
};

struct mapping {
	pid_t pid;
	uint64_t start, end, pgoff;
	int file;                       /* index in files, -1: not a file */
	char name[32];                  /* [vdso], [heap]... for the others */
};

struct ksym {
	uint64_t addr;
	char *name;
};

struct gt_syms {
	struct symfile *files;
	int nfiles, cap_files;
	struct mapping *maps;
	int nmaps, cap_maps;
	struct ksym *ksyms;
	int nksyms;
	bool ksyms_tried;
};

struct gt_syms *gt_syms_new(void)
{
	elf_version(EV_CURRENT);
	return calloc(1, sizeof(struct gt_syms));
}

void gt_syms_free(struct gt_syms *y)
{
	if (!y)
		return;
	for (int i = 0; i < y->nfiles; i++) {
		free(y->files[i].path);
		free(y->files[i].syms);
		free(y->files[i].strs);
		free(y->files[i].segs);
	}
	free(y->files);
	free(y->maps);
	for (int i = 0; i < y->nksyms; i++)
		free(y->ksyms[i].name);
	free(y->ksyms);
	free(y);
}

/* The GNU build-id of an open ELF file (its length, 0 if none). */
static int elf_build_id(Elf *e, unsigned char *out)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nh;
		while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((const char *)d->d_buf + name_off, "GNU", 4))
				continue;
			int n = nh.n_descsz < BUILD_ID_MAX ? (int)nh.n_descsz : BUILD_ID_MAX;
			memcpy(out, (const char *)d->d_buf + desc_off, (size_t)n);
			return n;
		}
	}
	return 0;
}

/* The index of path in files, added (with its build-id) if new; -1 if
 * it is not a readable ELF file.  ino, if not 0, is the inode the file
 * must have: a path that now names another file is not it. */
static int file_index(struct gt_syms *y, const char *path, ino_t ino)
{
	struct stat st;
	if (stat(path, &st) || !S_ISREG(st.st_mode) || (ino && st.st_ino != ino))
		return -1;
	for (int i = 0; i < y->nfiles; i++)
		if (y->files[i].dev == st.st_dev && y->files[i].ino == st.st_ino)
			return i;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		if (e)
			elf_end(e);
		close(fd);
		return -1;
	}
	if (y->nfiles == y->cap_files) {
		int cap = y->cap_files ? 2 * y->cap_files : 32;
		struct symfile *a = realloc(y->files, (size_t)cap * sizeof(*a));
		if (!a) {
			elf_end(e);
			close(fd);
			return -1;
		}
		y->files = a;
		y->cap_files = cap;
	}
	struct symfile *f = &y->files[y->nfiles];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->bid_len = elf_build_id(e, f->bid);
	elf_end(e);
	close(fd);
	if (!f->path)
		return -1;
	return y->nfiles++;
}

static int cmp_sym(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Read the function symbols of one symbol table section. */
static void read_symtab(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, struct symfile *f, size_t *cap,
			size_t *strlen_used, size_t *strcap)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	for (size_t i = 0; d && i < n; i++) {
		GElf_Sym s;
		if (!gelf_getsym(d, (int)i, &s) || !s.st_value || s.st_shndx == SHN_UNDEF)
			continue;
		int type = GELF_ST_TYPE(s.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE)
			continue;
		const char *name = elf_strptr(e, sh->sh_link, s.st_name);
		if (!name || !*name || (type == STT_NOTYPE && (name[0] == '.' || name[0] == '$')))
			continue;
		if (type == STT_NOTYPE) {
			/* labels: only those in executable code (asm entry points) */
			Elf_Scn *ts = elf_getscn(e, s.st_shndx);
			GElf_Shdr tsh;
			if (!ts || !gelf_getshdr(ts, &tsh) || !(tsh.sh_flags & SHF_EXECINSTR))
				continue;
		}
		size_t len = strlen(name) + 1;
		if (*strlen_used + len > *strcap) {
			size_t c = *strcap ? 2 * *strcap : 65536;
			while (c < *strlen_used + len)
				c *= 2;
			char *a = realloc(f->strs, c);
			if (!a)
				return;
			f->strs = a;
			*strcap = c;
		}
		if ((size_t)f->nsyms == *cap) {
			size_t c = *cap ? 2 * *cap : 1024;
			struct sym *a = realloc(f->syms, c * sizeof(*a));
			if (!a)
				return;
			f->syms = a;
			*cap = c;
		}
		memcpy(f->strs + *strlen_used, name, len);
		/* offsets for now: strs may move while it grows */
		f->syms[f->nsyms++] = (struct sym){ s.st_value, s.st_size, (const char *)(uintptr_t)*strlen_used };
		*strlen_used += len;
	}
}

/* Load path's PT_LOAD segments and function symbols into f; symbols
 * from sympath (a separate debug file) if given. */
static void load_elf(struct symfile *f, const char *sympath)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	Elf *e = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	size_t nph = 0;
	if (e && !elf_getphdrnum(e, &nph) && nph) {
		f->segs = calloc(nph, sizeof(*f->segs));
		for (size_t i = 0; f->segs && i < nph; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD)
				f->segs[f->nsegs++] = (struct seg){ ph.p_offset, ph.p_vaddr, ph.p_filesz };
		}
	}
	int sfd = -1;
	Elf *se = e;
	if (sympath && (sfd = open(sympath, O_RDONLY | O_CLOEXEC)) >= 0)
		se = elf_begin(sfd, ELF_C_READ, NULL);
	size_t cap = 0, used = 0, strcap = 0;
	for (int pass = 0; se && pass < 2 && !f->nsyms; pass++) {
		/* .symtab first (every function), .dynsym if stripped */
		Elf_Scn *scn = NULL;
		while ((scn = elf_nextscn(se, scn))) {
			GElf_Shdr sh;
			if (gelf_getshdr(scn, &sh) && sh.sh_type == (pass ? SHT_DYNSYM : SHT_SYMTAB))
				read_symtab(se, scn, &sh, f, &cap, &used, &strcap);
		}
		if (!f->nsyms && se != e) {
			elf_end(se);    /* the debug file had none: the file's own */
			se = e;
			pass = -1;
			sympath = NULL;
		}
	}
	for (int i = 0; i < f->nsyms; i++)
		f->syms[i].name = f->strs + (uintptr_t)f->syms[i].name;
	if (f->nsyms)
		qsort(f->syms, (size_t)f->nsyms, sizeof(*f->syms), cmp_sym);
	if (se && se != e)
		elf_end(se);
	if (sfd >= 0)
		close(sfd);
	if (e)
		elf_end(e);
	if (fd >= 0)
		close(fd);
}

/* The index of the last element of a (n elements of size bytes, sorted
 * by a uint64_t address first in each) whose address is <= x; -1. */
static int last_le(const void *a, int n, size_t size, uint64_t x)
{
	int lo = 0, hi = n - 1, best = -1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		uint64_t addr;
		memcpy(&addr, (const char *)a + (size_t)mid * size, sizeof(addr));
		if (addr <= x) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best;
}

static void ensure_loaded(struct symfile *f)
{
	char dbg[PATH_MAX];
	if (f->loaded)
		return;
	f->loaded = true;
	if (f->bid_len > 1) {
		int n = snprintf(dbg, sizeof(dbg), "%s/%02x/", DEBUG_DIR, f->bid[0]);
		for (int i = 1; i < f->bid_len && n < (int)sizeof(dbg) - 8; i++)
			n += snprintf(dbg + n, sizeof(dbg) - (size_t)n, "%02x", f->bid[i]);
		snprintf(dbg + n, sizeof(dbg) - (size_t)n, ".debug");
		if (!access(dbg, R_OK)) {
			load_elf(f, dbg);
			return;
		}
	}
	load_elf(f, NULL);
}

/* "func" for file offset off of f; NULL if no symbol covers it, and
 * *in_file false if no PT_LOAD segment holds the offset (a frame pointer
 * walk gone astray through code built without frame pointers). */
static const char *file_sym(struct symfile *f, uint64_t off, bool *in_file)
{
	ensure_loaded(f);
	uint64_t addr = off;
	bool found = false;
	for (int i = 0; i < f->nsegs; i++) {
		if (off >= f->segs[i].off && off < f->segs[i].off + f->segs[i].filesz) {
			addr = off - f->segs[i].off + f->segs[i].vaddr;
			found = true;
			break;
		}
	}
	*in_file = found || !f->nsegs;
	if (!found || !f->nsyms)
		return NULL;
	int best = last_le(f->syms, f->nsyms, sizeof(*f->syms), addr);
	if (best < 0)
		return NULL;
	/* among symbols at the same address prefer a sized one; a sized
	 * symbol must cover addr, an unsized one (asm) is taken as is */
	const struct sym *s = &f->syms[best];
	if (s->size && addr >= s->addr + s->size)
		return NULL;
	return s->name;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

/* The files libgreenrt-style DT_NEEDED resolution finds for exe (usdt.c
 * knows the search order), added to the index. */
void gt_syms_add_file(struct gt_syms *y, const char *path)
{
	if (!y || file_index(y, path, 0) < 0)
		return;
	char libs[16][PATH_MAX];
	int n = gt_elf_needed(path, libs, 16);
	for (int i = 0; i < n; i++)
		file_index(y, libs[i], 0);
}

void gt_syms_add_pid(struct gt_syms *y, pid_t pid)
{
	char path[64], line[PATH_MAX + 128];
	if (!y)
		return;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	/* this process's earlier mappings give way to the new ones */
	int o = 0;
	for (int i = 0; i < y->nmaps; i++)
		if (y->maps[i].pid != pid)
			y->maps[o++] = y->maps[i];
	y->nmaps = o;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, pgoff, inode;
		char perms[8];
		int name_at = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %llu %n", &start, &end, perms, &pgoff, &inode,
			   &name_at) < 5)
			continue;
		if (perms[2] != 'x')
			continue;       /* code only */
		char *name = line + name_at;
		name[strcspn(name, "\n")] = 0;
		if (y->nmaps == y->cap_maps) {
			int cap = y->cap_maps ? 2 * y->cap_maps : 64;
			struct mapping *a = realloc(y->maps, (size_t)cap * sizeof(*a));
			if (!a)
				break;
			y->maps = a;
			y->cap_maps = cap;
		}
		struct mapping *m = &y->maps[y->nmaps];
		*m = (struct mapping){ .pid = pid, .start = start, .end = end, .pgoff = pgoff, .file = -1 };
		if (name[0] == '/') {
			char *del = strstr(name, " (deleted)");
			if (del)
				*del = 0;
			m->file = del ? -1 : file_index(y, name, (ino_t)inode);
			if (m->file < 0) {
				/* deleted, or replaced since it was mapped: the
				 * mapped file itself, read now while it can be */
				char mf[96];
				snprintf(mf, sizeof(mf), "/proc/%d/map_files/%llx-%llx", (int)pid, start, end);
				m->file = file_index(y, mf, 0);
				if (m->file >= 0)
					ensure_loaded(&y->files[m->file]);
			}
		}
		snprintf(m->name, sizeof(m->name), "%s", name[0] ? base_name(name) : "[anon]");
		y->nmaps++;
	}
	fclose(f);
}

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void load_kallsyms(struct gt_syms *y)
{
	y->ksyms_tried = true;
	FILE *f = fopen("/proc/kallsyms", "re");
	if (!f)
		return;
	char line[512];
	int cap = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[256];
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 || !addr)
			continue;
		type = (char)tolower((unsigned char)type);
		if (type != 't' && type != 'w')
			continue;
		if (y->nksyms == cap) {
			cap = cap ? 2 * cap : 65536;
			struct ksym *a = realloc(y->ksyms, (size_t)cap * sizeof(*a));
			if (!a)
				break;
			y->ksyms = a;
		}
		y->ksyms[y->nksyms].addr = addr;
		y->ksyms[y->nksyms].name = strdup(name);
		if (y->ksyms[y->nksyms].name)
			y->nksyms++;
	}
	fclose(f);
	if (y->nksyms)
		qsort(y->ksyms, (size_t)y->nksyms, sizeof(*y->ksyms), cmp_ksym);
}

const char *gt_syms_kernel(struct gt_syms *y, uint64_t ip, char *buf, size_t len)
{
	if (!y->ksyms_tried)
		load_kallsyms(y);
	int best = last_le(y->ksyms, y->nksyms, sizeof(*y->ksyms), ip);
	if (best < 0)
		snprintf(buf, len, "[kernel 0x%llx]", (unsigned long long)ip);
	else
		snprintf(buf, len, "%s", y->ksyms[best].name);
	return buf;
}

/* Name file offset off of file i: its function, or [file] when no symbol
 * covers it (a static function of a stripped library: one frame per
 * file, so that flame graphs merge them), or [unknown]. */
static const char *name_in_file(struct gt_syms *y, int i, uint64_t off, char *buf, size_t len)
{
	bool in_file = true;
	const char *s = file_sym(&y->files[i], off, &in_file);
	if (s)
		snprintf(buf, len, "%s", s);
	else if (in_file)
		snprintf(buf, len, "[%s]", base_name(y->files[i].path));
	else
		snprintf(buf, len, "[unknown]");
	return buf;
}

const char *gt_syms_user(struct gt_syms *y, pid_t pid, uint64_t ip, char *buf, size_t len)
{
	for (int m = 0; m < y->nmaps; m++) {
		const struct mapping *mp = &y->maps[m];
		if (mp->pid != pid || ip < mp->start || ip >= mp->end)
			continue;
		if (mp->file >= 0)
			return name_in_file(y, mp->file, ip - mp->start + mp->pgoff, buf, len);
		snprintf(buf, len, "%s", mp->name);
		return buf;
	}
	snprintf(buf, len, "[unknown]");
	return buf;
}
