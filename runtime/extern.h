/*
 * extern.h - threads outside the runtime (extern.c): how a thread that is
 * not a worker may touch the running runtime's queues, and the count of
 * references such threads hold (gr_extern_ref).
 */
#ifndef GR_EXTERN_H
#define GR_EXTERN_H

#include <stdbool.h>
#include <stdint.h>

/* The references threads other than the workers hold.  Not in `sched`:
 * gr_run's reset of it must not lose a reference taken before it. */
extern int64_t extern_refs;

/* gr_run: the runtime runs (open) / is stopping (close; then
 * extern_quiesce). */
void extern_open(void);
void extern_close(void);

/* A thread that is not a worker (a program's own thread, an offload
 * thread, the monitor) is about to touch the running runtime's queues or
 * rings (a ready, a spawn, a wake-up): true if a runtime runs and is not
 * stopping, and then it does not free them (nor reset `sched`) before
 * extern_exit.  False:
 * there is nothing to touch (a stopping runtime's goroutines are
 * abandoned, as Go's are when main returns). */
bool extern_enter(void);
void extern_exit(void);
/* A thread that is not a worker waking a goroutine it took off an object
 * (a channel, a mutex...): called under the object's lock, before it is
 * dropped; extern_unpin once the ready is done.  Keeps the stop from
 * freeing the woken goroutine's stack (where its waiter lives) and control
 * block in between (extern.c).  A worker needs no pin: false. */
bool extern_pin(void);
static inline void extern_unpin(bool pinned)
{
    if (pinned)
        extern_exit();
}
/* Test hook (tests/unit/t_internal.h), NULL otherwise: called by a
 * thread that is not a worker at the start of its ready (sched.c), the
 * object's lock dropped and the goroutine not yet queued - a test holds
 * the waker there while main_fn returns and the runtime stops. */
extern void (*extern_ready_hook)(void);
/* gr_run's stop, after extern_close: waits until no thread is between
 * extern_enter and extern_exit. */
void extern_quiesce(void);

/* Whether a thread outside the runtime holds a reference: then every
 * goroutine asleep is not a deadlock (that thread may wake one). */
static inline bool extern_refs_held(void)
{
    return __atomic_load_n(&extern_refs, __ATOMIC_ACQUIRE) > 0;
}

#endif
