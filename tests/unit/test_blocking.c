/*
 * test_blocking.c - gr_blocking (offload.c): blocked jobs leave the
 * workers free and the pool grows to run them at once; and the gr_ I/O
 * calls where no goroutine can park - with no runtime at all, or inside a
 * gr_blocking job - fall back to the plain blocking system calls.
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

#include <sys/uio.h>

/* ========================================================== gr_blocking */

/*
 * NJOBS jobs block in a real read(2) on their own pipe until a goroutine
 * writes to it.  That goroutine can only run if the blocked calls left
 * the workers free (with GR_PROCS=1, the one worker); all NJOBS blocked
 * at once also needs the offload pool to grow to NJOBS threads.
 */
#define NJOBS 8

struct blk_ctx;

struct blk_job {
    struct blk_ctx *ctx;
    int p[2];
    pid_t job_tid;     /* thread the job ran on */
    pid_t caller_tid;  /* worker thread of the goroutine that called */
    ssize_t res;
    char c;
    int rc;
};

struct blk_ctx {
    struct blk_job jobs[NJOBS];
    atomic_long inside;      /* jobs blocked in read(2) right now */
    long ticks_during;       /* ticker steps while all NJOBS were blocked */
    pid_t ticker_tid;
    gr_wg done;
};

static void blk_fn(void *arg)
{
    struct blk_job *j = arg;
    j->job_tid = t_gettid();
    atomic_fetch_add(&j->ctx->inside, 1);
    ssize_t r;
    while ((r = read(j->p[0], &j->c, 1)) < 0 && errno == EINTR) {
    }
    j->res = r;
    atomic_fetch_sub(&j->ctx->inside, 1);
}

static void blk_caller(void *arg)
{
    struct blk_job *j = arg;
    j->caller_tid = t_gettid();
    j->rc = gr_blocking(blk_fn, j);
    gr_wg_done(&j->ctx->done);
}

static void blk_ticker(void *arg)
{
    struct blk_ctx *b = arg;
    t_wait_for(&b->inside, NJOBS);
    b->ticker_tid = t_gettid();
    for (int i = 0; i < 100; i++) {
        gr_yield();
        if (atomic_load(&b->inside) == NJOBS)
            b->ticks_during++;
    }
    for (int i = 0; i < NJOBS; i++)
        t_check_eq(gr_write(b->jobs[i].p[1], "0123456789" + (i % 10), 1), 1);
    gr_wg_done(&b->done);
}

static void blk_main(void *arg)
{
    struct blk_ctx *b = arg;
    t_check_eq(gr_blocking(NULL, NULL), -EINVAL);
    gr_wg_add(&b->done, NJOBS + 1);
    for (int i = 0; i < NJOBS; i++) {
        b->jobs[i].ctx = b;
        t_check_eq(pipe2(b->jobs[i].p, O_CLOEXEC), 0);
        t_go(blk_caller, &b->jobs[i]);
    }
    t_go(blk_ticker, b);
    gr_wg_wait(&b->done);
    /* Nobody wrote to the pipes before the ticker's 100 steps ended. */
    t_check_eq(b->ticks_during, 100);
    for (int i = 0; i < NJOBS; i++) {
        struct blk_job *j = &b->jobs[i];
        t_check_eq(j->rc, 0);
        t_check_eq(j->res, 1);
        t_check_eq(j->c, '0' + i % 10);
        /* Not on a worker, and each on its own thread (all blocked at once). */
        t_check(j->job_tid != j->caller_tid);
        t_check(j->job_tid != b->ticker_tid);
        for (int k = 0; k < i; k++)
            t_check(j->job_tid != b->jobs[k].job_tid);
        gr_close(j->p[0]);
        gr_close(j->p[1]);
    }
}

static void test_blocking_progress(void **state)
{
    struct blk_ctx *b = calloc(1, sizeof *b);
    assert_non_null(b);
    t_run(blk_main, b);
    free(b);
}

/* ===================================================== outside goroutines */

