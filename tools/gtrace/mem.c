/*
 * mem.c - what the target holds in memory, the kernel's part included.
 *
 * "An OS thread costs a megabyte of stack, a goroutine 2 KB" counts only
 * what user space reserves.  A thread also costs the kernel: its kernel
 * stack (THREAD_SIZE, 16 KiB on x86_64), its task_struct (a slab object
 * of a few KiB) and its share of the page tables; a connection costs
 * socket buffers and slab objects whatever the model.  So the report
 * gives the three parts side by side:
 *
 *   virtual, reserved   VmPeak (peak address space: thread stacks are
 *                       reserved whole, touched or not)
 *   resident, user      VmHWM (peak resident set)
 *   kernel              estimated for the target alone: its threads x
 *                       (kernel stack + task_struct), both measured on
 *                       this machine (KernelStack / tasks in /proc/meminfo
 *                       and /proc/loadavg; the task_struct slab's object
 *                       size), + its page tables (VmPTE) + its sockets x
 *                       a TCP socket's slab objects (TCP, inode, file,
 *                       dentry: /proc/slabinfo), the largest sample of
 *                       that sum (buffers in flight and io_uring requests
 *                       are left out); and, as a cross-check, the
 *                       machine-wide growth of KernelStack, Slab and
 *                       PageTables (/proc/meminfo) from when gtrace
 *                       started to their peak while traced, which also
 *                       catches sockets and everything else the kernel
 *                       allocated - and every other process's changes,
 *                       so it is an estimate on a busy machine, and says
 *                       so.
 *
 * Sampled every time the drivers wait (every POLL_MS, run.c; the
 * descriptors once every MEM_FD_EVERY samples, a readlink each): the
 * kernel keeps VmPeak and VmHWM itself, the rest are peaks of samples.
 * This costs gtrace a few reads, the target nothing.  For `run` the
 * baseline is taken before the command starts (the machine without it);
 * for `attach` when tracing starts (the growth while traced).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gtrace_cli.h"

#define MEM_FD_EVERY 10         /* samples between two counts of the sockets */

/* Values of /proc/meminfo keys, in kB (-1: missing). */
static void meminfo(int64_t out[GT_MEMINFO_COUNT])
{
	static const char *const keys[GT_MEMINFO_COUNT] = { "KernelStack:", "Slab:", "PageTables:" };
	char line[256];
	for (int i = 0; i < GT_MEMINFO_COUNT; i++)
		out[i] = -1;
	FILE *f = fopen("/proc/meminfo", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		for (int i = 0; i < GT_MEMINFO_COUNT; i++)
			if (!strncmp(line, keys[i], strlen(keys[i])))
				out[i] = strtoll(line + strlen(keys[i]), NULL, 10);
	fclose(f);
}

/* The bytes of one kernel stack: KernelStack over the tasks that have
 * one, rounded to the power of two it is (THREAD_SIZE); 0 if unknown. */
static uint64_t kernel_stack_size(void)
{
	int64_t m[GT_MEMINFO_COUNT];
	long running, tasks;
	meminfo(m);
	FILE *f = fopen("/proc/loadavg", "re");
	if (!f)
		return 0;
	int n = fscanf(f, "%*s %*s %*s %ld/%ld", &running, &tasks);
	fclose(f);
	if (n != 2 || tasks < 1 || m[GT_MEMINFO_KSTACK] <= 0)
		return 0;
	double per = (double)m[GT_MEMINFO_KSTACK] * 1024 / (double)tasks;
	uint64_t p = 4096;
	while ((double)p * 1.5 < per)
		p *= 2;
	return p;
}

/* The object size of slab cache `cache`, 0 if unknown. */
static uint64_t slab_size(const char *cache)
{
	char path[128], line[512], name[64];
	long active, num, objsize;
	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/object_size", cache);
	long v = gt_read_long(path, 0);
	if (v > 0)
		return (uint64_t)v;
	FILE *f = fopen("/proc/slabinfo", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld %ld %ld", name, &active, &num, &objsize) == 4 && !strcmp(name, cache)) {
			fclose(f);
			return (uint64_t)objsize;
		}
	fclose(f);
	return 0;
}

/* The sockets among pid's descriptors. */
static uint64_t count_sockets(pid_t pid)
{
	char path[64], link[128], target[64];
	uint64_t n = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%.16s", path, e->d_name);
		ssize_t l = readlink(link, target, sizeof(target) - 1);
		n += l > 7 && !strncmp(target, "socket:", 7);
	}
	closedir(d);
	return n;
}

