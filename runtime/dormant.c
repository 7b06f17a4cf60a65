/*
 * dormant.c - dormant workers: the CPU governor's lever (adapt.c).
 *
 * A dormant worker runs no goroutines.  It keeps reaping its ring and
 * running its timers, because operations submitted there before it was
 * parked complete there (DEFER_TASKRUN: only the submitting thread can
 * reap them), and it forwards every goroutine they wake to the global
 * queue.  Run on an active worker, the goroutine submits its next I/O to
 * that worker's ring, so connections migrate off a dormant worker one
 * completion each and its ring goes quiet: it then sleeps and costs
 * nothing.  The lowest-numbered workers stay active, so worker 0 never
 * goes dormant.
 */
#include "adapt.h"
#include "engine.h"
#include "lock.h"
#include "probes.h"
#include "runq.h"
#include "sched.h"
#include "stack.h"

/* Moves everything queued on w (runnext, runq, ioq) to the global queue. */
static void dormant_forward(worker *w)
{
    if (!worker_has_work(w))
        return;
    g *head = NULL, *tail = NULL, *gp;
    uint32_t n = 0;
    while ((gp = runq_get(w))) {
        chain_push(&head, &tail, gp);
        n++;
    }
    w->inherit = false; /* none of them runs here */
    gq_put_with_ioq(w, head, tail, n);
}

void dormant_loop(worker *w)
{
    stop_spinning(w);
    idle_list_remove(w);
    stack_pool_flush(w); /* a dormant worker spawns nothing */
    while (load_relaxed(&w->dormant) && !load_acquire(&sched.stopping)) {
        run_due_timers(w);
        if (engine_has_io(w))
            engine_wait(w, 0);
        dormant_forward(w);

        lock(&sched.lock);
        if (!load_relaxed(&w->dormant) || load_acquire(&sched.stopping) ||
            worker_has_work(w)) {
            unlock(&sched.lock);
            continue;
        }
        w->dormant_asleep = true;
        __atomic_fetch_add(&sched.ndormant_asleep, 1, __ATOMIC_SEQ_CST);
        unlock_or_deadlock();

        sleep_in_ring(w);
        lock(&sched.lock);
        w->dormant_asleep = false;
        __atomic_fetch_sub(&sched.ndormant_asleep, 1, __ATOMIC_SEQ_CST);
        unlock(&sched.lock);
    }
}

bool sched_park_worker(void)
{
    lock(&sched.lock);
    uint32_t n = sched.nactive;
    if (n <= 1 || load_acquire(&sched.stopping)) {
        unlock(&sched.lock);
        return false;
    }
    worker *w = &sched.workers[n - 1];
    store_relaxed(&w->dormant, 1);
    store_relaxed(&sched.nactive, n - 1);
    idle_list_remove_locked(w); /* so that no wakep picks it */
    unlock(&sched.lock);
    PROBE1(workers, n - 1);
    engine_wake(w); /* asleep or not, it must look at its queue */
    return true;
}

bool sched_unpark_worker(void)
{
    lock(&sched.lock);
    uint32_t n = sched.nactive;
    if (n >= (uint32_t)sched.nprocs || load_acquire(&sched.stopping)) {
        unlock(&sched.lock);
        return false;
    }
    worker *w = &sched.workers[n];
    store_relaxed(&w->dormant, 0);
    store_relaxed(&sched.nactive, n + 1);
    unlock(&sched.lock);
    PROBE1(workers, n + 1);
    engine_wake(w); /* it spins, and steals its share */
    return true;
}
