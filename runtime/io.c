/*
 * io.c - the I/O API: goroutines park on io_uring completions (or, on
 * the epoll engine, on readiness: epoll.c; engine.h says which runs).
 *
 * Every call describes its operation in an opctx (ioop.h); on the epoll
 * engine io_do and io_rw hand it to epoll_io.c, which tries the
 * non-blocking system call first and parks on EAGAIN.  On io_uring,
 * every blocking call follows one pattern:
 *   0. take what the call needs of its fd for its whole duration
 *      (fd_acquire: the read lock, the write lock, or a reference - fd.c
 *      explains why and which);
 *   1. io_start: take an SQE on the current worker's ring, give the
 *      request a unique user_data that leads back to an `ioreq` on the
 *      goroutine's stack (uring.c), publish it where gr_close and
 *      io_cancel_g look, and - if the goroutine has a deadline - link an
 *      absolute IORING_OP_LINK_TIMEOUT behind it;
 *   2. park (reason "IO wait").  Nothing is submitted yet: the worker
 *      submits every SQE of its scheduling round with one io_uring_enter
 *      (uring.c), so a thousand goroutines starting reads cost one call;
 *   3. the CQE readies the goroutine with the result in its ioreq.
 * A request is cancelled (-ECANCELED) by three things, and the call
 * reports which: gr_close of its fd (-EBADF, the fd is gone), io_cancel_g
 * (-ECANCELED, the fd stays usable) and its linked timeout (-ETIMEDOUT,
 * the fd stays usable).  When two of them meet, io_cancel_g wins: it is
 * final for the goroutine (a cancellation group's member: every later
 * call fails so too, gr_close and gr_shutdown excepted), while a close is
 * about one fd and a deadline about one call.  A result the kernel
 * delivered always wins over all three: the CQE decides, so a read that
 * completed with data as it was cancelled returns the data.  -EINTR is
 * retried, never returned.  An fd the
 * caller made O_NONBLOCK makes io_uring answer -EAGAIN at once; the call
 * then waits for readiness (IORING_OP_POLL_ADD) and retries, so blocking
 * semantics hold whatever the fd's flags.
 *
 * Publish, then check.  A request must either be found by the gr_close
 * (or io_cancel_g) that races with it, or not be submitted at all.  So
 * io_start publishes the request's user_data (on the fd entry, in the
 * goroutine) and only then, after a full barrier, checks FD_CLOSING and
 * io_cancel; the canceller sets its flag and then reads what is
 * published.  The barrier is the atomic add to sched.io_inflight that
 * every request makes anyway (fence_after_rmw: free on x86).
 *
 * Outside a goroutine (a plain thread, or before gr_run) the calls fall
 * back to the ordinary blocking system calls, with the same return
 * conventions; gr_close from such a thread still wakes the goroutines
 * blocked on the fd.
 *
 * SIGPIPE: a write(2)-style request on a socket whose peer has gone would
 * raise SIGPIPE in the submitting worker; gr_run ignores SIGPIPE while it
 * runs if its disposition was the default (as Go's runtime does), and
 * gr_send adds MSG_NOSIGNAL.
 */
#include "io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "fd.h"
#include "greenrt.h"
#include "ioop.h"
#include "preempt.h"
#include "probes.h"
#include "sched.h"

#define SQ_RETRY_NS 1000000 /* a goroutine that finds the SQ full and unsubmittable waits */

/* The goroutine doing I/O, or NULL for the blocking fallback. */
static g *io_g(void)
{
    worker *w = current_worker();
    if (!w || !w->cur || w->cur->is_g0 || !engine_up(w))
        return NULL;
    return w->cur;
}

typedef struct iowait {
    ioreq req;
    fdreq pub;                   /* the request as published on its fd */
    struct __kernel_timespec ts; /* linked timeout; must outlive submission */
    int64_t deadline;            /* absolute; 0: none */
    bool poll_timeout;           /* ts is gr_poll's own timeout */
} iowait;

