/*
 * preempt.c - the monitor thread and preemption (Go's sysmon).
 *
 * The monitor wakes every PERIOD_NS while any worker is busy, and sleeps
 * when all are idle (wakep kicks it).  For each busy worker it compares
 * the worker's slice counter with the previous look: unchanged means one
 * goroutine has run for a whole period - or several that handed off to
 * each other through runnext, which run on the slice of the one that
 * readied them (Go's inheritTime: two goroutines ping-ponging through a
 * channel would otherwise keep the run queue behind them waiting
 * forever).  If others wait (a queue is
 * non-empty, a timer of that worker is due, or I/O completions may be
 * waiting on its ring), what it does depends on what the worker's thread
 * is doing, which the kernel tells: its state in /proc/self/task/TID/stat
 * (runnable or not) and its CPU clock (how much it ran in the period).
 *
 * Runnable.  The goroutine is preempted:
 *
 *   - cooperatively: its `preempt` flag makes the next greenrt call
 *     (channel operation, I/O, gr_preempt_enable) yield;
 *   - asynchronously (GR_PREEMPT=1, the default), if it is running code -
 *     it used CPU_BUSY_NS of the period: not a thread that just woke from
 *     a raw system call and may be about to make the next, which the
 *     signal would interrupt (EINTR) - by SIGURG to the worker
 *     thread.  The handler runs on the worker's alternate signal stack
 *     (a goroutine near the end of its stack has no room for a signal
 *     frame, some 3.4 KB with AVX-512 state).  If the interrupted
 *     instruction is safe to leave - not in greenrt (whose code lives in
 *     its own ELF section, greenrt_text, so the check is a range compare),
 *     not in libc, the dynamic loader or the other system libraries
 *     listed below (a goroutine inside malloc holds malloc's lock: another
 *     goroutine on the same thread calling malloc would deadlock), not
 *     with preemption disabled - and the goroutine's stack has room
 *     (PREEMPT_ROOM, as Go's isAsyncSafePoint checks), the handler edits
 *     the signal frame so that, once it returns, the goroutine calls
 *     async_preempt (arch/x86_64/preempt.S): that saves every register on
 *     the goroutine's own stack and yields; resumed - later, maybe on
 *     another worker thread - it restores them and returns to the
 *     interrupted instruction.  Otherwise the flag alone stays.
 *     A stuck worker that still does not switch hands its queues over
 *     (below) after STUCK_HANDOFF periods.
 *
 * Blocked in the kernel (a raw system call such as read(2) on a blocking
 * fd, nanosleep(2), a page fault).  No signal: it would only interrupt
 * the call, which fails with EINTR where the kernel does not restart it
 * (poll(2), nanosleep(2)); Go never signals a thread in a system call
 * either.  Instead, as Go's sysmon hands the P of a thread in a system
 * call to another thread, the worker's queues - runnext, hotq, run queue
 * and ioq - go to the global queue and an idle worker is woken (a worker
 * the CPU governor parked, if none is idle: the blocked one uses no CPU),
 * and the monitor fires the worker's due timers itself, so what they wake
 * runs elsewhere too.  What cannot move is the I/O in flight on the
 * worker's ring: only its own thread can reap it (DEFER_TASKRUN), when
 * the system call returns.
 *
 * Without /proc the CPU clock alone tells: a worker whose clock did not
 * advance over a period counts as blocked.
 *
 * The monitor is also where the CPU governor (adapt.c) runs: every
 * WINDOW_NS it decides whether the workers get the CPUs they want; and the
 * stacks' scavenger (stacks_scavenge, stack.c), which gives back the
 * memory of pooled stacks that stayed unused.  While every worker is
 * asleep the monitor sleeps until the scavenger is next due, then without
 * a timeout.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "adapt.h"
#include "arch.h"
#include "engine.h"
#include "greenrt.h"
#include "preempt.h"
#include "probes.h"
#include "runq.h"
#include "sched.h"
#include "stack.h"
#include "stats.h"

#define PERIOD_NS 10000000 /* 10 ms, as Go's forcePreemptNS */
#define STUCK_HANDOFF 2    /* periods a running worker may stay stuck before its queues move */
#define CPU_IDLE_NS 100000 /* less CPU than this in a period: blocked (no /proc) */
#define CPU_BUSY_NS 1000000 /* at least this in a period: running code, signal it */
#define MAX_RANGES 64
#define STATS_EVERY_NS 1000000000 /* the greenrt:stats probe */

/* What async_preempt needs below the interrupted stack pointer: the red
 * zone it skips, the return address, rflags and 15 registers, the XSAVE
 * area and its alignment, and the C code it calls - the yield, and, when
 * the goroutine is resumed, the `after` callback of whatever switched to
 * it (a requeue that wakes a worker, a timer heap that grows...), with
 * room for the dynamic loader's lazy binding of a libc function (its
 * resolver saves the XSAVE state too). */
