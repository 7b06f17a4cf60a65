/*
 * test_group.c - goroutine groups (gr_group_*): membership and waiting,
 * cancellation of every interruptible call, the tree, deadlines, the
 * done channel, and the races between cancellation and the normal wake-up
 * of a wait (no value may be lost or duplicated).
 *
 * The fatal report of gr_group_destroy with live members is checked in
 * test_fatal.c, with the other paths that end the process.
 *
 * "X is parked" is never assumed from timing alone: a member announces
 * that it is about to block, and the test then gives it time to get
 * there; the outcome checked (-ECANCELED) is the same whether the
 * cancellation found the member parked or made its call fail at once, so
 * no check depends on the machine's speed.  Liveness bounds are generous
 * (30 s); latencies are printed, never asserted.
 */
#include "t_util.h"
#include "t_io.h"

#include <pthread.h>
#include <sys/resource.h>
#include <stdbool.h>

#define LONG_NS (60 * T_SEC) /* a wait only cancellation can end in time */
#define LIVE_NS (30 * T_SEC) /* liveness bound for gr_group_wait */

/* Waits (yielding) until *n reaches want, then lets the goroutines that
 * announced themselves reach their blocking call. */
static void settle(atomic_long *n, long want)
{
    t_wait_for(n, want);
    gr_sleep(2 * T_MS);
}

/* ------------------------------------------------- members and waiting */

static atomic_long ran;

static void short_member(void *arg)
{
    gr_sleep((int64_t)(intptr_t)arg);
    atomic_fetch_add(&ran, 1);
}

static void members_main(void *arg)
{
    gr_group g = GR_GROUP_INIT;
    atomic_store(&ran, 0);
    t_check_eq(gr_group_wait(&g, -1), 0);   /* no members: at once */
    t_check_eq(gr_group_wait(&g, 0), 0);
    t_check_eq(gr_group_err(&g), 0);
    for (int i = 0; i < 100; i++)
        t_check(gr_group_go(&g, short_member, (void *)(intptr_t)(i % 7 * T_MS)) > 0);
    t_check_eq(gr_group_wait(&g, 0), -ETIMEDOUT); /* a poll: they sleep */
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    t_check_eq(atomic_load(&ran), 100);     /* wait returned after all */
    t_check_eq(gr_cancelled(), 0);          /* main is in no group */
    gr_group_destroy(&g);
    /* Zero again: usable anew. */
    t_check(gr_group_go(&g, short_member, 0) > 0);
    t_check_eq(gr_group_wait(&g, -1), 0);
    t_check_eq(atomic_load(&ran), 101);
    gr_group_destroy(&g);
    gr_group_destroy(&g); /* destroying a zero group does nothing */
}

static void test_group_members_and_wait(void **state)
{
    t_run(members_main, NULL);
}

static gr_group self_g;

static void self_waiter(void *arg)
{
    t_check_eq(gr_group_wait(&self_g, -1), -EDEADLK);
    t_check_eq(gr_group_wait(&self_g, T_MS), -EDEADLK);
}

static void nop_fn(void *arg)
{
}

static void misuse_main(void *arg)
{
    t_check_eq(gr_group_go(NULL, nop_fn, NULL), -EINVAL);
    t_check_eq(gr_group_go(&self_g, NULL, NULL), -EINVAL);
    gr_opts bad = {.stack_size = 1}; /* below GR_MIN_STACK_SIZE */
    t_check_eq(gr_group_go_opts(&self_g, nop_fn, NULL, &bad), -EINVAL);
    t_check_eq(gr_group_wait(NULL, -1), -EINVAL);
    t_check_eq(gr_group_err(NULL), -EINVAL);
    errno = 0;
    t_check(gr_group_done(NULL) == NULL && errno == EINVAL);
    gr_group_cancel(NULL);
    gr_group_set_deadline(NULL, 1);
    gr_group_destroy(NULL);
    t_check(gr_group_go(&self_g, self_waiter, NULL) > 0);
    t_check_eq(gr_group_wait(&self_g, LIVE_NS), 0);
    gr_group_destroy(&self_g);
}

static void test_group_misuse(void **state)
{
    gr_group g = GR_GROUP_INIT;
    /* Outside a runtime: no goroutine can start. */
    assert_int_equal(gr_group_go(&g, nop_fn, NULL), -EPERM);
    gr_group_destroy(&g);
    t_run(misuse_main, NULL);
}

/* --------------------------------- every interruptible call: -ECANCELED */

struct blocker {
    gr_chan *never[5]; /* unbuffered, nobody on the other side: one per
                        * call, so that no two members pair up */
    gr_mutex m;
    gr_cond cond;
    gr_wg wg;         /* count 1, never done */
    atomic_long announced;
    atomic_long blocking_started, blocking_done; /* the offloaded fn */
    atomic_int cancel_issued; /* the test has cancelled the group */
};

static struct blocker bk;

static int call_sleep(void) { return gr_sleep(LONG_NS); }

static int call_recv(void)
{
    int v = 7;
    int r = gr_chan_recv(bk.never[0], &v);
    if (r == -ECANCELED && v != 7)
        t_fail_at(__FILE__, __LINE__, "a cancelled receive wrote its buffer");
    return r;
}

static int call_send(void)
{
    int v = 1;
    return gr_chan_send(bk.never[1], &v);
}

static int call_select(void)
{
    int v;
    gr_case cs[2] = {{bk.never[2], GR_RECV, &v, 99}, {bk.never[3], GR_SEND, &v, 99}};
    int r = gr_select(cs, 2, -1);
    if (r == -ECANCELED && (cs[0].res != 99 || cs[1].res != 99))
        t_fail_at(__FILE__, __LINE__, "a cancelled select set a case's res");
    return r;
}

static int call_select_timeout(void)
{
    int v;
    gr_case cs[1] = {{bk.never[4], GR_RECV, &v, 0}};
    return gr_select(cs, 1, LONG_NS);
}

static int call_select_no_cases(void) { return gr_select(NULL, 0, -1); }

static int call_select_no_cases_timeout(void) { return gr_select(NULL, 0, LONG_NS); }

static int call_cond_wait_timeout(void)
{
    gr_mutex_lock(&bk.m);
    int r = gr_cond_wait_timeout(&bk.cond, &bk.m, LONG_NS);
    /* m is held again, whatever the result. */
    if (gr_mutex_trylock(&bk.m) != -EBUSY)
        t_fail_at(__FILE__, __LINE__, "gr_cond_wait_timeout returned %d without m", r);
    gr_mutex_unlock(&bk.m);
    return r;
}

static int call_wg_wait(void) { return gr_wg_wait(&bk.wg); }

/* Runs until the test has cancelled the group (liveness bound LIVE_NS),
 * so that the member is still in gr_blocking when the cancellation
 * comes, however late the machine's load makes it (a fixed 30 ms was
 * over before a canceller thread delayed by a CPU hog cancelled). */
static void slow_fn(void *arg)
{
    atomic_store(&bk.blocking_started, 1);
    for (int64_t t = 0; t < LIVE_NS && !atomic_load(&bk.cancel_issued); t += T_MS)
        usleep(1000);
    atomic_store(&bk.blocking_done, 1);
}

static int call_blocking(void)
{
    atomic_store(&bk.blocking_started, 0);
    atomic_store(&bk.blocking_done, 0);
    int r = gr_blocking(slow_fn, NULL);
    /* The offloaded call cannot be stopped: once started, it ran to the
     * end before gr_blocking returned. */
    if (atomic_load(&bk.blocking_started) && !atomic_load(&bk.blocking_done))
        t_fail_at(__FILE__, __LINE__, "gr_blocking returned while fn ran");
    return r;
}

static const struct call {
    const char *name;
    int (*fn)(void);
} calls[] = {
    {"gr_sleep", call_sleep},
    {"gr_chan_recv", call_recv},
    {"gr_chan_send", call_send},
    {"gr_select", call_select},
    {"gr_select with a timeout", call_select_timeout},
    {"gr_select with no cases", call_select_no_cases},
    {"gr_select with no cases and a timeout", call_select_no_cases_timeout},
    {"gr_cond_wait_timeout", call_cond_wait_timeout},
    {"gr_wg_wait", call_wg_wait},
    {"gr_blocking", call_blocking},
};
#define NCALLS (int)(sizeof calls / sizeof calls[0])

static int results[NCALLS];

