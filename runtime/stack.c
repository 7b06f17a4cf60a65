/*
 * stack.c - goroutine stacks.
 *
 * Stacks are anonymous mappings with MAP_NORESERVE: address space is cheap
 * (a million 64 KiB stacks are 64 GiB of it, out of 128 TiB) and only the
 * pages a goroutine touches become memory.  Below each guarded stack lies
 * a guard gap of GUARD_GAP (64 KiB) that costs address space, not memory:
 * a frame larger than a page (a big local array in code built without
 * -fstack-clash-protection) must fault in the gap, not land silently in
 * the stack below; frames up to 64 KiB beyond what is left do.  Three
 * kinds:
 *
 *   CHUNKED  BULK_STACKS stacks from one mapping, each with its guard gap
 *            made by MADV_GUARD_INSTALL (Linux 6.13): a guard region is a
 *            page-table marker, not a VMA, so every stack is guarded
 *            however many there are, and one process_madvise(2) call
 *            installs a chunk's 64 guards.  A chunk of stacks thus costs
 *            two system calls instead of 128 (mmap and mprotect per
 *            stack), which at 10,000 connections was half of an echo
 *            server's system calls.  The markers live in page tables,
 *            which the stacks' touched top pages need anyway; the gaps
 *            double the span they cover (one more 4 KiB page-table page
 *            per 2 MiB, ~128 bytes per 64 KiB stack).  Used whenever the
 *            kernel has guard regions; the two kinds below are the
 *            fallback.
 *   GUARDED  one mapping per stack with its guard gap PROT_NONE, so an
 *            overflow faults at once and is reported (SIGSEGV handler on
 *            an alternate signal stack).  Costs two kernel VMAs.
 *   BULK     BULK_STACKS stacks carved from one mapping, no guard gaps:
 *            unguarded.  An overflow is caught only by the canary word at
 *            the stack's base, checked on every switch away from the
 *            goroutine - after the fact, and not if the frames that ran
 *            over skipped the canary.
 *
 * The kernel limits a process to vm.max_map_count VMAs (65,530 on a stock
 * kernel).  At start we measure what the process already uses and give
 * guarded stacks at most half of the rest (two VMAs each); past that
 * budget stacks come from bulk mappings, so a million goroutines work.
 *
 * Pools.  A dead goroutine's stack goes to its worker's pool (a list
 * threaded through the stacks' top pages, which are resident anyway), so
 * the steady state of spawn-run-exit makes no system call.  Pools spill to
 * a shared pool; beyond SHARED_POOL_MAX stacks there, memory is given back
 * (guarded stacks unmapped; chunked and bulk stacks MADV_DONTNEED'ed,
 * GIVEBACK_BATCH at a time in one process_madvise where the kernel allows,
 * and kept as address space for reuse).
 */
#include "stack.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "fatal.h"
#include "goroutine.h"
#include "greenrt.h"
#include "lock.h"
#include "san.h"
#include "sched.h"

#define PAGE 4096
/* Below every guarded stack: a frame up to this much larger than what is
 * left of the stack faults in the gap instead of landing in the stack
 * below (a 4 KiB guard page let a 72 KiB local array overwrite a
 * neighbour).  Address space only: PROT_NONE, or guard-region markers. */
#define GUARD_GAP (64 * 1024)
#define BULK_STACKS 64
#define LOCAL_POOL_MAX 64
#define SHARED_POOL_MAX 4096
#define ALTSTACK_SIZE (64 * 1024)
#define MAP_RESERVE 8192 /* VMAs left for everything that is not a stack */
#define GIVEBACK_BATCH 64

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef PIDFD_SELF
#define PIDFD_SELF -10000 /* process_madvise on ourselves (Linux 6.14) */
#endif

/* Test hook: set before gr_run to use the fallback kinds (GUARDED, then
 * BULK) even where guard regions exist, so that their paths stay tested. */
bool stack_no_guard_regions;

typedef struct pooled {
    struct pooled *next;
    stack s;
} pooled;

