/*
 * stack.c - goroutine stacks.
 *
 * Stacks are anonymous mappings with MAP_NORESERVE: address space is cheap
 * (a million 64 KiB stacks are 64 GiB of it, out of 128 TiB) and only the
 * pages a goroutine touches become memory.  Below each guarded stack lies
 * a guard gap of GUARD_GAP that costs address space, not memory: a frame
 * larger than a page (a big local array in code built without
 * -fstack-clash-protection) must fault in the gap, not land silently in
 * the stack below; frames up to GUARD_GAP beyond what is left do.  Three
 * kinds:
 *
 *   CHUNKED  BULK_STACKS stacks from one mapping, each with its guard gap
 *            made by MADV_GUARD_INSTALL (Linux 6.13): a guard region is a
 *            page-table marker, not a VMA, so every stack is guarded
 *            however many there are, and one process_madvise(2) call
 *            installs a chunk's BULK_STACKS guards.  A chunk of stacks thus
 *            costs two system calls instead of 2 x BULK_STACKS (mmap and
 *            mprotect per stack), which at 10,000 connections was half
 *            of an echo server's system calls.  The markers live in page
 *            tables, which the stacks' touched top pages need anyway; the
 *            gaps double the span they cover (on x86-64, one more
 *            page-table page per 2 MiB, ~128 bytes per default-size
 *            stack).  Used whenever the kernel has guard regions; the two
 *            kinds below are the fallback.
 *   GUARDED  one mapping per stack with its guard gap PROT_NONE, so an
 *            overflow faults at once and is reported (SIGSEGV handler on
 *            an alternate signal stack).  Costs two kernel VMAs.
 *   BULK     BULK_STACKS stacks carved from one mapping, no guard gaps:
 *            unguarded.  An overflow is caught only by the canary word at
 *            the stack's base, checked on every switch away from a
 *            goroutine on a bulk stack (sched.c; the other kinds fault) -
 *            after the fact, and not if the frames that ran over skipped
 *            the canary.
 *
 * The kernel limits a process to vm.max_map_count VMAs (65,530 on a stock
 * kernel).  At start we measure what the process already uses and give
 * guarded stacks at most half of the rest (two VMAs each); past that
 * budget stacks come from bulk mappings, so a million goroutines work.
 *
 * Pools.  A dead goroutine's stack goes to its worker's pool (a list
 * threaded through the stacks' top pages, which are resident anyway), so
 * the steady state of spawn-run-exit makes no system call.  A worker's
 * pool holds default-size stacks only, LOCAL_POOL_BYTES of them; beyond
 * that, and for other sizes, stacks go to the shared pool, which holds
 * SHARED_POOL_BYTES of stacks of any size.  Beyond that, memory is given
 * back at once: guarded stacks are unmapped; chunked and bulk stacks are
 * MADV_DONTNEED'ed, up to GIVEBACK_BATCH at a time in one process_madvise
 * where the kernel allows, and kept as address space for reuse ("cold",
 * in bins by size, so that a program mixing stack sizes reuses them all
 * instead of mapping new chunks).  Both bounds count a stack's size, not
 * its resident pages: a 1 MiB stack a goroutine touched all of costs
 * 1 MiB.
 *
 * Scavenging (Go's scavenger returns idle memory the same way).  A pool
 * must serve the hot spawn/exit path, but a burst leaves it full of warm
 * stacks that may never be used again: 2,000 goroutines with 1 MiB
 * stacks kept 1.8 GB resident after they exited.  So a worker going idle
 * moves its own pool to the shared one, every stack there is stamped with
 * the time it was pooled, and the monitor thread (stacks_scavenge) gives
 * back the pages of those idle for SCAVENGE_DELAY_NS.  A steady spawn/
 * exit load keeps reusing its stacks well within that delay and makes no
 * system call.
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

/* Below every guarded stack: a frame up to this much larger than what is
 * left of the stack faults in the gap instead of landing in the stack
 * below (a one-page guard let a 72 KiB local array overwrite a
 * neighbour).  Address space only: PROT_NONE, or guard-region markers.
 * A multiple of the page size wherever pages are at most 64 KiB. */
#define GUARD_GAP (64 * 1024)
/* Stacks per chunk (CHUNKED, BULK): two system calls buy this many
 * stacks, and a chunk's unused ones cost address space only, so fewer
 * would mean more calls, more would only reserve more address space (a
 * program with a few goroutines still maps one chunk per stack size). */
#define BULK_STACKS 64
/* Per worker, of default-size stacks: 64 at GR_DEFAULT_STACK_SIZE. */
#define LOCAL_POOL_BYTES (4u << 20)
#define SHARED_POOL_BYTES (64u << 20) /* of stack size, warm or not */
#define SCAVENGE_DELAY_NS 1000000000LL /* pooled this long unused: pages given back */
#define ALTSTACK_SIZE (64 * 1024)
#define MAP_RESERVE 8192 /* VMAs left for everything that is not a stack */
/* Stacks whose pages wait to be given back (then cold) in one
 * process_madvise: GIVEBACK_BATCH or GIVEBACK_BYTES of them, whichever
 * comes first.  The window bounds both the memory still resident until
 * the call and the iovec array it builds on the caller's stack; the call
 * is still shared by enough stacks to cost each little. */
