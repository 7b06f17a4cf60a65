/*
 * io.h - what io.c, the I/O API, offers the rest of the runtime: the
 * receive behind gr_recv_buf (bufring.c), and cancelling a goroutine's
 * I/O (for cancellation groups).
 */
#ifndef GR_IO_H
#define GR_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "fd.h"
#include "g.h"

struct worker;
struct gr_buf;

/* Cancels the I/O of goroutine gp; any thread may call it, and calling it
 * again is harmless.  The request gp has in flight completes at once with
 * -ECANCELED (or with its result, if that came first: nothing is lost), a
 * wait of gp for an fd's lock ends with -ECANCELED, and every later gr_
 * I/O call of gp returns -ECANCELED before doing anything - until gp
 * calls io_cancel_clear().  The fds stay usable.  gr_close is never
 * cancelled (it must not leave an fd half closed).  Built on
 * engine_cancel_g (engine.h): on io_uring the request is cancelled by its
 * user_data on the ring that owns it; on epoll the goroutine parked on
 * readiness is withdrawn from its fd and readied. */
void io_cancel_g(g *gp);
/* The calling goroutine's I/O is no longer cancelled. */
void io_cancel_clear(void);

/* The receives of gr_recv_buf, under a read hold h of fd (fd_acquire).
 * io_recv_select: up to len bytes into a buffer the kernel picks from
 * group bgid of the ring the request goes to; ensure_pool(w) first makes
 * the pool of the worker w whose ring that is (the worker we are on when
 * the SQE is filled - not necessarily where we started).  *buf: the slice
 * dispatch carved for the bytes, if any.  io_wait_readable: until fd is
 * readable.  io_recv: recv(2).  0 or a count, or -errno. */
int io_recv_select(fdhold *h, int fd, int bgid, unsigned len,
                   int (*ensure_pool)(struct worker *w), struct gr_buf **buf);
int io_wait_readable(fdhold *h, int fd);
ssize_t io_recv(fdhold *h, int fd, void *buf, size_t n, int flags);

#endif
