/*
 * group.c - goroutine groups: structured cancellation (gr_group_*).
 *
 * The problem.  A service on goroutines must be able to stop them: a
 * shutdown, a request whose client went away, a deadline.  Closing their
 * file descriptors from outside and hoping is not a design.  Go answers
 * with context.Context (a Done channel, deadlines, a tree), libdill with
 * bundles whose close cancels every member, Trio with nurseries.  A
 * greenrt group is the three at once: a set of goroutines that can be
 * cancelled, given a deadline and waited for, nested into a tree.
 *
 * Vocabulary.
 *   group    a gr_group.  The public body is fixed-size (a lock word, a
 *            flag word, a pointer) and ready when zero; the state behind
 *            it (struct group, group.h) is allocated on first use.
 *   member   a goroutine started by gr_group_go(g, ...): g->group points
 *            at its group until it exits.  gr_go never makes a member,
 *            not even from a member: a goroutine does not inherit a group
 *            (as a Go goroutine does not inherit a context).
 *   parent   the group of the goroutine that first calls gr_group_go on a
 *            group, decided then and never changed (none when that
 *            goroutine is in no group).  Since a group has members only
 *            after its parent is decided, a parent is always decided
 *            before its children are: the tree cannot have a cycle.
 *
 * The public body.  {_lock, _flags, _state}: the lock guards the lazy
 * creation of the state, and _flags records a gr_group_cancel that came
 * before any state existed (cancel cannot fail, so it must not need to
 * allocate).  Rejected: the whole state in the public body (a member
 * list, a wait queue, a timer and tree links would freeze their layout
 * into the ABI, and children and timers would point into memory the user
 * may move); a lock-free CAS install of the state (the early cancel would
 * then have to allocate).
 *
 * Membership.  A group keeps its live members in a doubly linked list
 * through their control blocks (g.group_next/prev) under its lock, and
 * their count: gr_group_go links the new goroutine before it is queued,
 * its exit (sched_goexit) unlinks it, and the last member out wakes
 * gr_group_wait.  The list is how cancellation reaches the members, and
 * how gr_group_destroy names the live ones in its fatal report.
 *
 * The tree.  Parent/child links and the registry of every group state
 * are guarded by one global lock, groups.lock, taken only when the tree
 * changes (a group's first gr_group_go, its cancellation, its
 * destruction) - never per spawn or per park.  Rejected: Go's per-context
 * locks (lock the parent, then the child; a child unlinks itself by
 * locking its parent): in Go the garbage collector keeps a parent alive
 * while a child looks at it, while here a parent may be destroyed at the
 * moment a child is, and a global lock makes that simple and safe.  The
 * invariant: a cancelled group is linked to nothing (cancelling unlinks
 * it from its parent and its children from it, having cancelled them),
 * so a cancellation walks exactly the groups that still need it.
 * Destroying a live group splices it out: its children become its
 * parent's, so an ancestor's cancellation still reaches them.
 *
 * Cancellation, of one group (cancel_one), under its lock:
 *   1. set `cancelled` to the cause: gr_group_err and gr_cancelled say so,
 *      gr_group_go fails;
 *   2. close the done channel (if gr_group_done made one): a select that
 *      has it among its cases returns that case;
 *   3. set `interrupting` (seq-cst): from now on every interruptible call
 *      of a member fails at once instead of waiting;
 *   4. cancel every member's I/O (io_cancel_g, io.h) and interrupt its
 *      armed wait (intr.c: intr_interrupt).
 *      The members it takes out of their waits are readied (wake source
 *      GR_WAKE_CANCEL, for tracers) only once every lock is dropped:
 *      readied under the group's lock, ten thousand of them would run on
 *      the other workers and queue on that lock to leave the group
 *      (measured: the cancel call of 10,000 parked members went from
 *      ~4 ms to ~0.2 ms at GR_PROCS=2).
 * The order is Go's where Go has one (ctx.Err() is set before Done is
 * closed: whoever sees the close and asks why gets the answer) and the
 * issue's where it does not: a member waiting in a select on the done
 * channel must get the close, not -ECANCELED, and a select that reads
 * `interrupting` as set therefore finds the done channel closed (the
 * select polls its cases with their channels locked, and the close needs
 * the done channel's lock).  A subtree is cancelled group by group from
 * the top under groups.lock, which also decides the race with a child's
 * first gr_group_go: a child attached after its parent's cancellation
 * starts cancelled.
 *
 * Interrupting waits is the job of intr.c, one mechanism for every
 * primitive but I/O: a member parked in an interruptible wait publishes
 * how to withdraw it (an intr_fn) after it has switched out, then checks
 * the flag; the canceller sets the flag, then withdraws every published
 * wait; the wake token decides the race with the normal waker.  I/O is
 * the I/O layer's: io_cancel_g(member) (io.h) cancels the request in
 * flight (how is the engine's business: on io_uring, an
 * IORING_OP_ASYNC_CANCEL on the ring that owns it), ends a wait for an
 * fd's lock, and makes every later
 * I/O call of the member fail at once - a flag that stays set, which is
 * what a group wants, since a member stays cancelled until it exits.
 * The completion decides the race with the cancel, so no byte that the
 * kernel delivered is lost.  What is interruptible, and why the rest is
 * not:
 *   - every I/O call that waits (gr_read, gr_write, their v, full and
 *     all forms, gr_recv, gr_send, gr_recv_buf, gr_accept, gr_connect,
 *     gr_poll, gr_open, gr_fsync, and their waits for an fd's lock):
 *     -ECANCELED, the fd usable; but not gr_close and gr_shutdown, so
 *     that a cancelled member can still clean up;
 *   - gr_sleep, channel send and receive, gr_select (no case ready, or no
 *     case at all), gr_cond_wait_timeout, gr_wg_wait: the wait is withdrawn
 *     and the call returns -ECANCELED;
 *   - gr_blocking: the offloaded call cannot be stopped, and fn's arg
 *     usually lives on the goroutine's stack, so the goroutine waits for
 *     fn to return and then gets -ECANCELED (fn's results are valid: a
 *     caller that owns them, an addrinfo, must still free them).
 *     Returning at once would let the caller reuse that memory while the
 *     helper thread still writes it;
 *   - not interrupted: gr_mutex_lock and rwmutex locks (as in Go: a lock
 *     is held briefly, and code after a failed lock would run unlocked);
 *     gr_cond_wait (void: it cannot say it was cancelled, and waking it
 *     would spin `while (!ready) gr_cond_wait()` loops forever);
 *     gr_group_wait (a cancelled member waiting for a group it started
 *     must still see it drain: that is what makes it structured); gr_once_do
 *     and gr_yield.
 *
 * The deadline is a runtime timer (timer.h) in the group's state whose
 * fire() cancels the group with cause GROUP_DEADLINE (gr_group_err says
 * -ETIMEDOUT).  It is armed on the worker of the caller, or on worker 0
 * (woken to see it) from a thread outside the runtime; set while no
 * runtime runs, it is armed at the next gr_group_go.  A child's deadline
 * is at most its parent's, by propagation.  A timer that cannot be armed
 * (no memory) cancels the group at once: a deadline is a promise that the
 * group is cancelled by then, and cancelling early keeps it.
 *
 * Cost when nobody cancels.  A goroutine outside any group pays one
 * predictable branch on gp->group per interruptible park (intr.h), and one
 * on exit.  A member pays its group's lock at spawn and at exit, and per
 * interruptible park a few stores and one CAS (arming) and a CAS on the
 * way back.
 *
 * Lock order: groups.lock, then a group's lock, then what closing a
 * channel and an intr_fn take (channel, wait-queue and timer-heap locks,
 * the run queues).  dl_lock is taken with no other of these held, because
 * a deadline's fire() takes groups.lock and a group's lock, and
 * gr_group_set_deadline waits (timer_cancel) for a fire() in progress.
 */
