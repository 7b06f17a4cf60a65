/*
 * goroutine.c - the goroutine API: spawn, yield, exit, identity, sleep.
 *
 * Spawning never blocks and, in the steady state, makes no system call:
 * the control block comes from the worker's free list, the id from a
 * per-worker batch, and the stack only when the goroutine first runs
 * (sched.c: g_start_stack), from the worker's stack pool.  A thread that
 * is not a worker may spawn too (extern.c): its goroutine's control block
 * comes from the shared pool and it waits on the global queue.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "extern.h"
#include "fatal.h"
#include "goroutine.h"
#include "greenrt.h"
#include "group.h"
#include "intr.h"
#include "preempt.h"
#include "probes.h"
#include "runq.h"
#include "sched.h"
#include "stack.h"

#define GOID_BATCH 16

static int64_t goid_next(worker *w)
{
    if (w->goid_next == w->goid_end) {
        w->goid_next = fetch_add_relaxed(&sched.next_goid, GOID_BATCH);
        w->goid_end = w->goid_next + GOID_BATCH;
    }
    return w->goid_next++;
}

/* The stack size opts ask for: 0 for a bad one (-EINVAL). */
static size_t spawn_stack_size(const gr_opts *opts)
{
    if (!opts || !opts->stack_size)
        return sched.default_stack;
    if (opts->stack_size < GR_MIN_STACK_SIZE || opts->stack_size > GR_MAX_STACK_SIZE)
        return 0;
    return page_round(opts->stack_size);
}

/* A fresh control block made into a runnable goroutine. */
static void g_init(g *gp, int64_t id, void (*fn)(void *), void *arg, size_t ssize,
                   const gr_opts *opts, bool is_main)
{
    gp->id = id;
    gp->fn = fn;
    gp->arg = arg;
    gp->stack_size = (uint32_t)ssize;
    gp->stk.base = NULL;
    store_relaxed(&gp->preempt, 0);
    gp->preempt_off = 0;
    gp->deadline = 0;
    store_relaxed(&gp->io_ud, 0);
    store_relaxed(&gp->io_wait_fd, NULL);
    store_relaxed(&gp->io_cancel, 0);
    gp->wake_token = 0;
    gp->hot_streak = 0;
    gp->wait_reason = GR_WAIT_NONE;
    gp->tm.owner = NULL;
    gp->tm.firing = 0;
    gp->name[0] = 0;
    if (opts && opts->name)
        snprintf(gp->name, sizeof gp->name, "%s", opts->name);
    else if (is_main)
        strcpy(gp->name, "main");
    gp->status = G_RUNNABLE;
    gp->group = NULL;
}

static int64_t spawn(worker *w, void (*fn)(void *), void *arg, const gr_opts *opts,
                     bool is_main, group *grp)
{
    size_t ssize = spawn_stack_size(opts);
    if (!ssize)
        return -EINVAL;
    g *gp = g_alloc(w);
    if (!gp)
        return -ENOMEM;
    g_init(gp, goid_next(w), fn, arg, ssize, opts, is_main);
    if (grp) {
        int err = group_join(grp, gp); /* before it can run, and exit */
        if (err) {
            g_release(w, gp);
            return err;
        }
    }
    stat_inc(w, spawned);
    g *parent = w->cur;
    PROBE3(spawn, gp->id, parent ? parent->id : 0, (uintptr_t)fn);
    runq_put_new(w, gp);
    return gp->id;
}

/* gr_go from a thread that is not a worker (extern.c): onto the global
 * queue, a worker woken to take it.  -EPERM when no runtime runs. */
static int64_t spawn_extern(void (*fn)(void *), void *arg, const gr_opts *opts)
{
    if (!extern_enter())
        return opts && opts->stack_size && (opts->stack_size < GR_MIN_STACK_SIZE ||
                                            opts->stack_size > GR_MAX_STACK_SIZE)
                   ? -EINVAL
                   : -EPERM;
    size_t ssize = spawn_stack_size(opts); /* reads sched: inside the gate */
    int64_t id = ssize ? -ENOMEM : -EINVAL;
    g *gp = ssize ? g_alloc_shared() : NULL;
    if (gp) {
        g_init(gp, fetch_add_relaxed(&sched.next_goid, 1), fn, arg, ssize, opts, false);
        id = gp->id;
        fetch_add_relaxed(&sched.extern_spawned, 1);
        PROBE3(spawn, id, 0, (uintptr_t)fn);
        gq_put(gp);
        maybe_wakep();
    }
    extern_exit();
    return id;
}

