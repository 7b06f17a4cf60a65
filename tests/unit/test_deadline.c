/*
 * test_deadline.c - gr_set_deadline: an I/O call past the goroutine's
 * deadline gives -ETIMEDOUT, each goroutine has its own deadline, and a
 * deadline racing its request's completion never yields -ECANCELED.
 *
 * Every test runs between t_fd_setup and t_fd_teardown (t_util.h): a test
 * that leaks a descriptor fails in its teardown.  Checks made inside
 * goroutines are t_check (t_util.h), never cmocka asserts; t_run turns
 * them into a cmocka failure after gr_run returns.  Nothing asserts
 * timing: a liveness bug shows up as the runner's timeout, and the bounds
 * that involve time only ever use "a sleep of d ns lasts at least d",
 * which holds on any machine.
 */
#include "t_util.h"
#include "t_io.h"

/* =========================================================== deadlines */

/* Started only after the reader timed out. */
static void deadline_writer(void *arg)
{
    t_check_eq(gr_write_all((int)(intptr_t)arg, "hello", 5), 5);
}

static void deadline_main(void *arg)
{
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    char buf[16];

    /* Already past: fails at once, nothing consumed. */
    gr_set_deadline(gr_now() - 1);
    t_check_eq(gr_read(sv[0], buf, sizeof buf), -ETIMEDOUT);

    /* 30 ms on an idle socket: fires. */
    int64_t dl = gr_now() + 30 * T_MS;
    gr_set_deadline(dl);
    t_check_eq(gr_read(sv[0], buf, sizeof buf), -ETIMEDOUT);
    t_check(gr_now() >= dl);
    t_check_eq(gr_poll(sv[0], POLLIN, -1), -ETIMEDOUT); /* still past */

    /* Cleared: the same fd works, and the cancelled read took nothing. */
    gr_set_deadline(0);
    t_go(deadline_writer, (void *)(intptr_t)sv[1]);
    ssize_t r = gr_read_full(sv[0], buf, 5);
    t_check_eq(r, 5);
    t_check(memcmp(buf, "hello", 5) == 0);

    /* A deadline far ahead does not disturb a read that gets data. */
    gr_set_deadline(gr_now() + 30 * T_SEC);
    t_check_eq(gr_write(sv[1], "xy", 2), 2);
    t_check_eq(gr_read_full(sv[0], buf, 2), 2);
    t_check(memcmp(buf, "xy", 2) == 0);

    /* Accept, too, is bounded by the deadline; the listener stays usable. */
    int lfd = gr_listen_tcp("127.0.0.1", 0, 4);
    t_check(lfd >= 0);
    if (lfd >= 0) {
        gr_set_deadline(gr_now() + 20 * T_MS);
        t_check_eq(gr_accept(lfd, NULL, NULL), -ETIMEDOUT);
        gr_set_deadline(0);
        int cfd = gr_dial_tcp("127.0.0.1", t_port_of(lfd));
        t_check(cfd >= 0);
        int afd = gr_accept(lfd, NULL, NULL);
        t_check(afd >= 0);
        if (afd >= 0)
            gr_close(afd);
        if (cfd >= 0)
            gr_close(cfd);
        gr_close(lfd);
    }
    gr_set_deadline(0);
    t_check_eq(gr_close(sv[0]), 0);
    t_check_eq(gr_close(sv[1]), 0);
}

static void test_deadline_io_times_out(void **state)
{
    t_run(deadline_main, NULL);
}

/* Deadlines belong to the goroutine: one goroutine's deadline does not
 * cut short another's read on the same worker. */
struct dl_other {
    int fd;
    ssize_t res;
    gr_wg done;
};

static void dl_patient_reader(void *arg)
{
    struct dl_other *o = arg;
    char c;
    o->res = gr_read(o->fd, &c, 1);
    gr_wg_done(&o->done);
}

static void deadline_per_goroutine_main(void *arg)
{
    int a[2], b[2];
    t_check_eq(pipe2(a, O_CLOEXEC), 0);
    t_check_eq(pipe2(b, O_CLOEXEC), 0);
    struct dl_other o = {.fd = b[0]};
    gr_wg_add(&o.done, 1);
    t_go(dl_patient_reader, &o);
    gr_set_deadline(gr_now() + 20 * T_MS);
    char c;
    t_check_eq(gr_read(a[0], &c, 1), -ETIMEDOUT);
    gr_set_deadline(0);
    gr_sleep(20 * T_MS);
    t_check_eq(gr_write(b[1], "z", 1), 1);
    gr_wg_wait(&o.done);
    t_check_eq(o.res, 1);
    for (int i = 0; i < 2; i++) {
        gr_close(a[i]);
        gr_close(b[i]);
    }
}

static void test_deadline_per_goroutine(void **state)
{
    t_run(deadline_per_goroutine_main, NULL);
}

/* =========================================== deadlines racing completions
 *
 * A deadline that expires just as the data arrives: the kernel's linked
 * timeout fires while its request completes and then cancels *by
 * user_data*, later (the worker runs a bounded batch of completion work
 * per io_uring_enter).  When consecutive requests of a goroutine shared
 * their user_data (an address on its stack), that late cancel hit the
 * goroutine's *next* request, which returned an -ECANCELED no call
 * documents.  The race needs many completions and expiries landing
 * together while the worker is busy: RACE_CONNS readers with deadlines
 * (gr_read) and timeouts (gr_poll) drawn around the ticks of a ticker
 * that writes to all of them at once and then keeps its worker busy.
 * Every call must return what the header lists - a byte or -ETIMEDOUT,
 * revents or 0 - and never -ECANCELED.  (Before user_data was made unique
 * per request this failed in most runs at GR_PROCS=2, with 1-30 of the
 * 40,000 calls of a round.) */