static void call_member(void *arg)
{
    int i = (int)(intptr_t)arg;
    atomic_fetch_add(&bk.announced, 1);
    results[i] = calls[i].fn();
    t_check_msg(gr_cancelled() == 1, "%s returned %d before the cancellation", calls[i].name,
                results[i]);
}

static void blocker_init(void)
{
    memset(&bk, 0, sizeof bk);
    for (int i = 0; i < 5; i++)
        bk.never[i] = gr_chan_make(sizeof(int), 0);
    gr_wg_add(&bk.wg, 1);
}

static void blocker_cancel(gr_group *g)
{
    gr_group_cancel(g);
    atomic_store(&bk.cancel_issued, 1); /* slow_fn may return now */
}

static void blocker_fini(void)
{
    gr_wg_done(&bk.wg);
    for (int i = 0; i < 5; i++)
        gr_chan_free(bk.never[i]);
}

static void interrupts_main(void *arg)
{
    blocker_init();
    gr_group g = GR_GROUP_INIT;
    for (int i = 0; i < NCALLS; i++) {
        results[i] = 1;
        t_check(gr_group_go(&g, call_member, (void *)(intptr_t)i) > 0);
    }
    settle(&bk.announced, NCALLS);
    t_check_eq(gr_group_wait(&g, 0), -ETIMEDOUT); /* all still blocked */
    blocker_cancel(&g);
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    for (int i = 0; i < NCALLS; i++)
        t_check_msg(results[i] == -ECANCELED, "%s returned %d, want -ECANCELED",
                    calls[i].name, results[i]);
    t_check_eq(gr_group_err(&g), -ECANCELED);
    gr_group_destroy(&g);
    blocker_fini();
}

static void test_group_cancel_interrupts_each_call(void **state)
{
    t_run(interrupts_main, NULL);
}

/* Made after the cancellation, the same calls fail at once; calls that
 * need not wait behave as usual. */
static void after_cancel_member(void *arg)
{
    gr_group *self = arg;
    while (!gr_cancelled())
        gr_yield();
    for (int i = 0; i < NCALLS; i++) {
        int r = calls[i].fn();
        t_check_msg(r == -ECANCELED, "%s after cancellation returned %d", calls[i].name, r);
    }
    t_check_msg(!atomic_load(&bk.blocking_started), "gr_blocking ran fn after cancellation");
    t_check_eq(gr_group_go(self, nop_fn, NULL), -ECANCELED);

    /* What does not wait still works. */
    gr_chan *c = gr_chan_make(sizeof(int), 2);
    int v = 5, got = 0;
    t_check_eq(gr_chan_send(c, &v), 0);                   /* room: no wait */
    t_check_eq(gr_chan_try_recv(c, &got), 0);
    t_check_eq(got, 5);
    t_check_eq(gr_chan_try_recv(c, &got), -EAGAIN);
    t_check_eq(gr_chan_send(c, &v), 0);
    t_check_eq(gr_chan_recv(c, &got), 0);                 /* a value: no wait */
    gr_case cs[2] = {{bk.never[0], GR_RECV, &got, 0}, {c, GR_SEND, &v, 1}};
    t_check_eq(gr_select(cs, 2, -1), 1);                  /* a ready case wins */
    t_check_eq(cs[1].res, 0);
    t_check_eq(gr_select(cs, 1, 0), -EAGAIN);             /* a poll stays a poll */
    gr_wg zero = GR_WG_INIT;
    t_check_eq(gr_wg_wait(&zero), 0);
    t_check_eq(gr_sleep(0), 0);
    gr_mutex_lock(&bk.m);                                 /* not interruptible */
    gr_mutex_unlock(&bk.m);
    gr_chan_free(c);
}

static void after_cancel_main(void *arg)
{
    blocker_init();
    gr_group g = GR_GROUP_INIT;
    t_check(gr_group_go(&g, after_cancel_member, &g) > 0);
    gr_group_cancel(&g);
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    t_check_eq(gr_group_go(&g, nop_fn, NULL), -ECANCELED);
    gr_group_destroy(&g);
    blocker_fini();
}

static void test_group_calls_after_cancel_fail_at_once(void **state)
{
    t_run(after_cancel_main, NULL);
}

/* ------------------------------------------------------ not interrupted */

static atomic_long locked_after;

static void locker(void *arg)
{
    atomic_fetch_add(&bk.announced, 1);
    gr_mutex_lock(&bk.m);
    atomic_store(&locked_after, gr_cancelled() ? 2 : 1);
    gr_mutex_unlock(&bk.m);
}

static void cond_waiter(void *arg)
{
    atomic_long *signalled = arg;
    gr_mutex_lock(&bk.m);
    atomic_fetch_add(&bk.announced, 1);
    while (!atomic_load(signalled))
        gr_cond_wait(&bk.cond, &bk.m);
    gr_mutex_unlock(&bk.m);
}

static void not_interrupted_main(void *arg)
{
    blocker_init();
    gr_group g = GR_GROUP_INIT;
    /* gr_mutex_lock, as in Go. */
    gr_mutex_lock(&bk.m);
    t_check(gr_group_go(&g, locker, NULL) > 0);
    settle(&bk.announced, 1);
    gr_group_cancel(&g);
    t_check_eq(gr_group_wait(&g, 20 * T_MS), -ETIMEDOUT); /* it holds on */
    t_check_eq(atomic_load(&locked_after), 0);
    gr_mutex_unlock(&bk.m);
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    t_check_eq(atomic_load(&locked_after), 2);  /* got it, then saw the cancel */
    gr_group_destroy(&g);

    /* gr_cond_wait (void: it could not report the cancellation). */
    static atomic_long signalled;
    atomic_store(&signalled, 0);
    atomic_store(&bk.announced, 0);
    t_check(gr_group_go(&g, cond_waiter, &signalled) > 0);
    settle(&bk.announced, 1);
    gr_group_cancel(&g);
    t_check_eq(gr_group_wait(&g, 20 * T_MS), -ETIMEDOUT);
    gr_mutex_lock(&bk.m);
    atomic_store(&signalled, 1);
    gr_cond_signal(&bk.cond);
    gr_mutex_unlock(&bk.m);
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    gr_group_destroy(&g);
    blocker_fini();
}

static void test_group_mutex_and_cond_wait_not_interrupted(void **state)
{
    t_run(not_interrupted_main, NULL);
}

/* ------------------------------------------------------ the done channel */

static void done_selector(void *arg)
{
    gr_group *g = arg;
    gr_chan *done = gr_group_done(g);
    t_check(done != NULL);
    atomic_fetch_add(&bk.announced, 1);
    int v;
    gr_case cs[2] = {{bk.never[0], GR_RECV, &v, 0}, {done, GR_RECV, NULL, 0}};
    for (int round = 0; round < 3; round++) {
        /* The close comes first: the done case, never -ECANCELED, and
         * again once the group is known to be cancelled. */
        int r = gr_select(cs, 2, -1);
        t_check_eq(r, 1);
        t_check_eq(cs[1].res, -EPIPE);
    }
    t_check_eq(gr_cancelled(), 1);
}

static void done_main(void *arg)
{
    blocker_init();
    gr_group g = GR_GROUP_INIT;
    gr_chan *done = gr_group_done(&g);
    t_check(done != NULL);
    t_check(gr_group_done(&g) == done); /* one per group */
    t_check_eq(gr_chan_try_recv(done, NULL), -EAGAIN);
    for (int i = 0; i < 4; i++)
        t_check(gr_group_go(&g, done_selector, &g) > 0);
    settle(&bk.announced, 4);
    gr_group_cancel(&g);
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    t_check_eq(gr_chan_try_recv(done, NULL), -EPIPE); /* closed */
    gr_group_destroy(&g);

    /* Asked for after the cancellation: closed already. */
    gr_group_cancel(&g);
    done = gr_group_done(&g);
    t_check(done != NULL);
    t_check_eq(gr_chan_recv(done, NULL), -EPIPE);
    gr_group_destroy(&g);
    blocker_fini();
}

static void test_group_select_on_done(void **state)
{
    t_run(done_main, NULL);
}

/* ------------------------------------------------------------- the tree */

/* Groups A > B > C and A > D, and a separate root E: every member sleeps
 * until cancelled and records its result. */
enum { GA, GB, GC, GD, GE, NGROUPS };
static gr_group tree[NGROUPS];
static atomic_int tree_result[NGROUPS];
static atomic_long tree_started;