#include "group.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "chan.h"
#include "engine.h"
#include "extern.h"
#include "fatal.h"
#include "goroutine.h"
#include "intr.h"
#include "io.h"
#include "lock.h"
#include "probes.h"
#include "sched.h"

#define GROUP_CANCELLED_EARLY 1u /* gr_group._flags: cancelled before it had a state */

static struct {
    uint32_t lock;   /* the tree links of every group, and `all` */
    group *all;      /* every group state, via all_next/all_prev */
    int64_t next_id; /* atomic */
} groups;

/* ---------------------------------------------------------------------
 * Probes fired from several paths (one site each: probes.h)
 * ------------------------------------------------------------------- */

static PROBE_SITE void probe_drained(int64_t id, int64_t ns)
{
    PROBE2(group_drained, id, ns);
}

/* A group was cancelled with `members` members; with none, it is drained
 * at once. */
static PROBE_SITE void probe_cancelled(int64_t id, uint32_t cause, int64_t origin, int64_t members)
{
    PROBE4(group_cancel, id, cause, origin, members);
    if (members == 0)
        probe_drained(id, 0);
}

/* ---------------------------------------------------------------------
 * The state behind a gr_group, and the registry
 * ------------------------------------------------------------------- */

static group *state_peek(gr_group *pub)
{
    return __atomic_load_n((group **)&pub->_state, __ATOMIC_ACQUIRE);
}

