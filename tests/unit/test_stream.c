/*
 * test_stream.c - byte streams through the gr_ I/O calls (io.c), checked
 * through greenrt.h only: echo round trips (socketpair, TCP), large
 * transfers reassembled exactly (64 MiB with short reads/writes,
 * checksummed at both ends; the vectored calls too), gr_poll, files, a
 * goroutine parked on a pipe not blocking its worker, errors on bad
 * descriptors, gr_read/gr_write on descriptors reused behind greenrt's
 * back, and gr_shutdown.
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

#include <sys/stat.h>
#include <sys/uio.h>

/* ======================================================== echo round trips */

struct echo_ctx {
    int fd;
    gr_wg done;
    long bytes;   /* echoed by the server side */
};

/* Echo until end of stream, then close.  Short writes handled by
 * gr_write_all; a 4 KiB read returns whatever has arrived. */
static void echo_server(void *arg)
{
    struct echo_ctx *e = arg;
    char *buf = malloc(4096);
    t_check(buf != NULL);
    for (;;) {
        if (!buf)
            break;
        ssize_t r = gr_read(e->fd, buf, 4096);
        if (r <= 0) {
            t_check_msg(r == 0, "echo read: %zd", r);
            break;
        }
        ssize_t w = gr_write_all(e->fd, buf, (size_t)r);
        t_check_eq(w, r);
        if (w != r)
            break;
        e->bytes += r;
    }
    free(buf);
    t_check_eq(gr_close(e->fd), 0);
    gr_wg_done(&e->done);
}

/* Send `rounds` messages of varying sizes and check each comes back. */
static long echo_client(int fd, int rounds)
{
    char *out = malloc(8192), *in = malloc(8192);
    long total = 0;
    uint64_t pos = 0;
    t_check(out && in);
    for (int i = 0; out && in && i < rounds; i++) {
        size_t n = 1 + (size_t)(i * 997) % 6000;
        t_fill((uint8_t *)out, n, pos);
        t_check_eq(gr_write_all(fd, out, n), n);
        ssize_t r = gr_read_full(fd, in, n);
        t_check_eq(r, n);
        if (r != (ssize_t)n)
            break;
        t_check_eq(t_verify((uint8_t *)in, n, pos), n);
        pos += n;
        total += (long)n;
    }
    free(out);
    free(in);
    return total;
}

static void socketpair_echo_main(void *arg)
{
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct echo_ctx e = {.fd = sv[1]};
    gr_wg_add(&e.done, 1);
    t_go(echo_server, &e);
    long sent = echo_client(sv[0], 200);
    t_check_eq(shutdown(sv[0], SHUT_WR), 0);
    char c;
    t_check_eq(gr_read(sv[0], &c, 1), 0); /* the server closed after EOF */
    gr_wg_wait(&e.done);
    t_check_eq(e.bytes, sent);
    t_check(sent > 0);
    t_check_eq(gr_close(sv[0]), 0);
}

static void test_stream_socketpair_echo(void **state)
{
    t_run(socketpair_echo_main, NULL);
}

struct tcp_echo_ctx {
    int lfd;
    struct echo_ctx e;
    struct sockaddr_in peer;
    socklen_t peerlen;
    int cloexec;
};

static void tcp_accept_one(void *arg)
{
    struct tcp_echo_ctx *t = arg;
    t->peerlen = sizeof t->peer;
    int fd = gr_accept(t->lfd, (struct sockaddr *)&t->peer, &t->peerlen);
    t_check_msg(fd >= 0, "gr_accept: %d", fd);
    if (fd < 0) {
        gr_wg_done(&t->e.done);
        return;
    }
    t->cloexec = t_is_cloexec(fd);
    t->e.fd = fd;
    echo_server(&t->e);
}

