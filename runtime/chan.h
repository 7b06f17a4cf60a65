/*
 * chan.h - channel internals shared by chan.c and select.c.
 */
#ifndef GR_CHAN_H
#define GR_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "g.h"
#include "lock.h"

struct gr_chan {
    uint32_t lock;     /* guards every field below */
    uint32_t closed;
    size_t elem_size;
    size_t cap;        /* buffer slots; 0: unbuffered (rendezvous) */
    size_t count;      /* values in the buffer */
    size_t sendx;      /* next slot to fill */
    size_t recvx;      /* next slot to drain */
    waitq recvq;       /* receivers parked on an empty channel */
    waitq sendq;       /* senders parked on a full channel */
    char *buf;         /* cap * elem_size bytes, after the struct */
};

static inline void elem_copy(const struct gr_chan *c, void *dst, const void *src)
{
    if (!c->elem_size || !dst)
        return;
    if (src)
        memcpy(dst, src, c->elem_size);
    else
        memset(dst, 0, c->elem_size);
}

static inline char *chan_slot(struct gr_chan *c, size_t i)
{
    return c->buf + i * c->elem_size;
}

/* Pops the first waiter that can still be woken.  A select waiter counts
 * only if this call wins its goroutine's wake token (another case of the
 * same select may have won already); losers are dropped from the queue.
 * Channel lock held. */
waiter *chan_take_waiter(waitq *q);

/* The transfers, channel lock held, a ready peer taken from a queue. */
void chan_send_to_receiver(struct gr_chan *c, waiter *r, const void *elem);
void chan_recv_from_sender(struct gr_chan *c, waiter *s, void *elem);
void chan_buf_push(struct gr_chan *c, const void *elem);
void chan_buf_pop(struct gr_chan *c, void *elem);

#endif