/* pub's state, made if it has none; NULL when out of memory. */
static group *state_get(gr_group *pub)
{
    group *st = state_peek(pub);
    if (st)
        return st;
    group *fresh = calloc(1, sizeof *fresh); /* not under a lock */
    if (!fresh)
        return state_peek(pub);
    lock(&pub->_lock);
    st = pub->_state;
    if (!st) {
        st = fresh;
        fresh = NULL;
        st->id = fetch_add_relaxed(&groups.next_id, 1) + 1;
        st->pub = pub;
        bool early = pub->_flags & GROUP_CANCELLED_EARLY;
        if (early) {
            st->cancelled = GROUP_CANCEL;
            st->interrupting = 1;
            st->cancelled_at = now_ns();
        }
        lock(&groups.lock);
        st->all_next = groups.all;
        if (groups.all)
            groups.all->all_prev = st;
        groups.all = st;
        unlock(&groups.lock);
        PROBE2(group_new, st->id, (uintptr_t)pub);
        if (early) /* its cancellation had no id to be told by until now */
            probe_cancelled(st->id, GROUP_CANCEL, st->id, 0);
        __atomic_store_n((group **)&pub->_state, st, __ATOMIC_RELEASE);
    }
    unlock(&pub->_lock);
    free(fresh);
    return st;
}

/* ---------------------------------------------------------------------
 * The tree (groups.lock held)
 * ------------------------------------------------------------------- */

static void link_child(group *parent, group *child)
{
    child->parent = parent;
    child->sib_prev = NULL;
    child->sib_next = parent->children;
    if (parent->children)
        parent->children->sib_prev = child;
    parent->children = child;
}

static void unlink_child(group *child)
{
    group *p = child->parent;
    if (!p)
        return;
    if (child->sib_prev)
        child->sib_prev->sib_next = child->sib_next;
    else
        p->children = child->sib_next;
    if (child->sib_next)
        child->sib_next->sib_prev = child->sib_prev;
    child->parent = child->sib_next = child->sib_prev = NULL;
}

/* Cancels one group (steps 1-4 at the top of this file).  False if it
 * was cancelled already.  origin: the group whose cancellation or
 * deadline started it (probes).  The members it took out of their waits
 * are pushed on *wake (through g.schedlink, unused while they are
 * parked), to be readied once the caller holds no lock. */