static void tree_sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    atomic_fetch_add(&tree_started, 1);
    atomic_store(&tree_result[i], gr_sleep(LONG_NS));
}

/* A member of `parent` that makes `child` its child by spawning into it
 * first, then sleeps in its own group. */
struct spawn_child {
    int parent, child, grandchild;
};

static void tree_spawner(void *arg)
{
    struct spawn_child *s = arg;
    t_check(gr_group_go(&tree[s->child], tree_sleeper, (void *)(intptr_t)s->child) > 0);
    if (s->grandchild >= 0) {
        static struct spawn_child next;
        next = (struct spawn_child){s->child, s->grandchild, -1};
        t_check(gr_group_go(&tree[s->child], tree_spawner, &next) > 0);
    }
    tree_sleeper((void *)(intptr_t)s->parent);
}

static void expect_live(int i)
{
    t_check_msg(gr_group_err(&tree[i]) == 0, "group %d cancelled", i);
    t_check_msg(atomic_load(&tree_result[i]) == 1, "a member of group %d woke: %d", i,
                atomic_load(&tree_result[i]));
}

static void expect_cancelled(int i)
{
    t_check_msg(gr_group_err(&tree[i]) == -ECANCELED, "group %d: err %d", i,
                gr_group_err(&tree[i]));
    t_check_eq(gr_group_wait(&tree[i], LIVE_NS), 0);
    t_check_msg(atomic_load(&tree_result[i]) == -ECANCELED, "group %d's member got %d", i,
                atomic_load(&tree_result[i]));
}

static void tree_main(void *arg)
{
    memset(tree, 0, sizeof tree);
    for (int i = 0; i < NGROUPS; i++)
        atomic_store(&tree_result[i], 1);
    atomic_store(&tree_started, 0);
    static struct spawn_child ab = {GA, GB, GC}, ad = {GA, GD, -1};
    t_check(gr_group_go(&tree[GA], tree_spawner, &ab) > 0); /* A > B > C */
    t_check(gr_group_go(&tree[GA], tree_spawner, &ad) > 0); /* A > D */
    t_check(gr_group_go(&tree[GE], tree_sleeper, (void *)(intptr_t)GE) > 0);
    /* Sleepers: A's two spawners, B's spawner, and one each in B, C, D, E. */
    settle(&tree_started, 7);

    gr_group_cancel(&tree[GB]); /* B and C, nothing else */
    expect_cancelled(GB);
    expect_cancelled(GC);
    for (int i = GA; i < NGROUPS; i++)
        if (i == GA || i == GD || i == GE)
            expect_live(i);

    gr_group_cancel(&tree[GA]); /* now A and D; E stays */
    expect_cancelled(GA);
    expect_cancelled(GD);
    expect_live(GE);
    gr_group_cancel(&tree[GE]);
    expect_cancelled(GE);
    for (int i = 0; i < NGROUPS; i++)
        gr_group_destroy(&tree[i]);
}

static void test_group_nested_cancel_subtree(void **state)
{
    t_run(tree_main, NULL);
}

/* A group whose parent is cancelled starts cancelled; a deadline's cause
 * reaches the children. */
static gr_group parent_g, child_g, late_g;

static void late_spawner(void *arg)
{
    atomic_fetch_add(&bk.announced, 1);
    /* Child first, while the parent is live; then wait for the parent's
     * cancellation and try a group that has no parent yet. */
    t_check(gr_group_go(&child_g, tree_sleeper, (void *)(intptr_t)GB) > 0);
    while (!gr_cancelled())
        gr_yield();
    t_check_eq(gr_group_go(&late_g, nop_fn, NULL), -ECANCELED);
    t_check_eq(gr_group_err(&late_g), -ETIMEDOUT);
    gr_chan *done = gr_group_done(&late_g);
    t_check(done && gr_chan_try_recv(done, NULL) == -EPIPE);
}

static void inherit_main(void *arg)
{
    blocker_init();
    atomic_store(&tree_result[GB], 1);
    atomic_store(&tree_started, 0);
    t_check(gr_group_go(&parent_g, late_spawner, NULL) > 0);
    settle(&tree_started, 1);
    gr_group_set_deadline(&parent_g, gr_now() + 5 * T_MS);
    t_check_eq(gr_group_wait(&parent_g, LIVE_NS), 0);
    t_check_eq(gr_group_wait(&child_g, LIVE_NS), 0);
    t_check_eq(gr_group_err(&parent_g), -ETIMEDOUT);
    t_check_eq(gr_group_err(&child_g), -ETIMEDOUT);
    t_check_eq(atomic_load(&tree_result[GB]), -ECANCELED);
    gr_group_destroy(&late_g);
    gr_group_destroy(&child_g);
    gr_group_destroy(&parent_g);
    blocker_fini();
}

static void test_group_child_of_cancelled_starts_cancelled(void **state)
{
    t_run(inherit_main, NULL);
}

/* Destroying a middle group hands its children to its parent: the
 * grandparent's cancellation still reaches them.  A's member makes B (a
 * member that starts C's sleeper, then exits), so B empties while C
 * lives; B is destroyed; cancelling A must still reach C. */
static void b_member(void *arg)
{
    t_check(gr_group_go(&tree[GC], tree_sleeper, (void *)(intptr_t)GC) > 0);
}

static void a_member(void *arg)
{
    t_check(gr_group_go(&tree[GB], b_member, NULL) > 0);
    tree_sleeper((void *)(intptr_t)GA);
}

static void splice_main(void *arg)
{
    memset(tree, 0, sizeof tree);
    for (int i = 0; i < NGROUPS; i++)
        atomic_store(&tree_result[i], 1);
    atomic_store(&tree_started, 0);
    t_check(gr_group_go(&tree[GA], a_member, NULL) > 0);
    settle(&tree_started, 2); /* A's and C's sleepers */
    t_check_eq(gr_group_wait(&tree[GB], LIVE_NS), 0);
    gr_group_destroy(&tree[GB]); /* C becomes A's child */
    expect_live(GC);
    gr_group_cancel(&tree[GA]);
    expect_cancelled(GA);
    expect_cancelled(GC);
    for (int i = 0; i < NGROUPS; i++)
        gr_group_destroy(&tree[i]);
}

static void test_group_destroy_hands_children_to_parent(void **state)
{
    t_run(splice_main, NULL);
}

/* ------------------------------------------------------------ deadlines */

static void deadline_main(void *arg)
{
    gr_group g = GR_GROUP_INIT;
    atomic_store(&tree_started, 0);
    atomic_store(&tree_result[GA], 1);
    t_check(gr_group_go(&g, tree_sleeper, (void *)(intptr_t)GA) > 0);
    settle(&tree_started, 1);
    int64_t t0 = gr_now();
    gr_group_set_deadline(&g, t0 + 10 * T_MS);
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    int64_t took = gr_now() - t0;
    t_check_eq(gr_group_err(&g), -ETIMEDOUT);
    t_check_eq(atomic_load(&tree_result[GA]), -ECANCELED);
    t_check_msg(took >= 10 * T_MS, "the deadline fired %lld ns early",
                (long long)(10 * T_MS - took));
    print_message("group deadline of 10 ms: members gone after %.3f ms\n", took / 1e6);
    gr_group_destroy(&g);

    /* A deadline in the past cancels at once. */
    gr_group_set_deadline(&g, gr_now() - 1);
    t_check_eq(gr_group_err(&g), -ETIMEDOUT);
    t_check_eq(gr_group_go(&g, nop_fn, NULL), -ECANCELED);
    gr_group_destroy(&g);

    /* Cleared before it is due (no scheduling round can run it: this
     * worker keeps running us), it never fires. */
    t_check(gr_group_go(&g, short_member, (void *)(intptr_t)(50 * T_MS)) > 0);
    gr_preempt_disable();
    gr_group_set_deadline(&g, gr_now() + T_MS);
    int64_t until = gr_now() + 2 * T_MS;
    while (gr_now() < until) {
    }
    gr_group_set_deadline(&g, 0);
    gr_preempt_enable();
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    t_check_eq(gr_group_err(&g), 0);
    /* Moved later, then earlier. */
    t_check(gr_group_go(&g, tree_sleeper, (void *)(intptr_t)GA) > 0);
    gr_group_set_deadline(&g, gr_now() + LONG_NS);
    gr_group_set_deadline(&g, gr_now() + T_MS);
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    t_check_eq(gr_group_err(&g), -ETIMEDOUT);
    gr_group_destroy(&g);
}

