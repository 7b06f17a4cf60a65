/*
 * test_faults_io.c - the kernel saying no to the worker rings (uring.c):
 * a wake-up message (IORING_OP_MSG_RING) that fails, and io_uring_enter
 * refusing to submit (-EAGAIN, -EBUSY, -ENOMEM, -EINTR).  The failures
 * are injected by link-time wrapping of liburing's submission calls
 * (-Wl,--wrap=io_uring_submit ..., see mk/unit.mk): the wrappers below
 * sit between libgreenrt.a and liburing.
 *
 *   - MSG_RING: the wrappers point every wake-up message about to be
 *     submitted at a descriptor that is no ring, so the kernel fails it
 *     (-EBADF), as it would for a target whose CQ overflowed.  A worker
 *     must still be woken by the others: through its eventfd, and never
 *     left with wake_pending set (after which nobody could wake it).
 *   - submission: the wrappers fail some calls without submitting, as
 *     the kernel does when it cannot allocate requests.  The SQEs stay in
 *     the ring and must go with a later enter - not sit there until the
 *     worker next sleeps, which a busy worker never does.
 *
 * Liveness is what is checked, with a watchdog (WATCHDOG_S) that ends a
 * stuck test with a message instead of waiting for the runner's timeout;
 * the wrappers count what they injected, so a test also fails if its
 * fault was never exercised.  Public API only.  On the epoll engine
 * (GR_ENGINE=epoll) there is no ring to fail: the tests skip.
 */
#include "t_util.h"
#include "t_io.h"

#include <liburing.h>

#define WATCHDOG_S 60

/* ------------------------------------------------------------ the wrappers */

int __real_io_uring_submit(struct io_uring *ring);
int __real_io_uring_submit_and_wait(struct io_uring *ring, unsigned wait_nr);
int __real_io_uring_submit_and_wait_timeout(struct io_uring *ring, struct io_uring_cqe **cqe_ptr,
                                            unsigned wait_nr, struct __kernel_timespec *ts,
                                            sigset_t *sigmask);
int __real_io_uring_submit_and_get_events(struct io_uring *ring);

static atomic_int fault_msg_ring;     /* make wake-up messages fail */
static atomic_int fault_submit;       /* fail FAIL_RUN calls of every FAIL_CYCLE */
static atomic_long msg_rings_broken;  /* counts of what was injected */
static atomic_long submits_failed;
static atomic_long submit_calls;

#define FAIL_CYCLE 8
#define FAIL_RUN 3

static const int submit_errors[] = {-EAGAIN, -EBUSY, -ENOMEM, -EINTR};

/* Runs before every submission: the faults of the moment.  Nonzero: the
 * call fails with that -errno without submitting anything. */
static int before_submit(struct io_uring *ring)
{
    if (atomic_load(&fault_msg_ring)) {
        /* The SQEs not yet consumed by the kernel: from its head to ours. */
        for (unsigned i = *ring->sq.khead; i != ring->sq.sqe_tail; i++) {
            struct io_uring_sqe *sqe = &ring->sq.sqes[i & ring->sq.ring_mask];
            if (sqe->opcode == IORING_OP_MSG_RING && sqe->fd != -1) {
                sqe->fd = -1;
                atomic_fetch_add(&msg_rings_broken, 1);
            }
        }
    }
    if (atomic_load(&fault_submit)) {
        long n = atomic_fetch_add(&submit_calls, 1);
        if (n % FAIL_CYCLE < FAIL_RUN) {
            atomic_fetch_add(&submits_failed, 1);
            return submit_errors[(n / FAIL_CYCLE) % 4];
        }
    }
    return 0;
}

int __wrap_io_uring_submit(struct io_uring *ring)
{
    int e = before_submit(ring);
    return e ? e : __real_io_uring_submit(ring);
}

int __wrap_io_uring_submit_and_wait(struct io_uring *ring, unsigned wait_nr)
{
    int e = before_submit(ring);
    return e ? e : __real_io_uring_submit_and_wait(ring, wait_nr);
}