/* A mapping to unmap at teardown. */
typedef struct mapping {
    void *addr;
    size_t len;
} mapping;

static struct {
    uint32_t lock;            /* guards everything below */
    long guarded_budget;      /* guarded stacks we may still create */
    pooled *shared;           /* warm stacks of any size */
    long nshared;
    stack *cold;              /* bulk stacks whose pages were given back */
    long ncold, capcold;
    mapping *maps;            /* bulk chunks (guarded stacks are owned by
                                 their stack until unmapped) */
    long nmaps, capmaps;
    mapping *guarded;         /* live guarded mappings, for teardown */
    long nguarded, capguarded;
    stack giveback[GIVEBACK_BATCH]; /* DONTNEED pending, then cold */
    int ngiveback;
    bool guard_regions;       /* MADV_GUARD_INSTALL works: CHUNKED stacks */
    bool batch_madvise;       /* process_madvise(PIDFD_SELF) works */
    struct sigaction old_segv;
    bool handler_installed;
} st;

static __thread void *altstack;
static __thread stack_t old_altstack;

static long count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return 1000;
    long n = 0;
    int c;
    while ((c = getc(f)) != EOF)
        if (c == '\n')
            n++;
    fclose(f);
    return n;
}

static long max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    long v = 65530;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

static bool push_mapping(mapping **arr, long *n, long *cap, void *addr, size_t len)
{
    if (*n == *cap) {
        long nc = *cap ? *cap * 2 : 256;
        mapping *m = realloc(*arr, sizeof(mapping) * (size_t)nc);
        if (!m)
            return false;
        *arr = m;
        *cap = nc;
    }
    (*arr)[(*n)++] = (mapping){addr, len};
    return true;
}

static void forget_guarded(void *addr)
{
    for (long i = st.nguarded - 1; i >= 0; i--) {
        if (st.guarded[i].addr == addr) {
            st.guarded[i] = st.guarded[--st.nguarded];
            return;
        }
    }
}

static void segv_handler(int sig, siginfo_t *si, void *uctx);

/* madvise(advice) on n ranges: one system call where process_madvise on
 * ourselves is allowed, else one each.  0 or -errno. */
static int madvise_ranges(struct iovec *iov, int n, int advice)
{
    if (st.batch_madvise) {
        size_t want = 0;
        for (int i = 0; i < n; i++)
            want += iov[i].iov_len;
        long r = syscall(SYS_process_madvise, PIDFD_SELF, iov, (size_t)n, advice, 0u);
        if (r == (long)want)
            return 0;
        if (r >= 0 || (errno != EINVAL && errno != ENOSYS && errno != EBADF && errno != EPERM))
            return r < 0 ? -errno : -EIO; /* partly done: a real failure */
        st.batch_madvise = false;
    }
    for (int i = 0; i < n; i++)
        if (madvise(iov[i].iov_base, iov[i].iov_len, advice) < 0)
            return -errno;
    return 0;
}

/* Can this kernel put guard regions in a mapping, and batch madvise? */
static void probe_guard_regions(void)
{
    st.guard_regions = st.batch_madvise = false;
    if (stack_no_guard_regions)
        return;
    char *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return;
    st.guard_regions = madvise(m, PAGE, MADV_GUARD_INSTALL) == 0;
    struct iovec iov = {m + PAGE, PAGE};
    st.batch_madvise = syscall(SYS_process_madvise, PIDFD_SELF, &iov, 1ul, MADV_DONTNEED, 0u) ==
                       (long)PAGE;
    munmap(m, 2 * PAGE);
}

int stacks_init(void)
{
    lock(&st.lock);
    long budget = (max_map_count() - count_maps() - MAP_RESERVE) / 2;
    st.guarded_budget = budget > 0 ? budget : 0;
    st.ngiveback = 0;
    probe_guard_regions();
    unlock(&st.lock);
    if (!st.handler_installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = segv_handler;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGSEGV, &sa, &st.old_segv) < 0)
            return -errno;
        st.handler_installed = true;
    }
    return 0;
}