static void tcp_echo_main(void *arg)
{
    struct tcp_echo_ctx t = {0};
    t.lfd = gr_listen_tcp("127.0.0.1", 0, 16);
    t_check_msg(t.lfd >= 0, "gr_listen_tcp: %d", t.lfd);
    if (t.lfd < 0)
        return;
    int port = t_port_of(t.lfd);
    t_check(port > 0);
    gr_wg_add(&t.e.done, 1);
    t_go(tcp_accept_one, &t);
    int fd = gr_dial_tcp("127.0.0.1", port);
    t_check_msg(fd >= 0, "gr_dial_tcp: %d", fd);
    if (fd >= 0) {
        long sent = echo_client(fd, 200);
        t_check_eq(shutdown(fd, SHUT_WR), 0);
        char c;
        t_check_eq(gr_read(fd, &c, 1), 0);
        gr_wg_wait(&t.e.done);
        t_check_eq(t.e.bytes, sent);
        /* gr_accept filled in the peer: our own 127.0.0.1 socket. */
        t_check_eq(t.peerlen, sizeof(struct sockaddr_in));
        t_check_eq(t.peer.sin_family, AF_INET);
        t_check_eq(ntohl(t.peer.sin_addr.s_addr), INADDR_LOOPBACK);
        t_check_eq(ntohs(t.peer.sin_port), t_port_of(fd));
        t_check_eq(gr_close(fd), 0);
    } else {
        gr_wg_wait(&t.e.done); /* unreachable in practice: accept waits */
    }
    t_check_eq(gr_close(t.lfd), 0);
}

static void test_stream_tcp_echo(void **state)
{
    t_run(tcp_echo_main, NULL);
}

/* ===================================================== large transfers */

#define BIG (64u * MiB)

/* The receiving end of a transfer: checks the n bytes just read into buf
 * against the pattern at stream offset *got, then counts them into *got
 * and the checksum *sum.  False, after a failed check, at a wrong byte. */
static bool take_bytes(const uint8_t *buf, size_t n, uint64_t *got, uint64_t *sum)
{
    size_t bad = t_verify(buf, n, *got);
    t_check_msg(bad == n, "byte %llu of the stream is wrong",
                (unsigned long long)(*got + bad));
    if (bad != n)
        return false;
    *sum = t_fnv(*sum, buf, n);
    *got += n;
    return true;
}

struct xfer {
    int fd;
    uint64_t sum;        /* FNV-1a of the bytes this end moved */
    uint64_t bytes;
    long calls, shorts;  /* I/O calls, and those that moved less than asked */
    gr_wg done;
};

/* TCP, 64 MiB: the sender uses gr_write_all with chunks of 1-3 MiB; the
 * receiver plain gr_read with a 1 MiB + 17 buffer and a 64 KiB receive
 * buffer, so its reads are short (the socket never holds 1 MiB). */
static void tcp_big_sender(void *arg)
{
    struct xfer *x = arg;
    size_t cap = 3 * MiB + 7;
    uint8_t *buf = malloc(cap);
    t_check(buf != NULL);
    x->sum = T_FNV_INIT;
    for (int i = 0; buf && x->bytes < BIG; i++) {
        size_t n = 1 * MiB + (size_t)(i * 700001) % (2 * MiB + 7);
        if (n > BIG - x->bytes)
            n = BIG - x->bytes;
        t_fill(buf, n, x->bytes);
        ssize_t w = gr_write_all(x->fd, buf, n);
        t_check_eq(w, n);
        if (w != (ssize_t)n)
            break;
        x->sum = t_fnv(x->sum, buf, n);
        x->bytes += n;
        x->calls++;
    }
    free(buf);
    t_check_eq(gr_close(x->fd), 0); /* EOF for the receiver */
    gr_wg_done(&x->done);
}