/* The target's kernel memory as estimated from its own figures. */
static uint64_t kernel_estimate(const struct gt_mem *m, uint64_t threads, uint64_t pte, uint64_t sockets)
{
	return threads * (m->kstack_bytes + m->task_bytes) + pte + sockets * m->socket_bytes;
}

void gt_mem_start(struct gt_mem *m, pid_t pid, bool idle_baseline)
{
	memset(m, 0, sizeof(*m));
	m->on = true;
	m->pid = pid;
	m->idle_baseline = idle_baseline;
	meminfo(m->base);
	memcpy(m->peak, m->base, sizeof(m->peak));
	m->kstack_bytes = kernel_stack_size();
	m->task_bytes = slab_size("task_struct");
	/* a TCP socket: its sock (TCP, or TCPv6 for an AF_INET6 one), its
	 * socket inode, its struct file and its dentry */
	uint64_t tcp = slab_size("TCP"), tcp6 = slab_size("TCPv6");
	m->socket_bytes = (tcp > tcp6 ? tcp : tcp6) + slab_size("sock_inode_cache") + slab_size("filp") +
			  slab_size("dentry");
}

void gt_mem_sample(struct gt_mem *m)
{
	char path[64], line[256];
	int64_t now[GT_MEMINFO_COUNT], sum_now = 0, sum_peak = 0;
	if (!m->on)
		return;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)m->pid);
	FILE *f = fopen(path, "re");
	if (f) {
		uint64_t threads = 0, pte = 0;
		while (fgets(line, sizeof(line), f)) {
			unsigned long long v;
			if (sscanf(line, "VmPeak: %llu", &v) == 1 && v * 1024 > m->vm_peak)
				m->vm_peak = v * 1024;
			else if (sscanf(line, "VmHWM: %llu", &v) == 1 && v * 1024 > m->rss_peak)
				m->rss_peak = v * 1024;
			else if (sscanf(line, "VmPTE: %llu", &v) == 1)
				pte = v * 1024;
			else if (sscanf(line, "Threads: %llu", &v) == 1)
				threads = v;
		}
		fclose(f);
		if (m->samples % MEM_FD_EVERY == 0)
			m->sockets_now = count_sockets(m->pid);
		if (pte > m->pte_peak)
			m->pte_peak = pte;
		if (threads > m->threads_peak)
			m->threads_peak = threads;
		if (m->sockets_now > m->sockets_peak)
			m->sockets_peak = m->sockets_now;
		uint64_t k = kernel_estimate(m, threads, pte, m->sockets_now);
		if (k > m->kernel_peak)
			m->kernel_peak = k;
		m->samples++;
	}
	meminfo(now);
	for (int i = 0; i < GT_MEMINFO_COUNT; i++) {
		sum_now += now[i];
		sum_peak += m->peak[i];
	}
	if (sum_now > sum_peak)
		memcpy(m->peak, now, sizeof(m->peak));
}

void gt_mem_figures(const struct gt_snapshot *s, struct gt_figures *fs)
{
	static const char *const dkeys[GT_MEMINFO_COUNT] = { "mem.meminfo_kernel_stack_growth_bytes",
		"mem.meminfo_slab_growth_bytes", "mem.meminfo_page_tables_growth_bytes" };
	const struct gt_mem *m = &s->mem;
	if (!m->on || !m->samples)
		return;
	gt_fig_add(fs, "mem.virtual_peak_bytes", NULL, (double)m->vm_peak, GT_U_COUNT, false);
	gt_fig_add(fs, "mem.resident_peak_bytes", NULL, (double)m->rss_peak, GT_U_COUNT, false);
	gt_fig_add(fs, "mem.threads_peak", NULL, (double)m->threads_peak, GT_U_COUNT, false);
	gt_fig_add(fs, "mem.kernel_stack_bytes", NULL, (double)m->kstack_bytes, GT_U_COUNT, false);
	gt_fig_add(fs, "mem.task_struct_bytes", NULL, (double)m->task_bytes, GT_U_COUNT, false);
	gt_fig_add(fs, "mem.kernel_tasks_bytes", NULL,
		   (double)m->threads_peak * (double)(m->kstack_bytes + m->task_bytes), GT_U_COUNT, false);
	gt_fig_add(fs, "mem.page_tables_peak_bytes", NULL, (double)m->pte_peak, GT_U_COUNT, false);
	gt_fig_add(fs, "mem.sockets_peak", NULL, (double)m->sockets_peak, GT_U_COUNT, false);
	gt_fig_add(fs, "mem.socket_bytes", NULL, (double)m->socket_bytes, GT_U_COUNT, false);
	gt_fig_add(fs, "mem.kernel_peak_bytes", NULL, (double)m->kernel_peak, GT_U_COUNT, false);
	for (int i = 0; i < GT_MEMINFO_COUNT; i++)
		if (m->base[i] >= 0 && m->peak[i] >= 0)
			gt_fig_add(fs, dkeys[i], NULL, (double)(m->peak[i] - m->base[i]) * 1024, GT_U_COUNT, false);
}