#define REDZONE 128
#define PREEMPT_SAVED ((2 + 15) * 8)
#define PREEMPT_CALLS 6144
#define PREEMPT_ROOM (REDZONE + PREEMPT_SAVED + (uintptr_t)preempt_xsave_size + 64 + PREEMPT_CALLS)

extern const char __start_greenrt_text[] __attribute__((visibility("hidden")));
extern const char __stop_greenrt_text[] __attribute__((visibility("hidden")));

/* Read by async_preempt (preempt.S): how it saves the extended state. */
uint64_t preempt_xsave_size = 512;
uint8_t preempt_use_xsave;

typedef struct { uintptr_t lo, hi; } range;

/* The monitor's view of one worker (monitor thread only, once started). */
typedef struct watch {
    uint32_t slicetick;  /* the worker's slice counter at the last look */
    int stuck;           /* periods in a row on one goroutine, others waiting */
    int stat_fd;         /* /proc/self/task/TID/stat, or -1 */
    clockid_t cpu_clock; /* the thread's CPU clock: stands in without /proc */
    int64_t cpu_ns;      /* its reading at the last look (-1: none) */
} watch;

static struct {
    pthread_t thread;
    bool started;
    uint32_t stop;        /* atomic */
    uint32_t word;        /* futex: bumped by kicks */
    uint32_t deep;        /* atomic: sleeping without timeout */
    range unsafe[MAX_RANGES];
    int nunsafe;
    bool libc_seen;       /* libc is a shared object of its own */
    watch *watch;         /* sched.nprocs of them */
    struct sigaction old_urg;
    bool handler_installed;
} mon;

/* Libraries whose code must not be interrupted (they hold thread-owned
 * locks or are the sanitizer runtimes); matched against the file name. */
static const char *const unsafe_libs[] = {
    "libc.so", "ld-linux", "ld-musl", "libpthread", "libdl.so", "librt.so", "libgcc_s",
    "libstdc++", "libasan", "libtsan", "libubsan", "liblsan", "liburing", "libgreenrt",
};

/* Shared objects that are a libc (musl's is its dynamic loader too). */
static const char *const libc_names[] = {"libc.so", "ld-musl", "libc.musl"};

static int collect_ranges(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size, (void)data;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    bool unsafe = false;
    for (size_t i = 0; i < sizeof unsafe_libs / sizeof unsafe_libs[0]; i++)
        if (strstr(name, unsafe_libs[i]))
            unsafe = true;
    for (size_t i = 0; i < sizeof libc_names / sizeof libc_names[0]; i++)
        if (strstr(name, libc_names[i]))
            mon.libc_seen = true;
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

/* How async_preempt saves the extended state: XSAVE of every component
 * the kernel enabled (CPUID leaf 0xD gives the area's size for them), or
 * FXSAVE on a CPU without XSAVE. */
static void preempt_probe_cpu(void)
{
    unsigned a, b, c, d;
    preempt_use_xsave = 0;
    preempt_xsave_size = 512;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_XSAVE) && (c & bit_OSXSAVE) &&
        __get_cpuid_count(0xd, 0, &a, &b, &c, &d) && b >= 576) {
        preempt_use_xsave = 1;
        preempt_xsave_size = b;
    }
}

/* Called by async_preempt on the goroutine's stack, registers saved. */
void preempt_async_park(void)
{
    g *gp = current_g();
    PROBE2(preempt, gp->id, 1);
    sched_yield_g(true);
}

/* SIGURG, on the worker's alternate signal stack.  Not instrumented by
 * ASan: it writes below the interrupted stack pointer, where ASan may
 * have left the shadow of frames long returned. */
__attribute__((no_sanitize_address)) static void urg_handler(int sig, siginfo_t *si, void *uctx)
{
    (void)sig, (void)si;
    worker *w = tls_worker;
    g *gp = w ? w->cur : NULL;
    ucontext_t *uc = uctx;
    if (!gp || gp->is_g0 || !load_relaxed(&gp->preempt) || gp->preempt_off)
        return;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (!pc_preemptible(pc))
        return; /* the flag stays: the next greenrt call yields */
    uintptr_t base = (uintptr_t)gp->stk.base;
    if (sp < base || sp >= base + gp->stk.size)
        return; /* not on its goroutine stack (a stack of its own?) */
    if (sp - base < PREEMPT_ROOM)
        return; /* no room for async_preempt's frame: the flag stays */
    uintptr_t nsp = sp - REDZONE - 8;
    *(uint64_t *)nsp = (uint64_t)pc;
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)nsp;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)async_preempt;
}

static void futex_wait_ns(uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, ns >= 0 ? &ts : NULL, NULL, 0);
}