static void tcp_big_main(void *arg)
{
    int lfd = gr_listen_tcp("127.0.0.1", 0, 4);
    t_check_msg(lfd >= 0, "gr_listen_tcp: %d", lfd);
    if (lfd < 0)
        return;
    int cfd = gr_dial_tcp("127.0.0.1", t_port_of(lfd));
    t_check_msg(cfd >= 0, "gr_dial_tcp: %d", cfd);
    int sfd = gr_accept(lfd, NULL, NULL);
    t_check_msg(sfd >= 0, "gr_accept: %d", sfd);
    if (cfd < 0 || sfd < 0)
        goto out;
    int small = 64 * 1024;
    t_check_eq(setsockopt(sfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);

    struct xfer tx = {.fd = cfd};
    gr_wg_add(&tx.done, 1);
    t_go(tcp_big_sender, &tx);
    cfd = -1; /* the sender closes it */

    size_t cap = 1 * MiB + 17;
    uint8_t *buf = malloc(cap);
    t_check(buf != NULL);
    uint64_t got = 0, sum = T_FNV_INIT;
    long reads = 0, shorts = 0;
    while (buf) {
        ssize_t r = gr_read(sfd, buf, cap);
        if (r <= 0) {
            t_check_msg(r == 0, "gr_read: %zd", r);
            break;
        }
        reads++;
        if ((size_t)r < cap)
            shorts++;
        if (!take_bytes(buf, (size_t)r, &got, &sum))
            break;
    }
    free(buf);
    gr_wg_wait(&tx.done);
    t_check_eq(got, BIG);
    t_check_eq(tx.bytes, BIG);
    t_check(sum == tx.sum);
    t_check(shorts > 0); /* the test did exercise reassembly */
    printf("  tcp 64 MiB: %ld writes of 1-3 MiB, %ld reads (%ld short)\n",
           tx.calls, reads, shorts);
out:
    if (sfd >= 0)
        t_check_eq(gr_close(sfd), 0);
    if (cfd >= 0)
        t_check_eq(gr_close(cfd), 0);
    t_check_eq(gr_close(lfd), 0);
}

static void test_stream_large_transfer_tcp(void **state)
{
    t_run(tcp_big_main, NULL);
}

/* socketpair, 64 MiB: the sender uses plain gr_write (counting the short
 * ones; a small send buffer makes them likely) and resumes where each
 * short write stopped; the receiver uses gr_read_full with an odd chunk
 * size, so the last call is a short count at end of stream. */
static void sp_big_sender(void *arg)
{
    struct xfer *x = arg;
    size_t cap = 4 * MiB + 3;
    uint8_t *buf = malloc(cap);
    t_check(buf != NULL);
    x->sum = T_FNV_INIT;
    while (buf && x->bytes < BIG) {
        size_t n = cap;
        if (n > BIG - x->bytes)
            n = BIG - x->bytes;
        t_fill(buf, n, x->bytes);
        size_t off = 0;
        while (off < n) {
            ssize_t w = gr_write(x->fd, buf + off, n - off);
            if (w <= 0) {
                t_check_msg(0, "gr_write: %zd", w);
                goto out;
            }
            x->calls++;
            if ((size_t)w < n - off)
                x->shorts++;
            off += (size_t)w;
        }
        x->sum = t_fnv(x->sum, buf, n);
        x->bytes += n;
    }
out:
    free(buf);
    t_check_eq(shutdown(x->fd, SHUT_WR), 0);
    gr_wg_done(&x->done);
}

static void sp_big_main(void *arg)
{
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int small = 32 * 1024;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    struct xfer tx = {.fd = sv[0]};
    gr_wg_add(&tx.done, 1);
    t_go(sp_big_sender, &tx);

    size_t chunk = 1 * MiB + 5; /* BIG is not a multiple of it */
    uint8_t *buf = malloc(chunk);
    t_check(buf != NULL);
    uint64_t got = 0, sum = T_FNV_INIT;
    long full = 0, partial = 0;
    while (buf) {
        ssize_t r = gr_read_full(sv[1], buf, chunk);
        if (r < 0) {
            t_check_msg(0, "gr_read_full: %zd", r);
            break;
        }
        if ((size_t)r == chunk)
            full++;
        else
            partial++;
        bool ok = take_bytes(buf, (size_t)r, &got, &sum);
        if ((size_t)r < chunk || !ok)
            break; /* end of stream (a short count), or a bad byte */
    }
    free(buf);
    gr_wg_wait(&tx.done);
    t_check_eq(got, BIG);
    t_check_eq(tx.bytes, BIG);
    t_check(sum == tx.sum);
    /* Exactly one short gr_read_full: the tail before end of stream. */
    t_check_eq(full, BIG / chunk);
    t_check_eq(partial, 1);
    printf("  socketpair 64 MiB: %ld gr_write calls (%ld short), "
           "%ld gr_read_full of 1 MiB+5 + 1 short tail\n",
           tx.calls, tx.shorts, full);
    t_check_eq(gr_close(sv[0]), 0);
    t_check_eq(gr_close(sv[1]), 0);
}

static void test_stream_large_transfer_socketpair(void **state)
{
    t_run(sp_big_main, NULL);
}

/* gr_writev / gr_readv: three iovecs of odd sizes each way; a short
 * vectored call is resumed by advancing the iovec array. */
#define VBIG (16u * MiB)

static void iov_advance(struct iovec **iov, int *cnt, size_t n)
{
    while (n > 0 && *cnt > 0) {
        if (n >= (*iov)->iov_len) {
            n -= (*iov)->iov_len;
            (*iov)++;
            (*cnt)--;
        } else {
            (*iov)->iov_base = (char *)(*iov)->iov_base + n;
            (*iov)->iov_len -= n;
            n = 0;
        }
    }
}

static void vec_sender(void *arg)
{
    struct xfer *x = arg;
    static const size_t sizes[3] = {100003, 7, 300017};
    uint8_t *buf = malloc(sizes[0] + sizes[1] + sizes[2]);
    t_check(buf != NULL);
    x->sum = T_FNV_INIT;
    while (buf && x->bytes < VBIG) {
        struct iovec v[3], *iv = v;
        size_t total = 0;
        for (int i = 0; i < 3; i++) {
            size_t n = sizes[i];
            if (n > VBIG - x->bytes - total)
                n = VBIG - x->bytes - total;
            v[i].iov_base = buf + total;
            v[i].iov_len = n;
            total += n;
        }
        t_fill(buf, total, x->bytes);
        int cnt = 3;
        size_t left = total;
        while (left > 0) {
            ssize_t w = gr_writev(x->fd, iv, cnt);
            if (w <= 0) {
                t_check_msg(0, "gr_writev: %zd", w);
                goto out;
            }
            x->calls++;
            if ((size_t)w < left)
                x->shorts++;
            left -= (size_t)w;
            iov_advance(&iv, &cnt, (size_t)w);
        }
        x->sum = t_fnv(x->sum, buf, total);
        x->bytes += total;
    }
out:
    free(buf);
    t_check_eq(shutdown(x->fd, SHUT_WR), 0);
    gr_wg_done(&x->done);
}

static void vec_main(void *arg)
{
    int sv[2];
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct xfer tx = {.fd = sv[0]};
    gr_wg_add(&tx.done, 1);
    t_go(vec_sender, &tx);

    static const size_t sizes[3] = {65537, 3, 131071};
    size_t cap = sizes[0] + sizes[1] + sizes[2];
    uint8_t *buf = malloc(cap);
    t_check(buf != NULL);
    uint64_t got = 0, sum = T_FNV_INIT;
    long calls = 0;
    while (buf) {
        struct iovec v[3];
        size_t off = 0;
        for (int i = 0; i < 3; i++) {
            v[i].iov_base = buf + off;
            v[i].iov_len = sizes[i];
            off += sizes[i];
        }
        /* Bytes land in buf contiguously across the three iovecs. */
        ssize_t r = gr_readv(sv[1], v, 3);
        if (r <= 0) {
            t_check_msg(r == 0, "gr_readv: %zd", r);
            break;
        }
        calls++;
        if (!take_bytes(buf, (size_t)r, &got, &sum))
            break;
    }
    free(buf);
    gr_wg_wait(&tx.done);
    t_check_eq(got, VBIG);
    t_check_eq(tx.bytes, VBIG);
    t_check(sum == tx.sum);
    printf("  vectored 16 MiB: %ld gr_writev (%ld short), %ld gr_readv\n",
           tx.calls, tx.shorts, calls);
    t_check_eq(gr_close(sv[0]), 0);
    t_check_eq(gr_close(sv[1]), 0);
}

static void test_stream_readv_writev(void **state)
{
    t_run(vec_main, NULL);
}

/* ================================================================ poll */

struct poll_ctx {
    int wfd;
    atomic_long stage;
};

static void poll_late_writer(void *arg)
{
    struct poll_ctx *p = arg;
    t_wait_for(&p->stage, 1);
    gr_sleep(10 * T_MS);
    t_check_eq(gr_write(p->wfd, "p", 1), 1);
}

static void poll_main(void *arg)
{
    int p[2];
    t_check_eq(pipe2(p, O_CLOEXEC), 0);

    /* Nothing to read: a timeout of 20 ms gives 0 (and lasts 20 ms). */
    int64_t t0 = gr_now();
    t_check_eq(gr_poll(p[0], POLLIN, 20 * T_MS), 0);
    t_check(gr_now() - t0 >= 20 * T_MS);
    t_check_eq(gr_poll(p[0], POLLIN, 0), 0);

    /* An empty pipe is writable. */
    int ev = gr_poll(p[1], POLLOUT, -1);
    t_check_msg(ev > 0 && (ev & POLLOUT), "POLLOUT: %d", ev);

    /* Data arriving while parked in gr_poll wakes it. */
    struct poll_ctx pc = {.wfd = p[1]};
    t_go(poll_late_writer, &pc);
    atomic_store(&pc.stage, 1);
    ev = gr_poll(p[0], POLLIN, -1);
    t_check_msg(ev > 0 && (ev & POLLIN), "POLLIN: %d", ev);
    /* Level-triggered: still readable until read. */
    ev = gr_poll(p[0], POLLIN, 10 * T_SEC);
    t_check_msg(ev > 0 && (ev & POLLIN), "POLLIN again: %d", ev);
    char c;
    t_check_eq(gr_read(p[0], &c, 1), 1);
    t_check_eq(c, 'p');

    /* Writer gone: POLLHUP on the read end. */
    t_check_eq(gr_close(p[1]), 0);
    ev = gr_poll(p[0], POLLIN, -1);
    t_check_msg(ev > 0 && (ev & POLLHUP), "POLLHUP: %d", ev);
    t_check_eq(gr_close(p[0]), 0);

    /* A full pipe is not writable: POLLOUT times out. */
    t_check_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    char *junk = calloc(1, 65536);
    while (junk && write(p[1], junk, 65536) > 0) {
    }
    free(junk);
    t_check_eq(gr_poll(p[1], POLLOUT, 10 * T_MS), 0);
    gr_close(p[0]);
    gr_close(p[1]);
}

static void test_stream_poll(void **state)
{
    t_run(poll_main, NULL);
}

/* =============================================================== files */

struct file_ctx {
    char dir[64];
};

static void file_main(void *arg)
{
    struct file_ctx *f = arg;
    char path[128];
    snprintf(path, sizeof path, "%s/data", f->dir);
    size_t n = 3 * MiB + 11;
    uint8_t *buf = malloc(n), *back = malloc(n);
    t_check(buf && back);
    if (!buf || !back)
        goto out;
    t_fill(buf, n, 12345);

    t_check_eq(gr_open(path, O_RDONLY | O_CLOEXEC, 0), -ENOENT);
    int fd = gr_open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    t_check_msg(fd >= 0, "gr_open: %d", fd);
    if (fd < 0)
        goto out;
    t_check(t_is_cloexec(fd));
    t_check_eq(gr_open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600), -EEXIST);
    /* Sequential writes advance the file position. */
    t_check_eq(gr_write_all(fd, buf, n / 2), n / 2);
    t_check_eq(gr_write_all(fd, buf + n / 2, n - n / 2), n - n / 2);
    t_check_eq(gr_fsync(fd), 0);
    struct stat st;
    t_check_eq(fstat(fd, &st), 0);
    t_check_eq(st.st_size, n);
    t_check_eq(gr_read(fd, back, 1), -EBADF); /* write-only */
    t_check_eq(gr_close(fd), 0);
    t_check_eq(fcntl(fd, F_GETFD), -1);       /* really closed */

    fd = gr_open(path, O_RDONLY | O_CLOEXEC, 0);
    t_check(fd >= 0);
    if (fd >= 0) {
        t_check_eq(gr_read_full(fd, back, 1000), 1000);
        t_check_eq(gr_read_full(fd, back + 1000, n), n - 1000); /* short at EOF */
        t_check_eq(t_verify(back, n, 12345), n);
        t_check_eq(gr_read(fd, back, 1), 0);
        t_check_eq(gr_close(fd), 0);
    }
    t_check_eq(gr_fsync(fd), -EBADF);
    t_check_eq(gr_close(fd), -EBADF);
out:
    free(buf);
    free(back);
    unlink(path);
}

