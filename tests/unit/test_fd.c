/*
 * test_fd.c - a file descriptor shared by goroutines (Go's poll.FD rules,
 * io.c's "Descriptors"), through greenrt.h only:
 *
 *   - gr_close(fd) wakes every goroutine blocked on fd - in a read, a
 *     receive, a provided-buffer receive, an accept, a poll, a write, or
 *     waiting for its turn on fd - with -EBADF, and only then releases fd:
 *     the peer sees end of file, a closed listener refuses connections;
 *     this holds whichever worker the blocked call lives on, and when the
 *     closer is a thread outside the runtime;
 *   - calls on a closed fd fail with -EBADF, and a second gr_close too;
 *     the number, reused for a new descriptor, works normally;
 *   - close(2) behind greenrt's back behaves as it does for threads;
 *   - reads of one fd are serialised, and so are writes: 8 goroutines
 *     writing records to one regular file lose none, 8 readers read no
 *     word twice, and gr_write_all / gr_read_full are atomic against the
 *     other calls on the fd; a call waiting for its turn gives up at its
 *     deadline.
 *
 * Every test runs between t_fd_setup and t_fd_teardown (t_util.h): a test
 * that leaks a descriptor fails in its teardown.  Checks made inside
 * goroutines are t_check (t_util.h), never cmocka asserts.  Nothing
 * asserts timing: a call that stays blocked after gr_close is caught by a
 * generous liveness bound (LIVE_NS), and the close-to-wake latencies are
 * printed, not checked.
 */
#include "t_util.h"
#include "t_io.h"

#include <pthread.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define LIVE_NS (20 * T_SEC) /* a woken call returns well within this */

/* ============================================== close wakes blocked calls */

enum op {
    OP_READ,
    OP_READV,
    OP_RECV,
    OP_RECV_BUF,
    OP_READ_FULL,
    OP_POLL_IN,
    OP_ACCEPT,
    OP_WRITE,
    OP_WRITEV,
    OP_SEND,
    OP_WRITE_ALL,
    OP_POLL_OUT,
    OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "gr_read",   "gr_readv",  "gr_recv",  "gr_recv_buf", "gr_read_full", "gr_poll(POLLIN)",
    "gr_accept", "gr_write",  "gr_writev", "gr_send",    "gr_write_all", "gr_poll(POLLOUT)",
};

static bool op_writes(enum op op)
{
    return op >= OP_WRITE;
}

/* A call blocked on fd; its result goes to `done` (an int64_t). */
struct blocked {
    enum op op;
    int fd;
    gr_chan *done;
    int64_t woke_at; /* gr_now() when the call returned */
    int64_t deadline; /* gr_set_deadline for the call, 0: none */
};

#define BIG_WRITE (4 * MiB) /* more than any socket buffer holds */

static void blocked_call(void *arg)
{
    struct blocked *b = arg;
    char sink[4096];
    char *big = NULL;
    if (b->op == OP_WRITE_ALL || b->op == OP_WRITE || b->op == OP_WRITEV || b->op == OP_SEND) {
        big = calloc(1, BIG_WRITE);
        t_check(big != NULL);
    }
    struct iovec iov = {.iov_base = big ? big : sink, .iov_len = big ? BIG_WRITE : sizeof sink};
    gr_buf *gb = NULL;
    int64_t r = -EINVAL;
    gr_set_deadline(b->deadline);
    switch (b->op) {
    case OP_READ: r = gr_read(b->fd, sink, sizeof sink); break;
    case OP_READV: r = gr_readv(b->fd, &iov, 1); break;
    case OP_RECV: r = gr_recv(b->fd, sink, sizeof sink, 0); break;
    case OP_RECV_BUF: r = gr_recv_buf(b->fd, &gb); break;
    case OP_READ_FULL: r = gr_read_full(b->fd, sink, sizeof sink); break;
    case OP_POLL_IN: r = gr_poll(b->fd, POLLIN, -1); break;
    case OP_ACCEPT: r = gr_accept(b->fd, NULL, NULL); break;
    case OP_WRITE: r = big ? gr_write(b->fd, big, BIG_WRITE) : -ENOMEM; break;
    case OP_WRITEV: r = big ? gr_writev(b->fd, &iov, 1) : -ENOMEM; break;
    case OP_SEND: r = big ? gr_send(b->fd, big, BIG_WRITE, 0) : -ENOMEM; break;
    case OP_WRITE_ALL: r = big ? gr_write_all(b->fd, big, BIG_WRITE) : -ENOMEM; break;
    case OP_POLL_OUT: r = gr_poll(b->fd, POLLOUT, -1); break;
    case OP_COUNT: break;
    }
    b->woke_at = gr_now();
    if (r > 0 && gb)
        gr_buf_release(gb);
    free(big);
    gr_chan_send(b->done, &r);
}

