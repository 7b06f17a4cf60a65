/*
 * fd.h - what greenrt keeps per file descriptor (fd.c explains it): the
 * fd table, the read and write locks and reference count of each fd
 * (Go's fdMutex), the requests in flight on it, and gr_close's protocol.
 */
#ifndef GR_FD_H
#define GR_FD_H

#include <stdbool.h>
#include <stdint.h>

#include "g.h"
#include "lock.h"

/* fdent.state: flags, and the references in the high bits. */
#define FD_CLOSING (1ull << 0) /* gr_close has begun: new calls fail */
#define FD_RLOCK (1ull << 1)   /* a reader holds the read lock */
#define FD_WLOCK (1ull << 2)   /* a writer holds the write lock */
#define FD_RWAIT (1ull << 3)   /* readers wait for it (implies FD_RLOCK) */
#define FD_WWAIT (1ull << 4)   /* writers wait for it (implies FD_WLOCK) */
#define FD_REF_SHIFT 8
#define FD_REF (1ull << FD_REF_SHIFT) /* one call using the fd */

/* What a descriptor was last seen to be (io.c: a guess, never trusted). */
enum fd_kind { FD_UNKNOWN = 0, FD_SOCKET, FD_OTHER };

/* A request in flight that gr_close must be able to cancel: the
 * user_data of the request, published on the entry while it is in flight
 * (in fdent.rud / .wud for the lock holders, on fdent.others otherwise). */
typedef struct fdreq {
    struct fdreq *next, *prev;
    uint64_t ud;
} fdreq;

/* The epoll engine's readiness state of a descriptor (epoll.c): Go's
 * pollDesc.  Unused by the io_uring engine. */
typedef struct fdpoll {
    uint32_t rseq, wseq; /* atomic: readiness edges seen for reading
                            (EP_IN_EVENTS, errors) and writing */
    uint32_t owner;      /* atomic: index + 1 of the worker whose epoll
                            instance has the fd registered; 0: none */
    uint32_t gen;        /* atomic: the registration's generation, in its
                            events' data (stale events are ignored) */
    uint32_t nwait;      /* atomic: goroutines in `waiters` */
    uint8_t kind;        /* enum ep_kind (epoll_io.c), relaxed atomic */
    uint8_t flags;       /* EPF_* (epoll_io.c), relaxed atomic */
    uint8_t pad[2];
    waitq waiters;       /* goroutines parked on readiness (fdent.lk) */
} fdpoll;

/* Which fdpoll sequence an event, or a wait for events, concerns
 * (POLL* and EPOLL* have the same values). */
#define EP_IN_EVENTS (0x001 | 0x002 | 0x2000) /* POLLIN | POLLPRI | POLLRDHUP */
#define EP_OUT_EVENTS 0x004                   /* POLLOUT */

/* One per descriptor number, made on first use, never freed while the
 * runtime runs (reset by gr_close for the number's next file).  The
 * first cache line is what both engines use; the epoll engine keeps its
 * readiness state in the second. */
typedef struct fdent {
    uint64_t state;      /* atomic: FD_* flags + references */
    uint32_t lk;         /* guards waiters, others, closer, ep.waiters */
    uint8_t kind;        /* enum fd_kind (io.c), relaxed atomic */
    uint8_t pad[3];
    uint64_t rud, wud;   /* atomic: user_data of the read / write lock
                            holder's request in flight, 0 if none */
    waitq waiters;       /* goroutines waiting for a lock (lk) */
    fdreq *others;       /* requests of calls that hold no lock (lk) */
    void *closer;        /* the gr_close waiting for the last reference (lk) */
    fdpoll ep __attribute__((aligned(64))); /* the epoll engine's (epoll.c) */
} __attribute__((aligned(64))) fdent;

_Static_assert(sizeof(fdent) == 128, "an fd entry is two cache lines");

/* How a call uses its fd, for its whole duration. */
enum fd_use {
    FD_USE_REF,   /* a reference only: gr_poll, gr_connect, gr_fsync... */
    FD_USE_READ,  /* the read lock: reads, receives, accept */
    FD_USE_WRITE, /* the write lock: writes, sends */
};

/* What fd_acquire gave a call; fd_release gives it back. */
typedef struct fdhold {
    fdent *f;  /* NULL: nothing held (fd < 0: the kernel answers -EBADF) */
    uint8_t use; /* enum fd_use */
} fdhold;

/* --- the table ----------------------------------------------------------- */

#define FD_CHUNK_SHIFT 8 /* entries per chunk: 256 (32 KiB) */
#define FD_CHUNK_MASK ((1u << FD_CHUNK_SHIFT) - 1)

typedef struct fddir {
    uint32_t nchunks;
    struct fddir *retired; /* smaller directories it replaced (freed last) */
    fdent *chunks[];       /* atomic: NULL until fd_entry makes one */
} fddir;

extern fddir *fd_dir; /* atomic: the current directory, NULL until first use */

fdent *fd_entry_slow(int fd);

/* fd's entry, made on first use.  NULL for fd < 0, for a number that is
 * not open (when its chunk of the table would have to be made), or when
 * out of memory. */
static inline fdent *fd_entry(int fd)
{
    fddir *d = load_acquire(&fd_dir);
    uint32_t c = (uint32_t)fd >> FD_CHUNK_SHIFT;
    if (__builtin_expect(d && c < d->nchunks, 1)) {
        fdent *chunk = load_acquire(&d->chunks[c]);
        if (__builtin_expect(chunk != NULL, 1))
            return &chunk[(uint32_t)fd & FD_CHUNK_MASK];
    }
    return fd_entry_slow(fd);
}