#define RACE_CONNS 200
#define RACE_CALLS 200             /* per reader and round */
#define RACE_ROUNDS 3
#define RACE_TICK_NS 500000        /* the ticker writes to every reader */
#define RACE_JITTER_NS 50000       /* deadlines: a tick + [0, this) */
#define RACE_BUSY_NS 100000        /* the ticker keeps its worker busy */

struct race {
    int sv[RACE_CONNS][2];
    int64_t base;                  /* ticks at base + k * RACE_TICK_NS */
    atomic_int stop;
    atomic_long got, timeouts, polled, cancelled, other;
    gr_wg readers;
    gr_chan *ticker_done;
};

static int64_t race_next_tick(const struct race *r, int64_t now)
{
    return r->base + ((now - r->base) / RACE_TICK_NS + 1) * RACE_TICK_NS;
}

static void race_ticker(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->stop)) {
        int64_t now = gr_now();
        gr_sleep(race_next_tick(r, now) - now);
        for (int i = 0; i < RACE_CONNS; i++) {
            ssize_t n = gr_send(r->sv[i][1], "t", 1, MSG_DONTWAIT);
            t_check_msg(n == 1 || n == -EAGAIN, "ticker send: %zd", n);
        }
        int64_t until = gr_now() + RACE_BUSY_NS;
        while (gr_now() < until) {
        }
    }
    gr_chan_send(r->ticker_done, NULL);
}

struct race_reader_arg {
    struct race *r;
    int i;
};

static void race_reader(void *arg)
{
    struct race *r = ((struct race_reader_arg *)arg)->r;
    int i = ((struct race_reader_arg *)arg)->i;
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    int fd = r->sv[i][0];
    for (int k = 0; k < RACE_CALLS; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t dl = race_next_tick(r, gr_now()) + (int64_t)(x % RACE_JITTER_NS);
        char c;
        ssize_t n;
        if (k & 1) {
            gr_set_deadline(dl);
            n = gr_read(fd, &c, 1);
            gr_set_deadline(0);
            if (n == 1)
                atomic_fetch_add(&r->got, 1);
            else if (n == -ETIMEDOUT)
                atomic_fetch_add(&r->timeouts, 1);
        } else {
            int64_t left = dl - gr_now();
            n = gr_poll(fd, POLLIN, left > 0 ? left : 0);
            if (n > 0) {
                atomic_fetch_add(&r->polled, 1);
                gr_recv(fd, &c, 1, MSG_DONTWAIT);
            } else if (n == 0) {
                atomic_fetch_add(&r->timeouts, 1);
            }
        }
        if (n == -ECANCELED)
            atomic_fetch_add(&r->cancelled, 1);
        else if (n < 0 && n != -ETIMEDOUT)
            atomic_fetch_add(&r->other, 1);
    }
    gr_wg_done(&r->readers);
}

static void deadline_race_main(void *arg)
{
    (void)arg;
    struct race *r = calloc(1, sizeof *r);
    t_check(r != NULL);
    if (!r)
        return;
    struct race_reader_arg args[RACE_CONNS];
    for (int i = 0; i < RACE_CONNS; i++) {
        t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->sv[i]), 0);
        args[i] = (struct race_reader_arg){r, i};
    }
    r->ticker_done = gr_chan_make(0, 1);
    for (int round = 0; round < RACE_ROUNDS && !t_failed(); round++) {
        atomic_store(&r->stop, 0);
        r->base = gr_now();
        t_go(race_ticker, r);
        gr_wg_add(&r->readers, RACE_CONNS);
        for (int i = 0; i < RACE_CONNS; i++)
            t_go(race_reader, &args[i]);
        gr_wg_wait(&r->readers);
        atomic_store(&r->stop, 1);
        gr_chan_recv(r->ticker_done, NULL);
        long calls = (long)RACE_CONNS * RACE_CALLS;
        t_check_msg(atomic_load(&r->cancelled) == 0,
                    "round %d: %ld of %ld calls returned -ECANCELED", round,
                    atomic_load(&r->cancelled), calls);
        t_check_msg(atomic_load(&r->other) == 0, "round %d: %ld of %ld calls failed otherwise",
                    round, atomic_load(&r->other), calls);
    }
    /* The race was run: data and expiries both happened. */
    t_check(atomic_load(&r->got) > 0 && atomic_load(&r->polled) > 0 &&
            atomic_load(&r->timeouts) > 0);
    for (int i = 0; i < RACE_CONNS; i++) {
        t_check_eq(gr_close(r->sv[i][0]), 0);
        t_check_eq(gr_close(r->sv[i][1]), 0);
    }
    gr_chan_free(r->ticker_done);
    free(r);
}

static void test_deadline_racing_completion_never_ecanceled(void **state)
{
    t_run(deadline_race_main, NULL);
}

/* ================================================================ main */

int main(void)
{
    t_init();
    /* stdout is a pipe under the runner: keep our lines in order with
     * cmocka's. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        t_unit_test_fds(test_deadline_io_times_out),
        t_unit_test_fds(test_deadline_per_goroutine),
        t_unit_test_fds(test_deadline_racing_completion_never_ecanceled),
    };
    return cmocka_run_group_tests_name("deadline", tests, NULL, NULL);
}
