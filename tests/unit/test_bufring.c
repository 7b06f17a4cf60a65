/*
 * test_bufring.c - provided buffers (bufring.c): gr_recv_buf and
 * gr_buf_release - data through slices, thousands of idle connections
 * holding no buffer, slices held past later receives, and an exhausted
 * pool.
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

/* ===================================================== provided buffers */

static void rb_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    uint8_t *buf = malloc(10000);
    t_check(buf != NULL);
    if (buf) {
        t_fill(buf, 10000, 777);
        t_check_eq(gr_write_all(fd, buf, 10000), 10000);
    }
    free(buf);
    t_check_eq(gr_close(fd), 0);
}

static void recv_buf_data_main(void *arg)
{
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    gr_buf *b = (gr_buf *)&sv; /* must be reset to NULL on error */
    t_check_eq(gr_recv_buf(sv[0], NULL), -EINVAL);
    t_go(rb_writer, (void *)(intptr_t)sv[1]);
    uint64_t got = 0;
    int calls = 0;
    for (;;) {
        ssize_t r = gr_recv_buf(sv[0], &b);
        if (r <= 0) {
            t_check_eq(r, 0);
            t_check(b == NULL); /* end of stream: no buffer */
            break;
        }
        calls++;
        t_check(b != NULL);
        if (!b)
            break;
        t_check_eq(b->len, r);
        t_check_eq(t_verify((uint8_t *)b->data, (size_t)r, 777 + got), r);
        got += (uint64_t)r;
        gr_buf_release(b);
    }
    t_check_eq(got, 10000);
    t_check(calls >= 1);
    t_check_eq(gr_close(sv[0]), 0);
}

static void test_bufring_recv_data(void **state)
{
    t_run(recv_buf_data_main, NULL);
}

/*
 * NIDLE goroutines wait in gr_recv_buf on idle connections.  NIDLE is
 * above the number of buffers one worker's pool has (bufring.c), so if
 * waiting receivers held a buffer each, the pool would be empty and the
 * probe receive below - on a fresh connection, bounded by a deadline -
 * would time out.  Then every connection gets a message at once and each
 * must receive exactly its own (thousands of slices of a few chunks).
 */
#define NIDLE 5000
#define MSGLEN 12

struct idle_ctx {
    int (*sv)[2];
    atomic_long waiting, received, wrong;
    gr_wg done;
};

struct idle_arg {
    struct idle_ctx *c;
    int i;
};

static void idle_receiver(void *arg)
{
    struct idle_arg *a = arg;
    struct idle_ctx *c = a->c;
    char want[MSGLEN + 1], got[MSGLEN];
    snprintf(want, sizeof want, "conn %06d|", a->i);
    size_t have = 0;
    atomic_fetch_add(&c->waiting, 1);
    while (have < MSGLEN) {
        gr_buf *b = NULL;
        ssize_t r = gr_recv_buf(c->sv[a->i][1], &b);
        if (r <= 0 || !b || (size_t)r > MSGLEN - have) {
            t_fail_at(__FILE__, __LINE__, "conn %d: gr_recv_buf %zd", a->i, r);
            if (b)
                gr_buf_release(b);
            atomic_fetch_add(&c->wrong, 1);
            goto out;
        }
        memcpy(got + have, b->data, (size_t)r);
        have += (size_t)r;
        gr_buf_release(b);
    }
    if (memcmp(got, want, MSGLEN) == 0)
        atomic_fetch_add(&c->received, 1);
    else
        atomic_fetch_add(&c->wrong, 1);
out:
    gr_wg_done(&c->done);
}

static void probe_writer(void *arg)
{
    t_check_eq(gr_write((int)(intptr_t)arg, "probe", 5), 5);
}

