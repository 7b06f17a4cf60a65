/*
 * bufring.c - provided buffers: gr_recv_buf / gr_buf_release.
 *
 * A goroutine waiting in gr_read holds its buffer for as long as the
 * connection is idle: 10,000 idle connections pin 10,000 buffers.  With a
 * provided-buffer ring (io_uring_register_buf_ring + IOSQE_BUFFER_SELECT)
 * the receive names a buffer *group* instead, and the kernel picks a
 * buffer only when data arrives.  Each worker lazily registers one group
 * on its ring.
 *
 * Incremental consumption.  Where the kernel has it (IOU_PBUF_RING_INC,
 * Linux 6.12), the group holds a few large chunks that the kernel fills
 * piecewise: a 64-byte message takes 64 bytes of the current chunk, not a
 * whole buffer.  That matters because a completion-based server keeps the
 * bytes of every *queued* request in its own memory (a readiness-based one
 * leaves them in the socket until it reads): under 10,000 busy clients
 * nearly all of them are queued at once (Little's law), which is 40 MB in
 * whole RECV_MAX buffers and 640 KB in 64-byte pieces.  Each receive returns a
 * slice of a chunk; a chunk goes back to the ring when the kernel has
 * moved past it and every slice of it has been released.  Slices are
 * carved at dispatch, in completion order, which is the order in which the
 * kernel consumed the chunk (uring.c calls bufring_complete): the offset
 * of a piece is known only there.  Without INC every completion consumes
 * a whole buffer: the same bookkeeping with one slice per buffer.
 *
 * Ownership: a chunk holds one reference for the kernel (dropped by the
 * completion that does not carry IORING_CQE_F_BUF_MORE) and one per slice
 * handed out; the last one puts it back on the ring.  A zero-byte
 * completion never drops the kernel's reference: a fixed kernel reports
 * BUF_MORE for it, and an older one that does not has not moved its head
 * either - re-adding that chunk would give it two owners.  All of it is
 * under the pool's lock, since slices are released on whichever worker
 * the goroutine has migrated to, and the app side of a buffer ring has a
 * single producer.
 *
 * When the pool is exhausted the kernel fails the receive with -ENOBUFS
 * at once, data or not.  Retrying the pool then starves: every chunk that
 * comes back is taken by the receives queued next, and the goroutines
 * that missed keep missing.  So a receive that misses waits for
 * readability instead (holding nothing) and reads into a spare buffer
 * from a small per-worker free list, used last-in first-out so that the
 * few in use stay in cache.  Rejected: a pool sized for the worst burst
 * (resident for good once the ring has cycled through it), and waiting
 * for buffers to come back (a timer per miss, and the starvation above).
 *
 * Provisioning.  The ring cycles through every chunk on it, so every chunk
 * ever put there becomes resident.  A pool therefore starts with
 * INIT_CHUNKS on the ring and puts another of its reserve there whenever
 * fewer than LOW_WATER wait for the kernel (checked at each completion),
 * or GROW_ON_EMPTY of them when a receive finds the ring empty: it grows
 * to the working set of its load - INIT_CHUNKS for 100 echo clients, all
 * INC_CHUNKS under 10,000 - instead of costing its whole size per worker
 * from the first byte.
 *
 * The epoll engine has no provided buffers; the same promise (an idle
 * connection pins no buffer) is kept by reading into a spare only once
 * the socket has data: the receive takes a spare, tries recv(2) with
 * MSG_DONTWAIT, and on EAGAIN gives the spare back before it parks.  A
 * readiness-based server leaves queued bytes in the socket, so a spare
 * is held only between the receive and its release.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bufring.h"
#include "engine.h"
#include "fatal.h"
#include "fd.h"
#include "greenrt.h"
#include "io.h"
#include "sched.h"

/* Debian 12's liburing (2.3) predates incremental buffers: the kernel ABI
 * values, and the register struct's flags are its old pad field. */
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2
#define BUF_REG_FLAGS pad
#else
#define BUF_REG_FLAGS flags
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)
#endif