void stacks_teardown(void)
{
    lock(&st.lock);
    for (long i = 0; i < st.nmaps; i++)
        munmap(st.maps[i].addr, st.maps[i].len);
    for (long i = 0; i < st.nguarded; i++)
        munmap(st.guarded[i].addr, st.guarded[i].len);
    free(st.maps);
    free(st.guarded);
    free(st.cold);
    st.maps = st.guarded = NULL;
    st.cold = NULL;
    st.nmaps = st.capmaps = st.nguarded = st.capguarded = 0;
    st.ncold = st.capcold = 0;
    st.shared = NULL;
    st.nshared = 0;
    unlock(&st.lock);
    if (st.handler_installed) {
        sigaction(SIGSEGV, &st.old_segv, NULL);
        st.handler_installed = false;
    }
}

int stack_thread_init(void)
{
    altstack = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (altstack == MAP_FAILED) {
        altstack = NULL;
        return -ENOMEM;
    }
    stack_t ss = {.ss_sp = altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, &old_altstack) < 0)
        return -errno;
    return 0;
}

void stack_thread_fini(void)
{
    if (!altstack)
        return;
    sigaltstack(&old_altstack, NULL);
    munmap(altstack, ALTSTACK_SIZE);
    altstack = NULL;
}

static bool cold_push_locked(const stack *s)
{
    if (st.ncold == st.capcold) {
        long nc = st.capcold ? st.capcold * 2 : 1024;
        stack *c = realloc(st.cold, sizeof(stack) * (size_t)nc);
        if (!c)
            return false; /* leaks address space only, not memory */
        st.cold = c;
        st.capcold = nc;
    }
    st.cold[st.ncold++] = *s;
    return true;
}

/* BULK_STACKS guarded stacks from one mapping: [guard][stack][guard]...
 * st.lock held.  The first is *out, the rest go cold (untouched: they
 * cost nothing). */
static int stack_map_chunk_locked(size_t size, stack *out)
{
    size_t slot = size + GUARD_GAP;
    size_t len = slot * BULK_STACKS;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED)
        return -ENOMEM;
    struct iovec guards[BULK_STACKS];
    for (int i = 0; i < BULK_STACKS; i++)
        guards[i] = (struct iovec){m + (size_t)i * slot, GUARD_GAP};
    if (madvise_ranges(guards, BULK_STACKS, MADV_GUARD_INSTALL) < 0 ||
        !push_mapping(&st.maps, &st.nmaps, &st.capmaps, m, len)) {
        munmap(m, len);
        return -ENOMEM;
    }
    for (int i = BULK_STACKS - 1; i >= 1; i--) {
        stack s = {.base = m + (size_t)i * slot + GUARD_GAP, .size = size, .kind = STACK_CHUNKED};
        if (!cold_push_locked(&s))
            break;
    }
    *out = (stack){.base = m + GUARD_GAP, .size = size, .kind = STACK_CHUNKED};
    return 0;
}

/* A new stack straight from the kernel; st.lock held. */
static int stack_map_locked(size_t size, stack *out)
{
    if (st.guard_regions)
        return stack_map_chunk_locked(size, out);
    if (st.guarded_budget > 0) {
        size_t len = size + GUARD_GAP;
        char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (m == MAP_FAILED)
            return -ENOMEM;
        if (mprotect(m, GUARD_GAP, PROT_NONE) < 0 ||
            !push_mapping(&st.guarded, &st.nguarded, &st.capguarded, m, len)) {
            munmap(m, len);
            return -ENOMEM;
        }
        st.guarded_budget--;
        *out = (stack){.base = m + GUARD_GAP, .size = size, .kind = STACK_GUARDED};
        return 0;
    }
    /* Out of VMA budget: carve BULK_STACKS stacks from one mapping; the
     * spares go to the shared pool (untouched: they cost nothing). */
    size_t len = size * BULK_STACKS;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED)
        return -ENOMEM;
    if (!push_mapping(&st.maps, &st.nmaps, &st.capmaps, m, len)) {
        munmap(m, len);
        return -ENOMEM;
    }
    for (int i = 1; i < BULK_STACKS; i++) {
        stack s = {.base = m + (size_t)i * size, .size = size, .kind = STACK_BULK};
        if (!cold_push_locked(&s))
            break; /* the rest of the chunk stays unused address space */
    }
    *out = (stack){.base = m, .size = size, .kind = STACK_BULK};
    return 0;
}