static void test_group_deadline_fires(void **state)
{
    t_run(deadline_main, NULL);
}

/* Set before gr_run: armed at the group's first gr_group_go. */
static gr_group early_g;

static void early_main(void *arg)
{
    /* Started before the deadline (the usual case), the member is
     * cancelled by it; on a machine so busy that gr_run took longer than
     * the deadline, the group is cancelled already.  Either way by the
     * deadline, not by anything else. */
    int64_t id = gr_group_go(&early_g, tree_sleeper, (void *)(intptr_t)GA);
    t_check(id > 0 || id == -ECANCELED);
    t_check_eq(gr_group_wait(&early_g, LIVE_NS), 0);
    t_check_eq(gr_group_err(&early_g), -ETIMEDOUT);
}

static void test_group_deadline_set_before_run(void **state)
{
    gr_group_set_deadline(&early_g, t_mono_ns() + 200 * T_MS);
    assert_int_equal(gr_group_err(&early_g), 0);
    t_run(early_main, NULL);
    gr_group_destroy(&early_g);
}

/* ----------------------------------------------------- cancel: idempotent */

static void finished_main(void *arg)
{
    gr_group g = GR_GROUP_INIT;
    atomic_store(&ran, 0);
    for (int i = 0; i < 10; i++)
        t_check(gr_group_go(&g, short_member, 0) > 0);
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    gr_group_cancel(&g); /* nobody left: only marks it */
    gr_group_cancel(&g);
    t_check_eq(atomic_load(&ran), 10);
    t_check_eq(gr_group_err(&g), -ECANCELED);
    t_check_eq(gr_group_wait(&g, 0), 0);
    t_check_eq(gr_group_go(&g, nop_fn, NULL), -ECANCELED);
    gr_group_destroy(&g);

    /* Cancelled before it was ever used (no state yet). */
    gr_group_cancel(&g);
    t_check_eq(gr_group_err(&g), -ECANCELED);
    t_check_eq(gr_group_go(&g, nop_fn, NULL), -ECANCELED);
    gr_group_destroy(&g);
    t_check_eq(gr_group_err(&g), 0);
}

static void test_group_cancel_finished_is_noop(void **state)
{
    t_run(finished_main, NULL);
}

/* --------------------------------------- cancellation from another thread */

static void *canceller_thread(void *arg)
{
    usleep(2000);
    blocker_cancel(arg);
    return NULL;
}

static void foreign_main(void *arg)
{
    blocker_init();
    gr_group g = GR_GROUP_INIT;
    for (int i = 0; i < NCALLS; i++)
        results[i] = 1;
    for (int i = 0; i < NCALLS; i++)
        t_check(gr_group_go(&g, call_member, (void *)(intptr_t)i) > 0);
    settle(&bk.announced, NCALLS);
    pthread_t t;
    t_check_eq(pthread_create(&t, NULL, canceller_thread, &g), 0);
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    for (int i = 0; i < NCALLS; i++)
        t_check_msg(results[i] == -ECANCELED, "%s returned %d", calls[i].name, results[i]);
    /* Joining blocks this worker for the thread's last instructions. */
    pthread_join(t, NULL);
    gr_group_destroy(&g);
    blocker_fini();
}

static void test_group_cancel_from_foreign_thread(void **state)
{
    t_run(foreign_main, NULL);
}

/* ------------------------------------------------------- across gr_run */

static gr_group static_g;

static void abandoned_member(void *arg)
{
    gr_chan_recv((gr_chan *)arg, NULL); /* forever: gr_run abandons it */
}

static gr_chan *abandon_ch;

static void first_run_main(void *arg)
{
    abandon_ch = gr_chan_make(0, 0);
    t_check(gr_group_go(&static_g, abandoned_member, abandon_ch) > 0);
    t_check(gr_group_done(&static_g) != NULL);
    gr_sleep(T_MS);
}

static void second_run_main(void *arg)
{
    t_check_eq(gr_group_wait(&static_g, 0), 0); /* no member left */
    atomic_store(&ran, 0);
    t_check(gr_group_go(&static_g, short_member, 0) > 0);
    t_check_eq(gr_group_wait(&static_g, LIVE_NS), 0);
    t_check_eq(atomic_load(&ran), 1);
    gr_group_cancel(&static_g);
    gr_group_destroy(&static_g);
}

static void test_group_survives_gr_run(void **state)
{
    t_run(first_run_main, NULL);
    t_run(second_run_main, NULL);
    gr_chan_free(abandon_ch);
}

/* ------------------------------------ races: cancellation vs a transfer */

/* A member receives (or sends) on an unbuffered channel while a goroutine
 * outside the group sends (or receives) with a select that also watches
 * a stop channel, and main cancels the group at a random moment.  Either
 * the value moved - both sides say so - or it did not: never one side
 * only.  The peer starts its select when main says go, then main spins a
 * random while before it cancels; with two workers the peer runs beside
 * main, with one the random yields interleave them. */
#define RACES T_BIG(100000)

struct race {
    gr_chan *c, *stop;
    int dir;          /* 0: the member receives; 1: it sends */
    int member_res, peer_res;
    int member_val, peer_val;
    unsigned spin_member, spin_peer;
    atomic_int announced, go;
    gr_group peer; /* the peer's own group, never cancelled: a join */
};

static void spin(unsigned n)
{
    for (volatile unsigned i = 0; i < n; i++) {
    }
}

static void race_member(void *arg)
{
    struct race *r = arg;
    atomic_fetch_add(&r->announced, 1);
    spin(r->spin_member);
    if (r->dir == 0) {
        r->member_res = gr_chan_recv(r->c, &r->member_val);
    } else {
        r->member_val = 42;
        r->member_res = gr_chan_send(r->c, &r->member_val);
    }
}

static void race_peer(void *arg)
{
    struct race *r = arg;
    atomic_fetch_add(&r->announced, 1);
    while (!atomic_load(&r->go))
        gr_yield();
    spin(r->spin_peer);
    r->peer_val = 42;
    gr_case cs[2] = {{r->c, r->dir == 0 ? GR_SEND : GR_RECV, &r->peer_val, 0},
                     {r->stop, GR_RECV, NULL, 0}};
    int i = gr_select(cs, 2, -1);
    r->peer_res = i == 0 ? 0 : -ECANCELED;
}

static void races_main(void *arg)
{
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)t_mono_ns();
    long moved = 0, cancelled = 0, round;
    for (round = 0; round < RACES && !t_failed(); round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        struct race r = {.c = gr_chan_make(sizeof(int), 0), .stop = gr_chan_make(0, 0),
                         .dir = (int)(x & 1), .member_res = 1, .peer_res = 1,
                         .spin_member = (unsigned)(x >> 8) & 255,
                         .spin_peer = (unsigned)(x >> 16) & 255};
        unsigned spin_main = (unsigned)(x >> 24) & 511;
        gr_group g = GR_GROUP_INIT;
        t_check(gr_group_go(&g, race_member, &r) > 0);
        t_check(gr_group_go(&r.peer, race_peer, &r) > 0);
        while (atomic_load(&r.announced) < 2)
            gr_yield();
        atomic_store(&r.go, 1);
        spin(spin_main);
        if (x & (1ull << 40))
            gr_yield();
        gr_group_cancel(&g);
        t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
        gr_chan_close(r.stop);    /* the peer stops waiting, if it still is */
        /* The peer, outside g, is joined through a group of its own. */
        t_check_eq(gr_group_wait(&r.peer, LIVE_NS), 0);
        gr_group_destroy(&r.peer);
        if (r.member_res == 0) {
            moved++;
            t_check_msg(r.peer_res == 0, "round %ld: the member moved a value, the peer did not",
                        round);
            t_check_eq(r.dir == 0 ? r.member_val : r.peer_val, 42);
        } else {
            cancelled++;
            t_check_msg(r.member_res == -ECANCELED, "round %ld: member returned %d", round,
                        r.member_res);
            t_check_msg(r.peer_res == -ECANCELED,
                        "round %ld: the member was cancelled, but the peer's %s happened", round,
                        r.dir == 0 ? "send" : "receive");
        }
        gr_group_destroy(&g);
        gr_chan_free(r.c);
        gr_chan_free(r.stop);
    }
    print_message("%ld races: %ld transfers, %ld cancellations%s\n", round, moved,
                  cancelled,
                  RACES < 100000 ? " (fewer rounds under TSan, where each costs ~50x more)" : "");
    /* Both outcomes happen: otherwise the race was not run. */
    t_check(moved > 0);
    t_check(cancelled > 0);
}