#define GIVEBACK_BATCH 64
#define GIVEBACK_BYTES (4u << 20)

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef PIDFD_SELF
#define PIDFD_SELF -10000 /* process_madvise on ourselves (Linux 6.14) */
#endif

/* Test hook: set before gr_run to use the fallback kinds (GUARDED, then
 * BULK) even where guard regions exist, so that their paths stay tested. */
bool stack_no_guard_regions;

/* A pooled stack's list node, in its own top page (resident anyway). */
typedef struct pooled {
    struct pooled *next;
    stack s;
    int64_t since;            /* shared pool: when it was put there */
} pooled;

/* Stacks of one size whose pages were given back: address space only. */
typedef struct coldbin {
    size_t size;
    stack *v;
    long n, cap;
} coldbin;

/* A mapping to unmap at teardown. */
typedef struct mapping {
    void *addr;
    size_t len;
} mapping;

static struct {
    uint32_t lock;            /* guards everything below */
    long guarded_budget;      /* guarded stacks we may still create */
    pooled *shared;           /* warm stacks of any size, newest first */
    size_t shared_bytes;      /* their sizes, summed: <= SHARED_POOL_BYTES */
    int64_t scavenge_at;      /* the oldest in `shared` is due by then (or
                                 later: a lower bound; INT64_MAX if empty) */
    coldbin *bins;            /* cold stacks, a bin per size */
    int nbins, capbins;
    mapping *maps;            /* bulk chunks (guarded stacks are owned by
                                 their stack until unmapped) */
    long nmaps, capmaps;
    mapping *guarded;         /* live guarded mappings, for teardown */
    long nguarded, capguarded;
    stack giveback[GIVEBACK_BATCH]; /* DONTNEED pending, then cold */
    int ngiveback;
    size_t giveback_bytes;    /* their sizes, summed */
    bool guard_regions;       /* MADV_GUARD_INSTALL works: CHUNKED stacks */
    bool batch_madvise;       /* process_madvise(PIDFD_SELF) works */
    struct sigaction old_segv;
    bool handler_installed;
} st;

static size_t pagesz; /* page_size(): 0 until first read */

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

size_t page_size(void)
{
    size_t p = load_relaxed(&pagesz);
    if (!p) {
        /* Racing first readers store the same value. */
        p = (size_t)sysconf(_SC_PAGESIZE);
        store_relaxed(&pagesz, p);
    }
    return p;
}

/* Can this kernel put guard regions in a mapping, and batch madvise? */
static void probe_guard_regions(void)
{
    st.guard_regions = st.batch_madvise = false;
    if (stack_no_guard_regions)
        return;
    size_t pg = page_size();
    char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return;
    st.guard_regions = madvise(m, pg, MADV_GUARD_INSTALL) == 0;
    struct iovec iov = {m + pg, pg};
    st.batch_madvise = syscall(SYS_process_madvise, PIDFD_SELF, &iov, 1ul, MADV_DONTNEED, 0u) ==
                       (long)pg;
    munmap(m, 2 * pg);
}