/* The result of the call behind b, or 1 (no call returns that here) if it
 * is still blocked after LIVE_NS. */
static int64_t blocked_result(struct blocked *b)
{
    int64_t r = 1;
    gr_case c = {.chan = b->done, .op = GR_RECV, .elem = &r};
    if (gr_select(&c, 1, LIVE_NS) < 0)
        return 1;
    return r;
}

/* Fills fd's send buffer (and the peer's receive buffer), so that the
 * next write blocks. */
static void fill_socket(int fd)
{
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    static char junk[65536];
    while (send(fd, junk, sizeof junk, MSG_DONTWAIT) > 0) {
    }
    while (send(fd, junk, 1, MSG_DONTWAIT) > 0) {
    }
}

/* The peer of a closed socket: it reads whatever was queued, then end of
 * file - not a hang (the closed end is really released). */
static void check_peer_sees_eof(int peer, const char *what)
{
    char buf[4096];
    gr_set_deadline(gr_now() + LIVE_NS);
    ssize_t r;
    while ((r = gr_read(peer, buf, sizeof buf)) > 0) {
    }
    gr_set_deadline(0);
    t_check_msg(r == 0, "%s: the peer read %zd, not end of file, after gr_close", what, r);
}

/* One blocked call per kind, on a socket of its own, woken by gr_close. */
static void close_wakes_each_call_main(void *arg)
{
    (void)arg;
    int64_t lat[OP_COUNT];
    for (int op = 0; op < OP_COUNT && !t_failed(); op++) {
        struct blocked b = {.op = op, .done = gr_chan_make(sizeof(int64_t), 1)};
        int peer = -1, lfd = -1, port = 0;
        if (op == OP_ACCEPT) {
            lfd = gr_listen_tcp("127.0.0.1", 0, 4);
            t_check(lfd >= 0);
            port = t_port_of(lfd);
            b.fd = lfd;
        } else {
            int sv[2];
            t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
            b.fd = sv[0];
            peer = sv[1];
            if (op_writes(op))
                fill_socket(b.fd);
        }
        t_go(blocked_call, &b);
        gr_sleep(10 * T_MS); /* let it park (if not, it fails at once: also right) */
        int64_t t0 = gr_now();
        t_check_eq(gr_close(b.fd), 0);
        int64_t r = blocked_result(&b);
        t_check_msg(r == -EBADF, "%s on a closed fd: %lld (1: still blocked %lld s after gr_close)",
                    op_names[op], (long long)r, (long long)(LIVE_NS / T_SEC));
        lat[op] = r == 1 ? -1 : b.woke_at - t0;
        if (r == 1) {
            close(peer); /* the goroutine is stuck: abandon it with the run */
            break;
        }
        if (op == OP_ACCEPT) {
            t_check_eq(gr_dial_tcp("127.0.0.1", port), -ECONNREFUSED);
        } else {
            check_peer_sees_eof(peer, op_names[op]);
            t_check_eq(gr_close(peer), 0);
        }
        gr_chan_free(b.done);
    }
    if (!t_failed()) {
        printf("close-to-wake latency (us):");
        for (int op = 0; op < OP_COUNT; op++)
            printf(" %s %.0f", op_names[op], lat[op] / 1e3);
        printf("\n");
    }
}

static void test_fd_close_wakes_each_blocked_call(void **state)
{
    t_run(close_wakes_each_call_main, NULL);
}

/* Many connections, each with a reader and a writer blocked in it, closed
 * from main: with GR_PROCS=2 the blocked calls live on both workers'
 * rings, so the cancellations go to the ring that owns each request. */