/* ---------------------------------------------------------------------
 * Watching the workers
 * ------------------------------------------------------------------- */

static int64_t thread_cpu_ns(clockid_t c)
{
    struct timespec ts;
    if (clock_gettime(c, &ts) < 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* What a stuck worker's thread is doing, as the kernel tells it. */
enum thread_doing {
    BLOCKED,   /* in the kernel: a system call, a fault */
    RUNNING,   /* running code: it used CPU_BUSY_NS of the period, and is
                * runnable now */
    UNSURE,    /* runnable, but barely ran: just woke from a call (and may
                * be about to make the next), or the OS gave it no CPU */
};

/* BLOCKED if its state in /proc is anything but R (S, D); without /proc,
 * if its CPU clock advanced less than CPU_IDLE_NS since the last look.
 * A signal goes only to a RUNNING one: sent to a thread that is between
 * two raw calls (runnable for a moment), it would interrupt the next
 * (EINTR); one that keeps running code for a whole period has used the
 * CPU it got. */
static enum thread_doing thread_doing(watch *m)
{
    int64_t before = m->cpu_ns, now = thread_cpu_ns(m->cpu_clock);
    m->cpu_ns = now;
    int64_t ran = before >= 0 && now >= 0 ? now - before : -1;
    if (m->stat_fd >= 0) {
        char buf[512];
        ssize_t n = pread(m->stat_fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = 0;
            const char *paren = strrchr(buf, ')'); /* the name may hold any byte */
            if (paren && paren[1] == ' ' && paren[2] && paren[2] != 'R')
                return BLOCKED;
        }
    } else if (ran >= 0 && ran < CPU_IDLE_NS) {
        return BLOCKED;
    }
    return ran >= CPU_BUSY_NS ? RUNNING : UNSURE;
}

/* Goroutines the monitor moves (a hand-off, the timers of a blocked
 * worker) are briefly in no queue yet not asleep: the deadlock check must
 * not conclude meanwhile (it reads monitor_moving last), and if it could
 * have and nothing was moved, worker 0 looks again. */
static void move_begin(void)
{
    __atomic_fetch_add(&sched.monitor_moving, 1, __ATOMIC_SEQ_CST);
}

static void move_end(int moved)
{
    __atomic_fetch_sub(&sched.monitor_moving, 1, __ATOMIC_SEQ_CST);
    if (!moved && sched_all_idle())
        engine_wake(&sched.workers[0]);
}

/* A look at worker i, `now` into the period that just ended. */
static void watch_worker(int i, int64_t now)
{
    worker *w = &sched.workers[i];
    watch *m = &mon.watch[i];
    uint32_t tick = load_relaxed(&w->slicetick);
    g *cur = load_acquire(&w->cur);
    if (load_relaxed(&w->idle) || tick != m->slicetick || !cur || cur == &w->g0) {
        m->slicetick = tick;
        m->stuck = 0;
        /* What it used from here on tells, next period, whether it ran. */
        m->cpu_ns = load_relaxed(&w->idle) ? -1 : thread_cpu_ns(m->cpu_clock);
        return;
    }
    /* Same goroutine for a whole period.  Others wait if anything is
     * queued, a timer of this worker is due, or completions may be
     * sitting on its ring. */
    bool timers_due = timers_earliest(&w->timers) <= now;
    bool others_wait = load_relaxed(&sched.gq_len) != 0 || worker_has_work(w) || timers_due ||
                       load_relaxed(&w->io_pending) != 0 ||
                       load_relaxed(&w->dormant); /* must get off it */
    enum thread_doing doing = thread_doing(m);
    if (!others_wait)
        return;
    if (doing == BLOCKED) {
        move_begin();
        int moved = timers_due ? timers_run(w, now) : 0;
        moved += (int)sched_handoff_queue(w);
        move_end(moved);
        /* Nobody idle to take what waits (what was moved, or was on the
         * global queue already), and the governor parked a worker: the
         * blocked one uses no CPU, let a parked one have it. */
        if ((moved || load_relaxed(&sched.gq_len)) && load_relaxed(&sched.npidle) == 0)
            sched_unpark_worker();
        return;
    }
    store_relaxed(&cur->preempt, 1);
    if (sched.preempt_async && doing == RUNNING)
        pthread_kill(w->thread, SIGURG);
    if (++m->stuck >= STUCK_HANDOFF) {
        move_begin();
        move_end((int)sched_handoff_queue(w));
    }
}

/* Every worker asleep: sleeps until a kick (or the stop), or until pooled
 * stacks are due for the scavenger (the workers flushed their pools to
 * the shared one before going idle). */
static void monitor_sleep_deep(uint32_t word)
{
    /* A last snapshot before sleeping without a timeout, so a tracer's
     * figures are exact while the program is idle. */
    stats_probe_snapshot();
    store_release(&mon.deep, 1);
    int64_t wait = stacks_scavenge(gr_now());
    /* Re-check after announcing the deep sleep: a kick that came before
     * it changed `word`. */
    if (sched_all_idle() && !load_acquire(&mon.stop))
        futex_wait_ns(&mon.word, word, wait);
    store_release(&mon.deep, 0);
    for (int i = 0; i < sched.nprocs; i++)
        mon.watch[i].stuck = 0;
    adapt_reset();
}

static void *monitor_main(void *arg)
{
    (void)arg;
    int64_t last_stats = gr_now();
    while (!load_acquire(&mon.stop)) {
        uint32_t word = load_acquire(&mon.word);
        if (sched_all_idle()) {
            monitor_sleep_deep(word);
            last_stats = gr_now();
            continue;
        }
        futex_wait_ns(&mon.word, word, PERIOD_NS);
        int64_t now = gr_now();
        adapt_tick(now);
        stacks_scavenge(now);
        if (now - last_stats >= STATS_EVERY_NS) {
            stats_probe_snapshot();
            last_stats = now;
        }
        for (int i = 0; i < sched.nprocs; i++)
            watch_worker(i, now);
    }
    return NULL;
}

void preempt_monitor_kick(void)
{
    if (!load_acquire(&mon.deep))
        return;
    fetch_add(&mon.word, 1);
    syscall(SYS_futex, &mon.word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* ---------------------------------------------------------------------
 * Starting and stopping
 * ------------------------------------------------------------------- */

static void watches_close(void)
{
    if (!mon.watch)
        return;
    for (int i = 0; i < sched.nprocs; i++)
        if (mon.watch[i].stat_fd >= 0)
            close(mon.watch[i].stat_fd);
    free(mon.watch);
    mon.watch = NULL;
}

/* The files the monitor reads, opened here on gr_run's thread before any
 * goroutine runs: opened by the monitor thread, one could take the number
 * of a descriptor a goroutine has just closed and is about to misuse,
 * turning its -EBADF into a read of /proc.  Without /proc the monitor
 * watches the threads' CPU clocks.  0 or -ENOMEM. */
static int watches_open(void)
{
    mon.watch = calloc((size_t)sched.nprocs, sizeof *mon.watch);
    if (!mon.watch)
        return -ENOMEM;
    for (int i = 0; i < sched.nprocs; i++) {
        watch *m = &mon.watch[i];
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/stat", sched.workers[i].tid);
        m->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
        m->cpu_ns = -1;
        if (pthread_getcpuclockid(sched.workers[i].thread, &m->cpu_clock) != 0)
            m->cpu_clock = CLOCK_THREAD_CPUTIME_ID; /* never used: reads -1 */
    }
    return 0;
}

/* Asynchronous preemption cannot tell libc's code from the program's
 * when libc is linked into the executable (cc -static): a goroutine
 * could be switched out inside malloc, holding its lock.  Off then,
 * unless GR_PREEMPT=1 asked for it explicitly. */
static void preempt_check_static_libc(void)
{
    if (mon.libc_seen || !sched.preempt_async || sched.preempt_explicit)
        return;
    sched.preempt_async = false;
    if (getenv("GR_DEBUG"))
        fprintf(stderr, "greenrt: libc is linked into the executable (static): asynchronous "
                        "preemption is off (GR_PREEMPT=1 turns it on at your own risk)\n");
}

int preempt_monitor_start(void)
{
    int err = watches_open();
    if (err)
        return err;
    adapt_start();
    mon.nunsafe = 0;
    mon.libc_seen = false;
    dl_iterate_phdr(collect_ranges, NULL);
    preempt_check_static_libc();
    preempt_probe_cpu();
    if (!mon.handler_installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = urg_handler;
        /* On the worker's alternate stack (stack_thread_init): the
         * goroutine's may have no room for a signal frame. */
        sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGURG, &sa, &mon.old_urg) < 0) {
            err = -errno;
            goto fail;
        }
        mon.handler_installed = true;
    }
    store_release(&mon.stop, 0);
    int e = pthread_create(&mon.thread, NULL, monitor_main, NULL);
    if (e) {
        err = -e;
        goto fail;
    }
    mon.started = true;
    return 0;
fail:
    if (mon.handler_installed) {
        sigaction(SIGURG, &mon.old_urg, NULL);
        mon.handler_installed = false;
    }
    adapt_stop();
    watches_close();
    return err;
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
    watches_close();
    if (mon.handler_installed) {
        sigaction(SIGURG, &mon.old_urg, NULL);
        mon.handler_installed = false;
    }
}

/* Out-of-line part of preempt_point (preempt.h). */
void preempt_point_slow(g *gp)
{
    PROBE2(preempt, gp->id, 0);
    sched_yield_g(true);
}