#define BUF_GROUP 1
#define RECV_MAX 4096u          /* bytes one receive may return */
/* Incremental: at most INC_CHUNKS x INC_CHUNK_SIZE (1 MiB) a worker;
 * what provisioning has put on the ring becomes resident, as the ring
 * cycles through it, the reserve only once it is put there. */
#define INC_CHUNKS 64u          /* power of two */
#define INC_CHUNK_SIZE (16u * 1024)
/* Whole buffers (no INC): as much, FULL_CHUNKS x FULL_CHUNK_SIZE. */
#define FULL_CHUNKS 256u        /* power of two */
#define FULL_CHUNK_SIZE RECV_MAX
#define INIT_CHUNKS 4u          /* on the ring from the start */
#define LOW_WATER 2u            /* fewer waiting for the kernel: add one */
#define GROW_ON_EMPTY 8u        /* added when a receive found none */
#define SPARE_POOL UINT32_MAX   /* gr_buf._pool of a spare buffer */
#define SPARES_KEPT 64          /* per worker; more are freed on release */

/* A handed-out piece of a chunk; desc is what the caller sees. */
typedef struct slice {
    gr_buf desc;
    struct slice *next;         /* free list */
} slice;

/* A buffer for a receive that found the pool empty: header and bytes. */
typedef struct spare {
    gr_buf desc;
    struct spare *next;
    char data[RECV_MAX];
} spare;

typedef struct chunk {
    char *mem;
    uint32_t off;               /* bytes the kernel has filled so far */
    uint32_t refs;              /* the kernel's (while on the ring) + slices */
} chunk;

typedef struct bufpool {
    uint32_t lock;              /* guards everything below but spares */
    struct io_uring_buf_ring *br;
    bool incremental;
    uint32_t nchunks, chunk_size;
    uint32_t nadded;            /* chunks [0, nadded) circulate; the rest wait */
    uint32_t on_ring;           /* chunks the kernel owns (on the ring) */
    char *mem;                  /* nchunks * chunk_size */
    chunk *chunks;
    slice *free_slices;
    spare *spares;              /* free spare buffers (owner only) */
    int nspares;
} bufpool;

/* Puts chunk bid back on the ring: the kernel's reference again. */
static void chunk_readd(bufpool *p, uint32_t bid)
{
    chunk *c = &p->chunks[bid];
    c->off = 0;
    c->refs = 1;
    p->on_ring++;
    io_uring_buf_ring_add(p->br, c->mem, p->chunk_size, (unsigned short)bid,
                          io_uring_buf_ring_mask(p->nchunks), 0);
    io_uring_buf_ring_advance(p->br, 1);
}

static void chunk_unref(bufpool *p, uint32_t bid)
{
    if (--p->chunks[bid].refs == 0)
        chunk_readd(p, bid);
}

/* Puts up to n chunks of the reserve on the ring (lock held). */
static void pool_provision(bufpool *p, uint32_t n)
{
    for (; n > 0 && p->nadded < p->nchunks; n--) {
        uint32_t bid = p->nadded++;
        p->chunks[bid].mem = p->mem + (size_t)bid * p->chunk_size;
        chunk_readd(p, bid);
    }
}

static void pool_destroy(bufpool *p)
{
    if (p->br && p->br != MAP_FAILED)
        munmap(p->br, p->nchunks * sizeof(struct io_uring_buf));
    if (p->mem && p->mem != MAP_FAILED)
        munmap(p->mem, (size_t)p->nchunks * p->chunk_size);
    while (p->free_slices) {
        slice *s = p->free_slices;
        p->free_slices = s->next;
        free(s);
    }
    while (p->spares) {
        spare *sp = p->spares;
        p->spares = sp->next;
        free(sp);
    }
    free(p->chunks);
    free(p);
}