static void idle_main(void *arg)
{
    struct idle_ctx *c = arg;
    struct idle_arg *args = calloc(NIDLE, sizeof *args);
    t_check(args != NULL);
    c->sv = args ? t_socketpairs(NIDLE) : NULL;
    if (!c->sv)
        goto out;
    gr_wg_add(&c->done, NIDLE);
    for (int i = 0; i < NIDLE; i++) {
        args[i] = (struct idle_arg){c, i};
        t_go(idle_receiver, &args[i]);
    }
    t_wait_for(&c->waiting, NIDLE);
    gr_sleep(50 * T_MS); /* let the receives reach the kernel */
    t_check_eq(atomic_load(&c->received) + atomic_load(&c->wrong), 0);

    /* The probe: a buffer is still there for a new receive. */
    int pv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pv), 0);
    t_go(probe_writer, (void *)(intptr_t)pv[0]);
    gr_set_deadline(gr_now() + 10 * T_SEC);
    gr_buf *b = NULL;
    ssize_t r = gr_recv_buf(pv[1], &b);
    gr_set_deadline(0);
    t_check_msg(r == 5, "probe gr_recv_buf with %d idle receivers: %zd", NIDLE, r);
    if (r == 5 && b) {
        t_check(memcmp(b->data, "probe", 5) == 0);
        gr_buf_release(b);
    }
    gr_close(pv[0]);
    gr_close(pv[1]);

    /* Wake them all. */
    for (int i = 0; i < NIDLE; i++) {
        char msg[32]; /* MSGLEN bytes are sent: "conn NNNNNN|" */
        snprintf(msg, sizeof msg, "conn %06d|", i);
        t_check_eq(gr_write(c->sv[i][0], msg, MSGLEN), MSGLEN);
    }
    gr_wg_wait(&c->done);
    t_close_socketpairs(c->sv, NIDLE);
out:
    free(args);
}

/*
 * Slices of one chunk: the reader keeps every slice it receives until the
 * stream ends, so none of their chunks may go back to the kernel before
 * they are released; then the slices, concatenated, must be the stream.
 */
#define SLICE_WRITES 300
#define SLICE_PIECE 37

static void slice_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    uint8_t piece[SLICE_PIECE];
    for (int i = 0; i < SLICE_WRITES; i++) {
        t_fill(piece, SLICE_PIECE, (uint64_t)i * SLICE_PIECE);
        t_check_eq(gr_write_all(fd, piece, SLICE_PIECE), SLICE_PIECE);
        gr_yield(); /* let the reader take it: many small receives */
    }
    t_check_eq(gr_close(fd), 0);
}

static void recv_buf_slices_main(void *arg)
{
    (void)arg;
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    t_go(slice_writer, (void *)(intptr_t)sv[1]);
    gr_buf *held[SLICE_WRITES];
    int n = 0;
    uint64_t got = 0;
    for (;;) {
        gr_buf *b = NULL;
        ssize_t r = gr_recv_buf(sv[0], &b);
        if (r <= 0) {
            t_check_eq(r, 0);
            break;
        }
        t_check(b != NULL && n < SLICE_WRITES);
        if (!b || n >= SLICE_WRITES)
            break;
        held[n++] = b;
        got += (uint64_t)r;
    }
    t_check_eq(got, (uint64_t)SLICE_WRITES * SLICE_PIECE);
    t_check(n > 1);
    uint64_t pos = 0;
    for (int i = 0; i < n; i++) {
        t_check_eq(t_verify((uint8_t *)held[i]->data, held[i]->len, pos), held[i]->len);
        pos += held[i]->len;
        gr_buf_release(held[i]);
    }
    t_check_eq(gr_close(sv[0]), 0);
}

static void test_bufring_slices_held(void **state)
{
    t_run(recv_buf_slices_main, NULL);
}

/*
 * More full-size receives held at once than a worker's pool has room for
 * (1 MiB, bufring.c): the receives that find it empty must still get
 * their own bytes (the spare-buffer path), and the held ones must stay
 * intact until released - no chunk may be reused under a slice.
 */