int spawn_main(worker *w, void (*fn)(void *), void *arg)
{
    int64_t id = spawn(w, fn, arg, NULL, true, NULL);
    return id < 0 ? (int)id : 0;
}

int64_t spawn_member(worker *w, void (*fn)(void *), void *arg, const gr_opts *opts, group *grp)
{
    return spawn(w, fn, arg, opts, false, grp);
}

worker *spawner(void)
{
    worker *w = current_worker();
    return w && load_acquire(&sched.running) ? w : NULL;
}

int64_t gr_go_opts(void (*fn)(void *), void *arg, const gr_opts *opts)
{
    if (!fn)
        return -EINVAL;
    worker *w = spawner();
    if (w)
        return spawn(w, fn, arg, opts, false, NULL);
    return spawn_extern(fn, arg, opts); /* -EPERM if no runtime runs */
}

int64_t gr_go(void (*fn)(void *), void *arg)
{
    return gr_go_opts(fn, arg, NULL);
}

void gr_yield(void)
{
    require_g("gr_yield");
    sched_yield_g(false);
}

_Noreturn void gr_exit(void)
{
    require_g("gr_exit");
    sched_goexit();
}

int64_t gr_self(void)
{
    g *gp = current_g();
    return gp ? gp->id : 0;
}

/* Fills an unnamed goroutine's name from its entry point's symbol. */
static void name_from_fn(g *gp)
{
    Dl_info info;
    if (gp->fn && dladdr((void *)(uintptr_t)gp->fn, &info) && info.dli_sname)
        snprintf(gp->name, sizeof gp->name, "%s", info.dli_sname);
    else
        snprintf(gp->name, sizeof gp->name, "%p", (void *)(uintptr_t)gp->fn);
}

const char *g_name(g *gp)
{
    if (!gp->name[0])
        name_from_fn(gp);
    return gp->name;
}

const char *gr_self_name(void)
{
    g *gp = current_g();
    if (!gp || gp->is_g0)
        return "";
    return g_name(gp);
}

/* ---------------------------------------------------------------------
 * Sleep: the goroutine's own timer, armed after it has parked.
 * ------------------------------------------------------------------- */

static void sleep_fire(timer *t)
{
    g *gp = (g *)((char *)t - offsetof(g, tm));
    timer_fired(t);
    ready_from(gp, GR_WAKE_TIMER, NULL);
}

struct sleep_arm {
    g *gp;
    int64_t when;
    void (*fire)(timer *); /* a member's races cancellation for its token */
};

static void after_arm_sleep(worker *w, void *arg)
{
    struct sleep_arm *sa = arg;
    sa->gp->tm.fire = sa->fire;
    if (timer_arm(w, &sa->gp->tm, sa->when) < 0)
        fatal("timer heap full after timer_reserve"); /* cannot happen */
}

int park_until(uint16_t reason, int64_t when)
{
    worker *w = current_worker();
    g *gp = w->cur;
    if (timer_reserve(w) < 0)
        return -ENOMEM;
    if (intr_prepare(gp))
        return -ECANCELED;
    struct sleep_arm sa = {gp, when, gp->group ? timer_fire_wake : sleep_fire};
    /* Armed after the switch: the timer must not fire (and ready us)
     * before we have stopped running. */
    park_intr(gp, reason, after_arm_sleep, &sa, intr_wake);
    if (!intr_woken_by_cancel(gp))
        return 0;
    timer_cancel(&gp->tm);
    return -ECANCELED;
}

int gr_sleep(int64_t ns)
{
    require_g("gr_sleep");
    if (ns <= 0) {
        sched_yield_g(false);
        return 0;
    }
    return park_until(GR_WAIT_SLEEP, deadline_after(ns));
}

/* ---------------------------------------------------------------------
 * Preemption control
 * ------------------------------------------------------------------- */

void gr_preempt_disable(void)
{
    g *gp = current_g();
    if (gp && !gp->is_g0)
        gp->preempt_off++;
}

void gr_preempt_enable(void)
{
    g *gp = current_g();
    if (!gp || gp->is_g0)
        return;
    if (gp->preempt_off <= 0)
        fatal("goroutine %lld (%s): gr_preempt_enable without gr_preempt_disable",
              (long long)gp->id, g_name(gp));
    if (--gp->preempt_off == 0)
        preempt_point();
}