/* gp's I/O is cancelled (io_cancel_g) and this call is one that
 * cancellation stops.  Relaxed: the "publish, then check" handshake uses
 * its own seq-cst load (io_interrupted); this is the early exit of a
 * call made after the cancellation. */
static bool io_cancelled(g *gp, int flags)
{
    return !(flags & IO_UNCANCELLABLE) && load_relaxed(&gp->io_cancel);
}

/* Why a request of gp on h was or would be cancelled: the error its call
 * returns, or 0.  A cancelled goroutine's call says -ECANCELED even when
 * its fd is being closed too: the cancellation is final for gp (every
 * later call fails so), a close is about one fd. */
static int io_interrupted(g *gp, const fdhold *h, int flags)
{
    if (!(flags & IO_UNCANCELLABLE) && __atomic_load_n(&gp->io_cancel, __ATOMIC_SEQ_CST))
        return -ECANCELED;
    if (fd_closing(h))
        return -EBADF;
    return 0;
}

/* Prepares a request of gp on the fd h holds: 0 with *wp the worker
 * whose ring got it and *sqep its SQE (to be filled, then io_finish), or
 * the call's error.  before(w), if given, runs on that worker first. */
static int io_start(g *gp, fdhold *h, iowait *iw, int64_t deadline, int flags,
                    int (*before)(worker *w), worker **wp, struct io_uring_sqe **sqep)
{
    /* A request and its linked timeout must go in one submission. */
    worker *w;
    while (!wring_reserve(w = current_worker(), deadline ? 2 : 1)) {
        /* The SQ is full and the kernel refused to take it: the
         * scheduling round (uring.c) retries; wait for it.  (A cancelled
         * goroutine's gr_sleep returns at once: its gr_close yields.) */
        if (io_cancelled(gp, flags))
            return -ECANCELED;
        if (!w->ring.submit_failing || gr_sleep(SQ_RETRY_NS) == -ECANCELED)
            sched_yield_g(false);
    }
    if (before) {
        int e = before(w);
        if (e < 0)
            return e;
    }
    iw->req.gp = gp;
    iw->req.res = 0;
    iw->req.buf = NULL;
    iw->deadline = deadline;
    uint64_t ud = wring_ud_alloc(w, &iw->req);
    if (!ud)
        return -ENOMEM;
    iw->pub.ud = ud;
    store_relaxed(&gp->io_ud, ud);
    fd_publish(h, &iw->pub);
    store_relaxed(&w->io_pending, w->io_pending + 1);
    __atomic_fetch_add(&sched.io_inflight, 1, __ATOMIC_SEQ_CST);
    fence_after_rmw(); /* publish, then check: see above */
    int e = io_interrupted(gp, h, flags);
    if (e) {
        store_relaxed(&w->io_pending, w->io_pending - 1);
        __atomic_fetch_sub(&sched.io_inflight, 1, __ATOMIC_ACQ_REL);
        fd_unpublish(h, &iw->pub);
        store_relaxed(&gp->io_ud, 0);
        wring_ud_release(w, ud);
        return e;
    }
    struct io_uring_sqe *sqe = wring_sqe(w); /* reserved: never NULL */
    io_uring_sqe_set_data64(sqe, ud);
    stat_inc(w, io_submitted);
    *wp = w;
    *sqep = sqe;
    return 0;
}

/* Links the deadline behind sqe (if any), parks until completion, and
 * says what the result means. */