static pooled *node_of(const stack *s)
{
    return (pooled *)(s->base + s->size - sizeof(pooled));
}

static int stack_alloc_raw(worker *w, size_t size, stack *out);

int stack_alloc(worker *w, size_t size, stack *out)
{
    int err = stack_alloc_raw(w, size, out);
    if (!err)
        san_stack_clean(out);
    return err;
}

static int stack_alloc_raw(worker *w, size_t size, stack *out)
{
    if (size == sched.default_stack && w->stack_pool) {
        pooled *p = w->stack_pool;
        w->stack_pool = p->next;
        w->nstack_pool--;
        *out = p->s;
        return 0;
    }
    lock(&st.lock);
    /* Warm shared stacks first, then cold bulk ones of the right size. */
    for (pooled **pp = &st.shared; *pp; pp = &(*pp)->next) {
        if ((*pp)->s.size == size) {
            pooled *p = *pp;
            *pp = p->next;
            st.nshared--;
            unlock(&st.lock);
            *out = p->s;
            return 0;
        }
    }
    for (long i = st.ncold - 1; i >= 0 && i >= st.ncold - 64; i--) {
        if (st.cold[i].size == size) {
            *out = st.cold[i];
            st.cold[i] = st.cold[--st.ncold];
            unlock(&st.lock);
            return 0;
        }
    }
    int err = stack_map_locked(size, out);
    unlock(&st.lock);
    return err;
}

/* Returns the pages of the stacks waiting in st.giveback and makes them
 * cold (address space kept; the guard regions survive MADV_DONTNEED). */
static void giveback_flush_locked(void)
{
    struct iovec iov[GIVEBACK_BATCH];
    for (int i = 0; i < st.ngiveback; i++)
        iov[i] = (struct iovec){st.giveback[i].base, st.giveback[i].size};
    madvise_ranges(iov, st.ngiveback, MADV_DONTNEED);
    for (int i = 0; i < st.ngiveback; i++)
        cold_push_locked(&st.giveback[i]);
    st.ngiveback = 0;
}

static void shared_put_locked(stack *s)
{
    if (st.nshared < SHARED_POOL_MAX) {
        pooled *p = node_of(s);
        p->s = *s;
        p->next = st.shared;
        st.shared = p;
        st.nshared++;
        return;
    }
    /* Enough warm stacks: give the memory back. */
    if (s->kind == STACK_GUARDED) {
        char *m = s->base - GUARD_GAP;
        forget_guarded(m);
        munmap(m, s->size + GUARD_GAP);
        st.guarded_budget++;
        return;
    }
    st.giveback[st.ngiveback++] = *s;
    if (st.ngiveback == GIVEBACK_BATCH)
        giveback_flush_locked();
}

void stack_free(worker *w, stack *s)
{
    if (!s->base)
        return;
    if (s->size == sched.default_stack && w->nstack_pool < LOCAL_POOL_MAX) {
        pooled *p = node_of(s);
        p->s = *s;
        p->next = w->stack_pool;
        w->stack_pool = p;
        w->nstack_pool++;
        return;
    }
    lock(&st.lock);
    shared_put_locked(s);
    unlock(&st.lock);
}

void stack_pool_flush(worker *w)
{
    lock(&st.lock);
    while (w->stack_pool) {
        pooled *p = w->stack_pool;
        w->stack_pool = p->next;
        stack s = p->s;
        shared_put_locked(&s);
    }
    w->nstack_pool = 0;
    unlock(&st.lock);
}

