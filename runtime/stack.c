/*
 * stack.c - goroutine stacks.
 *
 * Stacks are anonymous mappings with MAP_NORESERVE: address space is cheap
 * (a million 64 KiB stacks are 64 GiB of it, out of 128 TiB) and only the
 * pages a goroutine touches become memory.  Two kinds:
 *
 *   GUARDED  one mapping per stack with a PROT_NONE page below it, so an
 *            overflow faults at once and is reported (SIGSEGV handler on
 *            an alternate signal stack).  Costs two kernel VMAs.
 *   BULK     BULK_STACKS stacks carved from one mapping, no guard pages.
 *            An overflow is caught by the canary word at the stack's base,
 *            checked on every switch away from the goroutine.
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
 * (guarded stacks unmapped, bulk stacks MADV_DONTNEED'ed and kept as
 * address space for reuse).
 */
#include "stack.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "greenrt.h"
#include "lock.h"
#include "sched.h"

#define GUARD_SIZE 4096
#define BULK_STACKS 64
#define LOCAL_POOL_MAX 64
#define SHARED_POOL_MAX 4096
#define ALTSTACK_SIZE (64 * 1024)
#define MAP_RESERVE 8192 /* VMAs left for everything that is not a stack */

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

int stacks_init(void)
{
    lock(&st.lock);
    long budget = (max_map_count() - count_maps() - MAP_RESERVE) / 2;
    st.guarded_budget = budget > 0 ? budget : 0;
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

/* A new stack straight from the kernel; st.lock held. */
static int stack_map_locked(size_t size, stack *out)
{
    if (st.guarded_budget > 0) {
        size_t len = size + GUARD_SIZE;
        char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (m == MAP_FAILED)
            return -ENOMEM;
        if (mprotect(m, GUARD_SIZE, PROT_NONE) < 0 ||
            !push_mapping(&st.guarded, &st.nguarded, &st.capguarded, m, len)) {
            munmap(m, len);
            return -ENOMEM;
        }
        st.guarded_budget--;
        *out = (stack){.base = m + GUARD_SIZE, .size = size, .kind = STACK_GUARDED};
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
        if (st.ncold == st.capcold) {
            long nc = st.capcold ? st.capcold * 2 : 1024;
            stack *c = realloc(st.cold, sizeof(stack) * (size_t)nc);
            if (!c)
                break; /* the rest of the chunk stays unused address space */
            st.cold = c;
            st.capcold = nc;
        }
        st.cold[st.ncold++] = (stack){.base = m + (size_t)i * size, .size = size, .kind = STACK_BULK};
    }
    *out = (stack){.base = m, .size = size, .kind = STACK_BULK};
    return 0;
}

static pooled *node_of(const stack *s)
{
    return (pooled *)(s->base + s->size - sizeof(pooled));
}

#if defined(__SANITIZE_ADDRESS__)
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

/* ASan keeps shadow poison for a stack's old frames (an abandoned
 * goroutine never unwinds; a new mapping may land where an old one was):
 * a stack handed out is clean. */
static void san_stack_clean(const stack *s)
{
#if defined(__SANITIZE_ADDRESS__)
    __asan_unpoison_memory_region(s->base, s->size);
#endif
    (void)s;
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
        char *m = s->base - GUARD_SIZE;
        forget_guarded(m);
        munmap(m, s->size + GUARD_SIZE);
        st.guarded_budget++;
        return;
    }
    madvise(s->base, s->size, MADV_DONTNEED);
    if (st.ncold == st.capcold) {
        long nc = st.capcold ? st.capcold * 2 : 1024;
        stack *c = realloc(st.cold, sizeof(stack) * (size_t)nc);
        if (!c)
            return; /* leaks address space only, not memory */
        st.cold = c;
        st.capcold = nc;
    }
    st.cold[st.ncold++] = *s;
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

const char *g_name(g *gp);

_Noreturn void stack_overflow_fatal(const g *gp)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "fatal: goroutine %lld (%s) overflowed its %zu-byte stack\n",
                     (long long)gp->id, g_name((g *)gp), gp->stk.size);
    if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
        /* nothing more we can do */
    }
    _exit(2);
}

static void segv_handler(int sig, siginfo_t *si, void *uctx)
{
    worker *w = gr_tls_worker;
    g *gp = w ? w->cur : NULL;
    char *addr = si->si_addr;
    if (gp && !gp->is_g0 && gp->stk.base) {
        /* In the guard page below a guarded stack, or just under a bulk
         * stack's base; or the stack pointer itself is below the base: a
         * bulk stack has no guard, so a runaway recursion runs through the
         * stacks below it until it reaches unmapped memory. */
        const ucontext_t *uc = uctx;
        char *sp = (char *)uc->uc_mcontext.gregs[REG_RSP];
        if ((addr >= gp->stk.base - GUARD_SIZE && addr < gp->stk.base + 64) ||
            sp < gp->stk.base)
            stack_overflow_fatal(gp);
        char buf[256];
        int n = snprintf(buf, sizeof buf,
                         "fatal: goroutine %lld (%s): segmentation fault at address %p\n",
                         (long long)gp->id, g_name(gp), (void *)addr);
        if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
        }
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
