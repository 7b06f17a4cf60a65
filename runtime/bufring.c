/*
 * bufring.c - provided buffers: gr_recv_buf / gr_buf_release.
 *
 * A goroutine waiting in gr_read holds its buffer for as long as the
 * connection is idle: 10,000 idle connections pin 10,000 buffers.  With a
 * provided-buffer ring (io_uring_register_buf_ring + IOSQE_BUFFER_SELECT)
 * the receive names a buffer *group* instead, and the kernel picks a
 * buffer only when data arrives.  Each worker lazily registers one group
 * of BUF_COUNT buffers of BUF_SIZE bytes on its ring.  A buffer is
 * returned to its pool - which may belong to another worker, goroutines
 * migrate - under the pool's lock: the app side of a buffer ring has a
 * single producer.
 *
 * When the pool is exhausted the kernel fails the receive with -ENOBUFS;
 * the goroutine then waits for readability and for buffers to come back,
 * and retries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>

#include "greenrt.h"
#include "sched.h"

/* The kernel takes buffers from the ring's head and we return them at the
 * tail, so over time every buffer of the pool gets written: the pool's
 * size is memory the process will hold.  1,024 x 4 KiB (4 MiB a worker)
 * covers a thousand receives completing in one scheduling round. */
#define BUF_COUNT 1024u /* power of two */
#define BUF_SIZE 4096u
#define BUF_GROUP 1

typedef struct bufpool {
    uint32_t lock;               /* guards br's tail (we are the producer) */
    struct io_uring_buf_ring *br;
    char *mem;                   /* BUF_COUNT * BUF_SIZE */
    gr_buf descs[BUF_COUNT];     /* handed out by gr_recv_buf */
} bufpool;

static void pool_put(bufpool *p, uint32_t bid)
{
    lock(&p->lock);
    io_uring_buf_ring_add(p->br, p->mem + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(BUF_COUNT), 0);
    io_uring_buf_ring_advance(p->br, 1);
    unlock(&p->lock);
}

static bufpool *pool_get(worker *w)
{
    if (w->bufpool)
        return w->bufpool;
    bufpool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    p->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    p->mem = mmap(NULL, (size_t)BUF_COUNT * BUF_SIZE, PROT_READ | PROT_WRITE,
                  MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
    if (p->br == MAP_FAILED || p->mem == MAP_FAILED)
        goto fail;
    io_uring_buf_ring_init(p->br);
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)p->br, .ring_entries = BUF_COUNT, .bgid = BUF_GROUP};
    if (io_uring_register_buf_ring(&w->ring.ring, &reg, 0) < 0)
        goto fail;
    for (uint32_t i = 0; i < BUF_COUNT; i++) {
        io_uring_buf_ring_add(p->br, p->mem + (size_t)i * BUF_SIZE, BUF_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(BUF_COUNT), (int)i);
        p->descs[i]._bid = i;
        p->descs[i]._pool = (uint32_t)w->index;
        p->descs[i].data = p->mem + (size_t)i * BUF_SIZE;
    }
    io_uring_buf_ring_advance(p->br, BUF_COUNT);
    w->bufpool = p;
    return p;
fail:
    if (p->br && p->br != MAP_FAILED)
        munmap(p->br, ring_bytes);
    if (p->mem && p->mem != MAP_FAILED)
        munmap(p->mem, (size_t)BUF_COUNT * BUF_SIZE);
    free(p);
    return NULL;
}

void bufpool_free(worker *w)
{
    bufpool *p = w->bufpool;
    if (!p)
        return;
    munmap(p->br, BUF_COUNT * sizeof(struct io_uring_buf));
    munmap(p->mem, (size_t)BUF_COUNT * BUF_SIZE);
    free(p);
    w->bufpool = NULL;
}

int io_recv_select(int fd, int bgid, unsigned len, int (*ensure_pool)(worker *w),
                   uint32_t *cflags, int *ring_worker); /* io.c */

static int pool_ensure(worker *w)
{
    return pool_get(w) ? 0 : -ENOMEM;
}

ssize_t gr_recv_buf(int fd, gr_buf **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    worker *w = current_worker();
    if (!w || !w->cur || w->cur->is_g0)
        return -EOPNOTSUPP; /* needs a worker's ring */
    for (;;) {
        uint32_t cflags = 0;
        int ring = 0;
        int r = io_recv_select(fd, BUF_GROUP, BUF_SIZE, pool_ensure, &cflags, &ring);
        if (r == -ENOBUFS) {
            /* Every buffer of that worker is out: wait for data and for
             * buffers to come back, then try again (maybe elsewhere). */
            int pr = gr_poll(fd, POLLIN, -1);
            if (pr < 0)
                return pr;
            gr_sleep(100000);
            continue;
        }
        if (r < 0)
            return r;
        if (!(cflags & IORING_CQE_F_BUFFER))
            return r == 0 ? 0 : -EIO; /* EOF: no buffer was used */
        /* The buffer is from the pool of the ring the request went to. */
        bufpool *p = sched.workers[ring].bufpool;
        uint32_t bid = cflags >> IORING_CQE_BUFFER_SHIFT;
        gr_buf *b = &p->descs[bid];
        b->len = (size_t)r;
        if (r == 0) {
            pool_put(p, bid);
            return 0;
        }
        *out = b;
        return r;
    }
}

void gr_buf_release(gr_buf *b)
{
    if (!b || !sched.workers || b->_pool >= (uint32_t)sched.nprocs)
        return;
    bufpool *p = sched.workers[b->_pool].bufpool;
    if (p)
        pool_put(p, b->_bid);
}
