/*
 * chan.c - channels, with Go's semantics and Go's algorithm (chan.go).
 *
 * A channel is a lock, a ring buffer of `cap` elements and two queues of
 * parked goroutines.  The invariant that makes it simple: a queue of
 * receivers is non-empty only while the buffer is empty, and a queue of
 * senders only while it is full (or, unbuffered, while no receiver waits).
 *
 *   send: a parked receiver?  copy straight into its buffer and ready it
 *         (no trip through the channel's buffer: the "direct hand-off");
 *         else room in the buffer?  enqueue the value; else park.
 *   recv: a parked sender?  unbuffered: take its value; buffered (so the
 *         buffer is full): take the head of the buffer and put the
 *         sender's value at the tail, preserving FIFO; else a value in the
 *         buffer?  take it; else closed?  -EPIPE and a zero value; else park.
 *   close: wake every receiver (-EPIPE, zeroed value) and every sender
 *         (-EPIPE).  Values already buffered are still received.
 *
 * Parked goroutines queue a `waiter` (Go's sudog) that lives on their own
 * stack; the channel lock is released only after the goroutine has
 * switched out (park's `after`), so a waker can never see a half-parked
 * goroutine.  Peers are readied after the lock is dropped, keeping the
 * critical section free of system calls (a ready may wake a worker).
 *
 * A member of a group (group.c) waits interruptibly: its waiter races
 * for the goroutine's wake token like a select case, so a value is either
 * transferred or the wait cancelled (-ECANCELED), never both.
 */
#include "chan.h"

#include <errno.h>
#include <stdlib.h>

#include "extern.h"
#include "greenrt.h"
#include "intr.h"
#include "preempt.h"
#include "sched.h"

waiter *chan_take_waiter(waitq *q)
{
    waiter *w;
    while ((w = waitq_pop(q))) {
        if (w->is_select) {
            uint32_t zero = 0;
            if (!cas_acq_rel(&w->gp->wake_token, &zero, 1))
                continue; /* its select already proceeded elsewhere */
            w->gp->wake_param = w;
        }
        return w;
    }
    return NULL;
}

void chan_send_to_receiver(struct gr_chan *c, waiter *r, const void *elem)
{
    elem_copy(c, r->elem, elem);
    r->res = 0;
    r->success = 1;
}

void chan_buf_push(struct gr_chan *c, const void *elem)
{
    elem_copy(c, chan_slot(c, c->sendx), elem);
    if (++c->sendx == c->cap)
        c->sendx = 0;
    c->count++;
}

void chan_buf_pop(struct gr_chan *c, void *elem)
{
    elem_copy(c, elem, chan_slot(c, c->recvx));
    if (++c->recvx == c->cap)
        c->recvx = 0;
    c->count--;
}

void chan_recv_from_sender(struct gr_chan *c, waiter *s, void *elem)
{
    if (c->cap == 0) {
        elem_copy(c, elem, s->elem);
    } else {
        /* Full buffer: the receiver gets the oldest value and the sender's
         * value takes the freed slot at the tail. */
        chan_buf_pop(c, elem);
        chan_buf_push(c, s->elem);
    }
    s->res = 0;
    s->success = 1;
}

gr_chan *gr_chan_make(size_t elem_size, size_t capacity)
{
    if (elem_size > 65536) {
        errno = EINVAL;
        return NULL;
    }
    if (elem_size && capacity > ((size_t)1 << 40) / elem_size) {
        errno = ENOMEM; /* a buffer no machine could hold */
        return NULL;
    }
    gr_chan *c = calloc(1, sizeof *c + elem_size * capacity);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->elem_size = elem_size;
    c->cap = capacity;
    c->buf = (char *)(c + 1);
    return c;
}

void gr_chan_free(gr_chan *c)
{
    free(c);
}

/* Parks gp on q, the channel locked (it is released after the switch),
 * until a peer or a close ends the wait: 0, or -EPIPE.  A member of a
 * group waits interruptibly (intr.h): -ECANCELED, with no value moved,
 * when its group is cancelled first; one branch for everyone else. */