#define MANY_CONNS 64

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void close_wakes_many_main(void *arg)
{
    (void)arg;
    struct blocked rd[MANY_CONNS], wr[MANY_CONNS];
    int peer[MANY_CONNS];
    int64_t lat[MANY_CONNS];
    for (int i = 0; i < MANY_CONNS; i++) {
        int sv[2];
        t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        peer[i] = sv[1];
        fill_socket(sv[0]);
        rd[i] = (struct blocked){.op = OP_READ, .fd = sv[0], .done = gr_chan_make(8, 1)};
        wr[i] = (struct blocked){.op = OP_WRITE_ALL, .fd = sv[0], .done = gr_chan_make(8, 1)};
        t_go(blocked_call, &rd[i]);
        t_go(blocked_call, &wr[i]);
    }
    gr_sleep(20 * T_MS);
    int stuck = 0;
    for (int i = 0; i < MANY_CONNS; i++) {
        int64_t t0 = gr_now();
        t_check_eq(gr_close(rd[i].fd), 0);
        int64_t r = blocked_result(&rd[i]), w = blocked_result(&wr[i]);
        t_check_msg(r == -EBADF && w == -EBADF, "conn %d: read %lld, write_all %lld after gr_close",
                    i, (long long)r, (long long)w);
        if (r == 1 || w == 1) {
            stuck = 1;
            for (int j = i + 1; j < MANY_CONNS; j++)
                close(rd[j].fd);
            break;
        }
        lat[i] = (rd[i].woke_at > wr[i].woke_at ? rd[i].woke_at : wr[i].woke_at) - t0;
        check_peer_sees_eof(peer[i], "many");
    }
    if (!stuck) {
        qsort(lat, MANY_CONNS, sizeof lat[0], cmp_i64);
        printf("close-to-wake latency, %d connections (reader and writer blocked): median %.0f us, "
               "max %.0f us\n",
               MANY_CONNS, lat[MANY_CONNS / 2] / 1e3, lat[MANY_CONNS - 1] / 1e3);
    }
    for (int i = 0; i < MANY_CONNS; i++) {
        gr_close(peer[i]);
        if (!stuck) {
            gr_chan_free(rd[i].done);
            gr_chan_free(wr[i].done);
        }
    }
}

static void test_fd_close_wakes_many(void **state)
{
    t_run(close_wakes_many_main, NULL);
}

/* Goroutines waiting for their turn on fd (another read holds it) are
 * woken too, and so are gr_poll callers, which wait beside the reads. */
static void close_wakes_waiters_main(void *arg)
{
    (void)arg;
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    enum { N = 6 };
    struct blocked b[N];
    for (int i = 0; i < N; i++) {
        b[i] = (struct blocked){.op = i % 3 == 2 ? OP_POLL_IN : i % 3 ? OP_READ_FULL : OP_READ,
                                .fd = sv[0],
                                .done = gr_chan_make(8, 1)};
        t_go(blocked_call, &b[i]);
    }
    gr_sleep(10 * T_MS);
    t_check_eq(gr_close(sv[0]), 0);
    int stuck = 0;
    for (int i = 0; i < N; i++) {
        int64_t r = blocked_result(&b[i]);
        t_check_msg(r == -EBADF, "blocked call %d (%s): %lld after gr_close", i, op_names[b[i].op],
                    (long long)r);
        stuck |= r == 1;
    }
    check_peer_sees_eof(sv[1], "waiters");
    gr_close(sv[1]);
    for (int i = 0; i < N && !stuck; i++)
        gr_chan_free(b[i].done);
}

static void test_fd_close_wakes_waiters(void **state)
{
    t_run(close_wakes_waiters_main, NULL);
}

/* A goroutine waiting for its turn on fd (another read holds it) gives
 * up at its deadline, and the holder's read is not disturbed. */
struct deadline_waiter {
    int fd;
    int64_t res;
    gr_wg done;
};

static void deadline_waiter_call(void *arg)
{
    struct deadline_waiter *d = arg;
    char c;
    gr_set_deadline(gr_now() + 30 * T_MS);
    d->res = gr_read(d->fd, &c, 1);
    gr_wg_done(&d->done);
}

static void lock_wait_deadline_main(void *arg)
{
    (void)arg;
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct blocked holder = {.op = OP_READ, .fd = sv[0], .done = gr_chan_make(8, 1)};
    t_go(blocked_call, &holder);
    gr_sleep(10 * T_MS); /* the holder is parked in its read, holding the lock */
    struct deadline_waiter d = {.fd = sv[0]};
    gr_wg_add(&d.done, 1);
    t_go(deadline_waiter_call, &d);
    gr_wg_wait(&d.done);
    t_check_eq(d.res, -ETIMEDOUT);
    t_check_eq(gr_write(sv[1], "h", 1), 1);
    t_check_eq(blocked_result(&holder), 1);
    gr_chan_free(holder.done);
    t_check_eq(gr_close(sv[0]), 0);
    t_check_eq(gr_close(sv[1]), 0);
}

