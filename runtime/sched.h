/*
 * sched.h - workers, the scheduler's shared state, and the park/ready
 * protocol every blocking primitive is built on.  sched.c explains the
 * design.
 */
#ifndef GR_SCHED_H
#define GR_SCHED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "epoll.h"
#include "g.h"
#include "greenrt.h"
#include "lock.h"
#include "stats.h"
#include "timer.h"
#include "uring.h"

/* Go's sizes (proc.go): a local queue of 256 pointers (2 KiB a worker)
 * holds a burst, and what overflows it goes to the global queue half a
 * queue at a time; the global queue is checked every 61st tick (a prime,
 * so it does not fall in step with a program's own period). */
#define RUNQ_SIZE 256        /* local run queue slots (power of two) */
#define HOTQ_SIZE 128        /* goroutines with fresh input (power of two) */
#define GLOBAL_CHECK_EVERY 61 /* schedule ticks between global-queue checks */
#define MAX_WORKERS 1024

typedef struct worker {
    /* --- the OS thread (Go's M) --- */
    int index;
    int tid;
    pthread_t thread;
    g g0;                 /* the thread's own stack: the scheduler loop */
    g *cur;               /* goroutine running now (&g0 in the loop) */
    void (*after_fn)(struct worker *, void *); /* run by whatever resumes */
    void *after_arg;                           /* after the next switch */

    /* --- the run queue and caches (Go's P) --- */
    uint32_t runq_head;   /* atomic: consumers (owner and thieves) CAS it */
    uint32_t runq_tail;   /* atomic: written only by the owner */
    g *runq[RUNQ_SIZE];
    g *runnext;           /* atomic: next to run, ahead of runq */
    uint32_t hotq_head;   /* atomic: like runq_head */
    uint32_t hotq_tail;   /* atomic: written only by the owner */
    uint32_t hot_burst;   /* hotq picks since runq's last forced turn (owner only) */
    g *hotq[HOTQ_SIZE];   /* fresh input, run ahead of runq: see runq.c */
    uint32_t ioq_lock;    /* guards ioq: the owner, and the monitor's hand-off */
    g **ioq;              /* woken by I/O but runq was full: FIFO, run next; a
                           * ring of pointers (ioq_cap, a power of two), so
                           * moving them never touches their cold g */
    uint32_t ioq_cap, ioq_head, ioq_tail;
    uint32_t ioq_len;     /* atomic reads allowed without the lock */
    uint32_t schedtick;   /* goroutines scheduled; paces global checks */
    uint32_t slicetick;   /* atomic (owner writes): goroutines given a time
                           * slice of their own; the monitor watches it */
    bool inherit;         /* the goroutine just taken from runnext runs on
                           * the current slice (owner only) */
    uint64_t rand;        /* xorshift state for victim and select choice */
    g *gfree;             /* free control blocks (owner only) */
    int ngfree;
    void *stack_pool;     /* free default-size stacks (owner only) */
    int nstack_pool;
    int64_t goid_next, goid_end; /* a batch of goroutine ids */

    /* --- idling --- */
    bool spinning;        /* looking for work, counted in sched.nmspinning */
    uint32_t dormant;     /* atomic: parked by the CPU governor (adapt.c):
                           * runs no goroutines, forwards what its ring and
                           * timers wake; set and cleared under sched.lock */
    bool dormant_asleep;  /* counted in sched.ndormant_asleep (sched.lock) */
    uint32_t idle;        /* atomic: on the idle list, asleep or about to be */
    struct worker *idle_next;

    timer_heap timers;
    int64_t io_pending;   /* I/O this worker's engine will report: requests
                           * on its ring awaiting completion (io_uring:
                           * owner only), or goroutines parked on readiness
                           * of fds its epoll instance has (epoll: atomic,
                           * any worker) */
    void *bufpool;        /* gr_recv_buf's buffers (bufring.c), lazily made */
    wring ring;           /* this worker's io_uring (uring.h) */
    epw ep;               /* or its epoll instance (epoll.h) */
    worker_stats st;
} __attribute__((aligned(64))) worker;

typedef struct sched {
    int nprocs;           /* workers (GR_PROCS) */
    uint32_t nactive;     /* atomic: of them, not dormant (workers 0..nactive-1) */
    bool adaptive;        /* GR_ADAPTIVE: the governor may park workers */
    worker *workers;      /* nprocs of them; [0] runs on gr_run's thread */
    size_t default_stack; /* GR_STACK_SIZE */
    bool preempt_async;   /* GR_PREEMPT (off for a static libc: preempt.c) */
    bool preempt_explicit; /* GR_PREEMPT was given */
    bool randomize;       /* GR_SCHED_RANDOM */
    uint8_t engine_want;  /* GR_ENGINE: enum engine_want (engine.h) */
    uint8_t engine;       /* the I/O engine of this run: enum engine_kind,
                           * fixed from before the workers start */

    uint32_t lock;        /* guards the global queue and the idle list */
    g *gq_head, *gq_tail; /* global run queue */
    uint32_t gq_len;      /* atomic reads allowed without the lock */
    worker *idle_list;
    uint32_t npidle;      /* atomic */
    uint32_t ndormant_asleep; /* atomic: dormant workers asleep */
    uint32_t nmspinning;  /* atomic */

    uint32_t running;     /* atomic: between start and stop */
    uint32_t stopping;    /* atomic: main goroutine returned */
    int64_t live;         /* atomic: goroutines not yet exited */
    int64_t next_goid;    /* atomic: id batches are taken from here */
    int64_t ntimers;      /* atomic: armed timers, all workers */
    int64_t io_inflight;  /* atomic: I/O requests not yet completed */
    int64_t blocking_inflight; /* atomic: gr_blocking calls outstanding */
    uint32_t monitor_moving; /* atomic: the monitor holds goroutines it is
                              * moving (a hand-off, a blocked worker's
                              * timers): in no queue, yet not asleep */
    uint64_t extern_spawned; /* atomic: goroutines spawned by threads that
                              * are not workers (extern.c) */

    uint32_t gslab_lock;  /* guards the slab chain */
    g *allg;              /* every control block made (chain via allnext) */
    worker_stats last;    /* counters of the last run, after it stopped */
    int main_status;
} sched_t;

