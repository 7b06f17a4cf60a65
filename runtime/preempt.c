/*
 * preempt.c - the monitor thread and preemption (Go's sysmon).
 *
 * The monitor wakes every 10 ms while any worker is busy, and sleeps
 * without a timeout when all are idle (wakep kicks it).  For each busy
 * worker it compares the worker's switch counter with the previous look:
 * unchanged means one goroutine has run for a whole period.  If others
 * wait (a queue is non-empty, a timer of that worker is due, or I/O
 * completions may be waiting on its ring) it is preempted:
 *
 *   - cooperatively: its `preempt` flag makes the next greenrt call
 *     (channel operation, I/O, gr_preempt_enable) yield;
 *   - asynchronously (GR_PREEMPT=1, the default): SIGURG to the worker
 *     thread.  The handler yields right there, on the goroutine's own
 *     stack, if the interrupted instruction is safe to leave: not in
 *     greenrt (whose code lives in its own ELF section, greenrt_text, so
 *     the check is a range compare), not in libc, the dynamic loader or
 *     the other system libraries listed below (a goroutine inside malloc
 *     holds malloc's lock: another goroutine on the same thread calling
 *     malloc would deadlock), and not with preemption disabled.  The
 *     signal frame holds every register, so returning from the handler -
 *     later, maybe on another worker thread - resumes exactly.  Two
 *     per-thread things are fixed up on the way: SIGURG is unblocked
 *     before switching (the handler runs with it blocked), and the frame's
 *     saved sigaltstack is replaced by the resuming thread's own.
 *
 * A worker that stays stuck with goroutines queued behind it (its
 * goroutine cannot be interrupted, e.g. in a blocking system call) has its
 * queue handed to the global queue and an idle worker woken: the queued
 * goroutines run on another OS thread.
 *
 * The monitor is also where the CPU governor (adapt.c) runs: every tenth
 * period it decides whether the workers get the CPUs they want.
 */
#include <errno.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "adapt.h"
#include "greenrt.h"
#include "preempt.h"
#include "probes.h"
#include "runq.h"
#include "sched.h"
#include "stats.h"

#define PERIOD_NS 10000000 /* 10 ms, as Go's forcePreemptNS */
#define MAX_RANGES 64
#define STATS_EVERY_NS 1000000000 /* the greenrt:stats probe */

extern const char __start_greenrt_text[] __attribute__((visibility("hidden")));
extern const char __stop_greenrt_text[] __attribute__((visibility("hidden")));

typedef struct { uintptr_t lo, hi; } range;

static struct {
    pthread_t thread;
    bool started;
    uint32_t stop;        /* atomic */
    uint32_t word;        /* futex: bumped by kicks */
    uint32_t deep;        /* atomic: sleeping without timeout */
    range unsafe[MAX_RANGES];
    int nunsafe;
    struct sigaction old_urg;
    bool handler_installed;
} mon;

static __thread stack_t thread_altstack;
static __thread bool thread_altstack_known;

/* Libraries whose code must not be interrupted (they hold thread-owned
 * locks or are the sanitizer runtimes); matched against the file name. */
static const char *const unsafe_libs[] = {
    "libc.so", "ld-linux", "libpthread", "libdl.so", "librt.so", "libgcc_s",
    "libstdc++", "libasan", "libtsan", "libubsan", "liblsan", "liburing", "libgreenrt",
};

static int collect_ranges(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size, (void)data;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    bool unsafe = false;
    for (size_t i = 0; i < sizeof unsafe_libs / sizeof unsafe_libs[0]; i++)
        if (strstr(name, unsafe_libs[i]))
            unsafe = true;
    if (!unsafe)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && mon.nunsafe < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X))
            mon.unsafe[mon.nunsafe++] =
                (range){info->dlpi_addr + ph->p_vaddr, info->dlpi_addr + ph->p_vaddr + ph->p_memsz};
    }
    return 0;
}

static bool pc_preemptible(uintptr_t pc)
{
    if (pc >= (uintptr_t)__start_greenrt_text && pc < (uintptr_t)__stop_greenrt_text)
        return false;
    for (int i = 0; i < mon.nunsafe; i++)
        if (pc >= mon.unsafe[i].lo && pc < mon.unsafe[i].hi)
            return false;
    return true;
}

/* Resumed, perhaps on another thread: sigreturn will restore the altstack
 * settings saved in the frame, which are the old thread's.  noinline: the
 * TLS reads must happen on the thread we resumed on. */
static __attribute__((noinline)) void fix_altstack(ucontext_t *uc)
{
    if (!thread_altstack_known) {
        sigaltstack(NULL, &thread_altstack);
        thread_altstack_known = true;
    }
    uc->uc_stack = thread_altstack;
    uc->uc_stack.ss_flags = 0;
}

