/*
 * test_iocancel.c - io_cancel_g (io.h): cancelling a goroutine's I/O,
 * what cancellation groups are built on.  A goroutine parked in a read, a
 * poll, or waiting for an fd's lock returns -ECANCELED, from any worker's
 * ring; a goroutine about to submit never slips past a cancel; later I/O
 * fails at once until io_cancel_clear(); the fd stays usable and nothing
 * another goroutine does on it is disturbed; gr_close is not cancelled.
 *
 * Internal: it names io_cancel_g and current_g, so it includes
 * t_internal.h and links the runtime's objects (mk/unit.mk).
 */
#include "t_util.h"
#include "t_io.h"
#include "t_internal.h"

#define LIVE_NS (20 * T_SEC)

enum vop { V_READ, V_POLL };

/* A goroutine blocked in I/O on fd, which main cancels. */
struct victim {
    int fd;
    enum vop op;
    g *gp;              /* set by the victim once it runs */
    gr_chan *done;      /* its result (int64_t) */
    gr_chan *proceed;   /* non-NULL: after the cancel, wait for main's word,
                           then check, clear, and read again */
    int64_t after_cancel, after_clear;
};

static void victim_main(void *arg)
{
    struct victim *v = arg;
    char c;
    __atomic_store_n(&v->gp, current_g(), __ATOMIC_RELEASE);
    /* Once its result is sent, v may be gone (the next round's), unless
     * main is to tell it to proceed. */
    gr_chan *proceed = v->proceed;
    int64_t r = v->op == V_POLL ? gr_poll(v->fd, POLLIN, -1) : gr_read(v->fd, &c, 1);
    gr_chan_send(v->done, &r);
    if (proceed && r == -ECANCELED) {
        gr_chan_recv(v->proceed, NULL); /* main has sent a byte */
        v->after_cancel = gr_read(v->fd, &c, 1); /* still cancelled: at once */
        io_cancel_clear();
        v->after_clear = gr_read(v->fd, &c, 1);  /* gets the byte */
        gr_chan_send(v->done, &r);
    }
}

static g *victim_g(struct victim *v)
{
    g *gp;
    while (!(gp = __atomic_load_n(&v->gp, __ATOMIC_ACQUIRE)))
        gr_yield();
    return gp;
}

static int64_t victim_result(struct victim *v)
{
    int64_t r = 1; /* no call here returns 1: still blocked */
    gr_case c = {.chan = v->done, .op = GR_RECV, .elem = &r};
    if (gr_select(&c, 1, LIVE_NS) < 0)
        return 1;
    return r;
}

/* A parked read and a parked poll: -ECANCELED; the fd works afterwards. */
static void parked_main(void *arg)
{
    (void)arg;
    for (int op = V_READ; op <= V_POLL && !t_failed(); op++) {
        int sv[2];
        t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        struct victim v = {.fd = sv[0], .op = op, .proceed = gr_chan_make(0, 1),
                           .done = gr_chan_make(sizeof(int64_t), 1)};
        t_go(victim_main, &v);
        g *gp = victim_g(&v);
        gr_sleep(10 * T_MS); /* parked by now (if not: cancelled before it submits) */
        io_cancel_g(gp);
        io_cancel_g(gp); /* twice is harmless */
        int64_t r = victim_result(&v);
        t_check_msg(r == -ECANCELED, "%s: %lld after io_cancel_g", op ? "gr_poll" : "gr_read",
                    (long long)r);
        if (r != -ECANCELED)
            break;
        t_check_eq(gr_write(sv[1], "z", 1), 1); /* for the read after the clear */
        gr_chan_send(v.proceed, NULL);
        t_check_eq(victim_result(&v), -ECANCELED); /* the second part is done */
        t_check_eq(v.after_cancel, -ECANCELED);
        t_check_eq(v.after_clear, 1);
        gr_chan_free(v.done);
        gr_chan_free(v.proceed);
        t_check_eq(gr_close(sv[0]), 0);
        t_check_eq(gr_close(sv[1]), 0);
    }
}

static void test_iocancel_parked_call(void **state)
{
    t_run(parked_main, NULL);
}

/* B waits for the read lock that A holds: cancelling B ends its wait and
 * leaves A's read alone. */
static void lock_waiter_main(void *arg)
{
    (void)arg;
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct victim a = {.fd = sv[0], .done = gr_chan_make(8, 1)};
    struct victim b = {.fd = sv[0], .done = gr_chan_make(8, 1)};
    t_go(victim_main, &a);
    victim_g(&a);
    gr_sleep(10 * T_MS); /* a holds the read lock, parked in its read */
    t_go(victim_main, &b);
    g *bg = victim_g(&b);
    gr_sleep(10 * T_MS); /* b waits for the lock */
    io_cancel_g(bg);
    int64_t r = victim_result(&b);
    t_check_msg(r == -ECANCELED, "lock waiter: %lld after io_cancel_g", (long long)r);
    t_check_eq(gr_write(sv[1], "a", 1), 1);
    r = victim_result(&a);
    t_check_msg(r == 1, "the lock holder's read: %lld", (long long)r);
    if (!t_failed()) {
        gr_chan_free(a.done);
        gr_chan_free(b.done);
    }
    gr_close(sv[0]);
    gr_close(sv[1]);
}

static void test_iocancel_lock_waiter(void **state)
{
    t_run(lock_waiter_main, NULL);
}

/* Cancelled as soon as it runs - often before its request is submitted,
 * sometimes while it publishes it: whichever way, it returns -ECANCELED
 * and never stays blocked. */
#define RACE_ROUNDS T_BIG(2000)

static void race_main(void *arg)
{
    (void)arg;
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    gr_chan *done = gr_chan_make(sizeof(int64_t), 1);
    for (int i = 0; i < RACE_ROUNDS && !t_failed(); i++) {
        struct victim v = {.fd = sv[0], .op = i & 1 ? V_POLL : V_READ, .done = done};
        t_go(victim_main, &v);
        io_cancel_g(victim_g(&v));
        int64_t r = victim_result(&v);
        t_check_msg(r == -ECANCELED, "round %d: %lld after io_cancel_g", i, (long long)r);
    }
    gr_chan_free(done);
    gr_close(sv[0]);
    gr_close(sv[1]);
}

static void test_iocancel_races_submission(void **state)
{
    t_run(race_main, NULL);
}

/* gr_close of a cancelled goroutine still closes. */
static void close_main(void *arg)
{
    (void)arg;
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    io_cancel_g(current_g());
    t_check_eq(gr_write(sv[0], "x", 1), -ECANCELED);
    t_check_eq(gr_close(sv[0]), 0);
    char c;
    t_check_eq(read(sv[1], &c, 1), 0); /* closed: end of file */
    io_cancel_clear();
    t_check_eq(gr_close(sv[1]), 0);
}

static void test_iocancel_close_is_not_cancelled(void **state)
{
    t_run(close_main, NULL);
}

/* ================================================================ main */

int main(void)
{
    t_init();
    /* stdout is a pipe under the runner: keep our lines in order with
     * cmocka's. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        t_unit_test_fds(test_iocancel_parked_call),
        t_unit_test_fds(test_iocancel_lock_waiter),
        t_unit_test_fds(test_iocancel_races_submission),
        t_unit_test_fds(test_iocancel_close_is_not_cancelled),
    };
    return cmocka_run_group_tests_name("iocancel", tests, NULL, NULL);
}