extern sched_t sched;

static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The gr_now() time ns >= 0 from now, saturated: a timeout too large to
 * add (INT64_MAX, "forever") means never, not a sum that wrapped into the
 * past and expires at once (Go's timers saturate the same way). */
static inline int64_t deadline_after(int64_t ns)
{
    int64_t when;
    if (__builtin_add_overflow(now_ns(), ns, &when))
        return INT64_MAX;
    return when;
}

/* The worker the calling thread is, or NULL.  Reads TLS with an asm
 * volatile so the compiler cannot cache the thread's TLS address across a
 * goroutine switch (a goroutine may resume on another thread). */
extern __thread worker *tls_worker __attribute__((tls_model("initial-exec")));
static inline worker *current_worker(void)
{
    worker *w;
    __asm__ volatile("movq tls_worker@gottpoff(%%rip), %0\n\t"
                     "movq %%fs:(%0), %0"
                     : "=r"(w));
    return w;
}

static inline g *current_g(void)
{
    worker *w = current_worker();
    return w ? w->cur : NULL;
}

/* --- the park/ready protocol ---------------------------------------------
 * park: the running goroutine becomes G_WAITING and the worker switches
 * to other work.  `after(w, arg)` runs right after the switch, on the
 * context that resumes, typically releasing the lock under which the
 * goroutine queued itself: until then no waker can see it, so it cannot be
 * made runnable before it has actually stopped running.
 * ready: a G_WAITING goroutine becomes runnable, in the current worker's
 * runnext slot (hand-off stays on this CPU), or on the global queue when
 * called from a thread that is not a worker. */
void park(uint16_t reason, void (*after)(worker *, void *), void *arg);
void ready(g *gp);
/* ready, saying what made gp runnable for the `ready` probe's tracers
 * (enum gr_wake_source; obj: the channel for GR_WAKE_CHAN, else NULL).
 * ready() is ready_from(gp, GR_WAKE_GOROUTINE, NULL). */
void ready_from(g *gp, unsigned source, const void *obj);
/* Parks until the gr_now() time `when` (gr_sleep, select with no cases):
 * 0, -ECANCELED when the goroutine's group is cancelled (intr.h), or
 * -ENOMEM (no room for the timer: it did not park). */
int park_until(uint16_t reason, int64_t when);
/* ready for I/O completions (owner only, from the ring's dispatch): not a
 * hand-off, so the queue's tail in completion order; past a full queue, the
 * worker's ioq, which it drains into the queue before it looks for more. */
void ready_io(worker *w, g *gp, bool input);
/* Goroutine context: requeue the caller and run something else. */
void sched_yield_g(bool preempted);
_Noreturn void sched_goexit(void);
/* The after() most parkers need: unlock a uint32_t lock. */
void after_unlock(worker *w, void *lockp);

/* Fatal if not in a goroutine: names the call, as Go panics. */
g *require_g(const char *call);

uint64_t fastrand(worker *w);

int env_parse(void); /* fills sched.nprocs ... from the environment */

/* --- idle workers (sched.c), shared with the dormant ones (dormant.c) --- */
/* After queueing work where another worker could take it: wake an idle
 * worker if nobody is spinning to find it. */
void maybe_wakep(void);
/* w found work: it stops counting as a spinner (and wakes another if it
 * was the last one). */
void stop_spinning(worker *w);
/* Fires w's due timers (one load when none is armed). */
static inline void run_due_timers(worker *w)
{
    int64_t e = timers_earliest(&w->timers);
    if (e != INT64_MAX) {
        int64_t now = now_ns();
        if (e <= now)
            timers_run(w, now);
    }
}
/* Takes w off the idle list if it is on it (the _locked one: sched.lock
 * held). */
void idle_list_remove_locked(worker *w);
void idle_list_remove(worker *w);
/* Every worker asleep: idle, or dormant (the monitor may sleep too). */
bool sched_all_idle(void);
/* Releases sched.lock, held by a worker about to sleep; if nothing can
 * ever run again, reports the deadlock (and exits). */
void unlock_or_deadlock(void);
/* Sleeps in the I/O engine's wait (io_uring_enter, epoll_wait) until a
 * completion or readiness, a wake-up, or w's next timer. */
void sleep_in_ring(worker *w);

/* --- what gr_run (run.c) needs of the scheduler --- */
/* Runs goroutines on w until the runtime stops: the scheduler context. */
void schedule_loop(worker *w);
/* Records the calling thread's floating-point control state, which every
 * goroutine starts with. */
void sched_fpu_capture(void);

#endif