/* Maps and registers a pool: incremental if inc, else whole buffers. */
static bufpool *pool_create(worker *w, bool inc)
{
    bufpool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->incremental = inc;
    p->nchunks = inc ? INC_CHUNKS : FULL_CHUNKS;
    p->chunk_size = inc ? INC_CHUNK_SIZE : FULL_CHUNK_SIZE;
    p->chunks = calloc(p->nchunks, sizeof *p->chunks);
    p->br = mmap(NULL, p->nchunks * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                 MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    p->mem = mmap(NULL, (size_t)p->nchunks * p->chunk_size, PROT_READ | PROT_WRITE,
                  MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
    if (!p->chunks || p->br == MAP_FAILED || p->mem == MAP_FAILED)
        goto fail;
    io_uring_buf_ring_init(p->br);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)p->br,
                                   .ring_entries = p->nchunks,
                                   .bgid = BUF_GROUP,
                                   .BUF_REG_FLAGS = inc ? IOU_PBUF_RING_INC : 0};
    if (io_uring_register_buf_ring(&w->ring.ring, &reg, 0) < 0)
        goto fail;
    pool_provision(p, INIT_CHUNKS);
    return p;
fail:
    pool_destroy(p);
    return NULL;
}

static bufpool *pool_get(worker *w)
{
    if (!w->bufpool && engine_epoll()) {
        w->bufpool = calloc(1, sizeof(bufpool)); /* spares only */
    } else if (!w->bufpool) {
        bufpool *p = pool_create(w, true);
        if (!p)
            p = pool_create(w, false); /* a kernel before 6.12 */
        w->bufpool = p;
    }
    return w->bufpool;
}

void bufpool_free(worker *w)
{
    if (w->bufpool)
        pool_destroy(w->bufpool);
    w->bufpool = NULL;
}

/* Dispatch of a completion that carries a provided buffer (uring.c), on
 * the ring's own worker and in completion order.  Returns the slice for
 * the waiting goroutine, or NULL for a zero-byte or failed receive. */
gr_buf *bufring_complete(worker *w, int32_t res, uint32_t cflags)
{
    bufpool *p = w->bufpool;
    uint32_t bid = cflags >> IORING_CQE_BUFFER_SHIFT;
    if (!p || bid >= p->nchunks)
        return NULL;
    slice *s = NULL;
    lock(&p->lock);
    chunk *c = &p->chunks[bid];
    if (res > 0) {
        s = p->free_slices;
        if (s)
            p->free_slices = s->next;
        else if (!(s = malloc(sizeof *s)))
            fatal("out of memory for a received buffer's descriptor"); /* as Go */
        s->desc.data = c->mem + c->off;
        s->desc.len = (size_t)res;
        s->desc._bid = bid;
        s->desc._pool = (uint32_t)w->index;
        c->refs++;
        c->off += (uint32_t)res;
    }
    /* The kernel is done with the chunk: it consumed all of it (INC), or
     * any completion at all consumes a whole buffer (no INC). */
    bool kernel_done = p->incremental ? res > 0 && !(cflags & IORING_CQE_F_BUF_MORE) : true;
    if (kernel_done) {
        p->on_ring--;
        chunk_unref(p, bid);
    }
    if (p->on_ring < LOW_WATER)
        pool_provision(p, 1);
    unlock(&p->lock);
    return s ? &s->desc : NULL;
}

static int pool_ensure(worker *w)
{
    return pool_get(w) ? 0 : -ENOMEM;
}

/* A spare buffer from the current worker's list, or a new one (NULL: no
 * memory). */
static spare *spare_take(void)
{
    bufpool *p = current_worker()->bufpool;
    spare *sp = p ? p->spares : NULL;
    if (sp) {
        p->spares = sp->next;
        p->nspares--;
    } else if (!(sp = malloc(sizeof *sp))) {
        return NULL;
    }
    sp->desc.data = sp->data;
    sp->desc._pool = SPARE_POOL;
    sp->desc._bid = 0;
    return sp;
}

/* The pool was empty: wait until fd is readable, then read into a spare
 * (h: the read hold of fd). */