static bool cancel_one(group *x, uint32_t cause, int64_t origin, g **wake)
{
    lock(&x->lock);
    if (x->cancelled != GROUP_LIVE) {
        unlock(&x->lock);
        return false;
    }
    x->cancelled_at = now_ns();
    __atomic_store_n(&x->cancelled, cause, __ATOMIC_RELEASE);
    if (x->done)
        gr_chan_close(x->done);
    /* Seq-cst: the canceller's half of intr.c's Dekker pair - the flag is
     * visible before the members' wait states are read. */
    __atomic_store_n(&x->interrupting, 1, __ATOMIC_SEQ_CST);
    for (g *m = x->members; m; m = m->group_next) {
        /* Its I/O, through the I/O layer (whatever the engine): the
         * request in flight, a wait for an fd's lock, and every later
         * call.  Under the lock: m cannot exit and be reused meanwhile. */
        io_cancel_g(m);
        if (intr_interrupt(m)) {
            m->schedlink = *wake;
            *wake = m;
        }
    }
    probe_cancelled(x->id, cause, origin, x->nmembers);
    unlock(&x->lock);
    return true;
}

/* Cancels root and every group below it, top down; *wake as for
 * cancel_one. */
static void cancel_tree_locked(group *root, uint32_t cause, g **wake)
{
    root->cancel_next = NULL;
    group *todo = root;
    while (todo) {
        group *x = todo;
        todo = x->cancel_next;
        if (!cancel_one(x, cause, root->id, wake))
            continue; /* cancelled before: linked to nothing */
        unlink_child(x);
        group *c = x->children;
        x->children = NULL;
        while (c) {
            group *next = c->sib_next;
            c->parent = c->sib_next = c->sib_prev = NULL;
            c->cancel_next = todo;
            todo = c;
            c = next;
        }
    }
}

/* Readies the goroutines a cancellation took out of their waits (their
 * group cannot be destroyed under us: they are still its members). */
static void ready_interrupted(g *wake)
{
    while (wake) {
        g *gp = wake;
        wake = gp->schedlink; /* before ready: it reuses the link */
        gp->schedlink = NULL;
        ready_from(gp, GR_WAKE_CANCEL, gp->group->pub);
    }
}

static void group_cancel(group *st, uint32_t cause)
{
    g *wake = NULL;
    /* From a thread that is not a worker: the members it takes out of
     * their waits (and their I/O it cancels) must outlive the unlock. */
    bool pinned = extern_pin();
    lock(&groups.lock);
    cancel_tree_locked(st, cause, &wake);
    unlock(&groups.lock);
    ready_interrupted(wake);
    extern_unpin(pinned);
}

/* st's first gr_group_go, by a goroutine whose group is `parent`. */
static void decide_parent(group *st, group *parent)
{
    lock(&groups.lock);
    if (!st->parent_decided) {
        if (parent && !group_is_cancelled(st)) {
            uint32_t pc = __atomic_load_n(&parent->cancelled, __ATOMIC_ACQUIRE);
            g *none = NULL; /* st has no members yet */
            if (pc != GROUP_LIVE)
                cancel_one(st, pc, parent->id, &none); /* starts cancelled */
            else
                link_child(parent, st);
        }
        PROBE2(group_parent, st->id, parent ? parent->id : 0);
        __atomic_store_n(&st->parent_decided, 1, __ATOMIC_RELEASE);
    }
    unlock(&groups.lock);
}

/* ---------------------------------------------------------------------
 * Deadlines
 * ------------------------------------------------------------------- */

static void deadline_fire(timer *t)
{
    group *st = (group *)((char *)t - offsetof(group, tm));
    group_cancel(st, GROUP_DEADLINE);
    /* Last: gr_group_destroy waits in timer_cancel until fire() is done
     * with st. */
    timer_fired(t);
}

/* Arms st's timer for st->deadline (dl_lock held).  0, 1 if no runtime
 * runs (to be armed at the next gr_group_go), or -ENOMEM. */
