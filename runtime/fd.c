/*
 * fd.c - what greenrt keeps per file descriptor: Go's poll.FD, adapted to
 * descriptors that are plain ints and to I/O done on io_uring.
 *
 * The problems.  (1) gr_close(fd) while another goroutine is blocked in
 * gr_read(fd): the read is a request in the kernel, which holds the open
 * file; close(2) only drops the number, so the reader stays parked
 * forever and the peer never sees end of file.  (2) Two goroutines
 * reading or writing one regular file at the file position: read(2) and
 * write(2) from threads are serialised by the kernel (f_pos_lock), but
 * io_uring requests at offset -1 issued from two workers' rings are not -
 * 8 goroutines writing records at GR_PROCS=2 lost hundreds of them.  (3)
 * gr_write_all on a socket is many writes; two goroutines' calls
 * interleaved their bytes.
 *
 * Go's answer (internal/poll): each FD has a mutex word (fdMutex) holding
 * a read lock, a write lock, a reference count and a closing flag; every
 * Read takes the read lock, every Write the write lock, for the whole
 * call; Close sets the closing flag - calls that start afterwards fail at
 * once with ErrClosed -, wakes the goroutines blocked on the fd with an
 * error (evict), and the descriptor is closed when the last reference
 * goes.  greenrt does the same, with an entry per descriptor number:
 *
 *   fd table   fd_dir -> chunks of 1 << FD_CHUNK_SHIFT entries (fdent),
 *              made on first use of a number (an open one), never freed
 *              while the runtime runs.  A lookup is two dependent loads
 *              and no lock: the directory only grows, copied (the old one
 *              is kept until the runtime stops, for readers still holding
 *              it).
 *   state      one atomic word: FD_CLOSING, the two locks, "waiters" bits
 *              and the reference count (every call using the fd holds
 *              one).  An uncontended lock is one CAS, its release another
 *              (as Go's); nothing else is atomic on the hot path.
 *   waiters    goroutines waiting for a lock, queued under the entry's
 *              small lock `lk` and handed the lock directly in FIFO order
 *              (no barging: a stream of readers cannot starve one).  The
 *              wait ends at the waiter's deadline (-ETIMEDOUT), at
 *              io_cancel_g (-ECANCELED), or at gr_close (-EBADF).
 *   in flight  the lock holders publish the user_data of their request in
 *              flight in rud / wud; calls that take no lock (gr_poll,
 *              gr_connect...) put theirs on the `others` list.
 *
 * Which calls take what: reads, receives (gr_recv_buf too) and gr_accept
 * the read lock; writes and sends the write lock; gr_read_full and
 * gr_write_all hold theirs across the whole loop, which makes each of
 * them atomic against the other calls of its kind on the fd.  gr_poll,
 * gr_connect, gr_shutdown and gr_fsync take a reference only: a poll
 * does not consume data, and waiting behind a blocked read would change
 * what it means.
 *
 * Closing (fd_close_prepare): set FD_CLOSING (+ a reference) with a CAS;
 * wake every lock waiter with -EBADF; cancel every published request
 * (wring_cancel: on the ring that owns it, by its unique user_data - a
 * request that completed meanwhile is left alone); drop the reference
 * and wait until the others are gone: the woken calls return -EBADF (io.c
 * turns the -ECANCELED of a request cancelled by a close into -EBADF), and
 * only then does gr_close close the descriptor, so the peer sees end of
 * file.  A holder publishes its request and *then* checks FD_CLOSING,
 * with a full barrier between (io_start); gr_close sets FD_CLOSING and
 * *then* reads what was published: whichever comes second sees the other,
 * so a request is either cancelled by gr_close or never submitted.
 * The entry is reset before the descriptor is closed, not after: once
 * close(2) returns, the number may be given to a new file by another
 * thread at any moment, and a call on it must then work.  A goroutine
 * that starts a call on the number in between, racing with its own
 * close, gets the POSIX outcome (the old file, or -EBADF).
 *
 * close(2) behind greenrt's back leaves the entry as it is: calls in
 * flight keep the old file (as a thread blocked in read(2) does) and
 * return when the kernel completes them; their locks are released then,
 * so a new file on the number waits behind them for that long.
 * Documented in greenrt.h; gr_close is the way to close.
 *
 * Why -EBADF for the woken calls: it is what the same call returns when it
 * starts just after the close (the descriptor is not open), so a caller
 * handles "closed under me" and "closed before me" alike, as Go's single
 * ErrClosed does; -ECANCELED keeps its one meaning, cancelled by
 * io_cancel_g (a group) with the fd still usable.
 *
 * The epoll engine (GR_ENGINE=epoll) keeps its per-fd readiness here
 * too, in a second cache line of fdent: Go's pollDesc (a reader and a
 * writer parked on readiness, the readiness sequence numbers, whether the
 * fd is registered with the worker's epoll and for what).  The locks,
 * references and the close protocol stay as they are; a "request in
 * flight" is then a goroutine parked on readiness, and gr_close wakes it
 * directly instead of cancelling a request.
 *
 * Rejected: a lock per call kind in a hash table keyed by fd (a global
 * lock or probing on every call); tracking every request on a per-fd list
 * (two more lock round trips per call - the lock holders need one slot
 * each); IORING_ASYNC_CANCEL_FD on every worker's ring (a message to
 * every worker for every close of a busy fd, and it cannot tell this
 * file's requests from a reused number's).
 */