/* fd's entry if greenrt has one, without making it. */
fdent *fd_entry_find(int fd);

/* The runtime stopped: frees the table (gr_run). */
void fd_table_free(void);

/* --- calls on an fd -------------------------------------------------------- */

int fd_acquire_slow(g *gp, int fd, enum fd_use use, fdhold *h);
void fd_release_slow(fdhold *h);

/* Takes what `use` needs of fd for the caller gp, waiting (parked) for
 * the lock if another goroutine holds it.  0; -EBADF if fd is being
 * closed; -ETIMEDOUT when gp's deadline passes while it waits;
 * -ECANCELED if io_cancel_g(gp) was called (first of these: see
 * io_interrupted, io.c); -ENOMEM (no entry, or no timer for the deadline
 * of a wait).  gp NULL, with FD_USE_REF only: a reference for a call
 * that cancellation does not stop (gr_shutdown). */
static inline int fd_acquire(g *gp, int fd, enum fd_use use, fdhold *h)
{
    h->use = (uint8_t)use;
    fdent *f = fd >= 0 ? fd_entry(fd) : NULL;
    h->f = f;
    if (f && use != FD_USE_REF) {
        uint64_t bit = use == FD_USE_READ ? FD_RLOCK : FD_WLOCK;
        uint64_t old = load_relaxed(&f->state);
        if (__builtin_expect(!(old & (FD_CLOSING | bit)) && !load_relaxed(&gp->io_cancel), 1) &&
            cas_acq_rel(&f->state, &old, (old | bit) + FD_REF))
            return 0;
    }
    return fd_acquire_slow(gp, fd, use, h);
}

/* Gives back what fd_acquire took (h->f may be NULL). */
static inline void fd_release(fdhold *h)
{
    fdent *f = h->f;
    if (!f)
        return;
    if (h->use != FD_USE_REF) {
        uint64_t bit = h->use == FD_USE_READ ? FD_RLOCK : FD_WLOCK;
        uint64_t wait = h->use == FD_USE_READ ? FD_RWAIT : FD_WWAIT;
        uint64_t old = load_relaxed(&f->state);
        /* Uncontended and not closing: one CAS. */
        if (__builtin_expect(!(old & (wait | FD_CLOSING)), 1) &&
            cas_acq_rel(&f->state, &old, (old & ~bit) - FD_REF))
            return;
    }
    fd_release_slow(h);
}

/* While a request is in flight: publish it where gr_close looks (and take
 * it back once completed).  h->f may be NULL. */
void fd_publish_slow(fdhold *h, fdreq *r);
void fd_unpublish_slow(fdhold *h, fdreq *r);
static inline void fd_publish(fdhold *h, fdreq *r)
{
    if (!h->f)
        return;
    if (h->use == FD_USE_READ)
        store_relaxed(&h->f->rud, r->ud);
    else if (h->use == FD_USE_WRITE)
        store_relaxed(&h->f->wud, r->ud);
    else
        fd_publish_slow(h, r);
}
static inline void fd_unpublish(fdhold *h, fdreq *r)
{
    if (!h->f)
        return;
    if (h->use == FD_USE_READ)
        store_relaxed(&h->f->rud, 0);
    else if (h->use == FD_USE_WRITE)
        store_relaxed(&h->f->wud, 0);
    else
        fd_unpublish_slow(h, r);
}

/* gr_close has begun on the fd h holds. */
static inline bool fd_closing(const fdhold *h)
{
    return h->f && (load_relaxed(&h->f->state) & FD_CLOSING);
}

/* gr_close's first half, from a goroutine (gp) or any other thread (gp
 * NULL): marks fd closing, wakes the goroutines waiting for its locks,
 * cancels the requests in flight on it, and waits until every call using
 * fd has returned; then resets the entry for the number's next file.  0:
 * the caller now closes fd; -EBADF: another gr_close of fd is under way. */
int fd_close_prepare(g *gp, int fd);

/* A goroutine waiting for an fd lock was cancelled (io_cancel_g): wakes
 * it, if it still waits on f. */
void fd_lockwait_cancel(fdent *f, g *gp);

/* A goroutine parking on a queue of f's (f->lk held until it has
 * stopped), with an optional deadline: park(reason, after_fdwait_park,
 * &p) arms the deadline's timer (timer_fire_wake: the wake token decides)
 * and unlocks f->lk.  no_timer: the timer could not be armed, and the
 * wait ended at once (its call returns -ENOMEM). */
typedef struct fdwait_park {
    fdent *f;
    g *gp;
    int64_t deadline;
    bool no_timer;
} fdwait_park;
void after_fdwait_park(struct worker *w, void *arg);

/* How a wait on one of f's queues ended (the waiter's w.res, set by the
 * waker that won its wake token; 0 when nobody did: its timer). */
enum fdwait_end { FDW_TIMEDOUT = 0, FDW_DONE, FDW_CLOSED, FDW_CANCELLED };

/* What the woken call returns for `end`: 0 (FDW_DONE: the lock granted,
 * the fd ready), -EBADF (closed), -ECANCELED (its group's cancel, which
 * wins over a close or deadline it raced), -ETIMEDOUT, or -ENOMEM when
 * p's timer could not be armed. */
int fdwait_result(const fdwait_park *p, unsigned end);

#endif