static void urg_handler(int sig, siginfo_t *si, void *uctx)
{
    (void)sig, (void)si;
    int saved_errno = errno;
    worker *w = tls_worker;
    g *gp = w ? w->cur : NULL;
    ucontext_t *uc = uctx;
    if (!gp || gp->is_g0 || !load_relaxed(&gp->preempt) || gp->preempt_off)
        goto out;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (!pc_preemptible(pc))
        goto out; /* the flag stays: the next greenrt call yields */
    if (sp < (uintptr_t)gp->stk.base || sp >= (uintptr_t)gp->stk.base + gp->stk.size)
        goto out; /* not on its goroutine stack (user-switched stack?) */
    PROBE2(preempt, gp->id, 1);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGURG);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    sched_yield_g(true);
    fix_altstack(uc);
out:
    errno = saved_errno;
}

static void futex_wait_ns(uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, ns >= 0 ? &ts : NULL, NULL, 0);
}

static void *monitor_main(void *arg)
{
    (void)arg;
    int n = sched.nprocs;
    uint64_t *last = calloc((size_t)n, sizeof *last);
    int *stuck = calloc((size_t)n, sizeof *stuck);
    if (!last || !stuck) {
        free(last);
        free(stuck);
        return NULL;
    }
    int64_t last_stats = gr_now();
    while (!load_acquire(&mon.stop)) {
        uint32_t word = load_acquire(&mon.word);
        if (sched_all_idle()) {
            /* A last snapshot before sleeping without a timeout, so a
             * tracer's figures are exact while the program is idle. */
            stats_probe_snapshot();
            last_stats = gr_now();
            store_release(&mon.deep, 1);
            /* Re-check after announcing the deep sleep: a kick that came
             * before it changed `word`. */
            if (sched_all_idle() && !load_acquire(&mon.stop))
                futex_wait_ns(&mon.word, word, -1);
            store_release(&mon.deep, 0);
            memset(stuck, 0, sizeof(int) * (size_t)n);
            adapt_reset();
            continue;
        }
        futex_wait_ns(&mon.word, word, PERIOD_NS);
        int64_t now = gr_now();
        adapt_tick(now);
        if (now - last_stats >= STATS_EVERY_NS) {
            stats_probe_snapshot();
            last_stats = now;
        }
        for (int i = 0; i < n; i++) {
            worker *w = &sched.workers[i];
            uint64_t sw = load_relaxed(&w->st.switches);
            g *cur = load_acquire(&w->cur);
            if (load_relaxed(&w->idle) || sw != last[i] || !cur || cur == &w->g0) {
                last[i] = sw;
                stuck[i] = 0;
                continue;
            }
            /* Same goroutine for a whole period.  Others wait if anything
             * is queued, a timer of this worker is due, or completions
             * may be sitting on its ring. */
            bool others_wait = load_relaxed(&sched.gq_len) != 0 || worker_has_work(w) ||
                               timers_earliest(&w->timers) <= gr_now() ||
                               load_relaxed(&w->io_pending) != 0 ||
                               load_relaxed(&w->dormant); /* must get off it */
            if (!others_wait)
                continue;
            store_relaxed(&cur->preempt, 1);
            if (sched.preempt_async)
                pthread_kill(w->thread, SIGURG);
            if (++stuck[i] >= 2) {
                sched_handoff_queue(w);
                /* Nobody idle to take the queue, and the governor parked
                 * a worker: the stuck one (a blocking system call, most
                 * likely) uses no CPU, so let a parked one have it. */
                if (load_relaxed(&sched.npidle) == 0)
                    sched_unpark_worker();
            }
        }
    }
    free(last);
    free(stuck);
    return NULL;
}

void preempt_monitor_kick(void)
{
    if (!load_acquire(&mon.deep))
        return;
    fetch_add(&mon.word, 1);
    syscall(SYS_futex, &mon.word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void preempt_monitor_start(void)
{
    /* The governor's files are opened here, on gr_run's thread before any
     * goroutine runs: opened by the monitor thread, they could take the
     * number of a descriptor a goroutine has just closed and is about to
     * misuse, turning its -EBADF into a read of /proc. */
    adapt_start();
    mon.nunsafe = 0;
    dl_iterate_phdr(collect_ranges, NULL);
    if (!mon.handler_installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = urg_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESTART; /* not SA_ONSTACK: yield on g's stack */
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGURG, &sa, &mon.old_urg) == 0)
            mon.handler_installed = true;
    }
    store_release(&mon.stop, 0);
    mon.started = pthread_create(&mon.thread, NULL, monitor_main, NULL) == 0;
}

void preempt_monitor_stop(void)
{
    if (!mon.started)
        return;
    store_release(&mon.stop, 1);
    fetch_add(&mon.word, 1);
    syscall(SYS_futex, &mon.word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    pthread_join(mon.thread, NULL);
    mon.started = false;
    adapt_stop();
    if (mon.handler_installed) {
        sigaction(SIGURG, &mon.old_urg, NULL);
        mon.handler_installed = false;
    }
}

/* Out-of-line part of preempt_point (sched.h). */
void preempt_point_slow(g *gp)
{
    PROBE2(preempt, gp->id, 0);
    sched_yield_g(true);
}