static void test_fd_lock_wait_honours_deadline(void **state)
{
    t_run(lock_wait_deadline_main, NULL);
}

/* A thread that is not a goroutine (a library's callback thread) closes
 * an fd a goroutine is blocked on: same outcome. */
static void *foreign_closer(void *arg)
{
    usleep(10000);
    intptr_t r = gr_close((int)(intptr_t)arg);
    return (void *)r;
}

static void close_from_thread_main(void *arg)
{
    (void)arg;
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct blocked b = {.op = OP_READ, .fd = sv[0], .done = gr_chan_make(8, 1)};
    t_go(blocked_call, &b);
    pthread_t t;
    t_check_eq(pthread_create(&t, NULL, foreign_closer, (void *)(intptr_t)sv[0]), 0);
    int64_t r = blocked_result(&b);
    t_check_msg(r == -EBADF, "read: %lld after gr_close from a thread", (long long)r);
    void *cr;
    pthread_join(t, &cr); /* returned: the close did not wait for us */
    t_check_eq((intptr_t)cr, 0);
    check_peer_sees_eof(sv[1], "thread");
    gr_close(sv[1]);
    if (r != 1)
        gr_chan_free(b.done);
}

static void test_fd_close_from_thread(void **state)
{
    t_run(close_from_thread_main, NULL);
}

/* ======================================================= after the close */

static void after_close_main(void *arg)
{
    (void)arg;
    int sv[2];
    char c = 'x';
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    t_check_eq(gr_write(sv[0], &c, 1), 1); /* fd known to greenrt */
    t_check_eq(gr_close(sv[0]), 0);
    t_check_eq(gr_read(sv[0], &c, 1), -EBADF);
    t_check_eq(gr_write(sv[0], &c, 1), -EBADF);
    t_check_eq(gr_poll(sv[0], POLLIN, 0), -EBADF);
    t_check_eq(gr_close(sv[0]), -EBADF);
    /* A number far beyond any open one: -EBADF too (greenrt keeps no
     * state for it). */
    t_check_eq(gr_read(1 << 30, &c, 1), -EBADF);
    t_check_eq(gr_write(1 << 30, &c, 1), -EBADF);
    t_check_eq(gr_poll(1 << 30, POLLIN, 0), -EBADF);
    t_check_eq(gr_close(1 << 30), -EBADF);
    /* The lowest free number is reused: a new socket there works. */
    int nv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, nv), 0);
    t_check_eq(nv[0], sv[0]);
    t_check_eq(gr_write(nv[1], "ok", 2), 2);
    char buf[2];
    t_check_eq(gr_read_full(nv[0], buf, 2), 2);
    t_check(memcmp(buf, "ok", 2) == 0);
    t_check_eq(gr_close(nv[0]), 0);
    t_check_eq(gr_close(nv[1]), 0);
    t_check_eq(gr_close(sv[1]), 0);
}

static void test_fd_calls_after_close(void **state)
{
    t_run(after_close_main, NULL);
}

/* close(2) behind greenrt's back.  A number closed with nothing in flight
 * and reused works normally.  A goroutine blocked in a read when the
 * number is closed stays blocked, as a thread in read(2) would (the
 * request holds the open file): it returns when the kernel completes the
 * read - here, end of file once the peer closes.  On the epoll engine
 * nothing holds the file for it (greenrt.h): it stays blocked until its
 * deadline, whatever the peer does. */