int __wrap_io_uring_submit_and_wait_timeout(struct io_uring *ring, struct io_uring_cqe **cqe_ptr,
                                            unsigned wait_nr, struct __kernel_timespec *ts,
                                            sigset_t *sigmask)
{
    int e = before_submit(ring);
    return e ? e : __real_io_uring_submit_and_wait_timeout(ring, cqe_ptr, wait_nr, ts, sigmask);
}

int __wrap_io_uring_submit_and_get_events(struct io_uring *ring)
{
    int e = before_submit(ring);
    return e ? e : __real_io_uring_submit_and_get_events(ring);
}

/* ------------------------------------------------------------ the watchdog */

static const char *watchdog_what = "";

static void watchdog_fire(int sig)
{
    (void)sig;
    dprintf(2, "test_faults_io: %s: no progress in %d s (a worker that is never woken, or "
               "SQEs that are never submitted)\n",
            watchdog_what, WATCHDOG_S);
    _exit(1);
}

static void watchdog_start(const char *what)
{
    watchdog_what = what;
    signal(SIGALRM, watchdog_fire);
    alarm(WATCHDOG_S);
}

static void watchdog_stop(void)
{
    alarm(0);
}

/* --------------------------------------------- a failed wake-up message */

/* Worker 0 queues a goroutine where worker 1 must take it (a wake-up
 * message to worker 1, which the wrappers break), then blocks in a raw
 * system call until that goroutine has run: only worker 1 can run it, and
 * only if the failed message did not leave it unwakeable.  Round after
 * round: each needs a fresh wake-up of worker 1. */
#define WAKE_ROUNDS 20
#define WAKE_WAIT_MS 10000

struct wake_ctx {
    int pipe[2];
    atomic_int ran;
};

static void wake_helper(void *arg)
{
    struct wake_ctx *c = arg;
    atomic_fetch_add(&c->ran, 1);
    /* A raw write: the pipe's reader is a blocked worker, not a goroutine. */
    t_check_eq(write(c->pipe[1], "w", 1), 1);
}

static void wake_spacer(void *arg)
{
    (void)arg;
}

/* Waits (blocking this worker in poll(2)) until the pipe has a byte. */
static int raw_wait_readable(int fd, int ms)
{
    int64_t end = t_mono_ns() + (int64_t)ms * T_MS;
    for (;;) {
        int left = (int)((end - t_mono_ns()) / T_MS);
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, left);
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        /* EINTR: the monitor's signal; go on waiting */
    }
}

static void msg_ring_failure_main(void *arg)
{
    struct wake_ctx *c = arg;
    for (int round = 0; round < WAKE_ROUNDS && !t_failed(); round++) {
        gr_sleep(5 * T_MS); /* worker 1 goes back to sleep */
        /* The helper is queued behind a spacer (so it is in the run queue,
         * not the hand-off slot), which makes this worker wake an idle
         * one to take it. */
        t_go(wake_helper, c);
        t_go(wake_spacer, NULL);
        int ok = raw_wait_readable(c->pipe[0], WAKE_WAIT_MS);
        t_check_msg(ok, "round %d: the goroutine queued for worker 1 did not run in %d ms "
                        "(worker 1 was never woken)",
                    round, WAKE_WAIT_MS);
        char b;
        if (ok)
            t_check_eq(read(c->pipe[0], &b, 1), 1);
    }
}

/* The faults are the worker rings': nothing to inject into epoll. */
static void skip_unless_uring(void)
{
    if (t_engine_is("uring"))
        return;
    print_message("skipped: these faults are io_uring's; the I/O engine is %s\n", t_engine());
    skip();
}

static void test_faults_io_msg_ring_failure_still_wakes(void **state)
{
    skip_unless_uring();
    /* Wake-up messages go between workers: this needs two, whatever the
     * runner asked for. */
    const char *procs = getenv("GR_PROCS");
    char saved[16] = "";
    if (procs)
        snprintf(saved, sizeof saved, "%s", procs);
    setenv("GR_PROCS", "2", 1);
    struct wake_ctx c = {0};
    assert_int_equal(pipe2(c.pipe, O_CLOEXEC), 0);
    atomic_store(&msg_rings_broken, 0);
    atomic_store(&fault_msg_ring, 1);
    watchdog_start("failed MSG_RING wake-ups");
    t_run(msg_ring_failure_main, &c);
    watchdog_stop();
    atomic_store(&fault_msg_ring, 0);
    if (procs)
        setenv("GR_PROCS", saved, 1);
    else
        unsetenv("GR_PROCS");
    close(c.pipe[0]);
    close(c.pipe[1]);
    print_message("wake-up messages broken: %ld, goroutines run by worker 1: %d\n",
                  atomic_load(&msg_rings_broken), atomic_load(&c.ran));
    assert_true(atomic_load(&msg_rings_broken) > 0); /* the fault was exercised */
    assert_int_equal(atomic_load(&c.ran), WAKE_ROUNDS);
}