/* ---------------------------------------------------------------------
 * Overflow reports
 * ------------------------------------------------------------------- */

/* Messages of the SIGSEGV handler, put together by hand and written with
 * write(2): a signal handler may call neither stdio (its locks may be
 * held by the code that faulted) nor dladdr (the loader's lock). */
typedef struct msgbuf {
    char text[256];
    size_t len;
} msgbuf;

static void msg_str(msgbuf *m, const char *s)
{
    while (*s && m->len < sizeof m->text)
        m->text[m->len++] = *s++;
}

static void msg_num(msgbuf *m, uint64_t v, unsigned base)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (base == 16)
        msg_str(m, "0x");
    while (n > 0 && m->len < sizeof m->text)
        m->text[m->len++] = digits[--n];
}

static void msg_write(const msgbuf *m)
{
    size_t off = 0;
    while (off < m->len) {
        ssize_t k = write(STDERR_FILENO, m->text + off, m->len - off);
        if (k <= 0)
            return;
        off += (size_t)k;
    }
}

/* "fatal: goroutine N (NAME)": NAME if known, else the entry point's
 * address (naming it would take dladdr). */
static void msg_goroutine(msgbuf *m, const g *gp, const char *name)
{
    msg_str(m, "fatal: goroutine ");
    msg_num(m, (uint64_t)gp->id, 10);
    msg_str(m, " (");
    if (name && *name) {
        msg_str(m, name);
    } else {
        msg_str(m, "entry ");
        msg_num(m, (uint64_t)(uintptr_t)gp->fn, 16);
    }
    msg_str(m, ")");
}

/* The report and exit(2), async-signal-safe. */
static _Noreturn void overflow_report(const g *gp, const char *name)
{
    msgbuf m = {.len = 0};
    msg_goroutine(&m, gp, name);
    msg_str(&m, " overflowed its ");
    msg_num(&m, gp->stk.size, 10);
    msg_str(&m, "-byte stack\n");
    msg_write(&m);
    _exit(2);
}

_Noreturn void stack_overflow_fatal(const g *gp)
{
    overflow_report(gp, g_name((g *)gp)); /* not in a signal handler */
}

static void segv_handler(int sig, siginfo_t *si, void *uctx)
{
    worker *w = tls_worker;
    g *gp = w ? w->cur : NULL;
    char *addr = si->si_addr;
    if (gp && !gp->is_g0 && gp->stk.base) {
        /* In the guard gap below a guarded stack, or just under a bulk
         * stack's base; or the stack pointer itself is below the base: a
         * bulk stack has no guard, so a runaway recursion runs through the
         * stacks below it until it reaches unmapped memory. */
        const ucontext_t *uc = uctx;
        char *sp = (char *)uc->uc_mcontext.gregs[REG_RSP];
        if ((addr >= gp->stk.base - GUARD_GAP && addr < gp->stk.base + 64) ||
            sp < gp->stk.base)
            overflow_report(gp, gp->name); /* the name if it is known already */
        msgbuf m = {.len = 0};
        msg_goroutine(&m, gp, gp->name);
        msg_str(&m, ": segmentation fault at address ");
        msg_num(&m, (uint64_t)(uintptr_t)addr, 16);
        msg_str(&m, "\n");
        msg_write(&m);
    }
    /* Not a stack overflow: let the previous handler (or the default
     * action, a core dump) have it by re-faulting with it installed. */
    sigaction(SIGSEGV, &st.old_segv, NULL);
    if (!(st.old_segv.sa_flags & SA_SIGINFO) && st.old_segv.sa_handler != SIG_DFL &&
        st.old_segv.sa_handler != SIG_IGN)
        st.old_segv.sa_handler(sig);
    else if ((st.old_segv.sa_flags & SA_SIGINFO) && st.old_segv.sa_sigaction)
        st.old_segv.sa_sigaction(sig, si, uctx);
}