static int chan_wait(gr_chan *c, waitq *q, void *elem, g *gp, uint16_t reason)
{
    waiter me = {.gp = gp, .elem = elem, .res = -EPIPE};
    if (__builtin_expect(gp->group == NULL, 1)) {
        waitq_push(q, &me);
        park(reason, after_unlock, &c->lock);
        return me.success ? 0 : me.res;
    }
    if (intr_prepare(gp)) {
        unlock(&c->lock);
        return -ECANCELED;
    }
    me.is_select = 1; /* wakers race the canceller for gp's token */
    waitq_push(q, &me);
    park_intr(gp, reason, after_unlock, &c->lock, intr_wake);
    if (!intr_woken_by_cancel(gp))
        return me.success ? 0 : me.res;
    /* Off the queue, unless a waker that lost the token dropped it. */
    lock(&c->lock);
    if (me.queued)
        waitq_remove(q, &me);
    unlock(&c->lock);
    return -ECANCELED;
}

static int chan_send(gr_chan *c, const void *elem, bool block)
{
    if (!c)
        return -EINVAL;
    g *gp = block ? require_g("gr_chan_send") : current_g();
    preempt_point();
    lock(&c->lock);
    if (c->closed) {
        unlock(&c->lock);
        return -EPIPE;
    }
    waiter *r = chan_take_waiter(&c->recvq);
    if (r) {
        chan_send_to_receiver(c, r, elem);
        bool pinned = extern_pin(); /* r's goroutine outlives the unlock */
        unlock(&c->lock);
        ready_from(r->gp, GR_WAKE_CHAN, c);
        extern_unpin(pinned);
        return 0;
    }
    if (c->count < c->cap) {
        chan_buf_push(c, elem);
        unlock(&c->lock);
        return 0;
    }
    if (!block) {
        unlock(&c->lock);
        return -EAGAIN;
    }
    return chan_wait(c, &c->sendq, (void *)elem, gp, GR_WAIT_CHAN_SEND);
}

static int chan_recv(gr_chan *c, void *elem, bool block)
{
    if (!c)
        return -EINVAL;
    g *gp = block ? require_g("gr_chan_recv") : current_g();
    preempt_point();
    lock(&c->lock);
    waiter *s = chan_take_waiter(&c->sendq);
    if (s) {
        chan_recv_from_sender(c, s, elem);
        bool pinned = extern_pin(); /* s's goroutine outlives the unlock */
        unlock(&c->lock);
        ready_from(s->gp, GR_WAKE_CHAN, c);
        extern_unpin(pinned);
        return 0;
    }
    if (c->count > 0) {
        chan_buf_pop(c, elem);
        unlock(&c->lock);
        return 0;
    }
    if (c->closed) {
        unlock(&c->lock);
        elem_copy(c, elem, NULL);
        return -EPIPE;
    }
    if (!block) {
        unlock(&c->lock);
        return -EAGAIN;
    }
    return chan_wait(c, &c->recvq, elem, gp, GR_WAIT_CHAN_RECV);
}

int gr_chan_send(gr_chan *c, const void *elem)
{
    return chan_send(c, elem, true);
}

int gr_chan_recv(gr_chan *c, void *elem)
{
    return chan_recv(c, elem, true);
}

int gr_chan_try_send(gr_chan *c, const void *elem)
{
    return chan_send(c, elem, false);
}

int gr_chan_try_recv(gr_chan *c, void *elem)
{
    return chan_recv(c, elem, false);
}

int gr_chan_close(gr_chan *c)
{
    if (!c)
        return -EINVAL;
    lock(&c->lock);
    if (c->closed) {
        unlock(&c->lock);
        return -EPIPE;
    }
    c->closed = 1;
    /* Collect everyone first (the waiters double as the list), then ready
     * them without the lock: a close may release 100,000 goroutines. */
    waiter *wake = NULL, *w;
    while ((w = chan_take_waiter(&c->recvq))) {
        elem_copy(c, w->elem, NULL);
        w->res = -EPIPE;
        w->success = 0;
        w->next = wake;
        wake = w;
    }
    while ((w = chan_take_waiter(&c->sendq))) {
        w->res = -EPIPE;
        w->success = 0;
        w->next = wake;
        wake = w;
    }
    bool pinned = extern_pin(); /* the waiters' goroutines outlive the unlock */
    unlock(&c->lock);
    while (wake) {
        w = wake;
        wake = w->next; /* read before ready: w lives on a stack that may run */
        ready_from(w->gp, GR_WAKE_CHAN, c);
    }
    extern_unpin(pinned);
    return 0;
}

size_t gr_chan_len(gr_chan *c)
{
    if (!c)
        return 0;
    lock(&c->lock);
    size_t n = c->count;
    unlock(&c->lock);
    return n;
}

size_t gr_chan_cap(gr_chan *c)
{
    return c ? c->cap : 0;
}