#include "fd.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "intr.h"
#include "io.h"
#include "sched.h"

#define FD_DIR_MIN 16 /* chunks the first directory has room for */
#define FD_REF_MASK (~(FD_REF - 1))

fddir *fd_dir;
static uint32_t fdt_lock; /* guards the growth of the table */

/* ---------------------------------------------------------------------
 * The table
 * ------------------------------------------------------------------- */

fdent *fd_entry_slow(int fd)
{
    /* Only for a descriptor that is open: a bad number (gr_read(1 << 30))
     * must not make the table grow to it.  One system call per new chunk. */
    if (fd < 0 || fcntl(fd, F_GETFD) < 0)
        return NULL;
    uint32_t c = (uint32_t)fd >> FD_CHUNK_SHIFT;
    fdent *e = NULL;
    lock(&fdt_lock);
    fddir *d = fd_dir;
    if (!d || c >= d->nchunks) {
        uint32_t n = d ? d->nchunks : 0, want = n ? n : FD_DIR_MIN;
        while (want <= c)
            want *= 2;
        fddir *nd = calloc(1, sizeof *nd + sizeof(fdent *) * want);
        if (!nd)
            goto out;
        nd->nchunks = want;
        if (d)
            memcpy(nd->chunks, d->chunks, sizeof(fdent *) * n);
        nd->retired = d;
        store_release(&fd_dir, nd);
        d = nd;
    }
    fdent *chunk = d->chunks[c];
    if (!chunk) {
        chunk = aligned_alloc(_Alignof(fdent), sizeof(fdent) << FD_CHUNK_SHIFT);
        if (!chunk)
            goto out;
        memset(chunk, 0, sizeof(fdent) << FD_CHUNK_SHIFT);
        store_release(&d->chunks[c], chunk);
    }
    e = &chunk[(uint32_t)fd & FD_CHUNK_MASK];
out:
    unlock(&fdt_lock);
    return e;
}

fdent *fd_entry_find(int fd)
{
    fddir *d = load_acquire(&fd_dir);
    uint32_t c = (uint32_t)fd >> FD_CHUNK_SHIFT;
    if (fd < 0 || !d || c >= d->nchunks)
        return NULL;
    fdent *chunk = load_acquire(&d->chunks[c]);
    return chunk ? &chunk[(uint32_t)fd & FD_CHUNK_MASK] : NULL;
}

void fd_table_free(void)
{
    fddir *d = fd_dir;
    if (!d)
        return;
    for (uint32_t c = 0; c < d->nchunks; c++)
        free(d->chunks[c]);
    while (d) {
        fddir *old = d->retired;
        free(d);
        d = old;
    }
    fd_dir = NULL;
}

/* ---------------------------------------------------------------------
 * Waiting for a lock
 * ------------------------------------------------------------------- */

/* A goroutine waiting for a lock of an fd, on its own stack. */
typedef struct fdwaiter {
    waiter w;   /* w.res: enum fdwait_end, set by the waker that won w.gp's token */
    uint8_t use;
} fdwaiter;

static fdwaiter *fdwaiter_of(waiter *w)
{
    return (fdwaiter *)((char *)w - offsetof(fdwaiter, w));
}