static void test_stream_file(void **state)
{
    struct file_ctx f;
    snprintf(f.dir, sizeof f.dir, "/tmp/test_stream.XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    t_run(file_main, &f);
    assert_int_equal(rmdir(f.dir), 0); /* file_main removed its file */
}

/* =================================== parked reads do not block the worker */

struct park_ctx {
    int p[2];
    atomic_long reader_parked;
    atomic_long reader_done;
    long other_steps;       /* steps the other goroutine took meanwhile */
    ssize_t res;
    char c;
    gr_wg done;
};

static void park_reader(void *arg)
{
    struct park_ctx *k = arg;
    atomic_store(&k->reader_parked, 1);
    k->res = gr_read(k->p[0], &k->c, 1);
    atomic_store(&k->reader_done, 1);
    gr_wg_done(&k->done);
}

static void park_other(void *arg)
{
    struct park_ctx *k = arg;
    /* With GR_PROCS=1 this runs only if the reader's worker is free. */
    t_wait_for(&k->reader_parked, 1);
    for (int i = 0; i < 100; i++) {
        gr_yield();
        if (!atomic_load(&k->reader_done))
            k->other_steps++;
    }
    t_check_eq(gr_write(k->p[1], "r", 1), 1);
    gr_wg_done(&k->done);
}

static void park_main(void *arg)
{
    struct park_ctx *k = arg;
    t_check_eq(pipe2(k->p, O_CLOEXEC), 0);
    gr_wg_add(&k->done, 2);
    t_go(park_reader, k);
    t_go(park_other, k);
    gr_wg_wait(&k->done);
    t_check_eq(k->res, 1);
    t_check_eq(k->c, 'r');
    /* The reader could not finish before the write that ended the loop. */
    t_check_eq(k->other_steps, 100);

    /* Same with an O_NONBLOCK pipe: still a parking read, not -EAGAIN. */
    gr_close(k->p[0]);
    gr_close(k->p[1]);
    t_check_eq(pipe2(k->p, O_CLOEXEC | O_NONBLOCK), 0);
    atomic_store(&k->reader_parked, 0);
    atomic_store(&k->reader_done, 0);
    k->other_steps = 0;
    k->c = 0;
    gr_wg_add(&k->done, 2);
    t_go(park_reader, k);
    t_go(park_other, k);
    gr_wg_wait(&k->done);
    t_check_eq(k->res, 1);
    t_check_eq(k->c, 'r');
    t_check_eq(k->other_steps, 100);
    gr_close(k->p[0]);
    gr_close(k->p[1]);
}

static void test_stream_parked_read_frees_worker(void **state)
{
    struct park_ctx k = {0};
    t_run(park_main, &k);
}

/* ============================================= errors on bad descriptors */

static void bad_fd_main(void *arg)
{
    char c;
    int p[2];
    t_check_eq(pipe2(p, O_CLOEXEC), 0);
    t_check_eq(gr_close(p[0]), 0);
    t_check_eq(gr_close(p[1]), 0);
    t_check_eq(gr_read(p[0], &c, 1), -EBADF);
    t_check_eq(gr_write(p[1], "x", 1), -EBADF);
    t_check_eq(gr_close(p[0]), -EBADF);
    t_check_eq(gr_read(-1, &c, 1), -EBADF);
    t_check_eq(gr_accept(-1, NULL, NULL), -EBADF);
    int ev = gr_poll(-1, POLLIN, 0);
    t_check_msg(ev == -EBADF || (ev > 0 && (ev & POLLNVAL)), "gr_poll(-1): %d", ev);
    /* Accept on something that is not a socket. */
    t_check_eq(pipe2(p, O_CLOEXEC), 0);
    t_check_eq(gr_accept(p[0], NULL, NULL), -ENOTSOCK);
    gr_close(p[0]);
    gr_close(p[1]);
}

static void test_stream_bad_fd(void **state)
{
    t_run(bad_fd_main, NULL);
}

/* ====================================== read/write on sockets and others */

/* gr_read/gr_write take the socket path (recv/send) for what they last
 * saw to be a socket.  Descriptor numbers are reused behind greenrt's back
 * (dup2 here): every byte must still arrive, whatever the fd is now. */
static void rw_reuse_main(void *arg)
{
    (void)arg;
    int s[2], t[2], p[2];
    char c = 0;
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, t), 0);
    t_check_eq(pipe2(p, O_CLOEXEC), 0);
    t_check_eq(gr_write(s[0], "a", 1), 1);
    t_check_eq(gr_read(s[1], &c, 1), 1);
    t_check_eq(c, 'a');

    /* s[0] becomes a pipe's write end, s[1] its read end. */
    t_check(dup3(p[1], s[0], O_CLOEXEC) == s[0]);
    t_check(dup3(p[0], s[1], O_CLOEXEC) == s[1]);
    t_check_eq(gr_write(s[0], "b", 1), 1);
    t_check_eq(gr_read(s[1], &c, 1), 1);
    t_check_eq(c, 'b');
    t_check_eq(gr_write(s[0], "c", 1), 1); /* now known as a pipe */
    t_check_eq(gr_read(p[0], &c, 1), 1);
    t_check_eq(c, 'c');

    /* And back to sockets. */
    t_check(dup3(t[0], s[0], O_CLOEXEC) == s[0]);
    t_check(dup3(t[1], s[1], O_CLOEXEC) == s[1]);
    t_check_eq(gr_write(s[0], "d", 1), 1);
    t_check_eq(gr_read(t[1], &c, 1), 1);
    t_check_eq(c, 'd');
    t_check_eq(gr_write(s[1], "e", 1), 1);
    t_check_eq(gr_read(t[0], &c, 1), 1);
    t_check_eq(c, 'e');
    for (int i = 0; i < 2; i++) {
        gr_close(s[i]);
        gr_close(t[i]);
        gr_close(p[i]);
    }
}