static void raw_close_main(void *arg)
{
    (void)arg;
    int sv[2], nv[2];
    char c;
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    t_check_eq(gr_write(sv[1], "a", 1), 1);
    t_check_eq(gr_read(sv[0], &c, 1), 1);
    t_check_eq(close(sv[0]), 0);
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, nv), 0);
    t_check_eq(nv[0], sv[0]);
    t_check_eq(gr_write(nv[1], "b", 1), 1);
    t_check_eq(gr_read(nv[0], &c, 1), 1);
    t_check_eq(c, 'b');

    bool epoll = !strcmp(gr_engine(), "epoll");
    struct blocked b = {.op = OP_READ, .fd = nv[0], .done = gr_chan_make(8, 1),
                        .deadline = epoll ? gr_now() + 500 * T_MS : 0};
    t_go(blocked_call, &b);
    gr_sleep(10 * T_MS);
    t_check_eq(close(nv[0]), 0);
    int64_t r = 1;
    gr_case cs = {.chan = b.done, .op = GR_RECV, .elem = &r};
    if (gr_select(&cs, 1, 20 * T_MS) == 0) {
        /* The read started only after the close (a loaded machine):
         * then it is a read of a closed number. */
        t_check_eq(r, -EBADF);
        t_check_eq(gr_close(nv[1]), 0);
    } else {
        /* Still blocked; the peer's close ends it (epoll: its deadline). */
        t_check_eq(gr_close(nv[1]), 0);
        r = blocked_result(&b);
        t_check_eq(r, epoll ? -ETIMEDOUT : 0);
    }
    t_check_eq(gr_close(sv[1]), 0);
    if (r != 1)
        gr_chan_free(b.done);
}

static void test_fd_raw_close_behind_greenrt(void **state)
{
    t_run(raw_close_main, NULL);
}

/* ================================== serialised reads and writes of a file */

#define FILE_WRITERS 8
#define FILE_RECORDS T_BIG(2000) /* per writer */

struct record {
    uint32_t writer, seq;
    uint8_t fill[56]; /* a pattern of (writer, seq): a torn record shows */
};

static void record_fill(struct record *r, uint32_t writer, uint32_t seq)
{
    r->writer = writer;
    r->seq = seq;
    t_fill(r->fill, sizeof r->fill, (uint64_t)writer << 32 | seq);
}

/* An unlinked regular file in TMPDIR (not O_APPEND: the file position is
 * what concurrent calls share). */
static int temp_file(void)
{
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/greenrt-test-fd-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    t_check_msg(fd >= 0, "mkostemp(%s): %s", path, strerror(errno));
    if (fd >= 0)
        unlink(path);
    return fd;
}

struct file_ctx {
    int fd;
    gr_wg done;
    uint32_t next_writer;
    atomic_long dup_reads;
    uint8_t *seen; /* words read, by index */
    long nwords;
};

static void record_writer(void *arg)
{
    struct file_ctx *f = arg;
    uint32_t me = __atomic_fetch_add(&f->next_writer, 1, __ATOMIC_RELAXED);
    for (uint32_t s = 0; s < FILE_RECORDS; s++) {
        struct record r;
        record_fill(&r, me, s);
        ssize_t n = gr_write(f->fd, &r, sizeof r);
        t_check_msg(n == (ssize_t)sizeof r, "writer %u record %u: gr_write %zd", me, s, n);
    }
    gr_wg_done(&f->done);
}

static void file_writes_main(void *arg)
{
    (void)arg;
    struct file_ctx f = {.fd = temp_file()};
    if (f.fd < 0)
        return;
    gr_wg_add(&f.done, FILE_WRITERS);
    for (int i = 0; i < FILE_WRITERS; i++)
        t_go(record_writer, &f);
    gr_wg_wait(&f.done);
    long total = (long)FILE_WRITERS * FILE_RECORDS;
    struct stat st;
    t_check_eq(fstat(f.fd, &st), 0);
    struct record *all = calloc((size_t)total, sizeof *all);
    uint8_t *seen = calloc((size_t)total, 1);
    t_check(all && seen);
    if (all && seen) {
        ssize_t n = pread(f.fd, all, (size_t)total * sizeof *all, 0);
        long torn = 0, dups = 0, lost = 0;
        for (long i = 0; i < n / (ssize_t)sizeof *all; i++) {
            struct record want;
            if (all[i].writer >= FILE_WRITERS || all[i].seq >= FILE_RECORDS) {
                torn++;
                continue;
            }
            record_fill(&want, all[i].writer, all[i].seq);
            if (memcmp(&want, &all[i], sizeof want)) {
                torn++;
                continue;
            }
            if (seen[(long)all[i].writer * FILE_RECORDS + all[i].seq]++)
                dups++;
        }
        for (long i = 0; i < total; i++)
            lost += !seen[i];
        t_check_msg(lost == 0 && dups == 0 && torn == 0 &&
                        st.st_size == total * (long)sizeof(struct record),
                    "%ld of %ld records lost, %ld duplicated, %ld torn; the file holds %lld "
                    "bytes",
                    lost, total, dups, torn, (long long)st.st_size);
    }
    free(all);
    free(seen);
    t_check_eq(gr_close(f.fd), 0);
}