static uint64_t lock_bit(int use)
{
    return use == FD_USE_READ ? FD_RLOCK : FD_WLOCK;
}

static uint64_t wait_bit(int use)
{
    return use == FD_USE_READ ? FD_RWAIT : FD_WWAIT;
}

static bool has_waiter(fdent *f, int use)
{
    for (waiter *w = f->waiters.head; w; w = w->next)
        if (fdwaiter_of(w)->use == use)
            return true;
    return false;
}

/* After a waiter for `use` left the queue: no more of them, no more bit
 * (lk held). */
static void wait_bit_update(fdent *f, int use)
{
    if (!has_waiter(f, use))
        __atomic_fetch_and(&f->state, ~wait_bit(use), __ATOMIC_ACQ_REL);
}

/* Takes the first waiter for `use` that this call can wake (it wins the
 * goroutine's wake token: its timer or a canceller may have won it, and
 * such losers are dropped from the queue), or NULL; *more: whether
 * waiters for `use` remain.  lk held.  O(1) while the queue holds waiters
 * of one kind, the common case. */
static fdwaiter *take_waiter(fdent *f, int use, bool *more)
{
    waiter *w = f->waiters.head;
    fdwaiter *taken = NULL;
    while (w) {
        waiter *next = w->next;
        if (fdwaiter_of(w)->use == use) {
            if (taken) {
                *more = true;
                return taken;
            }
            waitq_remove(&f->waiters, w);
            uint32_t zero = 0;
            if (cas_acq_rel(&w->gp->wake_token, &zero, 1))
                taken = fdwaiter_of(w);
        }
        w = next;
    }
    *more = false;
    return taken;
}

/* Runs once the waiter has stopped: its deadline timer (armed only now,
 * so it cannot ready a goroutine still running), then the entry's lock
 * (fd.h: the lock waits here and the epoll engine's readiness waits). */
void after_fdwait_park(worker *w, void *arg)
{
    fdwait_park *p = arg;
    g *gp = p->gp;
    if (p->deadline) {
        gp->tm.fire = timer_fire_wake; /* intr.h: the wake token decides */
        if (timer_arm(w, &gp->tm, p->deadline) < 0) {
            /* No memory for the timer: the wait cannot honour the
             * deadline, so it ends now, with -ENOMEM. */
            p->no_timer = true;
            p->deadline = 0;
            unlock(&p->f->lk);
            uint32_t zero = 0;
            if (cas_acq_rel(&gp->wake_token, &zero, 1))
                ready(gp);
            return;
        }
    }
    unlock(&p->f->lk);
}

/* Waits for lock `use` of f, which another call holds.  0: granted (the
 * releaser handed it over with its reference); 1: it was released before
 * we could queue, try again; -EBADF, -ETIMEDOUT, -ECANCELED, -ENOMEM. */
static int lock_wait(g *gp, fdent *f, int use)
{
    fdwait_park p = {.f = f, .gp = gp, .deadline = gp->deadline};
    if (load_relaxed(&gp->io_cancel))
        return -ECANCELED; /* before the deadline: see io_interrupted (io.c) */
    if (p.deadline && now_ns() >= p.deadline)
        return -ETIMEDOUT;
    fdwaiter me = {.w = {.gp = gp, .is_select = 1}, .use = (uint8_t)use};
    store_relaxed(&gp->wake_token, 0);
    lock(&f->lk);
    uint64_t old = load_relaxed(&f->state);
    for (;;) {
        if (old & FD_CLOSING) {
            unlock(&f->lk);
            return -EBADF;
        }
        if (!(old & lock_bit(use))) {
            unlock(&f->lk);
            return 1;
        }
        if (cas_acq_rel(&f->state, &old, old | wait_bit(use)))
            break;
    }
    waitq_push(&f->waiters, &me.w);
    /* Published, then io_cancel checked: io_cancel_g sets io_cancel and
     * then reads io_wait_fd, so one of us sees the other (the exchange is
     * the full barrier). */
    (void)__atomic_exchange_n(&gp->io_wait_fd, f, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&gp->io_cancel, __ATOMIC_SEQ_CST)) {
        waitq_remove(&f->waiters, &me.w);
        wait_bit_update(f, use);
        unlock(&f->lk);
        store_relaxed(&gp->io_wait_fd, NULL);
        return -ECANCELED;
    }
    park(GR_WAIT_IO, after_fdwait_park, &p);
    store_relaxed(&gp->io_wait_fd, NULL);
    if (p.deadline)
        timer_cancel(&gp->tm);
    lock(&f->lk);
    if (me.w.queued) { /* the timer won: we are still queued */
        waitq_remove(&f->waiters, &me.w);
        wait_bit_update(f, use);
    }
    unlock(&f->lk);
    return fdwait_result(&p, me.w.res);
}

