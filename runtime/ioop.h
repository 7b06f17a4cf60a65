/*
 * ioop.h - an I/O operation as io.c describes it to the engine that
 * performs it: io.c fills an opctx per call; the io_uring engine turns
 * it into an SQE (io.c's prep functions), the epoll engine into a
 * non-blocking system call (epoll_io.c).
 */
#ifndef GR_IOOP_H
#define GR_IOOP_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

struct worker;
struct gr_buf;

/* opctx.op */
enum io_op {
    IO_NONE = 0,
    IO_READ,        /* read(2) at the file position */
    IO_WRITE,       /* write(2) at the file position */
    IO_READV,
    IO_WRITEV,
    IO_RECV,        /* recv(2), the caller's flags */
    IO_RECV_SELECT, /* a receive into a provided buffer (io_uring only) */
    IO_SEND,        /* send(2), the caller's flags + MSG_NOSIGNAL */
    IO_SEND_PLAIN,  /* gr_write on a socket: send(2) as write(2) behaves */
    IO_ACCEPT,
    IO_CONNECT,
    IO_CLOSE,
    IO_SHUTDOWN,
    IO_OPEN,
    IO_FSYNC,
    IO_POLL,        /* wait for flags (POLLIN...) */
};

/* What an operation needs; fd first for the EAGAIN path. */
typedef struct opctx {
    uint8_t op;                  /* enum io_op */
    int fd;
    int flags;
    void *buf;
    size_t len;
    const struct iovec *iov;
    int iovcnt;
    struct sockaddr *addr;
    socklen_t *addrlen;
    socklen_t alen;
    const char *path;
    mode_t mode;
    int bgid;                    /* provided-buffer group (recv_select) */
    int (*before)(struct worker *w); /* optional: runs on the worker whose ring
                                    the request goes to; 0 or -errno */
    int io_flags;                /* IO_UNCANCELLABLE... */
    struct gr_buf *slice;        /* out: a provided-buffer receive's slice */
} opctx;

/* opctx.io_flags */
#define IO_UNCANCELLABLE 1 /* gr_close's own request: io_cancel_g leaves it */

#endif