static void test_group_cancel_races_channel_transfer(void **state)
{
    t_run(races_main, NULL);
}

/* ------------------------ races: cancellation vs a wait group's release */

/* A member waits on a wait group while a goroutine outside the group does
 * the last gr_wg_done and main cancels, each at a random moment.  The
 * wait returns 0 or -ECANCELED; either way the member then moves on and
 * reuses the wait group's memory - all of it but the counter word, which
 * a done that has not happened yet still adds to (and, finding no
 * waiter, touches nothing else).  The releaser must be done with the lock
 * and the queue by then: a cancelled waiter never returns while a release
 * is under way (TSan sees the race if it does; the releaser would find
 * its lock word overwritten in any build). */
#define WG_RACES T_BIG(20000)

struct wg_race {
    gr_wg wg;
    int res;
    unsigned spin_member, spin_releaser;
    atomic_int announced, go;
    gr_group releaser; /* the releaser's own group, never cancelled: a join */
};

/* Both sides start when main says go (on one worker, the yields while
 * they wait for it interleave them in varying orders). */
static void wg_race_start(struct wg_race *r, unsigned n)
{
    atomic_fetch_add(&r->announced, 1);
    while (!atomic_load(&r->go))
        gr_yield();
    spin(n);
}

static void wg_race_member(void *arg)
{
    struct wg_race *r = arg;
    wg_race_start(r, r->spin_member);
    r->res = gr_wg_wait(&r->wg);
    memset(&r->wg._lock, 0x5a, sizeof r->wg - offsetof(gr_wg, _lock)); /* moved on */
}

static void wg_race_releaser(void *arg)
{
    struct wg_race *r = arg;
    wg_race_start(r, r->spin_releaser);
    gr_wg_done(&r->wg);
}

static void wg_races_main(void *arg)
{
    uint64_t x = 0x2545f4914f6cdd1dull ^ (uint64_t)t_mono_ns();
    long released = 0, cancelled = 0, round;
    for (round = 0; round < WG_RACES && !t_failed(); round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        struct wg_race r = {.res = 1, .spin_member = (unsigned)x & 1023,
                            .spin_releaser = (unsigned)(x >> 10) & 1023};
        unsigned spin_main = (unsigned)(x >> 20) & 1023;
        gr_group g = GR_GROUP_INIT;
        gr_wg_add(&r.wg, 1);
        bool member_first = x & (1ull << 41); /* spawned first: runs last */
        if (member_first)
            t_check(gr_group_go(&g, wg_race_member, &r) > 0);
        t_check(gr_group_go(&r.releaser, wg_race_releaser, &r) > 0);
        if (!member_first)
            t_check(gr_group_go(&g, wg_race_member, &r) > 0);
        while (atomic_load(&r.announced) < 2)
            gr_yield();
        atomic_store(&r.go, 1);
        spin(spin_main);
        if (x & (1ull << 40))
            gr_yield();
        gr_group_cancel(&g);
        t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
        t_check_eq(gr_group_wait(&r.releaser, LIVE_NS), 0);
        gr_group_destroy(&r.releaser);
        gr_group_destroy(&g);
        if (r.res == 0)
            released++;
        else if (r.res == -ECANCELED)
            cancelled++;
        else
            t_fail_at(__FILE__, __LINE__, "round %ld: gr_wg_wait returned %d", round, r.res);
    }
    print_message("%ld wait/cancel/release races: %ld waits released, %ld cancelled%s\n", round,
                  released, cancelled,
                  WG_RACES < 20000 ? " (fewer rounds under TSan, where each costs ~50x more)"
                                   : "");
    t_check(released > 0);
    t_check(cancelled > 0);
}

static void test_group_cancel_races_wg_release(void **state)
{
    t_run(wg_races_main, NULL);
}

/* ---------------------------- races: cancellation vs a goroutine parking */

/* Members park and are woken over and over (a feeder outside the group
 * sends to each in turn) while the group is cancelled at a random moment,
 * from main or from a thread outside the runtime: a member that was about
 * to park when the flag went up must still be interrupted (the feeder
 * stops as soon as the done channel closes, so nothing else would wake
 * it).  This is intr.c's race (1). */
#define PARK_RACES T_BIG(3000)
#define PARK_MEMBERS 4

struct park_race {
    gr_group g;
    gr_chan *c[PARK_MEMBERS];
    gr_chan *done;
    atomic_long fed;
    gr_group feeder; /* the feeder's own group, never cancelled: a join */
    unsigned spin;
};

static void park_member(void *arg)
{
    gr_chan *c = arg;
    int r;
    while ((r = gr_chan_recv(c, NULL)) == 0) {
    }
    t_check_eq(r, -ECANCELED);
}

static void park_feeder(void *arg)
{
    struct park_race *pr = arg;
    for (int i = 0;; i = (i + 1) % PARK_MEMBERS) {
        if (gr_chan_try_recv(pr->done, NULL) == -EPIPE)
            break;
        gr_case cs[2] = {{pr->c[i], GR_SEND, NULL, 0}, {pr->done, GR_RECV, NULL, 0}};
        if (gr_select(cs, 2, -1) == 1)
            break;
        atomic_fetch_add(&pr->fed, 1);
    }
}

static void *park_race_canceller(void *arg)
{
    struct park_race *pr = arg;
    spin(pr->spin);
    gr_group_cancel(&pr->g);
    return NULL;
}

static void park_races_main(void *arg)
{
    uint64_t x = 0x2545f4914f6cdd1dull ^ (uint64_t)t_mono_ns();
    long foreign = 0, round;
    for (round = 0; round < PARK_RACES && !t_failed(); round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        static struct park_race pr;
        memset(&pr, 0, sizeof pr);
        pr.spin = (unsigned)(x >> 8) & 4095;
        for (int i = 0; i < PARK_MEMBERS; i++) {
            pr.c[i] = gr_chan_make(0, 0);
            t_check(gr_group_go(&pr.g, park_member, pr.c[i]) > 0);
        }
        pr.done = gr_group_done(&pr.g);
        t_check(gr_group_go(&pr.feeder, park_feeder, &pr) > 0);
        /* Until the members are cycling.  A sleep, not a yield: the
         * feeder and a member hand the worker to each other through its
         * runnext slot, and a yielder queued behind them waits long. */
        while (atomic_load(&pr.fed) < 8)
            gr_sleep(20000);
        pthread_t t;
        bool from_thread = x & 1;
        if (from_thread && pthread_create(&t, NULL, park_race_canceller, &pr) == 0) {
            foreign++;
        } else {
            from_thread = false;
            park_race_canceller(&pr);
        }
        /* With a timeout: its timer keeps the deadlock detector from
         * firing while only the outside thread can wake anybody (it
         * cannot see such threads: issue 11). */
        int r = gr_group_wait(&pr.g, LIVE_NS);
        t_check_msg(r == 0, "round %ld: a member slept through its group's cancellation", round);
        if (from_thread)
            pthread_join(t, NULL);
        t_check_eq(gr_group_wait(&pr.feeder, LIVE_NS), 0);
        gr_group_destroy(&pr.feeder);
        if (r == 0)
            gr_group_destroy(&pr.g);
        for (int i = 0; i < PARK_MEMBERS; i++)
            gr_chan_free(pr.c[i]);
    }
    print_message("%ld cancellations of members parking and waking (%ld from another thread)\n",
                  round, foreign);
}

static void test_group_cancel_races_parking(void **state)
{
    t_run(park_races_main, NULL);
}

/* ------------------------------- 10,000 parked members: cancel latency */

#define NPARKED T_LIVE(10000)

static atomic_long parked_announced;
static atomic_llong last_return_ns;

static void parked_receiver(void *arg)
{
    atomic_fetch_add(&parked_announced, 1);
    int r = gr_chan_recv(arg, NULL);
    if (r != -ECANCELED)
        t_fail_at(__FILE__, __LINE__, "parked receiver returned %d", r);
    int64_t now = gr_now();
    long long prev = atomic_load(&last_return_ns);
    while (now > prev && !atomic_compare_exchange_weak(&last_return_ns, &prev, now)) {
    }
}

