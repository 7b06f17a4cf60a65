/*
 * test_deadline.c - gr_set_deadline: an I/O call past the goroutine's
 * deadline gives -ETIMEDOUT, and each goroutine has its own deadline.
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
    };
    return cmocka_run_group_tests_name("deadline", tests, NULL, NULL);
}
