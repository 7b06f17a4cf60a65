/*
 * goroutine.c - the goroutine API: spawn, yield, exit, identity, sleep.
 *
 * Spawning never blocks and, in the steady state, makes no system call:
 * the control block comes from the worker's free list, the id from a
 * per-worker batch, and the stack only when the goroutine first runs
 * (sched.c: g_start_stack), from the worker's stack pool.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fatal.h"
#include "goroutine.h"
#include "greenrt.h"
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

static size_t page_round(size_t n)
{
    return (n + 4095) & ~(size_t)4095;
}

static int64_t spawn(worker *w, void (*fn)(void *), void *arg, const gr_opts *opts,
                     bool is_main)
{
    size_t ssize = sched.default_stack;
    if (opts && opts->stack_size) {
        if (opts->stack_size < GR_MIN_STACK_SIZE || opts->stack_size > GR_MAX_STACK_SIZE)
            return -EINVAL;
        ssize = page_round(opts->stack_size);
    }
    g *gp = g_alloc(w);
    if (!gp)
        return -ENOMEM;
    gp->id = goid_next(w);
    gp->fn = fn;
    gp->arg = arg;
    gp->stack_size = (uint32_t)ssize;
    gp->stk.base = NULL;
    store_relaxed(&gp->preempt, 0);
    gp->preempt_off = 0;
    gp->deadline = 0;
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
    stat_inc(w, spawned);
    g *parent = w->cur;
    PROBE3(spawn, gp->id, parent ? parent->id : 0, (uintptr_t)fn);
    runq_put_new(w, gp);
    return gp->id;
}

int spawn_main(worker *w, void (*fn)(void *), void *arg)
{
    int64_t id = spawn(w, fn, arg, NULL, true);
    return id < 0 ? (int)id : 0;
}

int64_t gr_go_opts(void (*fn)(void *), void *arg, const gr_opts *opts)
{
    if (!fn)
        return -EINVAL;
    worker *w = current_worker();
    if (!w || !load_acquire(&sched.running))
        return -EPERM;
    return spawn(w, fn, arg, opts, false);
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
    ready(gp);
}

struct sleep_arm {
    g *gp;
    int64_t when;
};

static void after_arm_sleep(worker *w, void *arg)
{
    struct sleep_arm *sa = arg;
    sa->gp->tm.fire = sleep_fire;
    if (timer_arm(w, &sa->gp->tm, sa->when) < 0)
        fatal("timer heap full after timer_reserve"); /* cannot happen */
}

int park_until(uint16_t reason, int64_t when)
{
    worker *w = current_worker();
    if (timer_reserve(w) < 0)
        return -ENOMEM;
    struct sleep_arm sa = {w->cur, when};
    /* Armed after the switch: the timer must not fire (and ready us)
     * before we have stopped running. */
    park(reason, after_arm_sleep, &sa);
    return 0;
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