int fdwait_result(const fdwait_park *p, unsigned end)
{
    if (end != FDW_DONE && load_relaxed(&p->gp->io_cancel))
        return -ECANCELED; /* cancelled as it was closed or timed out */
    switch (end) {
    case FDW_DONE:
        return 0;
    case FDW_CLOSED:
        return -EBADF;
    case FDW_CANCELLED:
        return -ECANCELED;
    default:
        return p->no_timer ? -ENOMEM : -ETIMEDOUT;
    }
}

void fd_lockwait_cancel(fdent *f, g *gp)
{
    g *wake = NULL;
    lock(&f->lk);
    for (waiter *w = f->waiters.head; w; w = w->next) {
        if (w->gp != gp)
            continue;
        int use = fdwaiter_of(w)->use;
        waitq_remove(&f->waiters, w);
        wait_bit_update(f, use);
        uint32_t zero = 0;
        if (cas_acq_rel(&gp->wake_token, &zero, 1)) {
            w->res = FDW_CANCELLED;
            wake = gp;
        }
        break;
    }
    unlock(&f->lk);
    if (wake)
        ready(wake);
}

/* ---------------------------------------------------------------------
 * Acquire and release
 * ------------------------------------------------------------------- */

int fd_acquire_slow(g *gp, int fd, enum fd_use use, fdhold *h)
{
    fdent *f = h->f;
    h->f = NULL; /* until something is held: fd_release is then a no-op */
    if (fd < 0)
        return 0; /* nothing to hold: the kernel answers -EBADF */
    if (!f)
        return fcntl(fd, F_GETFD) < 0 ? -EBADF : -ENOMEM;
    if (gp && load_relaxed(&gp->io_cancel))
        return -ECANCELED;
    uint64_t old = load_relaxed(&f->state);
    if (use == FD_USE_REF) {
        do {
            if (old & FD_CLOSING)
                return -EBADF;
        } while (!cas_acq_rel(&f->state, &old, old + FD_REF));
        h->f = f;
        return 0;
    }
    uint64_t bit = lock_bit(use);
    for (;;) {
        if (old & FD_CLOSING)
            return -EBADF;
        if (!(old & bit)) {
            if (cas_acq_rel(&f->state, &old, (old | bit) + FD_REF)) {
                h->f = f;
                return 0;
            }
            continue;
        }
        int r = lock_wait(gp, f, use);
        if (r == 0) {
            h->f = f;
            return 0;
        }
        if (r < 0)
            return r;
        old = load_relaxed(&f->state);
    }
}

/* A gr_close waiting for the last reference to go. */
typedef struct closewait {
    g *gp;         /* the closing goroutine, or NULL: */
    uint32_t done; /* futex of a closing thread that is not a goroutine */
} closewait;

/* The last reference of a closing fd went: wakes its gr_close. */
static void wake_closer(fdent *f)
{
    lock(&f->lk);
    closewait *cw = f->closer;
    f->closer = NULL;
    g *gp = cw ? cw->gp : NULL;
    if (cw && !gp) {
        /* Under lk: the closer takes lk before its closewait goes. */
        store_release(&cw->done, 1);
        futex_wake_one(&cw->done);
    }
    unlock(&f->lk);
    if (gp)
        ready(gp);
}