int stacks_init(void)
{
    lock(&st.lock);
    long budget = (max_map_count() - count_maps() - MAP_RESERVE) / 2;
    st.guarded_budget = budget > 0 ? budget : 0;
    st.ngiveback = 0;
    st.giveback_bytes = 0;
    store_relaxed(&st.scavenge_at, INT64_MAX);
    page_size(); /* cached from the start (if env.c has not already) */
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
    for (int i = 0; i < st.nbins; i++)
        free(st.bins[i].v);
    free(st.bins);
    st.maps = st.guarded = NULL;
    st.bins = NULL;
    st.nmaps = st.capmaps = st.nguarded = st.capguarded = 0;
    st.nbins = st.capbins = 0;
    st.shared = NULL;
    st.shared_bytes = 0;
    store_relaxed(&st.scavenge_at, INT64_MAX);
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

/* The bin of cold stacks of this size, made if need be (NULL: no memory
 * for it).  A linear search: programs use a handful of stack sizes. */
static coldbin *cold_bin_locked(size_t size, bool make)
{
    for (int i = 0; i < st.nbins; i++)
        if (st.bins[i].size == size)
            return &st.bins[i];
    if (!make)
        return NULL;
    if (st.nbins == st.capbins) {
        int nc = st.capbins ? st.capbins * 2 : 8;
        coldbin *b = realloc(st.bins, sizeof(coldbin) * (size_t)nc);
        if (!b)
            return NULL;
        st.bins = b;
        st.capbins = nc;
    }
    st.bins[st.nbins] = (coldbin){.size = size};
    return &st.bins[st.nbins++];
}

static bool cold_push_locked(const stack *s)
{
    coldbin *b = cold_bin_locked(s->size, true);
    if (!b)
        return false; /* leaks address space only, not memory */
    if (b->n == b->cap) {
        long nc = b->cap ? b->cap * 2 : 64;
        stack *v = realloc(b->v, sizeof(stack) * (size_t)nc);
        if (!v)
            return false;
        b->v = v;
        b->cap = nc;
    }
    b->v[b->n++] = *s;
    return true;
}

static bool cold_pop_locked(size_t size, stack *out)
{
    coldbin *b = cold_bin_locked(size, false);
    if (!b || b->n == 0)
        return false;
    *out = b->v[--b->n];
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
     * spares go cold (untouched: they cost nothing). */
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
    /* Warm shared stacks first, then cold ones of the right size. */
    for (pooled **pp = &st.shared; *pp; pp = &(*pp)->next) {
        if ((*pp)->s.size == size) {
            pooled *p = *pp;
            *pp = p->next;
            st.shared_bytes -= size;
            unlock(&st.lock);
            *out = p->s;
            return 0;
        }
    }
    int err = cold_pop_locked(size, out) ? 0 : stack_map_locked(size, out);
    unlock(&st.lock);
    return err;
}

/* Returns the pages of the stacks waiting in st.giveback and makes them
 * cold (address space kept; the guard regions survive MADV_DONTNEED). */
static void giveback_flush_locked(void)
{
    if (!st.ngiveback)
        return;
    struct iovec iov[GIVEBACK_BATCH];
    for (int i = 0; i < st.ngiveback; i++)
        iov[i] = (struct iovec){st.giveback[i].base, st.giveback[i].size};
    madvise_ranges(iov, st.ngiveback, MADV_DONTNEED);
    for (int i = 0; i < st.ngiveback; i++)
        cold_push_locked(&st.giveback[i]);
    st.ngiveback = 0;
    st.giveback_bytes = 0;
}

/* Gives s's memory back (st.lock held): a guarded stack is unmapped; the
 * others join the next MADV_DONTNEED batch, then the cold bins. */
static void giveback_locked(const stack *s)
{
    san_stack_released(s);
    if (s->kind == STACK_GUARDED) {
        char *m = s->base - GUARD_GAP;
        forget_guarded(m);
        munmap(m, s->size + GUARD_GAP);
        st.guarded_budget++;
        return;
    }
    st.giveback[st.ngiveback++] = *s;
    st.giveback_bytes += s->size;
    if (st.ngiveback == GIVEBACK_BATCH || st.giveback_bytes >= GIVEBACK_BYTES)
        giveback_flush_locked();
}

static void shared_put_locked(const stack *s, int64_t now)
{
    if (st.shared_bytes + s->size > SHARED_POOL_BYTES) {
        giveback_locked(s); /* enough warm stacks */
        return;
    }
    pooled *p = node_of(s);
    p->s = *s;
    p->since = now;
    p->next = st.shared;
    st.shared = p;
    st.shared_bytes += s->size;
    if (st.scavenge_at == INT64_MAX)
        store_relaxed(&st.scavenge_at, now + SCAVENGE_DELAY_NS);
}

void stack_free(worker *w, stack *s)
{
    if (!s->base)
        return;
    if (s->size == sched.default_stack &&
        (size_t)(w->nstack_pool + 1) * s->size <= LOCAL_POOL_BYTES) {
        pooled *p = node_of(s);
        p->s = *s;
        p->next = w->stack_pool;
        w->stack_pool = p;
        w->nstack_pool++;
        return;
    }
    int64_t now = now_ns();
    lock(&st.lock);
    shared_put_locked(s, now);
    unlock(&st.lock);
}

void stack_pool_flush(worker *w)
{
    if (!w->stack_pool)
        return;
    int64_t now = now_ns();
    lock(&st.lock);
    while (w->stack_pool) {
        pooled *p = w->stack_pool;
        w->stack_pool = p->next;
        stack s = p->s;
        shared_put_locked(&s, now);
    }
    w->nstack_pool = 0;
    unlock(&st.lock);
}

int64_t stacks_scavenge(int64_t now)
{
    int64_t at = load_acquire(&st.scavenge_at);
    if (at > now)
        return at == INT64_MAX ? -1 : at - now;
    lock(&st.lock);
    int64_t oldest = INT64_MAX;
    for (pooled **pp = &st.shared; *pp;) {
        pooled *p = *pp;
        if (p->since + SCAVENGE_DELAY_NS <= now) {
            *pp = p->next;
            st.shared_bytes -= p->s.size;
            stack s = p->s;
            giveback_locked(&s);
        } else {
            if (p->since < oldest)
                oldest = p->since;
            pp = &p->next;
        }
    }
    giveback_flush_locked();
    store_relaxed(&st.scavenge_at, oldest == INT64_MAX ? INT64_MAX : oldest + SCAVENGE_DELAY_NS);
    unlock(&st.lock);
    return oldest == INT64_MAX ? -1 : oldest + SCAVENGE_DELAY_NS - now;
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