static void many_main(void *arg)
{
    gr_chan *never = gr_chan_make(0, 0);
    gr_group g = GR_GROUP_INIT;
    atomic_store(&parked_announced, 0);
    atomic_store(&last_return_ns, 0);
    for (int i = 0; i < NPARKED; i++)
        t_check(gr_group_go(&g, parked_receiver, never) > 0);
    settle(&parked_announced, NPARKED);
    int64_t t0 = gr_now();
    gr_group_cancel(&g);
    int64_t t1 = gr_now();
    t_check_eq(gr_group_wait(&g, LIVE_NS), 0);
    print_message("cancel of %d members parked in gr_chan_recv: gr_group_cancel took %.3f ms, "
                  "last member returned %.3f ms after the call\n",
                  NPARKED, (t1 - t0) / 1e6, (atomic_load(&last_return_ns) - t0) / 1e6);
    gr_group_destroy(&g);
    gr_chan_free(never);
}

static void test_group_cancel_10k_parked_receivers(void **state)
{
    t_run(many_main, NULL);
}

/* ================================================================ I/O */

/* Every I/O call that can wait, cancelled while parked: -ECANCELED, and
 * the descriptor works afterwards (a byte written and read).  The writes
 * park on a full socket, gr_connect on a listener whose accept queue is
 * full (the kernel drops the SYN), and one gr_read waits for the fd's
 * read lock, which a goroutine outside the group holds in its own read:
 * that one must not be disturbed. */
enum { IO_READ, IO_RECV, IO_READV, IO_READ_DEADLINE, IO_READ_FULL, IO_POLL, IO_RECV_BUF,
       IO_READ_LOCKWAIT, IO_WRITE, IO_WRITEV, IO_SEND, IO_WRITE_ALL, IO_ACCEPT, IO_CONNECT,
       NIO };
#define IO_FIRST_WRITE IO_WRITE
#define IO_LAST_WRITE IO_WRITE_ALL
#define IO_ON_PAIRS IO_ACCEPT /* the calls before it use io_sv[i] */
#define FULL_BACKLOG 1       /* the listener gr_connect waits on */
#define FULL_CLIENTS 4       /* connections that fill its accept queue */
static const char *const io_names[NIO] = {
    "gr_read", "gr_recv", "gr_readv", "gr_read with a deadline", "gr_read_full", "gr_poll",
    "gr_recv_buf", "gr_read waiting for the fd's read lock", "gr_write on a full socket",
    "gr_writev on a full socket", "gr_send on a full socket", "gr_write_all on a full socket",
    "gr_accept", "gr_connect to a full listener",
};
static int (*io_sv)[2];
static int io_lfd, io_full_port, io_res[NIO];
static atomic_long io_announced;

static void io_member(void *arg)
{
    int i = (int)(intptr_t)arg, fd = io_sv[i][0], r;
    char buf[16] = {0};
    struct iovec iov = {buf, sizeof buf};
    atomic_fetch_add(&io_announced, 1);
    switch (i) {
    case IO_READ: r = (int)gr_read(fd, buf, sizeof buf); break;
    case IO_RECV: r = (int)gr_recv(fd, buf, sizeof buf, 0); break;
    case IO_READV: r = (int)gr_readv(fd, &iov, 1); break;
    case IO_READ_DEADLINE:
        gr_set_deadline(gr_now() + LONG_NS); /* a linked timeout rides along */
        r = (int)gr_read(fd, buf, sizeof buf);
        break;
    case IO_READ_FULL: r = (int)gr_read_full(fd, buf, sizeof buf); break;
    case IO_POLL: r = gr_poll(fd, POLLIN, -1); break;
    case IO_RECV_BUF: {
        gr_buf *b = NULL;
        r = (int)gr_recv_buf(fd, &b);
        if (b)
            gr_buf_release(b);
        break;
    }
    case IO_READ_LOCKWAIT: r = (int)gr_read(fd, buf, sizeof buf); break;
    case IO_WRITE: r = (int)gr_write(fd, buf, sizeof buf); break;
    case IO_WRITEV: r = (int)gr_writev(fd, &iov, 1); break;
    case IO_SEND: r = (int)gr_send(fd, buf, sizeof buf, 0); break;
    case IO_WRITE_ALL: r = (int)gr_write_all(fd, buf, sizeof buf); break;
    case IO_ACCEPT: r = gr_accept(io_lfd, NULL, NULL); break;
    default: {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)io_full_port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        r = s < 0 ? -errno : gr_connect(s, (struct sockaddr *)&sa, sizeof sa);
        if (s >= 0)
            gr_close(s);
        break;
    }
    }
    io_res[i] = r;
}

/* The goroutine outside the group that holds IO_READ_LOCKWAIT's read
 * lock in a read of its own. */
static char io_holder_got;
static ssize_t io_holder_res;

static void io_lock_holder(void *arg)
{
    atomic_fetch_add(&io_announced, 1);
    io_holder_res = gr_read(io_sv[IO_READ_LOCKWAIT][0], &io_holder_got, 1);
}

/* Fills fd's send buffer (and its peer's receive buffer) to the brim. */
static void fill_socket(int fd)
{
    static char junk[65536];
    while (send(fd, junk, sizeof junk, MSG_DONTWAIT) > 0) {
    }
}

static void drain_socket(int fd)
{
    static char junk[65536]; /* not on a goroutine's stack */
    while (recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0) {
    }
}

/* A byte each way between fd and its peer, through the runtime. */
static void check_usable(const char *what, int fd, int peer)
{
    char c = 'x', d = 0;
    t_check_msg(gr_write(peer, &c, 1) == 1 && gr_read(fd, &d, 1) == 1 && d == 'x',
                "%s: no byte from the peer after the cancellation", what);
    c = 'y';
    t_check_msg(gr_write(fd, &c, 1) == 1 && gr_read(peer, &d, 1) == 1 && d == 'y',
                "%s: no byte to the peer after the cancellation", what);
}

/* A listener on loopback whose accept queue is full: a blocking connect
 * to it waits (its SYN is dropped until the queue has room). */
static int full_listener(int *clients)
{
    int lfd = gr_listen_tcp("127.0.0.1", 0, FULL_BACKLOG);
    if (lfd < 0)
        return lfd;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t_port_of(lfd)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < FULL_CLIENTS; i++) {
        clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (clients[i] >= 0)
            (void)connect(clients[i], (struct sockaddr *)&sa, sizeof sa); /* EINPROGRESS */
    }
    return lfd;
}

static void io_interrupts_main(void *arg)
{
    io_sv = t_socketpairs(NIO);
    io_lfd = gr_listen_tcp("127.0.0.1", 0, 16);
    int clients[FULL_CLIENTS], full = full_listener(clients);
    t_check(io_sv && io_lfd >= 0 && full >= 0);
    if (!io_sv || io_lfd < 0 || full < 0)
        return;
    io_full_port = t_port_of(full);
    for (int i = IO_FIRST_WRITE; i <= IO_LAST_WRITE; i++)
        fill_socket(io_sv[i][0]);
    gr_group g = GR_GROUP_INIT, holder = GR_GROUP_INIT;
    atomic_store(&io_announced, 0);
    io_holder_res = 1;
    t_check(gr_group_go(&holder, io_lock_holder, NULL) > 0); /* in no group of g's tree */
    settle(&io_announced, 1);
    for (int i = 0; i < NIO; i++) {
        io_res[i] = 1;
        t_check(gr_group_go(&g, io_member, (void *)(intptr_t)i) > 0);
    }
    settle(&io_announced, 1 + NIO);
    t_check_eq(gr_group_wait(&g, 0), -ETIMEDOUT);
    gr_group_cancel(&g);
    int w = gr_group_wait(&g, LIVE_NS);
    t_check_msg(w == 0, "members still parked in I/O %lld s after the cancellation",
                (long long)(LIVE_NS / T_SEC));
    if (w != 0)
        return; /* destroying it would be fatal */
    for (int i = 0; i < NIO; i++)
        t_check_msg(io_res[i] == -ECANCELED, "%s returned %d, want -ECANCELED", io_names[i],
                    io_res[i]);
    gr_group_destroy(&g);
    /* The lock holder outside the group still waits, and gets its byte. */
    t_check_eq(gr_group_wait(&holder, 0), -ETIMEDOUT);
    char h = 'h';
    t_check_eq(gr_write(io_sv[IO_READ_LOCKWAIT][1], &h, 1), 1);
    t_check_eq(gr_group_wait(&holder, LIVE_NS), 0);
    t_check_eq(io_holder_res, 1);
    t_check_eq(io_holder_got, 'h');
    gr_group_destroy(&holder);
    for (int i = IO_FIRST_WRITE; i <= IO_LAST_WRITE; i++)
        drain_socket(io_sv[i][1]);
    for (int i = 0; i < IO_ON_PAIRS; i++)
        check_usable(io_names[i], io_sv[i][0], io_sv[i][1]);
    int c = gr_dial_tcp("127.0.0.1", t_port_of(io_lfd));
    int a = gr_accept(io_lfd, NULL, NULL);
    t_check_msg(c >= 0 && a >= 0, "the listener no longer accepts after a cancelled gr_accept");
    if (c >= 0 && a >= 0)
        check_usable("an accepted connection", a, c);
    if (c >= 0)
        gr_close(c);
    if (a >= 0)
        gr_close(a);
    gr_close(io_lfd);
    for (int i = 0; i < FULL_CLIENTS; i++)
        if (clients[i] >= 0)
            close(clients[i]);
    gr_close(full);
    t_close_socketpairs(io_sv, NIO);
}