void fd_release_slow(fdhold *h)
{
    fdent *f = h->f;
    uint64_t left;
    if (h->use == FD_USE_REF) {
        left = __atomic_sub_fetch(&f->state, FD_REF, __ATOMIC_ACQ_REL);
    } else {
        lock(&f->lk);
        bool more = false;
        fdwaiter *next =
            (load_relaxed(&f->state) & wait_bit(h->use)) ? take_waiter(f, h->use, &more) : NULL;
        if (next) {
            /* Handed over: the lock stays taken, our reference is theirs. */
            if (!more)
                __atomic_fetch_and(&f->state, ~wait_bit(h->use), __ATOMIC_ACQ_REL);
            next->w.res = FDW_DONE;
            g *gp = next->w.gp;
            unlock(&f->lk);
            ready(gp);
            return;
        }
        uint64_t old = load_relaxed(&f->state);
        do
            left = (old & ~(lock_bit(h->use) | wait_bit(h->use))) - FD_REF;
        while (!cas_acq_rel(&f->state, &old, left));
        unlock(&f->lk);
    }
    if ((left & (FD_CLOSING | FD_REF_MASK)) == FD_CLOSING)
        wake_closer(f);
}

/* ---------------------------------------------------------------------
 * Requests in flight
 * ------------------------------------------------------------------- */

void fd_publish_slow(fdhold *h, fdreq *r)
{
    fdent *f = h->f;
    lock(&f->lk);
    r->prev = NULL;
    r->next = f->others;
    if (f->others)
        f->others->prev = r;
    f->others = r;
    unlock(&f->lk);
}

void fd_unpublish_slow(fdhold *h, fdreq *r)
{
    fdent *f = h->f;
    lock(&f->lk);
    if (r->prev)
        r->prev->next = r->next;
    else
        f->others = r->next;
    if (r->next)
        r->next->prev = r->prev;
    unlock(&f->lk);
}

/* ---------------------------------------------------------------------
 * gr_close
 * ------------------------------------------------------------------- */

/* FD_CLOSING is set: wakes the lock waiters with -EBADF and cancels every
 * request published on f (on the epoll engine: wakes the goroutines
 * parked on its readiness). */
static void close_evict(fdent *f)
{
    if (engine_epoll())
        ep_close_evict(f);
    waiter *wake = NULL, *w;
    lock(&f->lk);
    while ((w = waitq_pop(&f->waiters))) {
        uint32_t zero = 0;
        if (cas_acq_rel(&w->gp->wake_token, &zero, 1)) {
            w->res = FDW_CLOSED;
            w->next = wake;
            wake = w;
        }
    }
    __atomic_fetch_and(&f->state, ~(FD_RWAIT | FD_WWAIT), __ATOMIC_ACQ_REL);
    for (fdreq *r = f->others; r; r = r->next)
        wring_cancel(r->ud);
    unlock(&f->lk);
    while (wake) {
        waiter *next = wake->next;
        ready(wake->gp);
        wake = next;
    }
    /* Sequentially consistent, after the CAS that set FD_CLOSING: see
     * "Closing" above for the holder's side. */
    uint64_t ud = __atomic_load_n(&f->rud, __ATOMIC_SEQ_CST);
    if (ud)
        wring_cancel(ud);
    ud = __atomic_load_n(&f->wud, __ATOMIC_SEQ_CST);
    if (ud)
        wring_cancel(ud);
}

int fd_close_prepare(g *gp, int fd)
{
    fdent *f = fd_entry_find(fd);
    if (!f)
        return 0; /* greenrt never did I/O on it */
    uint64_t old = load_relaxed(&f->state);
    do {
        if (old & FD_CLOSING)
            return -EBADF;
    } while (!__atomic_compare_exchange_n(&f->state, &old, (old | FD_CLOSING) + FD_REF, false,
                                          __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    if (old & (FD_REF_MASK | FD_RWAIT | FD_WWAIT))
        close_evict(f);
    /* Our reference goes; wait for the others. */
    closewait cw = {.gp = gp};
    lock(&f->lk);
    if (__atomic_sub_fetch(&f->state, FD_REF, __ATOMIC_ACQ_REL) & FD_REF_MASK) {
        f->closer = &cw;
        if (gp) {
            park(GR_WAIT_IO, after_unlock, &f->lk);
        } else {
            unlock(&f->lk);
            while (!load_acquire(&cw.done))
                futex_wait(&cw.done, 0);
            lock(&f->lk); /* the waker is done with cw */
            unlock(&f->lk);
        }
    } else {
        unlock(&f->lk);
    }
    /* Nobody uses fd now, and nobody can start to while FD_CLOSING is
     * set: ready for the number's next file. */
    store_relaxed(&f->kind, FD_UNKNOWN);
    if (engine_epoll())
        ep_fd_reset(f);
    store_release(&f->state, 0);
    return 0;
}