#define NHOLD 600
#define HOLD_LEN 4096

struct hold_ctx {
    int (*sv)[2];
    atomic_long received, wrong, spares;
    gr_wg got_all, done;
};

struct hold_arg {
    struct hold_ctx *c;
    int i;
};

static void hold_receiver(void *arg)
{
    struct hold_arg *a = arg;
    struct hold_ctx *c = a->c;
    gr_buf *bufs[64]; /* a message spans at most two chunks: two slices */
    int nb = 0;
    size_t have = 0;
    while (have < HOLD_LEN && nb < 64) {
        gr_buf *b = NULL;
        ssize_t r = gr_recv_buf(c->sv[a->i][1], &b);
        if (r <= 0 || !b) {
            t_fail_at(__FILE__, __LINE__, "conn %d: gr_recv_buf %zd", a->i, r);
            break;
        }
        bufs[nb++] = b;
        have += (size_t)r;
    }
    gr_wg_done(&c->got_all);
    gr_wg_wait(&c->got_all); /* everybody holds their bytes now */
    size_t pos = 0;
    bool ok = have == HOLD_LEN;
    for (int k = 0; k < nb; k++) {
        if (bufs[k]->_pool == UINT32_MAX)
            atomic_fetch_add(&c->spares, 1);
        if (t_verify((uint8_t *)bufs[k]->data, bufs[k]->len, (uint64_t)a->i * 7919 + pos) !=
            bufs[k]->len)
            ok = false;
        pos += bufs[k]->len;
        gr_buf_release(bufs[k]);
    }
    atomic_fetch_add(ok ? &c->received : &c->wrong, 1);
    gr_wg_done(&c->done);
}

static void hold_main(void *arg)
{
    struct hold_ctx *c = arg;
    struct hold_arg *args = calloc(NHOLD, sizeof *args);
    uint8_t *msg = malloc(HOLD_LEN);
    t_check(args && msg);
    c->sv = args && msg ? t_socketpairs(NHOLD) : NULL;
    if (!c->sv)
        goto out;
    gr_wg_add(&c->got_all, NHOLD);
    gr_wg_add(&c->done, NHOLD);
    for (int i = 0; i < NHOLD; i++) {
        t_fill(msg, HOLD_LEN, (uint64_t)i * 7919);
        t_check_eq(gr_write_all(c->sv[i][0], msg, HOLD_LEN), HOLD_LEN);
    }
    for (int i = 0; i < NHOLD; i++) {
        args[i] = (struct hold_arg){c, i};
        t_go(hold_receiver, &args[i]);
    }
    gr_wg_wait(&c->done);
    t_close_socketpairs(c->sv, NHOLD);
out:
    free(msg);
    free(args);
}

static void test_bufring_pool_exhausted(void **state)
{
    struct hold_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    t_run(hold_main, c);
    assert_int_equal(atomic_load(&c->received), NHOLD);
    assert_int_equal(atomic_load(&c->wrong), 0);
    /* 600 x 4 KiB held is more than any worker's pool: spares were used */
    assert_true(atomic_load(&c->spares) > 0);
    free(c);
}

static void test_bufring_idle_connections(void **state)
{
    struct idle_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    t_run(idle_main, c);
    assert_int_equal(atomic_load(&c->received), NIDLE);
    assert_int_equal(atomic_load(&c->wrong), 0);
    free(c);
}

/* ================================================================ main */

int main(void)
{
    t_init();
    /* stdout is a pipe under the runner: keep our lines in order with
     * cmocka's. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        t_unit_test_fds(test_bufring_recv_data),
        t_unit_test_fds(test_bufring_idle_connections),
        t_unit_test_fds(test_bufring_slices_held),
        t_unit_test_fds(test_bufring_pool_exhausted),
    };
    return cmocka_run_group_tests_name("bufring", tests, NULL, NULL);
}