static int io_finish(worker *w, g *gp, fdhold *h, iowait *iw, struct io_uring_sqe *sqe,
                     int flags)
{
    PROBE3(io_submit, gp->id, sqe->opcode, sqe->fd);
    iw->req.input = sqe->opcode == IORING_OP_RECV || sqe->opcode == IORING_OP_RECVMSG ||
                    sqe->opcode == IORING_OP_READ || sqe->opcode == IORING_OP_READV ||
                    sqe->opcode == IORING_OP_READ_FIXED;
    if (iw->deadline) {
        sqe->flags |= IOSQE_IO_LINK;
        iw->ts.tv_sec = iw->deadline / 1000000000;
        iw->ts.tv_nsec = iw->deadline % 1000000000;
        struct io_uring_sqe *t = wring_sqe(w); /* reserved by io_start */
        io_uring_prep_link_timeout(t, &iw->ts, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(t, UD_IGNORE);
        t->flags |= IOSQE_CQE_SKIP_SUCCESS;
    }
    park(GR_WAIT_IO, NULL, NULL);
    store_relaxed(&gp->io_ud, 0);
    fd_unpublish(h, &iw->pub);
    int res = iw->req.res;
    if (res == -ECANCELED || res == -EINTR) {
        /* Cancelled, or interrupted by the cancel of work the kernel ran
         * in a thread: by whom? */
        int why = io_interrupted(gp, h, flags);
        if (why)
            res = why;
        else if (res == -ECANCELED && iw->deadline && gr_now() >= iw->deadline)
            res = iw->poll_timeout ? 0 : -ETIMEDOUT;
    }
    return res;
}

void gr_set_deadline(int64_t deadline_ns)
{
    g *gp = current_g();
    if (gp && !gp->is_g0)
        gp->deadline = deadline_ns > 0 ? deadline_ns : 0;
}

/* Waits until fd is ready for `events` (used after -EAGAIN). */
static int wait_ready(g *gp, fdhold *h, int fd, short events)
{
    iowait iw = {0};
    int64_t dl = gp->deadline;
    if (io_cancelled(gp, 0))
        return -ECANCELED;
    if (dl && gr_now() >= dl)
        return -ETIMEDOUT;
    worker *w;
    struct io_uring_sqe *sqe;
    int r = io_start(gp, h, &iw, dl, 0, NULL, &w, &sqe);
    if (r)
        return r;
    io_uring_prep_poll_add(sqe, fd, (unsigned)events);
    r = io_finish(w, gp, h, &iw, sqe, 0);
    return r < 0 ? r : 0;
}

/* The common loop: prep() fills the SQE; EINTR retried, EAGAIN waits.
 * (The epoll engine: ctx->op's non-blocking call, epoll_io.c.) */
typedef void (*prep_fn)(struct io_uring_sqe *sqe, opctx *ctx);

static int io_do(g *gp, fdhold *h, prep_fn prep, opctx *ctx, short ready_events)
{
    if (engine_epoll())
        return (int)epio_do(gp, h, ctx, ready_events);
    for (;;) {
        preempt_point();
        /* Cancelled before deadline: a cancelled goroutine's calls say
         * -ECANCELED, whatever its deadline (see io_interrupted). */
        if (io_cancelled(gp, ctx->io_flags))
            return -ECANCELED;
        int64_t dl = gp->deadline;
        if (dl && gr_now() >= dl)
            return -ETIMEDOUT;
        iowait iw = {0};
        worker *w;
        struct io_uring_sqe *sqe;
        int r = io_start(gp, h, &iw, dl, ctx->io_flags, ctx->before, &w, &sqe);
        if (r)
            return r;
        prep(sqe, ctx);
        r = io_finish(w, gp, h, &iw, sqe, ctx->io_flags);
        if (r == -EINTR)
            continue;
        if (r == -EAGAIN && ready_events) {
            int e = wait_ready(gp, h, ctx->fd, ready_events);
            if (e < 0)
                return e;
            continue;
        }
        ctx->slice = iw.req.buf;
        return r;
    }
}

/* io_do under what `use` needs of ctx->fd. */
static int io_do_fd(g *gp, enum fd_use use, prep_fn prep, opctx *ctx, short ready_events)
{
    fdhold h;
    int r = fd_acquire(gp, ctx->fd, use, &h);
    if (r)
        return r;
    r = io_do(gp, &h, prep, ctx, ready_events);
    fd_release(&h);
    return r;
}

/* ---------------------------------------------------------------------
 * Cancelling a goroutine's I/O (io.h)
 * ------------------------------------------------------------------- */

void io_cancel_g(g *gp)
{
    /* Set, then read what gp published: see "Publish, then check". */
    (void)__atomic_exchange_n(&gp->io_cancel, 1, __ATOMIC_SEQ_CST);
    engine_cancel_g(gp);
    fdent *f = __atomic_load_n(&gp->io_wait_fd, __ATOMIC_SEQ_CST);
    if (f)
        fd_lockwait_cancel(f, gp);
}

void io_cancel_clear(void)
{
    g *gp = io_g();
    if (gp)
        store_relaxed(&gp->io_cancel, 0);
}

/* ---------------------------------------------------------------------
 * Blocking fallbacks (outside goroutines)
 * ------------------------------------------------------------------- */

#define RETRY_SYSCALL(expr)                                                                        \
    do {                                                                                           \
        for (;;) {                                                                                 \
            ssize_t _r = (expr);                                                                   \
            if (_r >= 0)                                                                           \
                return _r;                                                                         \
            if (errno != EINTR)                                                                    \
                return -errno;                                                                     \
        }                                                                                          \
    } while (0)

/* ---------------------------------------------------------------------
 * Operations
 * ------------------------------------------------------------------- */

static void prep_read(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_read(sqe, c->fd, c->buf, (unsigned)c->len, (uint64_t)-1);
}

static void prep_write(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_write(sqe, c->fd, c->buf, (unsigned)c->len, (uint64_t)-1);
}

static void prep_readv(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_readv(sqe, c->fd, c->iov, (unsigned)c->iovcnt, (uint64_t)-1);
}

static void prep_writev(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_writev(sqe, c->fd, c->iov, (unsigned)c->iovcnt, (uint64_t)-1);
}

static void prep_recv(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_recv(sqe, c->fd, c->buf, c->len, c->flags);
}

static void prep_recv_select(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_recv(sqe, c->fd, NULL, c->len, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = (uint16_t)c->bgid;
}

static void prep_send(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_send(sqe, c->fd, c->buf, c->len, c->flags | MSG_NOSIGNAL);
}

static void prep_accept(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_accept(sqe, c->fd, c->addr, c->addrlen, SOCK_CLOEXEC);
}

static void prep_connect(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_connect(sqe, c->fd, c->addr, c->alen);
}

static void prep_close(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_close(sqe, c->fd);
}

static void prep_shutdown(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_shutdown(sqe, c->fd, c->flags);
}

static void prep_open(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_openat(sqe, AT_FDCWD, c->path, c->flags, c->mode);
}

static void prep_fsync(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_fsync(sqe, c->fd, 0);
}

static void prep_poll(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_poll_add(sqe, c->fd, (unsigned)c->flags);
}

/* gr_write's and gr_read's socket form: exactly write(2) and read(2) on a
 * socket (no MSG_NOSIGNAL: a broken pipe raises SIGPIPE as write would). */
static void prep_send_plain(struct io_uring_sqe *sqe, opctx *c)
{
    io_uring_prep_send(sqe, c->fd, c->buf, c->len, 0);
}

/* ---------------------------------------------------------------------
 * What kind of file a descriptor was last seen to be (fdent.kind), so
 * that gr_read and gr_write on a socket become IORING_OP_RECV /
 * IORING_OP_SEND: the socket operations skip the VFS read/write path
 * (iov_iter set-up, the rw_verify_area and fsnotify calls of kiocb
 * completion), which cost ~4% of the CPU of a 64-byte echo at 10,000
 * connections.  It is a guess, never trusted: descriptors are reused
 * behind our back (close(2), dup2), so a receive or send on what is not a
 * socket (-ENOTSOCK, before it does anything) is retried as a read or
 * write and the guess corrected; a socket guessed "other" just takes the
 * read/write path.  gr_close forgets it.
 * ------------------------------------------------------------------- */

static int fd_kind_get(const fdhold *h)
{
    return h->f ? load_relaxed(&h->f->kind) : FD_OTHER;
}

static void fd_kind_set(fdent *f, int kind)
{
    if (f && load_relaxed(&f->kind) != kind)
        store_relaxed(&f->kind, (uint8_t)kind);
}

/* read/write, as recv/send when fd is (or may be) a socket; h holds fd. */
static ssize_t io_rw(g *gp, fdhold *h, int fd, void *buf, size_t n, bool out)
{
    if (engine_epoll())
        return epio_rw(gp, h, fd, buf, n, out);
    int kind = fd_kind_get(h);
    opctx c = {.op = out ? IO_SEND_PLAIN : IO_RECV, .fd = fd, .buf = buf, .len = n};
    if (kind != FD_OTHER) {
        ssize_t r = io_do(gp, h, out ? prep_send_plain : prep_recv, &c, out ? POLLOUT : POLLIN);
        if (r != -ENOTSOCK) {
            if (kind == FD_UNKNOWN && r != -EBADF)
                fd_kind_set(h->f, FD_SOCKET);
            return r;
        }
        fd_kind_set(h->f, FD_OTHER);
        c = (opctx){.op = out ? IO_WRITE : IO_READ, .fd = fd, .buf = buf, .len = n};
    }
    return io_do(gp, h, out ? prep_write : prep_read, &c, out ? POLLOUT : POLLIN);
}

static size_t clamp_len(size_t n)
{
    /* One request moves at most INT_MAX bytes, as read(2) does anyway. */
    return n > 0x7ffff000u ? 0x7ffff000u : n;
}

/* gr_read / gr_write, and their loops gr_read_full / gr_write_all, which
 * hold the fd's lock across every request (atomic against the other calls
 * of their kind on fd).  full: loop until n bytes moved (or end of file). */
static ssize_t io_rw_call(g *gp, int fd, void *buf, size_t n, bool out, bool full)
{
    fdhold h;
    int e = fd_acquire(gp, fd, out ? FD_USE_WRITE : FD_USE_READ, &h);
    if (e)
        return e;
    size_t done = 0;
    ssize_t r = 0;
    do {
        r = io_rw(gp, &h, fd, (char *)buf + done, clamp_len(n - done), out);
        if (r <= 0)
            break;
        done += (size_t)r;
    } while (full && done < n);
    fd_release(&h);
    if (r < 0)
        return r;
    return full ? (ssize_t)done : r;
}

ssize_t gr_read(int fd, void *buf, size_t n)
{
    g *gp = io_g();
    if (!gp)
        RETRY_SYSCALL(read(fd, buf, clamp_len(n)));
    return io_rw_call(gp, fd, buf, n, false, false);
}

ssize_t gr_write(int fd, const void *buf, size_t n)
{
    g *gp = io_g();
    if (!gp)
        RETRY_SYSCALL(write(fd, buf, clamp_len(n)));
    return io_rw_call(gp, fd, (void *)buf, n, true, false);
}

ssize_t gr_read_full(int fd, void *buf, size_t n)
{
    g *gp = io_g();
    if (!gp || n == 0) {
        size_t done = 0;
        while (done < n) {
            ssize_t r = gr_read(fd, (char *)buf + done, n - done);
            if (r < 0)
                return r;
            if (r == 0)
                break;
            done += (size_t)r;
        }
        return (ssize_t)done;
    }
    return io_rw_call(gp, fd, buf, n, false, true);
}

ssize_t gr_write_all(int fd, const void *buf, size_t n)
{
    g *gp = io_g();
    if (!gp || n == 0) {
        size_t done = 0;
        while (done < n) {
            ssize_t r = gr_write(fd, (const char *)buf + done, n - done);
            if (r < 0)
                return r;
            done += (size_t)r;
        }
        return (ssize_t)done;
    }
    return io_rw_call(gp, fd, (void *)buf, n, true, true);
}

ssize_t gr_readv(int fd, const struct iovec *iov, int iovcnt)
{
    g *gp = io_g();
    if (!gp)
        RETRY_SYSCALL(readv(fd, iov, iovcnt));
    opctx c = {.op = IO_READV, .fd = fd, .iov = iov, .iovcnt = iovcnt};
    return io_do_fd(gp, FD_USE_READ, prep_readv, &c, POLLIN);
}

ssize_t gr_writev(int fd, const struct iovec *iov, int iovcnt)
{
    g *gp = io_g();
    if (!gp)
        RETRY_SYSCALL(writev(fd, iov, iovcnt));
    opctx c = {.op = IO_WRITEV, .fd = fd, .iov = iov, .iovcnt = iovcnt};
    return io_do_fd(gp, FD_USE_WRITE, prep_writev, &c, POLLOUT);
}

ssize_t io_recv(fdhold *h, int fd, void *buf, size_t n, int flags)
{
    opctx c = {.op = IO_RECV, .fd = fd, .buf = buf, .len = clamp_len(n), .flags = flags};
    return io_do(current_g(), h, prep_recv, &c, (flags & MSG_DONTWAIT) ? 0 : POLLIN);
}

ssize_t gr_recv(int fd, void *buf, size_t n, int flags)
{
    g *gp = io_g();
    n = clamp_len(n);
    if (!gp)
        RETRY_SYSCALL(recv(fd, buf, n, flags));
    opctx c = {.op = IO_RECV, .fd = fd, .buf = buf, .len = n, .flags = flags};
    return io_do_fd(gp, FD_USE_READ, prep_recv, &c, (flags & MSG_DONTWAIT) ? 0 : POLLIN);
}

ssize_t gr_send(int fd, const void *buf, size_t n, int flags)
{
    g *gp = io_g();
    n = clamp_len(n);
    if (!gp)
        RETRY_SYSCALL(send(fd, buf, n, flags | MSG_NOSIGNAL));
    opctx c = {.op = IO_SEND, .fd = fd, .buf = (void *)buf, .len = n, .flags = flags};
    return io_do_fd(gp, FD_USE_WRITE, prep_send, &c, (flags & MSG_DONTWAIT) ? 0 : POLLOUT);
}

int io_recv_select(fdhold *h, int fd, int bgid, unsigned len, int (*ensure_pool)(worker *w),
                   struct gr_buf **buf)
{
    opctx c = {.op = IO_RECV_SELECT, .fd = fd, .len = len, .bgid = bgid, .before = ensure_pool};
    int r = io_do(current_g(), h, prep_recv_select, &c, POLLIN);
    *buf = c.slice;
    return r;
}

int io_wait_readable(fdhold *h, int fd)
{
    opctx c = {.op = IO_POLL, .fd = fd, .flags = POLLIN};
    int r = io_do(current_g(), h, prep_poll, &c, 0);
    return r < 0 ? r : 0;
}

int gr_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    g *gp = io_g();
    if (!gp)
        RETRY_SYSCALL(accept4(fd, addr, len, SOCK_CLOEXEC));
    opctx c = {.op = IO_ACCEPT, .fd = fd, .addr = addr, .addrlen = len};
    int r = io_do_fd(gp, FD_USE_READ, prep_accept, &c, POLLIN);
    if (r >= 0 && !engine_epoll()) /* (epoll_io.c knows it too) */
        fd_kind_set(fd_entry(r), FD_SOCKET);
    return r;
}

int gr_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    g *gp = io_g();
    if (!gp) {
        if (connect(fd, addr, len) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
        /* Interrupted: the connection continues asynchronously. */
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        while (poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        return -err;
    }
    fdhold h;
    int r = fd_acquire(gp, fd, FD_USE_REF, &h);
    if (r)
        return r;
    if (engine_epoll()) {
        r = epio_connect(gp, &h, fd, addr, len);
        fd_release(&h);
        return r;
    }
    opctx c = {.op = IO_CONNECT, .fd = fd, .addr = (struct sockaddr *)addr, .alen = len};
    r = io_do(gp, &h, prep_connect, &c, 0);
    if (r == -EINPROGRESS || r == -EALREADY || r == -EAGAIN) {
        /* A non-blocking socket: wait for the outcome. */
        r = wait_ready(gp, &h, fd, POLLOUT);
        if (r == 0) {
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            r = -err;
        }
    }
    fd_release(&h);
    return r;
}

int gr_close(int fd)
{
    g *gp = io_g();
    /* Wakes the calls blocked on fd, and waits until they have returned;
     * from a thread that is not a goroutine too (gp NULL). */
    int r = fd_close_prepare(gp, fd);
    if (r)
        return r;
    if (!gp || engine_epoll()) /* epoll: close(2) does not block */
        return close(fd) == 0 || errno == EINTR ? 0 : -errno;
    /* No deadline on close, and no cancellation: it must not be
     * abandoned halfway. */
    int64_t dl = gp->deadline;
    gp->deadline = 0;
    fdhold none = {0}; /* the entry is fd's next file's already */
    opctx c = {.op = IO_CLOSE, .fd = fd, .io_flags = IO_UNCANCELLABLE};
    r = io_do(gp, &none, prep_close, &c, 0);
    gp->deadline = dl;
    return r == -EINTR ? 0 : r;
}

int gr_shutdown(int fd, int how)
{
    g *gp = io_g();
    if (!gp)
        return shutdown(fd, how) == 0 ? 0 : -errno;
    /* Not cancelled (as gr_close): a cancelled goroutine shuts its
     * connections down as it cleans up.  A reference taken for nobody
     * (NULL) ignores gp's cancellation. */
    fdhold h;
    int r = fd_acquire(NULL, fd, FD_USE_REF, &h);
    if (r)
        return r;
    opctx c = {.op = IO_SHUTDOWN, .fd = fd, .flags = how, .io_flags = IO_UNCANCELLABLE};
    r = io_do(gp, &h, prep_shutdown, &c, 0);
    fd_release(&h);
    return r;
}

int gr_open(const char *path, int flags, mode_t mode)
{
    g *gp = io_g();
    if (!gp)
        RETRY_SYSCALL(open(path, flags, mode));
    fdhold none = {0};
    opctx c = {.op = IO_OPEN, .path = path, .flags = flags, .mode = mode, .fd = -1};
    return io_do(gp, &none, prep_open, &c, 0);
}

int gr_fsync(int fd)
{
    g *gp = io_g();
    if (!gp)
        RETRY_SYSCALL(fsync(fd));
    opctx c = {.op = IO_FSYNC, .fd = fd};
    return io_do_fd(gp, FD_USE_REF, prep_fsync, &c, 0);
}

int gr_poll(int fd, short events, int64_t timeout_ns)
{
    g *gp = io_g();
    if (!gp) {
        struct pollfd p = {.fd = fd, .events = events};
        /* Past poll(2)'s int milliseconds (24 days): forever, not a
         * wrapped (negative or short) count. */
        int ms = timeout_ns < 0 || timeout_ns / 1000000 >= INT_MAX
                     ? -1
                     : (int)((timeout_ns + 999999) / 1000000);
        for (;;) {
            int r = poll(&p, 1, ms);
            if (r > 0)
                return p.revents;
            if (r == 0)
                return 0;
            if (errno != EINTR)
                return -errno;
        }
    }
    fdhold h;
    int r = fd_acquire(gp, fd, FD_USE_REF, &h);
    if (r)
        return r;
    if (engine_epoll()) {
        r = epio_poll(gp, &h, fd, events, timeout_ns);
        fd_release(&h);
        return r;
    }
    for (;;) {
        preempt_point();
        int64_t now = gr_now();
        int64_t dl = gp->deadline;
        if (io_cancelled(gp, 0)) {
            r = -ECANCELED;
            break;
        }
        if (dl && now >= dl) {
            r = -ETIMEDOUT;
            break;
        }
        int64_t until = timeout_ns >= 0 ? deadline_after(timeout_ns) : 0;
        bool own = until && (!dl || until < dl);
        iowait iw = {0};
        iw.poll_timeout = own;
        worker *w;
        struct io_uring_sqe *sqe;
        r = io_start(gp, &h, &iw, own ? until : dl, 0, NULL, &w, &sqe);
        if (r)
            break;
        io_uring_prep_poll_add(sqe, fd, (unsigned)events);
        r = io_finish(w, gp, &h, &iw, sqe, 0);
        if (r != -EINTR)
            break;
    }
    fd_release(&h);
    return r;
}

/* ---------------------------------------------------------------------
 * TCP helpers
 * ------------------------------------------------------------------- */

struct resolve {
    const char *host;
    int port;
    int passive;
    struct addrinfo *res;
    int err;
};

static void resolve_blocking(void *arg)
{
    struct resolve *r = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (r->passive)
        hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    r->err = getaddrinfo(r->host, port, &hints, &r->res);
}

/* Numeric hosts are parsed in place; names go to the offload pool so the
 * worker never blocks in DNS. */
static int resolve(const char *host, int port, bool passive, struct addrinfo **out,
                   struct sockaddr_storage *numeric, struct addrinfo *one)
{
    memset(numeric, 0, sizeof *numeric);
    memset(one, 0, sizeof *one);
    one->ai_socktype = SOCK_STREAM;
    one->ai_addr = (struct sockaddr *)numeric;
    struct sockaddr_in *v4 = (struct sockaddr_in *)numeric;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)numeric;
    if (!host || !*host) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        v4->sin_addr.s_addr = passive ? htonl(INADDR_ANY) : htonl(INADDR_LOOPBACK);
        one->ai_family = AF_INET;
        one->ai_addrlen = sizeof *v4;
        *out = one;
        return 0;
    }
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        one->ai_family = AF_INET;
        one->ai_addrlen = sizeof *v4;
        *out = one;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        one->ai_family = AF_INET6;
        one->ai_addrlen = sizeof *v6;
        *out = one;
        return 0;
    }
    struct resolve r = {.host = host, .port = port, .passive = passive};
    int e = io_g() ? gr_blocking(resolve_blocking, &r) : (resolve_blocking(&r), 0);
    if (e) {
        /* -ECANCELED after the lookup ran: its result is ours to free. */
        if (!r.err && r.res)
            freeaddrinfo(r.res);
        return e;
    }
    if (r.err == EAI_SYSTEM)
        return -EIO;
    if (r.err)
        return -ENOENT;
    *out = r.res;
    return 1; /* caller frees with freeaddrinfo */
}