static void test_group_cancel_interrupts_io(void **state)
{
    t_run(io_interrupts_main, NULL);
}

/* After the cancellation, I/O fails at once with -ECANCELED and consumes
 * nothing - even past the goroutine's deadline (not -ETIMEDOUT: the
 * cancellation is final); gr_shutdown and gr_close still work (clean-up
 * in a cancelled goroutine). */
struct io_after {
    int sv[2], dup, lfd;
};

static void io_after_member(void *arg)
{
    struct io_after *a = arg;
    int fd = a->sv[0];
    while (!gr_cancelled())
        gr_yield();
    char b = 0;
    struct iovec iov = {&b, 1};
    gr_buf *buf = NULL;
    t_check_eq(gr_read(fd, &b, 1), -ECANCELED);
    t_check_eq(gr_recv(fd, &b, 1, 0), -ECANCELED);
    t_check_eq(gr_readv(fd, &iov, 1), -ECANCELED);
    t_check_eq(gr_read_full(fd, &b, 1), -ECANCELED);
    t_check_eq(gr_recv_buf(fd, &buf), -ECANCELED);
    t_check(buf == NULL);
    t_check_eq(gr_poll(fd, POLLIN, -1), -ECANCELED);
    t_check_eq(gr_poll(fd, POLLIN, 0), -ECANCELED);
    t_check_eq(gr_write(fd, &b, 1), -ECANCELED);
    t_check_eq(gr_writev(fd, &iov, 1), -ECANCELED);
    t_check_eq(gr_send(fd, &b, 1, 0), -ECANCELED);
    t_check_eq(gr_write_all(fd, &b, 1), -ECANCELED);
    t_check_eq(gr_fsync(fd), -ECANCELED);
    t_check_eq(gr_accept(a->lfd, NULL, NULL), -ECANCELED);
    t_check_eq(gr_dial_tcp("127.0.0.1", t_port_of(a->lfd)), -ECANCELED);
    t_check_eq(gr_open("/dev/null", O_RDONLY | O_CLOEXEC, 0), -ECANCELED);
    gr_set_deadline(1); /* long past */
    t_check_eq(gr_read(fd, &b, 1), -ECANCELED);
    t_check_eq(gr_poll(fd, POLLIN, -1), -ECANCELED);
    gr_set_deadline(0);
    t_check_eq(gr_shutdown(fd, SHUT_WR), 0);
    t_check_eq(gr_close(a->dup), 0);
}

static void io_after_main(void *arg)
{
    struct io_after a;
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a.sv), 0);
    a.dup = dup(a.sv[0]);
    a.lfd = gr_listen_tcp("127.0.0.1", 0, 16);
    t_check(a.dup >= 0 && a.lfd >= 0);
    char b = 'z';
    t_check_eq(gr_write(a.sv[1], &b, 1), 1); /* readable: still not read */
    gr_group g = GR_GROUP_INIT;
    t_check(gr_group_go(&g, io_after_member, &a) > 0);
    gr_group_cancel(&g);
    if (gr_group_wait(&g, LIVE_NS) != 0) {
        t_fail_at(__FILE__, __LINE__, "the cancelled member is stuck in I/O");
        return;
    }
    gr_group_destroy(&g);
    b = 0;
    t_check_eq(recv(a.sv[0], &b, 1, MSG_DONTWAIT), 1);
    t_check_eq(b, 'z');
    /* Nothing was written, and the shutdown happened: end of file. */
    t_check_eq(recv(a.sv[1], &b, 1, MSG_DONTWAIT), 0);
    t_check(fcntl(a.dup, F_GETFD) < 0); /* closed by the member */
    /* Nothing connected: the dial failed before its connect. */
    t_check_eq(gr_poll(a.lfd, POLLIN, 0), 0);
    gr_close(a.lfd);
    gr_close(a.sv[0]);
    gr_close(a.sv[1]);
}

static void test_group_io_after_cancel_fails_at_once(void **state)
{
    t_run(io_after_main, NULL);
}

/* Cancellation racing a completion never loses data: a member reads a
 * socket while a goroutine outside the group writes a chunk into it and
 * main cancels, each at a random moment.  The bytes the read returned,
 * then those still in the socket, must be exactly the bytes written, in
 * order (t_pat numbers every byte of the stream); the socket is the same
 * for every round, so it also stays usable through all the cancels. */
#define IO_RACES T_BIG(100000)

struct io_race {
    int rd, wr;
    uint64_t wpos;   /* stream position of the chunk written this round */
    int wlen, rlen;
    ssize_t res;
    uint8_t got[64];
    unsigned spin_member, spin_writer;
    gr_group writer; /* the writer's own group: a join (see races_main) */
};

static void io_race_member(void *arg)
{
    struct io_race *r = arg;
    spin(r->spin_member);
    r->res = gr_read(r->rd, r->got, (size_t)r->rlen);
}

static void io_race_writer(void *arg)
{
    struct io_race *r = arg;
    uint8_t chunk[64];
    spin(r->spin_writer);
    t_fill(chunk, (size_t)r->wlen, r->wpos);
    t_check_eq(gr_write(r->wr, chunk, (size_t)r->wlen), r->wlen);
}

static void io_races_main(void *arg)
{
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    uint64_t x = 0xd1b54a32d192ed03ull ^ (uint64_t)t_mono_ns(), pos = 0;
    long data = 0, cancelled = 0, round;
    for (round = 0; round < IO_RACES && !t_failed(); round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        struct io_race r = {.rd = sv[0], .wr = sv[1], .wpos = pos, .res = 1,
                            .wlen = 1 + (int)(x & 63), .rlen = 1 + (int)((x >> 6) & 63),
                            .spin_member = (unsigned)(x >> 12) & 1023,
                            .spin_writer = (unsigned)(x >> 22) & 1023};
        unsigned spin_main = (unsigned)(x >> 32) & 2047;
        gr_group g = GR_GROUP_INIT;
        t_check(gr_group_go(&g, io_race_member, &r) > 0);
        t_check(gr_group_go(&r.writer, io_race_writer, &r) > 0);
        spin(spin_main);
        if (x & (1ull << 44))
            gr_yield();
        gr_group_cancel(&g);
        if (gr_group_wait(&g, LIVE_NS) != 0) {
            t_fail_at(__FILE__, __LINE__, "round %ld: the read was not cancelled", round);
            break;
        }
        t_check_eq(gr_group_wait(&r.writer, LIVE_NS), 0);
        gr_group_destroy(&r.writer);
        gr_group_destroy(&g);
        uint64_t seen = pos;
        if (r.res > 0) {
            data++;
            t_check_msg(t_verify(r.got, (size_t)r.res, seen) == (size_t)r.res,
                        "round %ld: the read returned bytes out of the stream", round);
            seen += (uint64_t)r.res;
        } else {
            cancelled++;
            t_check_msg(r.res == -ECANCELED, "round %ld: the read returned %zd", round, r.res);
        }
        uint8_t rest[64];
        ssize_t n;
        while ((n = recv(sv[0], rest, sizeof rest, MSG_DONTWAIT)) > 0) {
            t_check_msg(t_verify(rest, (size_t)n, seen) == (size_t)n,
                        "round %ld: bytes left in the socket are not the stream's", round);
            seen += (uint64_t)n;
        }
        pos += (uint64_t)r.wlen;
        t_check_msg(seen == pos, "round %ld: %lld byte(s) lost", round,
                    (long long)(pos - seen));
    }
    print_message("%ld read/cancel races on one socket: %ld reads returned data, %ld were "
                  "cancelled%s\n",
                  round, data, cancelled,
                  IO_RACES < 100000 ? " (fewer rounds under TSan, where each costs ~50x more)"
                                    : "");
    t_check(data > 0);
    t_check(cancelled > 0);
    gr_close(sv[0]);
    gr_close(sv[1]);
}