static void test_fd_file_writes_serialised(void **state)
{
    t_run(file_writes_main, NULL);
}

#define FILE_READERS 8
#define FILE_WORDS T_BIG(512 * 1024) /* 4 MiB of 8-byte words */
#define READ_WORDS 8                  /* words per gr_read */

static void word_reader(void *arg)
{
    struct file_ctx *f = arg;
    uint64_t w[READ_WORDS];
    for (;;) {
        ssize_t n = gr_read(f->fd, w, sizeof w);
        if (n <= 0) {
            t_check_eq(n, 0);
            break;
        }
        t_check_msg(n % 8 == 0, "a read of %zd bytes: not whole words", n);
        for (ssize_t i = 0; i < n / 8; i++) {
            if (w[i] >= (uint64_t)f->nwords) {
                t_fail_at(__FILE__, __LINE__, "read a word that is not in the file: %llu",
                          (unsigned long long)w[i]);
                continue;
            }
            if (__atomic_exchange_n(&f->seen[w[i]], 1, __ATOMIC_RELAXED))
                atomic_fetch_add(&f->dup_reads, 1);
        }
    }
    gr_wg_done(&f->done);
}

static void file_reads_main(void *arg)
{
    (void)arg;
    struct file_ctx f = {.fd = temp_file(), .nwords = FILE_WORDS};
    if (f.fd < 0)
        return;
    uint64_t *words = malloc(FILE_WORDS * sizeof *words);
    f.seen = calloc(FILE_WORDS, 1);
    t_check(words && f.seen);
    if (words && f.seen) {
        for (long i = 0; i < FILE_WORDS; i++)
            words[i] = (uint64_t)i;
        t_check_eq(pwrite(f.fd, words, FILE_WORDS * sizeof *words, 0),
                   (ssize_t)(FILE_WORDS * sizeof *words));
        gr_wg_add(&f.done, FILE_READERS);
        for (int i = 0; i < FILE_READERS; i++)
            t_go(word_reader, &f);
        gr_wg_wait(&f.done);
        long unread = 0;
        for (long i = 0; i < FILE_WORDS; i++)
            unread += !f.seen[i];
        t_check_msg(atomic_load(&f.dup_reads) == 0 && unread == 0,
                    "%ld of %ld words read twice, %ld never read", atomic_load(&f.dup_reads),
                    (long)FILE_WORDS, unread);
    }
    free(words);
    free(f.seen);
    t_check_eq(gr_close(f.fd), 0);
}

static void test_fd_file_reads_serialised(void **state)
{
    t_run(file_reads_main, NULL);
}

/* ================================== gr_write_all and gr_read_full: atomic */

#define ATOMIC_WRITERS 4
#define ATOMIC_CHUNK (256 * 1024) /* per gr_write_all: many short writes */
#define ATOMIC_CALLS 4            /* per writer */

struct atomic_ctx {
    int fd;
    gr_wg done;
    uint32_t next;
};

static void chunk_writer(void *arg)
{
    struct atomic_ctx *a = arg;
    uint8_t me = (uint8_t)(1 + __atomic_fetch_add(&a->next, 1, __ATOMIC_RELAXED));
    uint8_t *buf = malloc(ATOMIC_CHUNK);
    t_check(buf != NULL);
    if (buf) {
        memset(buf, me, ATOMIC_CHUNK);
        for (int i = 0; i < ATOMIC_CALLS; i++)
            t_check_eq(gr_write_all(a->fd, buf, ATOMIC_CHUNK), ATOMIC_CHUNK);
    }
    free(buf);
    gr_wg_done(&a->done);
}

/* Writers' gr_write_all calls land whole: the stream is runs of
 * ATOMIC_CHUNK bytes of one writer each. */
