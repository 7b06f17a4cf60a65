/*
 * epoll_io.c - the I/O operations on the epoll engine: for each, the
 * system call that does it without blocking, run by ep_io (epoll.c),
 * which parks the goroutine on readiness whenever it says EAGAIN.
 *
 * Non-blocking per call, not per file.  The descriptor's O_NONBLOCK flag
 * belongs to its open file, which the program (or another process) may
 * share and read with plain blocking calls; so greenrt asks for
 * non-blocking behaviour in each call instead, where Linux lets it:
 *   sockets           recv / send / recvmsg / sendmsg with MSG_DONTWAIT;
 *   pipes, eventfds,  preadv2 / pwritev2 with RWF_NOWAIT (offset -1: the
 *   timerfds...       file position, as read(2));
 *   terminals, other  poll(2) with no timeout, then the plain call, when
 *   character devs    RWF_NOWAIT is not supported (-EOPNOTSUPP): the
 *                     fd's lock keeps the other goroutines from taking
 *                     the data in between (another process could: then
 *                     the worker blocks in the call, and the monitor
 *                     hands its queue to another thread, as for any
 *                     blocking system call);
 *   regular files,    epoll cannot wait for them (they are always
 *   block devices     "ready", and their I/O blocks on the disk): a read
 *                     tries RWF_NOWAIT (served from the page cache in one
 *                     call), and what would block goes to the offload
 *                     pool, as gr_open and gr_fsync always do.
 * Two exceptions, where Linux has no per-call flag: gr_accept makes the
 * listening socket O_NONBLOCK (as Go does for every socket it polls),
 * and gr_connect sets O_NONBLOCK for the connect(2) call only.
 *
 * The kind of each descriptor (enum ep_kind, in its fd table entry) is
 * learned with one fstat(2) at its first call (sockets made by gr_accept
 * are known without it) and corrected when a call says it was wrong
 * (-ENOTSOCK: the number now names another file).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "epoll.h"
#include "fd.h"
#include "ioop.h"
#include "offload.h"
#include "sched.h"

/* fdpoll.kind: how the engine reads and writes a descriptor. */
enum ep_kind {
    EPK_UNKNOWN = 0,
    EPK_SOCKET, /* MSG_DONTWAIT */
    EPK_STREAM, /* pollable; RWF_NOWAIT */
    EPK_POLLRW, /* pollable, no RWF_NOWAIT: poll(2), then the call */
    EPK_FILE,   /* regular file or block device: RWF_NOWAIT, else offload */
};

/* fdpoll.flags */
#define EPF_NONBLOCK 1        /* gr_accept made the listener O_NONBLOCK */
#define EPF_NO_NOWAIT_WRITE 2 /* a file whose writes say -EOPNOTSUPP to RWF_NOWAIT */

static ssize_t neg_errno(ssize_t r)
{
    return r < 0 ? -errno : r;
}

/* fd's kind, from its entry or (once) fstat(2).  -errno if fd is bad. */
static int kind_of(fdhold *h, int fd, bool relearn)
{
    fdent *f = h->f;
    int k = f && !relearn ? load_relaxed(&f->ep.kind) : EPK_UNKNOWN;
    if (k != EPK_UNKNOWN)
        return k;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISSOCK(st.st_mode))
        k = EPK_SOCKET;
    else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode))
        k = EPK_FILE;
    else
        k = EPK_STREAM;
    if (f)
        store_relaxed(&f->ep.kind, (uint8_t)k);
    return k;
}

static void kind_set(fdhold *h, int k)
{
    if (h->f)
        store_relaxed(&h->f->ep.kind, (uint8_t)k);
}

/* ---------------------------------------------------------------------
 * Attempts: one non-blocking system call each
 * ------------------------------------------------------------------- */

/* A read or write of any kind (ctx of the attempts below). */
typedef struct rwop {
    int fd;
    bool out;
    int flags;               /* sockets: send/recv flags beyond MSG_DONTWAIT */
    const struct iovec *iov; /* iovcnt 1: buf/len below */
    int iovcnt;
    void *buf;
    size_t len;
    fdhold *h;
    ssize_t res;             /* an offloaded call's result */
} rwop;