static void test_group_cancel_races_read_completion(void **state)
{
    t_run(io_races_main, NULL);
}

/* 10,000 members parked in gr_read on idle sockets, cancelled at once:
 * all return -ECANCELED, and every socket still carries a byte each way.
 * The peer ends live in a child process: both ends would not fit the
 * machine's 20,000-descriptor limit in one.  The latency from
 * gr_group_cancel to the last member's return is printed (not asserted:
 * the machine is shared). */
#define NREADERS T_LIVE(10000)
#define FD_CHUNK 250 /* descriptors per SCM_RIGHTS message */

/* The child: takes the peer ends, then on 'E' reads a byte from each and
 * writes it back plus one, and answers 'K' (or 'X'); exits on EOF. */
static void peer_child(int ctl)
{
    static int fds[10000];
    int n = 0;
    bool ok = true;
    for (;;) {
        char cmd;
        char cbuf[CMSG_SPACE(sizeof(int) * FD_CHUNK)];
        struct iovec iov = {&cmd, 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof cbuf};
        if (recvmsg(ctl, &mh, 0) <= 0)
            _exit(ok ? 0 : 1);
        if (cmd == 'F') {
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            int k = cm ? (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : 0;
            memcpy(fds + n, CMSG_DATA(cm), sizeof(int) * (size_t)k);
            n += k;
        } else if (cmd == 'E') {
            for (int i = 0; i < n; i++) {
                unsigned char b;
                if (read(fds[i], &b, 1) != 1) {
                    ok = false;
                    continue;
                }
                b++;
                if (write(fds[i], &b, 1) != 1)
                    ok = false;
            }
            char k = ok ? 'K' : 'X';
            if (write(ctl, &k, 1) != 1)
                _exit(1);
        }
    }
}

struct readers {
    int ctl;
    pid_t child;
    int fds[10000];
};

static atomic_long readers_announced;
static atomic_llong readers_last_ns;

static void reader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char b;
    atomic_fetch_add(&readers_announced, 1);
    ssize_t r = gr_read(fd, &b, 1);
    if (r != -ECANCELED)
        t_fail_at(__FILE__, __LINE__, "a parked reader returned %zd", r);
    int64_t now = gr_now();
    long long prev = atomic_load(&readers_last_ns);
    while (now > prev && !atomic_compare_exchange_weak(&readers_last_ns, &prev, now)) {
    }
}

static void readers_main(void *arg)
{
    struct readers *rd = arg;
    gr_group g = GR_GROUP_INIT;
    atomic_store(&readers_announced, 0);
    atomic_store(&readers_last_ns, 0);
    for (int i = 0; i < NREADERS; i++)
        t_check(gr_group_go(&g, reader, (void *)(intptr_t)rd->fds[i]) > 0);
    settle(&readers_announced, NREADERS);
    gr_sleep(20 * T_MS); /* the last ones submit and park */
    int64_t t0 = gr_now();
    gr_group_cancel(&g);
    int64_t t1 = gr_now();
    if (gr_group_wait(&g, LIVE_NS) != 0) {
        t_fail_at(__FILE__, __LINE__, "members still parked in gr_read %lld s after the cancel",
                  (long long)(LIVE_NS / T_SEC));
        return;
    }
    print_message("cancel of %d members parked in gr_read: gr_group_cancel took %.3f ms, the "
                  "last member returned %.3f ms after the call\n",
                  NREADERS, (t1 - t0) / 1e6, (atomic_load(&readers_last_ns) - t0) / 1e6);
    gr_group_destroy(&g);
    /* Every socket still works: a byte there, and one back. */
    for (int i = 0; i < NREADERS; i++) {
        unsigned char b = (unsigned char)i;
        t_check(gr_write(rd->fds[i], &b, 1) == 1);
    }
    char cmd = 'E', ans = 0;
    t_check_eq(gr_write(rd->ctl, &cmd, 1), 1);
    long bad = 0;
    for (int i = 0; i < NREADERS; i++) {
        unsigned char b = 0;
        if (gr_read(rd->fds[i], &b, 1) != 1 || b != (unsigned char)(i + 1))
            bad++;
    }
    t_check_eq(gr_read(rd->ctl, &ans, 1), 1);
    t_check_msg(ans == 'K' && bad == 0,
                "%ld socket(s) did not carry a byte each way after the cancellation", bad);
}

static void test_group_cancel_10k_parked_readers(void **state)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max < (rlim_t)NREADERS + 200) {
        print_message("skipped: RLIMIT_NOFILE hard limit %llu < %d\n",
                      (unsigned long long)rl.rlim_max, NREADERS + 200);
        skip();
    }
    struct rlimit old = rl;
    rl.rlim_cur = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    static struct readers rd;
    int ctl[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl), 0);
    fflush(NULL);
    rd.child = fork();
    assert_true(rd.child >= 0);
    if (rd.child == 0) {
        close(ctl[0]);
        peer_child(ctl[1]);
    }
    close(ctl[1]);
    rd.ctl = ctl[0];
    int made = 0;
    while (made < NREADERS) {
        int peers[FD_CHUNK], k = 0;
        for (; k < FD_CHUNK && made < NREADERS; k++, made++) {
            int sv[2];
            assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
            rd.fds[made] = sv[0];
            peers[k] = sv[1];
        }
        char cmd = 'F', cbuf[CMSG_SPACE(sizeof(int) * FD_CHUNK)];
        memset(cbuf, 0, sizeof cbuf);
        struct iovec iov = {&cmd, 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)k)};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)k);
        memcpy(CMSG_DATA(cm), peers, sizeof(int) * (size_t)k);
        assert_int_equal(sendmsg(rd.ctl, &mh, 0), 1);
        for (int i = 0; i < k; i++)
            close(peers[i]);
    }
    t_reset();
    int rc = gr_run(readers_main, &rd);
    for (int i = 0; i < NREADERS; i++)
        close(rd.fds[i]);
    close(rd.ctl); /* EOF: the child exits */
    int status = 0;
    waitpid(rd.child, &status, 0);
    setrlimit(RLIMIT_NOFILE, &old);
    assert_int_equal(rc, 0);
    t_assert_no_failure(__FILE__, __LINE__);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_members_and_wait),
        cmocka_unit_test(test_group_misuse),
        cmocka_unit_test(test_group_cancel_interrupts_each_call),
        cmocka_unit_test(test_group_calls_after_cancel_fail_at_once),
        cmocka_unit_test(test_group_mutex_and_cond_wait_not_interrupted),
        cmocka_unit_test(test_group_select_on_done),
        cmocka_unit_test(test_group_nested_cancel_subtree),
        cmocka_unit_test(test_group_child_of_cancelled_starts_cancelled),
        cmocka_unit_test(test_group_destroy_hands_children_to_parent),
        cmocka_unit_test(test_group_deadline_fires),
        cmocka_unit_test(test_group_deadline_set_before_run),
        cmocka_unit_test(test_group_cancel_finished_is_noop),
        cmocka_unit_test(test_group_cancel_from_foreign_thread),
        cmocka_unit_test(test_group_survives_gr_run),
        cmocka_unit_test(test_group_cancel_races_channel_transfer),
        cmocka_unit_test(test_group_cancel_races_parking),
        cmocka_unit_test(test_group_cancel_races_wg_release),
        cmocka_unit_test(test_group_cancel_10k_parked_receivers),
        t_unit_test_fds(test_group_cancel_interrupts_io),
        t_unit_test_fds(test_group_io_after_cancel_fails_at_once),
        t_unit_test_fds(test_group_cancel_races_read_completion),
        t_unit_test_fds(test_group_cancel_10k_parked_readers),
    };
    return cmocka_run_group_tests_name("group", tests, NULL, NULL);
}