/* No runtime at all: the calls are the plain blocking syscalls. */
static void test_blocking_io_outside_goroutine(void **state)
{
    assert_int_equal(gr_self(), 0);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char buf[8] = {0};
    assert_int_equal(gr_write(p[1], "abc", 3), 3);
    int ev = gr_poll(p[0], POLLIN, 0);
    assert_true(ev > 0 && (ev & POLLIN));
    assert_int_equal(gr_read(p[0], buf, sizeof buf), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(gr_poll(p[0], POLLIN, 10 * T_MS), 0);
    struct iovec v[2] = {{"de", 2}, {"f", 1}};
    assert_int_equal(gr_writev(p[1], v, 2), 3);
    assert_int_equal(gr_read_full(p[0], buf, 3), 3);
    assert_memory_equal(buf, "def", 3);
    assert_int_equal(gr_write_all(p[1], "gh", 2), 2);
    struct iovec r[2] = {{buf, 1}, {buf + 1, 1}};
    assert_int_equal(gr_readv(p[0], r, 2), 2);
    assert_memory_equal(buf, "gh", 2);
    assert_int_equal(gr_close(p[1]), 0);
    assert_int_equal(gr_read(p[0], buf, 1), 0); /* EOF, not a hang */
    assert_int_equal(gr_close(p[0]), 0);
    assert_int_equal(gr_close(p[0]), -EBADF);

    /* TCP: listen, dial (connect completes into the backlog), accept. */
    int lfd = gr_listen_tcp("127.0.0.1", 0, 4);
    assert_true(lfd >= 0);
    int cfd = gr_dial_tcp("127.0.0.1", t_port_of(lfd));
    assert_true(cfd >= 0);
    int afd = gr_accept(lfd, NULL, NULL);
    assert_true(afd >= 0);
    assert_true(t_is_cloexec(afd));
    assert_int_equal(gr_send(cfd, "s", 1, 0), 1);
    assert_int_equal(gr_recv(afd, buf, 1, 0), 1);
    assert_int_equal(buf[0], 's');
    assert_int_equal(gr_close(afd), 0);
    /* Peer closed: EOF, then -EPIPE/-ECONNRESET with no SIGPIPE kill. */
    assert_int_equal(gr_recv(cfd, buf, 1, 0), 0);
    ssize_t s = 0;
    for (int i = 0; i < 1000 && s >= 0; i++) {
        s = gr_send(cfd, "data", 4, 0);
        if (s >= 0)
            usleep(1000);
    }
    assert_true(s == -EPIPE || s == -ECONNRESET);
    assert_int_equal(gr_close(cfd), 0);
    assert_int_equal(gr_close(lfd), 0);

    /* A file. */
    char dir[] = "/tmp/test_blocking.XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f", dir);
    int fd = gr_open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(gr_write(fd, "file", 4), 4);
    assert_int_equal(gr_fsync(fd), 0);
    assert_int_equal(gr_close(fd), 0);
    assert_int_equal(gr_open(path, O_CREAT | O_EXCL | O_RDWR, 0600), -EEXIST);
    unlink(path);
    rmdir(dir);
}

/* Inside gr_run, on an offload thread (not a worker): a job may use the
 * gr_ I/O calls and gets the blocking fallback. */
struct fb_ctx {
    int p[2];
    atomic_long started;
    ssize_t res;
    char buf[4];
};

static void fb_job(void *arg)
{
    struct fb_ctx *f = arg;
    atomic_store(&f->started, 1);
    f->res = gr_read_full(f->p[0], f->buf, 4);
}

static void fb_writer(void *arg)
{
    struct fb_ctx *f = arg;
    t_wait_for(&f->started, 1);
    t_check_eq(gr_write_all(f->p[1], "work", 4), 4);
}

static void fb_main(void *arg)
{
    struct fb_ctx f = {0};
    t_check_eq(pipe2(f.p, O_CLOEXEC), 0);
    t_go(fb_writer, &f);
    t_check_eq(gr_blocking(fb_job, &f), 0);
    t_check_eq(f.res, 4);
    t_check(memcmp(f.buf, "work", 4) == 0);
    gr_close(f.p[0]);
    gr_close(f.p[1]);
}

static void test_blocking_io_in_job(void **state)
{
    t_run(fb_main, NULL);
}

/* ================================================================ main */

int main(void)
{
    t_init();
    /* stdout is a pipe under the runner: keep our lines in order with
     * cmocka's. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        t_unit_test_fds(test_blocking_progress),
        t_unit_test_fds(test_blocking_io_outside_goroutine),
        t_unit_test_fds(test_blocking_io_in_job),
    };
    return cmocka_run_group_tests_name("blocking", tests, NULL, NULL);
}
