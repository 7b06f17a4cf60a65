/*
 * g.h - the goroutine control block and the wait queues goroutines park on.
 *
 * A goroutine is a `struct g` plus, once it has run, a stack:
 *
 *      high addresses
 *   +----------------------+  stk.base + stk.size
 *   | first frames         |  <- a parked goroutine typically touches only
 *   |   ...                |     this top page (one page of RSS)
 *   |   (grows down)       |
 *   |                      |  untouched pages: address space only
 *   | canary (8 bytes)     |  stk.base: checked at every switch away
 *   |                      |  from a goroutine on a bulk stack only
 *   +----------------------+  stk.base
 *   | guard gap, GUARD_GAP |  guard-region markers or PROT_NONE: address
 *   |                      |  space only (none for bulk stacks: stack.c)
 *      low addresses
 *
 * The control block is kept apart from the stack (in slabs of struct g)
 * so that a goroutine that was spawned but has not started yet costs no
 * stack at all: spawning a million goroutines that each run to completion
 * reuses a handful of stacks.  Control blocks are recycled, never freed
 * until the runtime stops, so the deadlock report can walk the slabs.
 */
#ifndef GR_G_H
#define GR_G_H

#include <stddef.h>
#include <stdint.h>

#include "timer.h"

enum g_status {
    G_FREE = 0,   /* on a free list */
    G_RUNNABLE,   /* in a run queue (or being handed to one) */
    G_RUNNING,    /* on a worker */
    G_WAITING,    /* parked: only a waker may make it runnable */
    G_DEAD,       /* fn returned; stack being given back */
};

typedef struct stack {
    char *base;    /* lowest usable address (the canary lives here) */
    size_t size;   /* usable bytes above base */
    uint32_t kind; /* STACK_CHUNKED, _GUARDED or _BULK (see stack.c) */
    uint32_t pad;
} stack;

struct worker;

typedef struct g {
    void *sp;              /* saved stack pointer while switched out */
    struct g *schedlink;   /* run queue / free list link (owner: that queue) */
    int64_t id;            /* > 0; 0 is a worker's scheduler context */
    uint32_t status;       /* enum g_status; atomic where raced (see sched.c) */
    uint16_t wait_reason;  /* enum gr_wait_reason while G_WAITING */
    uint8_t is_g0;         /* a worker's scheduler context */
    uint8_t hot_streak;    /* input completions run at once, in a row (runq.c) */
    void (*fn)(void *);    /* entry point, until it has started */
    void *arg;
    stack stk;             /* .base NULL until the goroutine first runs */
    uint32_t stack_size;   /* bytes its stack will have (page_round'ed) */
    int32_t preempt_off;   /* gr_preempt_disable() nesting */
    uint32_t preempt;      /* set by the monitor: yield at the next safe point */
    uint32_t wake_token;   /* select/timeout/cancel race: first CAS 0->1 wins */
    void *wake_param;      /* set by the winning waker (e.g. the select case) */
    struct group *group;   /* the group it is a member of (gr_group_go), or
                            * NULL; set at spawn, fixed until it exits */
    int64_t run_start;     /* gr_now() when last switched in (monitor) */
    int64_t deadline;      /* gr_set_deadline(), 0 if none */
    uint64_t io_ud;        /* atomic: its I/O in flight, 0 if none (io.c;
                            * io_cancel_g reads it): the request's
                            * user_data (io_uring), or its wait for
                            * readiness: fd << 32 | io_seq (epoll.c) */
    struct fdent *io_wait_fd; /* atomic: the fd whose lock it waits for (fd.c) */
    uint32_t io_cancel;    /* atomic: io_cancel_g was called (io.h) */
    uint32_t io_seq;       /* its readiness waits, counted (epoll.c; never
                            * reset, so a stale io_ud never matches) */
    timer tm;              /* sleep / timeout timer */
    struct g *allnext;     /* slab chain: every control block ever made */
    void *san_fake_stack;  /* ASan fiber bookkeeping */
    void *san_fiber;       /* TSan fiber */
    char name[32];
    /* --- group members only (group.c, intr.c) --- */
    struct g *group_next, *group_prev; /* member list (its group's lock) */
    _Bool (*intr_fn)(struct g *); /* withdraws the current interruptible wait */
    uint64_t intr;         /* atomic: interruptible-wait state and sequence
                            * (intr.c); never reset, so that it only grows
                            * while the control block is reused */
} g;

/* A goroutine parked on a wait queue.  It lives on the parked goroutine's
 * own stack, which stays valid until the goroutine resumes.  Channels use
 * it as Go's sudog: elem points at the value to send or the buffer to
 * receive into, and a select parks one waiter per case. */
typedef struct waiter {
    struct waiter *next, *prev;
    g *gp;
    void *elem;           /* send: value; recv: destination (may be NULL) */
    struct gr_chan *chan; /* select: the case's channel */
    int case_index;       /* select: which case this waiter stands for */
    int res;              /* set by the waker: 0 or -EPIPE (channels);
                           * enum fdwait_end for an fd's waits (fd.h) */
    int64_t enqueued_at;  /* mutex starvation detection */
    uint8_t is_select;    /* must win gp->wake_token before waking */
    uint8_t handoff;      /* mutex: ownership passed to this waiter */
    uint8_t success;      /* chan: a value was transferred */
    uint8_t queued;       /* on a waitq (select cleanup must know) */
} waiter;

/* Intrusive FIFO of waiters: two pointers, so it fits in the public sync
 * bodies (void *_waitq[2]) and is valid when zero. */
typedef struct waitq {
    waiter *head, *tail;
} waitq;

static inline void waitq_push(waitq *q, waiter *w)
{
    w->queued = 1;
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
}

static inline void waitq_push_front(waitq *q, waiter *w)
{
    w->queued = 1;
    w->prev = NULL;
    w->next = q->head;
    if (q->head)
        q->head->prev = w;
    else
        q->tail = w;
    q->head = w;
}

static inline void waitq_remove(waitq *q, waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->next = w->prev = NULL;
    w->queued = 0;
}

static inline waiter *waitq_pop(waitq *q)
{
    waiter *w = q->head;
    if (w)
        waitq_remove(q, w);
    return w;
}

#endif
