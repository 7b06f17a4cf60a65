/*
 * extern.c - what threads outside the runtime may do.
 *
 * C programs have threads greenrt did not make: a library's callback
 * thread, a signal-handling thread, the offload pool's own (gr_blocking).
 * They may not park - they are not goroutines - but they may do what
 * needs no parking: the try operations of channels, gr_chan_close, the
 * wake-ups of the sync types, gr_go, and a select that only polls
 * (greenrt.h lists them).  What they do to the runtime is always the
 * same: queue a goroutine on the global queue and wake a worker, through
 * its eventfd (only its own thread may submit to its ring).
 *
 * Two things make that safe and useful.
 *
 * The runtime may be stopping while such a thread is in the middle of it.
 * gr_run's stop must not free the queues, the workers and their rings
 * under it, nor the next gr_run reset them: every such access is
 * bracketed by extern_enter/extern_exit (a counter the stop waits for,
 * Dekker-style against a gate it closes), and refused while the gate is
 * closed - the goroutine it would have queued is abandoned with the
 * others, as in Go once main returns.
 *
 * Waking a goroutine takes more than the queueing: the waker takes the
 * goroutine's waiter off the object under the object's lock, drops the
 * lock, then readies it (chan.c, select.c, sync.c, group.c).  Between the
 * two only the waiter in the waker's hands says that goroutine exists -
 * main_fn may close the object and return, and the stop free the
 * goroutine's stack (where the waiter lives) and control block - so a
 * waker that is not a worker pins the runtime (extern_pin: extern_enter)
 * before it drops the lock, and unpins after the ready.  The pin is never
 * too late: while the waiter was queued main_fn had not returned
 * (greenrt.h: an object goroutines still wait on when main_fn returns is
 * not used again), so the gate was open.  Workers need no pin: the stop
 * joins them first.
 *
 * While every goroutine is parked, the deadlock detector would end the
 * program although an outside thread is about to wake one (a channel send
 * from a library callback): gr_extern_ref/gr_extern_unref count the
 * outside threads that may still wake goroutines, and while the count is
 * above zero, all goroutines asleep is not a deadlock.  When the last
 * reference goes, worker 0 is woken to look again, so that a real
 * deadlock is still reported rather than becoming a hang.  The count is
 * the process's, not one runtime's: a thread may take its reference
 * before gr_run starts.
 */
#include "engine.h"
#include "extern.h"

#include <errno.h>
#include <sched.h>

#include "greenrt.h"
#include "sched.h"

/* Threads other than the workers inside extern_enter/extern_exit.  Not
 * in `sched`, which gr_run resets: that must not race with one entering. */
static uint32_t extern_busy;
int64_t extern_refs;
/* The gate: a runtime runs and is not stopping.  Apart from `sched`,
 * which gr_run resets while outside threads may be calling. */
static uint32_t extern_gate;

void extern_open(void)
{
    __atomic_store_n(&extern_gate, 1, __ATOMIC_SEQ_CST);
}

void extern_close(void)
{
    __atomic_store_n(&extern_gate, 0, __ATOMIC_SEQ_CST);
}

bool extern_enter(void)
{
    /* SEQ_CST both ways: the stop closes the gate then reads the count;
     * we add to the count then read the gate - one of us sees the
     * other. */
    __atomic_fetch_add(&extern_busy, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&extern_gate, __ATOMIC_SEQ_CST))
        return true;
    __atomic_fetch_sub(&extern_busy, 1, __ATOMIC_SEQ_CST);
    return false;
}

void extern_exit(void)
{
    __atomic_fetch_sub(&extern_busy, 1, __ATOMIC_RELEASE);
}

bool extern_pin(void)
{
    return !current_worker() && extern_enter();
}

void (*extern_ready_hook)(void);

void extern_quiesce(void)
{
    /* Threads inside are a few instructions and a write(2) from leaving. */
    while (__atomic_load_n(&extern_busy, __ATOMIC_SEQ_CST))
        sched_yield();
}

int gr_extern_ref(void)
{
    __atomic_fetch_add(&extern_refs, 1, __ATOMIC_ACQ_REL);
    return 0;
}

int gr_extern_unref(void)
{
    int64_t n = __atomic_load_n(&extern_refs, __ATOMIC_RELAXED);
    do {
        if (n <= 0)
            return -EINVAL;
    } while (!__atomic_compare_exchange_n(&extern_refs, &n, n - 1, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_RELAXED));
    /* The last one: if every worker sleeps, none will look at the
     * deadlock condition again by itself. */
    if (n == 1 && extern_enter()) {
        engine_wake(&sched.workers[0]);
        extern_exit();
    }
    return 0;
}
