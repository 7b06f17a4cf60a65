/*
 * engine.c - choosing the I/O engine (engine.h), and gr_engine().
 *
 * GR_ENGINE=uring runs io_uring or fails (gr_run returns the -errno of
 * the ring that could not be made, and says so on stderr); epoll runs
 * epoll; auto, the default, runs io_uring where it works with what
 * greenrt needs and epoll elsewhere.  "Works" is decided by a probe ring
 * made and destroyed in gr_run, before the workers start: io_uring_setup
 * itself (refused by seccomp, kernel.io_uring_disabled, old kernels), the
 * features the io_uring engine relies on (no dropped completions, fast
 * poll for sockets, timeouts in io_uring_enter), the opcodes it submits,
 * and provided-buffer rings (gr_recv_buf).  A kernel that lacks one of
 * them gets the epoll engine rather than a runtime that fails later.
 * GR_DEBUG prints which engine, and why, in one line.
 *
 * Rejected: falling back when a worker's ring fails in the middle of the
 * start (the workers would have to agree, and an error such as EMFILE is
 * not a reason to change engines); probing once per process (a sysctl or
 * a seccomp filter may change between two gr_run).
 */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "engine.h"
#include "greenrt.h"
#include "sched.h"

static bool engine_ran; /* a runtime has started: gr_engine() has an answer */

const char *engine_name(int kind)
{
    return kind == ENGINE_EPOLL ? "epoll" : "uring";
}

/* The opcodes the io_uring engine submits (io.c, uring.c). */
static const struct {
    int op;
    const char *name;
} needed_ops[] = {
    {IORING_OP_READ, "READ"},         {IORING_OP_WRITE, "WRITE"},
    {IORING_OP_READV, "READV"},       {IORING_OP_WRITEV, "WRITEV"},
    {IORING_OP_RECV, "RECV"},         {IORING_OP_SEND, "SEND"},
    {IORING_OP_ACCEPT, "ACCEPT"},     {IORING_OP_CONNECT, "CONNECT"},
    {IORING_OP_CLOSE, "CLOSE"},       {IORING_OP_SHUTDOWN, "SHUTDOWN"},
    {IORING_OP_OPENAT, "OPENAT"},     {IORING_OP_FSYNC, "FSYNC"},
    {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
};

/* What of the above `ring` lacks, or NULL. */
static const char *ring_lacks(struct io_uring *ring, const struct io_uring_params *p)
{
    if (!(p->features & IORING_FEAT_NODROP))
        return "IORING_FEAT_NODROP (Linux 5.5)";
    if (!(p->features & IORING_FEAT_FAST_POLL))
        return "IORING_FEAT_FAST_POLL (Linux 5.7)";
    if (!(p->features & IORING_FEAT_EXT_ARG))
        return "IORING_FEAT_EXT_ARG (Linux 5.11)";
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    if (!probe)
        return "the opcode probe (Linux 5.6)";
    const char *lacks = NULL;
    for (size_t i = 0; i < sizeof needed_ops / sizeof needed_ops[0] && !lacks; i++)
        if (!io_uring_opcode_supported(probe, needed_ops[i].op))
            lacks = needed_ops[i].name;
    io_uring_free_probe(probe);
    if (lacks)
        return lacks;
    /* Provided-buffer rings (Linux 5.19): register one of a page. */
    size_t len = 4096;
    void *br = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (br == MAP_FAILED)
        return NULL; /* no memory now is not a missing feature */
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = 1, .bgid = 0};
    int r = io_uring_register_buf_ring(ring, &reg, 0);
    if (r == 0)
        io_uring_unregister_buf_ring(ring, 0);
    munmap(br, len);
    return r == -EINVAL || r == -ENOSYS || r == -EOPNOTSUPP ? "provided-buffer rings (Linux 5.19)"
                                                            : NULL;
}

/* 0 if io_uring works here with what the engine needs; else -errno and
 * why (in why). */
static int uring_probe(char *why, size_t n)
{
    struct io_uring ring;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int err = io_uring_queue_init_params(8, &ring, &p);
    if (err) {
        snprintf(why, n, "io_uring_setup failed: %s", strerror(-err));
        return err;
    }
    const char *lacks = ring_lacks(&ring, &p);
    io_uring_queue_exit(&ring);
    if (lacks) {
        snprintf(why, n, "io_uring lacks %s", lacks);
        return -EOPNOTSUPP;
    }
    snprintf(why, n, "io_uring works, with what greenrt needs");
    return 0;
}

int engine_choose(void)
{
    char why[160] = "";
    const char *how = "auto";
    switch (sched.engine_want) {
    case ENGINE_WANT_URING:
        sched.engine = ENGINE_URING;
        how = "uring";
        snprintf(why, sizeof why, "as asked");
        break;
    case ENGINE_WANT_EPOLL:
        sched.engine = ENGINE_EPOLL;
        how = "epoll";
        snprintf(why, sizeof why, "as asked");
        break;
    default:
        sched.engine = uring_probe(why, sizeof why) == 0 ? ENGINE_URING : ENGINE_EPOLL;
        break;
    }
    engine_ran = true;
    if (getenv("GR_DEBUG"))
        fprintf(stderr, "greenrt: I/O engine %s (GR_ENGINE=%s: %s)\n", engine_name(sched.engine),
                how, why);
    return 0;
}

const char *gr_engine(void)
{
    return engine_ran ? engine_name(sched.engine) : NULL;
}