static void write_all_atomic_main(void *arg)
{
    (void)arg;
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int small = 4096; /* short writes: each call takes many */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    struct atomic_ctx a = {.fd = sv[0]};
    gr_wg_add(&a.done, ATOMIC_WRITERS);
    for (int i = 0; i < ATOMIC_WRITERS; i++)
        t_go(chunk_writer, &a);
    long total = (long)ATOMIC_WRITERS * ATOMIC_CALLS * ATOMIC_CHUNK, got = 0, runs = 0;
    long run_len = 0;
    uint8_t cur = 0;
    uint8_t buf[8192];
    while (got < total) {
        ssize_t n = gr_read(sv[1], buf, sizeof buf);
        t_check(n > 0);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != cur || run_len == ATOMIC_CHUNK) {
                t_check_msg(run_len == 0 || run_len == ATOMIC_CHUNK,
                            "at byte %ld: a gr_write_all of %d bytes was cut after %ld by another "
                            "writer's bytes",
                            got + i, ATOMIC_CHUNK, run_len);
                if (t_failed())
                    break;
                cur = buf[i];
                run_len = 0;
                runs++;
            }
            run_len++;
        }
        if (t_failed())
            break;
        got += n;
    }
    if (!t_failed())
        t_check_eq(runs, (long)ATOMIC_WRITERS * ATOMIC_CALLS);
    /* Drain what the writers may still send after a failure. */
    gr_close(sv[1]);
    gr_wg_wait(&a.done);
    gr_close(sv[0]);
}

static void test_fd_write_all_is_atomic(void **state)
{
    t_run(write_all_atomic_main, NULL);
}

#define FULL_READERS 4
#define FULL_WORDS (16 * 1024) /* uint32_t per gr_read_full */
#define FULL_CALLS 8           /* per reader */

struct full_ctx {
    int fd;
    gr_wg done;
};

/* Each gr_read_full gets consecutive counter values: no other reader's
 * call took words from the middle of it. */
static void full_reader(void *arg)
{
    struct full_ctx *f = arg;
    uint32_t *buf = malloc(FULL_WORDS * sizeof *buf);
    t_check(buf != NULL);
    for (int c = 0; buf && c < FULL_CALLS; c++) {
        ssize_t n = gr_read_full(f->fd, buf, FULL_WORDS * sizeof *buf);
        t_check_eq(n, (ssize_t)(FULL_WORDS * sizeof *buf));
        if (n != (ssize_t)(FULL_WORDS * sizeof *buf))
            break;
        for (int i = 1; i < FULL_WORDS; i++)
            if (buf[i] != buf[0] + (uint32_t)i) {
                t_fail_at(__FILE__, __LINE__,
                          "a gr_read_full got %u then %u at word %d: another read took the "
                          "words between",
                          buf[0], buf[i], i);
                break;
            }
    }
    free(buf);
    gr_wg_done(&f->done);
}

static void read_full_atomic_main(void *arg)
{
    (void)arg;
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct full_ctx f = {.fd = sv[0]};
    gr_wg_add(&f.done, FULL_READERS);
    for (int i = 0; i < FULL_READERS; i++)
        t_go(full_reader, &f);
    /* Counter values in small writes, so that reads come back short. */
    uint32_t next = 0, chunk[512];
    for (long left = (long)FULL_READERS * FULL_CALLS * FULL_WORDS; left > 0;) {
        int n = left < 512 ? (int)left : 512;
        for (int i = 0; i < n; i++)
            chunk[i] = next++;
        if (gr_write_all(sv[1], chunk, (size_t)n * sizeof chunk[0]) < 0)
            break;
        left -= n;
        if (next % 4096 == 0)
            gr_yield();
    }
    gr_wg_wait(&f.done);
    gr_close(sv[0]);
    gr_close(sv[1]);
}

static void test_fd_read_full_is_atomic(void **state)
{
    t_run(read_full_atomic_main, NULL);
}

/* ================================================================ main */

int main(void)
{
    t_init();
    /* stdout is a pipe under the runner: keep our lines in order with
     * cmocka's. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        t_unit_test_fds(test_fd_close_wakes_each_blocked_call),
        t_unit_test_fds(test_fd_close_wakes_many),
        t_unit_test_fds(test_fd_close_wakes_waiters),
        t_unit_test_fds(test_fd_close_from_thread),
        t_unit_test_fds(test_fd_lock_wait_honours_deadline),
        t_unit_test_fds(test_fd_calls_after_close),
        t_unit_test_fds(test_fd_raw_close_behind_greenrt),
        t_unit_test_fds(test_fd_file_writes_serialised),
        t_unit_test_fds(test_fd_file_reads_serialised),
        t_unit_test_fds(test_fd_write_all_is_atomic),
        t_unit_test_fds(test_fd_read_full_is_atomic),
    };
    return cmocka_run_group_tests_name("fd", tests, NULL, NULL);
}