/* Tries each address of host:port in turn: a socket, then setup(fd, a)
 * (bind+listen, or connect), which returns 0 or -errno.  The first fd
 * that works, or the last error (`none` if there was no address). */
static int tcp_each_address(const char *host, int port, bool passive, int none,
                            int (*setup)(int fd, const struct addrinfo *a, int arg), int arg)
{
    struct sockaddr_storage ss;
    struct addrinfo one, *ai = NULL;
    int kind = resolve(host, port, passive, &ai, &ss, &one);
    if (kind < 0)
        return kind;
    int err = none;
    int fd = -1;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = -errno;
            continue;
        }
        if (engine_epoll() && io_g()) /* a fresh file under this number */
            ep_fd_fresh(fd_entry_find(fd), 0);
        int r = setup(fd, a, arg);
        if (r == 0)
            break;
        err = r;
        close(fd);
        fd = -1;
    }
    if (kind == 1)
        freeaddrinfo(ai);
    return fd >= 0 ? fd : err;
}

static int setup_listen(int fd, const struct addrinfo *a, int backlog)
{
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    /* Accepted connections inherit it: no Nagle wait for the second
     * segment of a reply written in two parts (Go sets it on every TCP
     * connection).  Without it a 3,000-byte echo whose request arrived
     * split across two provided buffers stalled 40 ms on delayed ACK. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 ||
        listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0)
        return -errno;
    return 0;
}

static int setup_dial(int fd, const struct addrinfo *a, int unused)
{
    (void)unused;
    int r = gr_connect(fd, a->ai_addr, a->ai_addrlen);
    if (r == 0) {
        /* Small request/response exchanges are the common case: do not
         * let Nagle hold them back (Go does the same). */
        int on = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
    return r;
}

int gr_listen_tcp(const char *host, int port, int backlog)
{
    if (port < 0 || port > 65535)
        return -EINVAL;
    return tcp_each_address(host, port, true, -EADDRNOTAVAIL, setup_listen, backlog);
}

int gr_dial_tcp(const char *host, int port)
{
    if (port <= 0 || port > 65535)
        return -EINVAL;
    return tcp_each_address(host, port, false, -EHOSTUNREACH, setup_dial, 0);
}
