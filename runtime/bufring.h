/*
 * bufring.h - provided buffers (bufring.c): a per-worker pool the kernel
 * picks receive buffers from, behind gr_recv_buf (the receive itself is
 * io.c's: io.h).
 */
#ifndef GR_BUFRING_H
#define GR_BUFRING_H

#include <stdint.h>

struct worker;
struct gr_buf;

/* Dispatch of a completion that carries a provided buffer (uring.c), on
 * the ring's own worker and in completion order: carves the slice for the
 * waiting goroutine, or NULL for a zero-byte or failed receive. */
struct gr_buf *bufring_complete(struct worker *w, int32_t res, uint32_t cflags);
/* Frees w's pool (the runtime stopped, its ring is gone). */
void bufpool_free(struct worker *w);

#endif