static ssize_t try_sock(void *arg)
{
    rwop *o = arg;
    int fl = o->flags | MSG_DONTWAIT;
    if (o->iovcnt == 1)
        return neg_errno(o->out ? send(o->fd, o->buf, o->len, fl) : recv(o->fd, o->buf, o->len, fl));
    struct msghdr m = {.msg_iov = (struct iovec *)o->iov, .msg_iovlen = (size_t)o->iovcnt};
    return neg_errno(o->out ? sendmsg(o->fd, &m, fl) : recvmsg(o->fd, &m, fl));
}

static ssize_t try_nowait(void *arg)
{
    rwop *o = arg;
    return neg_errno(o->out ? pwritev2(o->fd, o->iov, o->iovcnt, -1, RWF_NOWAIT)
                            : preadv2(o->fd, o->iov, o->iovcnt, -1, RWF_NOWAIT));
}

static ssize_t try_poll_rw(void *arg)
{
    rwop *o = arg;
    struct pollfd p = {.fd = o->fd, .events = o->out ? POLLOUT : POLLIN};
    int r = poll(&p, 1, 0);
    if (r < 0)
        return -errno;
    if (r == 0)
        return -EAGAIN;
    return neg_errno(o->out ? writev(o->fd, o->iov, o->iovcnt) : readv(o->fd, o->iov, o->iovcnt));
}

/* On an offload thread: the plain call, which may block. */
static void file_rw_blocking(void *arg)
{
    rwop *o = arg;
    do
        o->res = neg_errno(o->out ? writev(o->fd, o->iov, o->iovcnt) : readv(o->fd, o->iov, o->iovcnt));
    while (o->res == -EINTR);
}

static ssize_t try_file(void *arg)
{
    rwop *o = arg;
    fdent *f = o->h->f;
    bool nowait = !o->out || !f || !(load_relaxed(&f->ep.flags) & EPF_NO_NOWAIT_WRITE);
    if (nowait) {
        ssize_t r = try_nowait(o);
        if (r != -EAGAIN && r != -EOPNOTSUPP)
            return r;
        if (r == -EOPNOTSUPP && o->out && f)
            __atomic_fetch_or(&f->ep.flags, EPF_NO_NOWAIT_WRITE, __ATOMIC_RELAXED);
    }
    int e = offload_run(file_rw_blocking, o, GR_WAIT_IO);
    return e ? e : o->res;
}

/* The io_uring opcode of o (for the io_submit probe): a socket's, or a
 * file's. */
static uint8_t rw_opcode(const rwop *o, bool sock)
{
    if (sock)
        return o->iovcnt == 1 ? (o->out ? IORING_OP_SEND : IORING_OP_RECV)
                              : (o->out ? IORING_OP_SENDMSG : IORING_OP_RECVMSG);
    return o->out ? IORING_OP_WRITEV : IORING_OP_READV;
}

/* A read or write by fd's kind, relearned once when the call says the
 * kind was wrong. */
static ssize_t rw_by_kind(g *gp, rwop *o)
{
    fdhold *h = o->h;
    int k = kind_of(h, o->fd, false);
    uint32_t ev = o->out ? POLLOUT : POLLIN;
    bool relearnt = false;
    for (;;) {
        ssize_t r;
        switch (k) {
        case EPK_SOCKET:
            r = ep_io(gp, h, o->fd, ev, true, rw_opcode(o, true), try_sock, o);
            if (r == -ENOTSOCK && !relearnt)
                break;
            return r;
        case EPK_STREAM:
            r = ep_io(gp, h, o->fd, ev, true, rw_opcode(o, false), try_nowait, o);
            if (r == -EOPNOTSUPP) {
                kind_set(h, k = EPK_POLLRW);
                continue;
            }
            return r;
        case EPK_POLLRW:
            return ep_io(gp, h, o->fd, ev, true, rw_opcode(o, false), try_poll_rw, o);
        case EPK_FILE:
            return ep_io(gp, h, o->fd, ev, false, rw_opcode(o, false), try_file, o);
        default:
            return k; /* -errno from fstat */
        }
        relearnt = true;
        k = kind_of(h, o->fd, true);
    }
}