/* ------------------------------------------------- failed submissions */

/* Echo pairs over socketpairs while FAIL_RUN of every FAIL_CYCLE
 * submissions fail; main does not park meanwhile (it yields in a loop, so
 * its worker never sleeps - the one moment SQEs stranded by a failed
 * submission used to go out), and some goroutines sleep, so timers and
 * I/O share the failing enters. */
#define SUB_PAIRS 16
#define SUB_ROUNDS T_BIG(200)
#define SUB_MSG 700

struct sub_ctx {
    int sv[SUB_PAIRS][2];
    atomic_int done;
    atomic_long bad;
};

struct sub_arg {
    struct sub_ctx *c;
    int i;
};

static void sub_echo(void *arg)
{
    struct sub_arg *a = arg;
    int fd = a->c->sv[a->i][1];
    char buf[SUB_MSG];
    ssize_t n;
    while ((n = gr_read(fd, buf, sizeof buf)) > 0)
        if (gr_write_all(fd, buf, (size_t)n) != n)
            break;
    gr_close(fd);
    atomic_fetch_add(&a->c->done, 1);
}

static void sub_client(void *arg)
{
    struct sub_arg *a = arg;
    int fd = a->c->sv[a->i][0];
    uint8_t out[SUB_MSG], in[SUB_MSG];
    uint64_t pos = 0;
    for (int k = 0; k < SUB_ROUNDS; k++) {
        t_fill(out, sizeof out, pos);
        if (gr_write_all(fd, out, sizeof out) != (ssize_t)sizeof out ||
            gr_read_full(fd, in, sizeof in) != (ssize_t)sizeof in ||
            t_verify(in, sizeof in, pos) != sizeof in) {
            atomic_fetch_add(&a->c->bad, 1);
            break;
        }
        pos += sizeof out;
        if (k % 50 == 49)
            gr_sleep(200000);
    }
    gr_close(fd);
    atomic_fetch_add(&a->c->done, 1);
}

static void submit_failures_main(void *arg)
{
    struct sub_ctx *c = arg;
    struct sub_arg args[SUB_PAIRS];
    for (int i = 0; i < SUB_PAIRS; i++) {
        args[i] = (struct sub_arg){c, i};
        t_go(sub_echo, &args[i]);
        t_go(sub_client, &args[i]);
    }
    while (atomic_load(&c->done) < 2 * SUB_PAIRS)
        gr_yield();
    t_check_eq(atomic_load(&c->bad), 0);
}

static void test_faults_io_failed_submissions_are_retried(void **state)
{
    skip_unless_uring();
    struct sub_ctx c = {0};
    for (int i = 0; i < SUB_PAIRS; i++)
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c.sv[i]), 0);
    atomic_store(&submits_failed, 0);
    atomic_store(&submit_calls, 0);
    atomic_store(&fault_submit, 1);
    watchdog_start("failed submissions");
    t_run(submit_failures_main, &c);
    watchdog_stop();
    atomic_store(&fault_submit, 0);
    print_message("submissions failed: %ld of %ld\n", atomic_load(&submits_failed),
                  atomic_load(&submit_calls));
    assert_true(atomic_load(&submits_failed) > 0); /* the fault was exercised */
}

/* ================================================================ main */

int main(void)
{
    t_init();
    /* stdout is a pipe under the runner: keep our lines in order with
     * cmocka's. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        t_unit_test_fds(test_faults_io_msg_ring_failure_still_wakes),
        t_unit_test_fds(test_faults_io_failed_submissions_are_retried),
    };
    return cmocka_run_group_tests_name("faults_io", tests, NULL, NULL);
}
