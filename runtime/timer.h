/*
 * timer.h - per-worker timer heaps (gr_sleep, select and cond timeouts,
 * I/O poll timeouts).
 *
 * Each worker owns a 4-ary min-heap of timers ordered by expiry, protected
 * by a lock because a timer may be cancelled from another worker (a select
 * woken by a channel on worker B cancels its timeout on worker A).  A timer
 * remembers its heap index, so insert and cancel are O(log n); a million
 * sleeping goroutines cost a million heap slots (8 bytes each) and the
 * timers themselves, which live inside the goroutines' control blocks.
 *
 * The owning worker runs due timers in its scheduling rounds, and sleeps in
 * io_uring_enter with the earliest expiry as timeout, so time and I/O are
 * waited for in one system call.
 */
#ifndef GR_TIMER_H
#define GR_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct worker;

typedef struct timer {
    int64_t when;                 /* expiry, gr_now() ns */
    void (*fire)(struct timer *); /* runs on the owning worker, heap unlocked (or on
                                   * the monitor thread for a worker blocked
                                   * in a system call: preempt.c) */
    struct worker *owner;         /* heap it is in; NULL when not armed */
    int32_t index;                /* slot in owner's heap */
    uint32_t firing;              /* popped, fire() running: see timer_fired */
} timer;

typedef struct timer_heap {
    uint32_t lock;
    int32_t len, cap;
    timer **slots;
    int64_t earliest; /* slots[0]->when, or INT64_MAX; read without the lock */
} timer_heap;

void timer_heap_init(timer_heap *h);
void timer_heap_destroy(timer_heap *h);
/* Makes room in w's heap for one more timer (w: the caller's worker, in
 * a goroutine about to park).  A waiter arms its timer in the after()
 * callback of its park, when it is too late to report a failure; with the
 * room reserved first, on the same worker that runs that callback and
 * with nothing else arming there in between, that arm cannot fail, and
 * the call can return -ENOMEM instead of waiting forever.  0 or -ENOMEM. */
int timer_reserve(struct worker *w);
/* Arms t on worker w's heap to fire at `when`.  t must not be armed.
 * 0, or -ENOMEM if the heap cannot grow (never after timer_reserve). */
int timer_arm(struct worker *w, timer *t, int64_t when);
/* Disarms t if it is still armed; true if this call removed it (so it
 * will not fire), false if it already fired or was never armed.  When it
 * returns, no worker references t any more (it waits for a fire() in
 * progress to call timer_fired), so t's memory may be reused. */
bool timer_cancel(timer *t);
/* Called by every fire() callback once it has read what it needs from t
 * and before it makes t's owner runnable: from then on t may be reused. */
static inline void timer_fired(timer *t)
{
    __atomic_store_n(&t->firing, 0, __ATOMIC_RELEASE);
}
/* Fires every due timer of w; returns how many fired. */
int timers_run(struct worker *w, int64_t now);
/* Earliest expiry on w's heap, INT64_MAX if none. */
static inline int64_t timers_earliest(timer_heap *h)
{
    return __atomic_load_n(&h->earliest, __ATOMIC_ACQUIRE);
}

#endif