ssize_t epio_rw(g *gp, fdhold *h, int fd, void *buf, size_t n, bool out)
{
    struct iovec iov = {.iov_base = buf, .iov_len = n};
    rwop o = {.fd = fd, .out = out, .iov = &iov, .iovcnt = 1, .buf = buf, .len = n, .h = h};
    return rw_by_kind(gp, &o);
}

/* ---------------------------------------------------------------------
 * The other operations
 * ------------------------------------------------------------------- */

static ssize_t try_accept(void *arg)
{
    opctx *c = arg;
    return neg_errno(accept4(c->fd, c->addr, c->addrlen, SOCK_CLOEXEC));
}

/* gr_poll's and io_wait_readable's attempt: revents, or -EAGAIN; -EBADF
 * for a descriptor that is not open (as io_uring's poll says). */
static ssize_t try_poll(void *arg)
{
    opctx *c = arg;
    struct pollfd p = {.fd = c->fd, .events = (short)c->flags};
    int r = poll(&p, 1, 0);
    if (r < 0)
        return -errno;
    if (r && (p.revents & POLLNVAL))
        return -EBADF;
    return r ? p.revents : -EAGAIN;
}

/* recv(2) with MSG_WAITALL on a blocking socket: until len bytes, end
 * of stream, or an error (the bytes received before it are returned, as
 * recv(2) does). */