static int deadline_arm_locked(group *st)
{
    worker *w = current_worker();
    bool outside = !w;
    if (outside) {
        /* Worker 0's timer heap and ring stay while we are inside. */
        if (!extern_enter())
            return 1;
        w = &sched.workers[0];
    }
    st->tm.fire = deadline_fire;
    int err = 0;
    if (timer_arm(w, &st->tm, st->deadline) < 0) {
        err = -ENOMEM;
    } else {
        __atomic_store_n(&st->dl_armed, true, __ATOMIC_RELAXED);
        if (outside)
            engine_wake(w); /* it may sleep with a later timeout */
    }
    if (outside)
        extern_exit();
    return err;
}

/* Sets st's deadline (0: none) and arms it; cancels at once a group
 * whose deadline has passed or cannot be armed. */
static void deadline_set(group *st, int64_t deadline)
{
    bool cancel_now = false;
    lock(&st->dl_lock);
    if (st->dl_armed) {
        timer_cancel(&st->tm); /* waits for a fire() in progress */
        __atomic_store_n(&st->dl_armed, false, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&st->deadline, deadline, __ATOMIC_RELAXED);
    if (deadline && !group_is_cancelled(st))
        cancel_now = deadline <= now_ns() || deadline_arm_locked(st) < 0;
    unlock(&st->dl_lock);
    if (cancel_now)
        group_cancel(st, GROUP_DEADLINE);
}

/* A deadline set while no runtime ran is armed now (gr_group_go). */
static void deadline_catch_up(group *st)
{
    if (__builtin_expect(!__atomic_load_n(&st->deadline, __ATOMIC_RELAXED), 1) ||
        __atomic_load_n(&st->dl_armed, __ATOMIC_RELAXED))
        return;
    deadline_set(st, __atomic_load_n(&st->deadline, __ATOMIC_RELAXED));
}

/* ---------------------------------------------------------------------
 * Members
 * ------------------------------------------------------------------- */

int group_join(group *grp, g *gp)
{
    lock(&grp->lock);
    if (grp->cancelled != GROUP_LIVE) {
        unlock(&grp->lock);
        return -ECANCELED;
    }
    gp->group = grp;
    gp->group_prev = NULL;
    gp->group_next = grp->members;
    if (grp->members)
        grp->members->group_prev = gp;
    grp->members = gp;
    int64_t n = grp->nmembers + 1;
    __atomic_store_n(&grp->nmembers, n, __ATOMIC_RELEASE);
    PROBE3(group_join, grp->id, gp->id, n);
    unlock(&grp->lock);
    return 0;
}

void group_leave(g *gp)
{
    group *grp = gp->group;
    waiter *wake = NULL, *w;
    lock(&grp->lock);
    if (gp->group_prev)
        gp->group_prev->group_next = gp->group_next;
    else
        grp->members = gp->group_next;
    if (gp->group_next)
        gp->group_next->group_prev = gp->group_prev;
    gp->group_next = gp->group_prev = NULL;
    int64_t n = grp->nmembers - 1;
    /* Release: gr_group_wait's lock-free look at zero sees every write
     * of the members that exited. */
    __atomic_store_n(&grp->nmembers, n, __ATOMIC_RELEASE);
    PROBE3(group_leave, grp->id, gp->id, n);
    if (n == 0) {
        /* Waiters race their timeouts for their wake tokens. */
        while ((w = chan_take_waiter(&grp->waiters))) {
            w->next = wake;
            wake = w;
        }
        if (grp->cancelled != GROUP_LIVE)
            probe_drained(grp->id, now_ns() - grp->cancelled_at);
    }
    unlock(&grp->lock);
    gp->group = NULL;
    while (wake) {
        w = wake;
        wake = w->next; /* before ready: w lives on a stack that may run */
        ready(w->gp);
    }
}

/* ---------------------------------------------------------------------
 * The API
 * ------------------------------------------------------------------- */

int64_t gr_group_go_opts(gr_group *pub, void (*fn)(void *), void *arg, const gr_opts *opts)
{
    if (!pub || !fn)
        return -EINVAL;
    worker *w = spawner();
    if (!w)
        return -EPERM;
    group *st = state_get(pub);
    if (!st)
        return -ENOMEM;
    if (!load_acquire(&st->parent_decided))
        decide_parent(st, w->cur->group);
    deadline_catch_up(st);
    return spawn_member(w, fn, arg, opts, st);
}

int64_t gr_group_go(gr_group *pub, void (*fn)(void *), void *arg)
{
    return gr_group_go_opts(pub, fn, arg, NULL);
}

void gr_group_cancel(gr_group *pub)
{
    if (!pub)
        return;
    group *st = state_peek(pub);
    if (!st) {
        lock(&pub->_lock);
        st = pub->_state;
        if (!st)
            __atomic_store_n(&pub->_flags, pub->_flags | GROUP_CANCELLED_EARLY, __ATOMIC_RELEASE);
        unlock(&pub->_lock);
        if (!st)
            return; /* no members, no children, no done channel: a mark */
    }
    group_cancel(st, GROUP_CANCEL);
}

void gr_group_set_deadline(gr_group *pub, int64_t deadline_ns)
{
    if (!pub)
        return;
    group *st = state_get(pub);
    if (!st) {
        /* Nowhere to keep the deadline: keep its promise early. */
        gr_group_cancel(pub);
        return;
    }
    deadline_set(st, deadline_ns > 0 ? deadline_ns : 0);
}

int gr_group_err(gr_group *pub)
{
    if (!pub)
        return -EINVAL;
    uint32_t early = __atomic_load_n(&pub->_flags, __ATOMIC_ACQUIRE);
    group *st = state_peek(pub);
    uint32_t cause = st ? __atomic_load_n(&st->cancelled, __ATOMIC_ACQUIRE)
                        : (early & GROUP_CANCELLED_EARLY ? GROUP_CANCEL : GROUP_LIVE);
    return cause == GROUP_DEADLINE ? -ETIMEDOUT : cause != GROUP_LIVE ? -ECANCELED : 0;
}

int gr_cancelled(void)
{
    g *gp = current_g();
    return gp && gp->group && group_is_cancelled(gp->group);
}

gr_chan *gr_group_done(gr_group *pub)
{
    if (!pub) {
        errno = EINVAL;
        return NULL;
    }
    group *st = state_get(pub);
    gr_chan *fresh = NULL;
    if (st && !__atomic_load_n(&st->done, __ATOMIC_ACQUIRE))
        fresh = gr_chan_make(0, 0); /* not under the lock */
    if (!st || (!fresh && !__atomic_load_n(&st->done, __ATOMIC_ACQUIRE))) {
        errno = ENOMEM;
        return NULL;
    }
    lock(&st->lock);
    gr_chan *c = st->done;
    if (!c) {
        c = fresh;
        fresh = NULL;
        if (st->cancelled != GROUP_LIVE)
            gr_chan_close(c);
        __atomic_store_n(&st->done, c, __ATOMIC_RELEASE);
    }
    unlock(&st->lock);
    gr_chan_free(fresh);
    return c;
}

/* gr_group_wait's waiter; the timeout races the last member's exit for
 * the goroutine's wake token (timer_fire_wake). */
struct group_wait {
    waiter w;
    group *st;
    int64_t when;    /* timeout's expiry; 0: none */
    bool arm_failed; /* no memory for the timeout */
};

static void after_group_wait_park(worker *w, void *arg)
{
    struct group_wait *gw = arg;
    g *gp = gw->w.gp;
    if (gw->when) {
        gp->tm.fire = timer_fire_wake;
        if (timer_arm(w, &gp->tm, gw->when) < 0) {
            /* Report it rather than wait forever: -ENOMEM. */
            gw->arm_failed = true;
            uint32_t zero = 0;
            if (cas_acq_rel(&gp->wake_token, &zero, 1))
                ready(gp);
        }
    }
    unlock(&gw->st->lock);
}

int gr_group_wait(gr_group *pub, int64_t timeout_ns)
{
    if (!pub)
        return -EINVAL;
    group *st = state_peek(pub);
    if (!st || load_acquire(&st->nmembers) == 0)
        return 0;
    g *self = current_g();
    if (self && self->group == st)
        return -EDEADLK; /* it would wait for itself */
    if (timeout_ns == 0)
        return -ETIMEDOUT;
    g *gp = require_g("gr_group_wait");
    struct group_wait gw = {.w = {.gp = gp, .is_select = 1}, .st = st};
    if (timeout_ns > 0)
        gw.when = deadline_after(timeout_ns);
    lock(&st->lock);
    if (st->nmembers == 0) {
        unlock(&st->lock);
        return 0;
    }
    __atomic_store_n(&gp->wake_token, 0, __ATOMIC_RELAXED);
    gp->wake_param = NULL;
    waitq_push(&st->waiters, &gw.w);
    park(GR_WAIT_GROUP, after_group_wait_park, &gw);
    if (!gw.when)
        return 0; /* only the last member's exit wakes it */
    timer_cancel(&gp->tm);
    int ret = 0;
    lock(&st->lock);
    if (gw.w.queued) { /* the timeout won */
        waitq_remove(&st->waiters, &gw.w);
        ret = gw.arm_failed ? -ENOMEM : -ETIMEDOUT;
    }
    unlock(&st->lock);
    return ret;
}

/* The fatal report of gr_group_destroy on a group with live members
 * (st->lock held): each by id, name and what it is doing. */
static _Noreturn void fatal_live_members(group *st)
{
    char who[96] = "";
    g *self = current_g();
    if (self && !self->is_g0)
        snprintf(who, sizeof who, " by goroutine %lld (%s)", (long long)self->id, g_name(self));
    fatal_headline("gr_group_destroy%s: group %lld still has %lld live member%s (destroy a group "
                   "once gr_group_wait has returned 0):",
                   who, (long long)st->id, (long long)st->nmembers, st->nmembers == 1 ? "" : "s");
    long shown = 0;
    for (g *m = st->members; m && shown < FATAL_REPORT_MAX; m = m->group_next, shown++)
        fatal_goroutine(m);
    if (st->nmembers > shown)
        fatal_more((long)(st->nmembers - shown));
    fatal_exit();
}

void gr_group_destroy(gr_group *pub)
{
    if (!pub)
        return;
    group *st = state_peek(pub);
    if (st) {
        deadline_set(st, 0);
        lock(&groups.lock);
        lock(&st->lock);
        if (st->nmembers > 0)
            fatal_live_members(st);
        /* Splice it out of the tree: its children become its parent's. */
        group *p = st->parent, *c = st->children;
        st->children = NULL;
        while (c) {
            group *next = c->sib_next;
            c->parent = c->sib_next = c->sib_prev = NULL;
            if (p)
                link_child(p, c);
            c = next;
        }
        unlink_child(st);
        if (st->all_prev)
            st->all_prev->all_next = st->all_next;
        else
            groups.all = st->all_next;
        if (st->all_next)
            st->all_next->all_prev = st->all_prev;
        unlock(&st->lock);
        unlock(&groups.lock);
        PROBE1(group_free, st->id);
        gr_chan_free(st->done);
        free(st);
    }
    __atomic_store_n((group **)&pub->_state, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&pub->_flags, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&pub->_lock, 0, __ATOMIC_RELEASE);
}

void groups_runtime_stopped(void)
{
    lock(&groups.lock);
    for (group *st = groups.all; st; st = st->all_next) {
        lock(&st->lock);
        st->members = NULL;
        st->nmembers = 0;
        st->waiters = (waitq){0};
        if (st->done) {
            /* Abandoned goroutines' waiters lived on their stacks. */
            st->done->recvq = (waitq){0};
            st->done->sendq = (waitq){0};
        }
        unlock(&st->lock);
        /* The workers' timer heaps are gone: re-armed at the next
         * gr_group_go. */
        st->dl_armed = false;
    }
    unlock(&groups.lock);
}