static ssize_t recv_spare(fdhold *h, int fd, gr_buf **out)
{
    int pr = io_wait_readable(h, fd);
    if (pr < 0)
        return pr;
    spare *sp = spare_take(); /* on the worker we are on after the park */
    if (!sp)
        return -ENOMEM;
    ssize_t r = io_recv(h, fd, sp->data, RECV_MAX, 0);
    if (r <= 0) {
        gr_buf_release(&sp->desc);
        return r;
    }
    sp->desc.len = (size_t)r;
    *out = &sp->desc;
    return r;
}

static void spare_release(spare *sp)
{
    worker *w = current_worker();
    bufpool *p = w ? w->bufpool : NULL;
    if (!p || p->nspares >= SPARES_KEPT) {
        free(sp);
        return;
    }
    sp->next = p->spares;
    p->spares = sp;
    p->nspares++;
}

/* gr_recv_buf under the read hold h of fd. */
static ssize_t recv_buf(fdhold *h, int fd, gr_buf **out)
{
    gr_buf *b = NULL;
    int r = io_recv_select(h, fd, BUF_GROUP, RECV_MAX, pool_ensure, &b);
    if (r == -ENOBUFS) {
        /* The ring was empty: grow it for the receives to come (this one
         * has lost its turn; it waits for data, then takes a spare). */
        bufpool *p = current_worker()->bufpool;
        if (p) {
            lock(&p->lock);
            pool_provision(p, GROW_ON_EMPTY);
            unlock(&p->lock);
        }
        return recv_spare(h, fd, out);
    }
    if (r <= 0)
        return r; /* end of stream or error: no slice was made */
    if (!b)
        return -EIO; /* bytes without a slice: not a provided buffer */
    *out = b;
    return r;
}

/* gr_recv_buf's attempt on the epoll engine: a spare only if there are
 * bytes for it. */
struct recv_try {
    int fd;
    gr_buf *got;
};

static ssize_t try_recv_spare(void *arg)
{
    struct recv_try *t = arg;
    spare *sp = spare_take();
    if (!sp)
        return -ENOMEM;
    ssize_t r = recv(t->fd, sp->data, RECV_MAX, MSG_DONTWAIT);
    if (r <= 0) {
        int e = errno;
        spare_release(sp);
        return r < 0 ? -e : 0;
    }
    sp->desc.len = (size_t)r;
    t->got = &sp->desc;
    return r;
}

/* gr_recv_buf under the read hold h of fd, on the epoll engine. */
static ssize_t recv_buf_epoll(fdhold *h, int fd, gr_buf **out)
{
    if (!pool_get(current_worker()))
        return -ENOMEM;
    struct recv_try t = {.fd = fd};
    ssize_t r = ep_io(current_g(), h, fd, POLLIN, true, IORING_OP_RECV, try_recv_spare, &t);
    if (r > 0)
        *out = t.got;
    return r;
}

ssize_t gr_recv_buf(int fd, gr_buf **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    worker *w = current_worker();
    if (!w || !w->cur || w->cur->is_g0)
        return -EOPNOTSUPP; /* needs a worker's ring */
    /* A receive like the others: the fd's read lock, for the whole call. */
    fdhold h;
    int r = fd_acquire(w->cur, fd, FD_USE_READ, &h);
    if (r)
        return r;
    ssize_t n = engine_epoll() ? recv_buf_epoll(&h, fd, out) : recv_buf(&h, fd, out);
    fd_release(&h);
    return n;
}

void gr_buf_release(gr_buf *b)
{
    if (!b)
        return;
    if (b->_pool == SPARE_POOL) {
        spare_release((spare *)((char *)b - offsetof(spare, desc)));
        return;
    }
    if (!sched.workers || b->_pool >= (uint32_t)sched.nprocs)
        return;
    bufpool *p = sched.workers[b->_pool].bufpool;
    if (!p)
        return;
    slice *s = (slice *)((char *)b - offsetof(slice, desc));
    lock(&p->lock);
    chunk_unref(p, b->_bid);
    s->next = p->free_slices;
    p->free_slices = s;
    unlock(&p->lock);
}