static ssize_t recv_waitall(g *gp, fdhold *h, rwop *o)
{
    char *buf = o->buf;
    size_t want = o->len, done = 0;
    o->flags &= ~MSG_WAITALL;
    while (done < want) {
        o->buf = buf + done;
        o->len = want - done;
        ssize_t r = ep_io(gp, h, o->fd, POLLIN, true, IORING_OP_RECV, try_sock, o);
        if (r <= 0) {
            if (done)
                break;
            return r;
        }
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* The listener of gr_accept must be O_NONBLOCK: accept4 has no per-call
 * flag.  Set once per descriptor (its entry remembers). */
static int listener_nonblock(fdhold *h, int fd)
{
    if (h->f && (load_relaxed(&h->f->ep.flags) & EPF_NONBLOCK))
        return 0;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
        return -errno;
    if (h->f)
        __atomic_fetch_or(&h->f->ep.flags, EPF_NONBLOCK, __ATOMIC_RELAXED);
    return 0;
}

struct blocking_op {
    opctx *c;
    ssize_t res;
};

static void open_blocking(void *arg)
{
    struct blocking_op *b = arg;
    do
        b->res = neg_errno(open(b->c->path, b->c->flags, b->c->mode));
    while (b->res == -EINTR);
}

static void fsync_blocking(void *arg)
{
    struct blocking_op *b = arg;
    do
        b->res = neg_errno(fsync(b->c->fd));
    while (b->res == -EINTR);
}

/* fn on the offload pool, for calls epoll cannot wait for. */
static ssize_t offloaded(g *gp, void (*fn)(void *), opctx *c)
{
    if (load_relaxed(&gp->io_cancel) && !(c->io_flags & IO_UNCANCELLABLE))
        return -ECANCELED; /* before the deadline, as io.c's calls */
    int64_t dl = gp->deadline;
    if (dl && now_ns() >= dl)
        return -ETIMEDOUT;
    struct blocking_op b = {.c = c};
    int e = offload_run(fn, &b, GR_WAIT_IO);
    return e ? e : b.res;
}

ssize_t epio_do(g *gp, fdhold *h, opctx *c, short ready_events)
{
    ssize_t r;
    switch (c->op) {
    case IO_READ:
    case IO_WRITE:
        return epio_rw(gp, h, c->fd, c->buf, c->len, c->op == IO_WRITE);
    case IO_READV:
    case IO_WRITEV: {
        rwop o = {.fd = c->fd, .out = c->op == IO_WRITEV, .iov = c->iov, .iovcnt = c->iovcnt,
                  .h = h};
        if (o.iovcnt == 1) {
            o.buf = o.iov[0].iov_base;
            o.len = o.iov[0].iov_len;
        } else if (o.iovcnt < 1) {
            o.iovcnt = -1; /* not 1: never the buf/len path; the kernel says EINVAL */
        }
        return rw_by_kind(gp, &o);
    }
    case IO_RECV:
    case IO_SEND:
    case IO_SEND_PLAIN: {
        bool out = c->op != IO_RECV;
        rwop o = {.fd = c->fd, .out = out, .iovcnt = 1, .buf = c->buf, .len = c->len, .h = h,
                  .flags = (c->flags & ~MSG_DONTWAIT) | (c->op == IO_SEND ? MSG_NOSIGNAL : 0)};
        if (out || !(c->flags & MSG_WAITALL) || !ready_events)
            return ep_io(gp, h, c->fd, out ? POLLOUT : POLLIN, ready_events != 0, rw_opcode(&o, true),
                         try_sock, &o);
        return recv_waitall(gp, h, &o);
    }
    case IO_ACCEPT:
        r = listener_nonblock(h, c->fd);
        if (r < 0)
            return r;
        r = ep_io(gp, h, c->fd, POLLIN, true, IORING_OP_ACCEPT, try_accept, c);
        if (r >= 0)
            ep_fd_fresh(fd_entry((int)r), EPK_SOCKET);
        return r;
    case IO_POLL:
        if (c->fd < 0)
            return -EBADF;
        return ep_io(gp, h, c->fd, (uint32_t)c->flags, true, IORING_OP_POLL_ADD, try_poll, c);
    case IO_SHUTDOWN:
        return neg_errno(shutdown(c->fd, c->flags));
    case IO_CLOSE:
        r = neg_errno(close(c->fd));
        return r == -EINTR ? 0 : r;
    case IO_OPEN:
        r = offloaded(gp, open_blocking, c);
        if (r >= 0)
            ep_fd_fresh(fd_entry_find((int)r), EPK_UNKNOWN);
        return r;
    case IO_FSYNC:
        return offloaded(gp, fsync_blocking, c);
    default:
        return -EOPNOTSUPP; /* IO_RECV_SELECT, IO_CONNECT: their own paths */
    }
}

int epio_poll(g *gp, fdhold *h, int fd, short events, int64_t timeout_ns)
{
    if (fd < 0 || !h->f)
        return -EBADF;
    opctx c = {.op = IO_POLL, .fd = fd, .flags = events};
    int64_t until = timeout_ns > 0 ? deadline_after(timeout_ns) : 0; /* saturated */
    int64_t dl = gp->deadline;
    /* gr_poll's own timeout is a deadline of this call that reads as 0. */
    bool own = until && (!dl || until < dl);
    if (own)
        gp->deadline = until;
    ssize_t r = ep_io(gp, h, fd, (uint32_t)events, timeout_ns != 0, IORING_OP_POLL_ADD, try_poll, &c);
    gp->deadline = dl;
    if (r == -ETIMEDOUT && own)
        return 0;
    if (r == -EAGAIN) /* timeout 0: not ready */
        return 0;
    return (int)r;
}

static ssize_t try_connected(void *arg)
{
    int fd = *(int *)arg;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r = poll(&p, 1, 0);
    if (r < 0)
        return -errno;
    if (r == 0)
        return -EAGAIN;
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        return -errno;
    return -err;
}

int epio_connect(g *gp, fdhold *h, int fd, const struct sockaddr *addr, socklen_t len)
{
    if (load_relaxed(&gp->io_cancel))
        return -ECANCELED;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    /* connect(2) has no per-call flag: O_NONBLOCK for this call only. */
    bool set = !(fl & O_NONBLOCK);
    if (set && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    int r = connect(fd, addr, len) == 0 ? 0 : -errno;
    if (set)
        (void)fcntl(fd, F_SETFL, fl);
    if (r == -EINPROGRESS || r == -EALREADY || r == -EAGAIN || r == -EINTR)
        r = (int)ep_io(gp, h, fd, POLLOUT, true, IORING_OP_CONNECT, try_connected, &fd);
    return r;
}