static const char *bytes(double b, char *buf)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(buf, 32, i ? "%.1f %s" : "%.0f %s", b, u[i]);
	return buf;
}

void gt_mem_print(FILE *f, const struct gt_snapshot *s, const struct gt_opts *o)
{
	const struct gt_mem *m = &s->mem;
	char a[32], b[32], c[32], d[32], e[32], g[32];
	(void)o;
	if (!m->on || !m->samples)
		return;
	fprintf(f, "Memory (pid %d, not its children; the peaks while traced)\n", (int)m->pid);
	fprintf(f, "  %-34s %14s\n", "virtual, reserved (VmPeak)", bytes((double)m->vm_peak, a));
	fprintf(f, "  %-34s %14s\n", "resident, user (VmHWM)", bytes((double)m->rss_peak, a));
	double task = (double)(m->kstack_bytes + m->task_bytes);
	fprintf(f, "  %-34s %14s  (at the peak of:)\n", "kernel, estimated for it", bytes((double)m->kernel_peak, a));
	if (m->kstack_bytes && m->task_bytes)
		fprintf(f, "    %-32s %14s  (%s threads x (%s kernel stack + %s task_struct))\n",
			"its threads", bytes((double)m->threads_peak * task, a),
			gt_fmt_num((double)m->threads_peak, b), bytes((double)m->kstack_bytes, c),
			bytes((double)m->task_bytes, d));
	fprintf(f, "    %-32s %14s\n", "its page tables (VmPTE)", bytes((double)m->pte_peak, a));
	if (m->socket_bytes)
		fprintf(f, "    %-32s %14s  (%s sockets x %s of slab objects; buffers in flight not counted)\n",
			"its sockets", bytes((double)m->sockets_peak * (double)m->socket_bytes, a),
			gt_fmt_num((double)m->sockets_peak, b), bytes((double)m->socket_bytes, c));
	if (m->base[0] >= 0) {
		double gk = (double)(m->peak[GT_MEMINFO_KSTACK] - m->base[GT_MEMINFO_KSTACK]) * 1024;
		double gs = (double)(m->peak[GT_MEMINFO_SLAB] - m->base[GT_MEMINFO_SLAB]) * 1024;
		double gp = (double)(m->peak[GT_MEMINFO_PTE] - m->base[GT_MEMINFO_PTE]) * 1024;
		fprintf(f, "  %-34s %14s  (KernelStack %s%s, Slab %s%s, PageTables %s%s; /proc/meminfo from %s "
			"to the peak: every process's changes, a cross-check only on a busy machine)\n",
			"kernel, machine-wide growth", bytes(gk + gs + gp, a), gk < 0 ? "-" : "+",
			bytes(gk < 0 ? -gk : gk, b), gs < 0 ? "-" : "+", bytes(gs < 0 ? -gs : gs, c),
			gp < 0 ? "-" : "+", bytes(gp < 0 ? -gp : gp, d),
			m->idle_baseline ? "before the command started" : "when tracing started");
	}
	if (m->threads_peak > 1)
		fprintf(f, "  averaged over its %s threads: %s reserved, %s resident, %s kernel\n",
			gt_fmt_num((double)m->threads_peak, b),
			bytes((double)m->vm_peak / (double)m->threads_peak, e),
			bytes((double)m->rss_peak / (double)m->threads_peak, g),
			bytes((double)m->kernel_peak / (double)m->threads_peak, a));
}