static void test_stream_rw_fd_reuse(void **state)
{
    t_run(rw_reuse_main, NULL);
}

/* gr_shutdown: the peer's read sees end of file, our side can still read;
 * errors as shutdown(2) gives them. */
static void shutdown_main(void *arg)
{
    (void)arg;
    int s[2], p[2];
    char c = 0;
    t_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    t_check_eq(gr_shutdown(s[0], SHUT_WR), 0);
    t_check_eq(gr_read(s[1], &c, 1), 0);
    t_check_eq(gr_write(s[1], "x", 1), 1);
    t_check_eq(gr_read(s[0], &c, 1), 1);
    t_check_eq(c, 'x');
    t_check_eq(gr_write(s[0], "y", 1), -EPIPE);
    t_check_eq(pipe2(p, O_CLOEXEC), 0);
    t_check_eq(gr_shutdown(p[0], SHUT_RDWR), -ENOTSOCK);
    gr_close(p[0]);
    gr_close(p[1]);
    t_check_eq(gr_shutdown(p[0], SHUT_RDWR), -EBADF);
    gr_close(s[0]);
    gr_close(s[1]);
}

static void test_stream_shutdown(void **state)
{
    t_run(shutdown_main, NULL);
}

/* ================================================================ main */

int main(void)
{
    t_init();
    /* stdout is a pipe under the runner: keep our lines in order with
     * cmocka's. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        t_unit_test_fds(test_stream_socketpair_echo),
        t_unit_test_fds(test_stream_tcp_echo),
        t_unit_test_fds(test_stream_large_transfer_tcp),
        t_unit_test_fds(test_stream_large_transfer_socketpair),
        t_unit_test_fds(test_stream_readv_writev),
        t_unit_test_fds(test_stream_poll),
        t_unit_test_fds(test_stream_file),
        t_unit_test_fds(test_stream_parked_read_frees_worker),
        t_unit_test_fds(test_stream_bad_fd),
        t_unit_test_fds(test_stream_rw_fd_reuse),
        t_unit_test_fds(test_stream_shutdown),
    };
    return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
