/*
 * greenrt.h - Go-style goroutines for C on Linux: the whole public API.
 * The manual says the same at more length: greenrt(3), and a page per
 * group below (gr_run(3), gr_go(3), gr_chan(3), gr_select(3), gr_sync(3),
 * gr_io(3), gr_net(3), gr_blocking(3), gr_group(3), gr_stats(3)).
 *
 * greenrt multiplexes goroutines (green threads with their own stacks) M:N
 * onto a few OS threads called workers.  A goroutine that blocks - on a
 * channel, a mutex, a timer or I/O - parks: its worker runs another
 * goroutine instead of blocking in the kernel.  I/O is done through one
 * io_uring per worker (or, where io_uring is refused - a container's
 * seccomp profile, kernel.io_uring_disabled - through one epoll instance
 * per worker: GR_ENGINE), so a goroutine waiting for a socket costs a few
 * kilobytes of memory and no OS thread.
 *
 * Conventions (as liburing):
 *   - functions that can fail return -errno (0 or a count on success);
 *   - functions that return a pointer return NULL and set errno;
 *   - every synchronisation type is ready to use when zero-initialised;
 *   - blocking calls must be made from a goroutine (inside gr_run).  Called
 *     from any other thread they are a fatal error, as a Go panic is;
 *   - relative timeouts (gr_sleep, gr_select, gr_cond_wait_timeout,
 *     gr_poll) saturate: one too large to add to gr_now() (INT64_MAX)
 *     never expires, as in Go.
 *
 * Rules for code that runs in goroutines (the runtime cannot check them):
 *   - A goroutine may resume on a different OS thread after any call that
 *     can park or yield (every blocking gr_ call, gr_yield, and, with
 *     preemption on, any instruction of your own code).  Do not keep the
 *     address of a __thread variable, or errno, across such a call: re-read
 *     it.  The gr_ functions never report through errno except where a
 *     pointer is returned.
 *   - Do not hold a pthread mutex, spinlock or any OS-thread-owned lock
 *     across a blocking gr_ call: another goroutine on the same worker may
 *     need it and the worker would deadlock.  Use gr_mutex instead.
 *   - Asynchronous preemption (see "Preemption" below) only interrupts code
 *     that lies outside libc, the dynamic loader and greenrt itself, so a
 *     goroutine inside malloc() or printf() is never switched out midway.
 *     Code of your own that must not be interrupted (a pthread lock held
 *     in a tight section, a signal-unsafe library) brackets itself with
 *     gr_preempt_disable()/gr_preempt_enable().
 *   - Blocking system calls made directly (read(2) on a blocking fd,
 *     sleep(3)) block their worker.  Within a monitor period (10 ms) the
 *     goroutines queued behind it are handed to the other workers and its
 *     due timers fired, but I/O in flight on its ring waits for the call
 *     to return, and with GR_PROCS=1 everything waits.  Use the gr_ I/O
 *     calls, or gr_blocking() for calls io_uring cannot do.  The monitor
 *     never signals a worker blocked in the kernel (as Go never signals a
 *     thread in a system call), so such calls see no EINTR from greenrt;
 *     its preemption signal (SIGURG) goes only to a worker that is running
 *     code, and can interrupt a raw call only one that starts at that very
 *     instant - a loop of short raw calls should still retry on EINTR.
 *
 * Environment, read by gr_run (a malformed value makes gr_run print what
 * is wrong on stderr and return -EINVAL; nothing is silently defaulted):
 *   GR_PROCS        number of workers, 1..1024
 *                   (default: CPUs in the affinity mask)
 *   GR_STACK_SIZE   default goroutine stack size in bytes, optional k/m
 *                   suffix, 16k..1g, rounded up to the page size
 *                   (default GR_DEFAULT_STACK_SIZE)
 *   GR_PREEMPT      1 (default) or 0: asynchronous preemption on or off
 *                   (unset, off in a program with a static libc: see
 *                   "Preemption")
 *   GR_ADAPTIVE     1 (default) or 0: the CPU governor.  GR_PROCS is then
 *                   a maximum: while the workers wait for a CPU (the
 *                   machine is busy with other work), the monitor parks
 *                   workers, and unparks them when CPUs go idle again;
 *                   gr_nprocs_active() says how many run goroutines
 *   GR_SCHED_RANDOM 0 (default) or 1: randomise run-queue order, so tests
 *                   can check that nothing depends on an order greenrt does
 *                   not promise
 *   GR_ENGINE       the I/O engine: auto (default), uring or epoll.  auto
 *                   runs io_uring where it works with what greenrt needs
 *                   (Linux 5.19 or later, not refused by seccomp or
 *                   kernel.io_uring_disabled) and epoll elsewhere; uring
 *                   makes gr_run fail with io_uring's error instead;
 *                   epoll always runs epoll.  Both serve the whole API
 *                   with the same semantics (the differences are listed
 *                   under I/O); gr_engine() says which one runs
 *   GR_DEBUG        set: print at start which I/O engine runs and why,
 *                   which io_uring features the worker rings got
 *                   (SINGLE_ISSUER, DEFER_TASKRUN, MSG_RING...) and
 *                   whether asynchronous preemption is off for a static
 *                   libc, and each decision of the CPU governor with its
 *                   reason
 */
#ifndef GREENRT_H
#define GREENRT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The release, as in the top-level VERSION file (the build checks that the
 * two agree).  The shared library's soname changes with the major number. */
#define GREENRT_VERSION_MAJOR 0
#define GREENRT_VERSION_MINOR 1
#define GREENRT_VERSION_PATCH 0

/* Everything declared in this header is the library's API and is exported
 * from libgreenrt.so; the runtime is compiled with -fvisibility=hidden, so
 * nothing else is.  A pragma rather than a macro on each declaration: a
 * function added to the header is exported without anyone remembering to
 * mark it, and the header still reads as a table of contents.  (The ABI
 * test, tests/integration/library/test_abi.sh, checks the other half: that
 * each declared function is in the version script runtime/greenrt.map.) */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* Default goroutine stack: 64 KiB of address space, of which only the
 * pages a goroutine touches cost memory (a parked goroutine typically
 * touches one page). */
#define GR_DEFAULT_STACK_SIZE (64u * 1024u)
#define GR_MIN_STACK_SIZE (16u * 1024u)
#define GR_MAX_STACK_SIZE (1024u * 1024u * 1024u)

/* ======================================================================
 * Lifecycle
 *
 * gr_run starts the workers, runs main_fn(arg) as the first goroutine and
 * returns 0 when main_fn returns.  As in Go, goroutines still alive then
 * are abandoned: they are never resumed and their stacks are freed.
 * gr_run may be called again afterwards (each call is a fresh runtime),
 * but not concurrently and not from inside a goroutine.
 *
 * Errors: -EINVAL (bad environment variable, NULL main_fn), -EBUSY (a
 * runtime is already running, or called on one of its workers), -ENOMEM,
 * -EAGAIN (a worker thread could not be created), or the -errno of a
 * failed io_uring creation (with GR_ENGINE=uring: -EPERM when io_uring
 * is disabled or refused by seccomp, -ENOSYS...) or epoll instance
 * (-EMFILE, -ENFILE...).
 * ==================================================================== */
int gr_run(void (*main_fn)(void *), void *arg);
int gr_nprocs(void);   /* workers of the running runtime (GR_PROCS); 0 if none */
/* Of them, those taking goroutines now: fewer than gr_nprocs() while the
 * CPU governor has parked some because the process does not get the CPUs
 * it asks for (GR_ADAPTIVE); 0 if no runtime runs. */
int gr_nprocs_active(void);
int64_t gr_now(void);  /* CLOCK_MONOTONIC, nanoseconds */

/* ======================================================================
 * Threads outside the runtime
 *
 * A program has threads greenrt did not make: a library's callback
 * thread, a thread of its own, the offload pool running a gr_blocking
 * function.  While a runtime runs, such a thread may call what never
 * parks: gr_go / gr_go_opts (the goroutine is queued for a worker),
 * gr_chan_try_send, gr_chan_try_recv, gr_chan_close, gr_chan_len/_cap,
 * gr_select with timeout_ns == 0, gr_mutex_trylock and gr_mutex_unlock,
 * gr_rwmutex_try*lock and the unlocks, gr_cond_signal/_broadcast,
 * gr_wg_add/_done, gr_now, gr_nprocs, gr_stats_get, gr_self (0 there),
 * and the I/O calls, which are then plain blocking system calls.  A call
 * that would park (gr_chan_send, gr_mutex_lock, gr_sleep, ...) is a
 * fatal error there, as it is outside any runtime.  Once the runtime is
 * stopping (main_fn returned) what such a thread readies is abandoned with
 * every goroutine, and gr_go returns -EPERM.  Goroutines still parked on
 * a channel or sync object when main_fn returns are abandoned with their
 * stacks, which gr_run frees: such an object must not be used any more,
 * from any thread - main_fn takes care that outside threads stop using
 * the objects goroutines wait on before it returns (or that none waits:
 * closing a channel takes its waiters off it).
 *
 * Such a thread is invisible to the deadlock detector: with every
 * goroutine parked, the runtime would report a deadlock although the
 * thread is about to wake one.  gr_extern_ref() says "an outside thread
 * may still wake goroutines": while references are held, every goroutine
 * asleep is not a deadlock.  Take one before the goroutines it will wake
 * can all be parked (before starting the thread, say), and drop it with
 * gr_extern_unref() once the thread will wake nothing more; if that was
 * the last one and every goroutine is still asleep, the deadlock is
 * reported then.  The count is the process's (it outlives a gr_run) and
 * may be used from any thread, goroutines included.
 *
 * gr_extern_ref: 0.  gr_extern_unref: 0, or -EINVAL if no reference is
 * held (unbalanced).
 * ==================================================================== */
int gr_extern_ref(void);
int gr_extern_unref(void);

/* ======================================================================
 * Goroutines
 *
 * gr_go starts fn(arg) in a new goroutine and returns its id (> 0), or
 * -EINVAL (NULL fn, bad stack size), -ENOMEM, -EPERM (no runtime is
 * running, or it is stopping).  It may be called from any thread while
 * a runtime runs (see "Threads outside the runtime").  It never blocks,
 * but when the worker's run queue is full it yields to the queued
 * goroutines first (backpressure: a loop spawning a million goroutines
 * runs them as it goes instead of queueing a million).  A goroutine ends
 * when fn returns or when it calls gr_exit().  The stack is allocated when the goroutine first
 * runs, so a spawned-but-not-started goroutine costs ~250 bytes.
 *
 * gr_opts.stack_size: 0 for the default (GR_STACK_SIZE), else
 * GR_MIN_STACK_SIZE..GR_MAX_STACK_SIZE, rounded up to the page size.
 * Stacks do not grow.  Below each one a 64 KiB guard gap (address space,
 * not memory) makes an overflow fault - even by a frame up to 64 KiB
 * larger than what was left, in code built without
 * -fstack-clash-protection - and the fault is reported as such
 * ("goroutine N (name) overflowed its S-byte stack", exit 2).  What
 * remains unguarded: on kernels without guard regions (before 6.13),
 * stacks made once the process's map budget is spent (half of what
 * vm.max_map_count leaves, ~28,000 stacks on a stock kernel) come from
 * bulk mappings with no gap; their overflow is caught only by a canary
 * word checked when the goroutine switches out, after the fact, and not
 * if the frames that ran over skipped it.  An exited goroutine's stack is
 * pooled for the next spawn (no system call in a steady spawn/exit load):
 * up to 4 MiB of stacks per worker and 64 MiB shared, counted by stack
 * size; past that, and for any pooled stack unused for a second, the
 * memory goes back to the kernel (the address space is kept for reuse).
 * gr_opts.name: shown in deadlock reports, overflow reports and gtrace;
 * copied (up to 31 bytes).  NULL means "fn's address".
 * ==================================================================== */
typedef struct gr_opts {
    size_t stack_size;
    const char *name;
} gr_opts;

int64_t gr_go(void (*fn)(void *), void *arg);
int64_t gr_go_opts(void (*fn)(void *), void *arg, const gr_opts *opts);
void gr_yield(void);            /* let other runnable goroutines run */
_Noreturn void gr_exit(void);   /* end the calling goroutine */
int64_t gr_self(void);          /* current goroutine id, 0 outside one */
const char *gr_self_name(void); /* current goroutine's name, "" outside */
int gr_sleep(int64_t ns);       /* 0 (ns <= 0 just yields), -ECANCELED (its
                                 * group: see Groups), or -ENOMEM: no memory
                                 * for its timer, it did not sleep */

/* ======================================================================
 * Channels
 *
 * Go semantics.  A channel carries elements of elem_size bytes (0 is
 * allowed: a pure signal); capacity 0 makes every send a rendezvous with
 * a receiver.  A send to a waiting receiver copies straight into the
 * receiver's buffer.  Values from one sender arrive in the order sent.
 *
 * gr_chan_make: NULL with errno EINVAL (elem_size > 65536) or ENOMEM (out of
 *               memory, or elem_size * capacity beyond 1 TiB).
 * gr_chan_send: 0, or -EPIPE if the channel is (or becomes) closed.
 * gr_chan_recv: 0, or -EPIPE once closed and drained (elem is zeroed).
 *               elem may be NULL to discard the value.
 * Both: -ECANCELED instead of waiting, for a member of a cancelled group
 *               (see Groups); no value was then sent or received.
 * try variants: as above, or -EAGAIN if the call would block; they never
 *               park and may be called from any thread.
 * gr_chan_close: 0, or -EPIPE if already closed.  Wakes every receiver
 *               (they get -EPIPE) and every blocked sender (-EPIPE).
 * All five return -EINVAL for a NULL channel; gr_chan_len and gr_chan_cap
 * return 0 for one.
 * gr_chan_free: frees a channel nobody uses any more (NULL is allowed).
 * ==================================================================== */
typedef struct gr_chan gr_chan;

gr_chan *gr_chan_make(size_t elem_size, size_t capacity);
int gr_chan_send(gr_chan *c, const void *elem);
int gr_chan_recv(gr_chan *c, void *elem);
int gr_chan_try_send(gr_chan *c, const void *elem);
int gr_chan_try_recv(gr_chan *c, void *elem);
int gr_chan_close(gr_chan *c);
size_t gr_chan_len(gr_chan *c);
size_t gr_chan_cap(gr_chan *c);
void gr_chan_free(gr_chan *c);

/* ======================================================================
 * Select
 *
 * Waits until one of n cases can proceed and performs exactly that one.
 * Returns the index of the case that proceeded, chosen uniformly at random
 * among the ready ones; its res is 0, or -EPIPE (a send on, or a receive
 * from a drained, closed channel).  A case with a NULL chan is never
 * ready.  timeout_ns < 0 blocks forever; 0 polls (-EAGAIN if none is
 * ready); > 0 returns -ETIMEDOUT when it expires.  -ECANCELED when the
 * caller is a member of a cancelled group and no case is ready (see
 * Groups).  -EINVAL for a bad op (even in a case whose chan is NULL),
 * n < 0, n > GR_SELECT_MAX, or NULL cases with n > 0; -ENOMEM when n > 8
 * and its working arrays cannot be allocated, or when timeout_ns > 0 and
 * its timer cannot be (nothing was done).  With no non-NULL chan (n == 0
 * too) and timeout_ns < 0 the goroutine blocks forever, or until its
 * group is cancelled (it shows in deadlock reports as "select (no
 * cases)").
 * ==================================================================== */
enum { GR_SEND = 1, GR_RECV = 2 };
#define GR_SELECT_MAX 1024

typedef struct gr_case {
    gr_chan *chan;
    int op;     /* GR_SEND or GR_RECV */
    void *elem; /* value to send, or buffer to receive into (may be NULL) */
    int res;    /* out: 0 or -EPIPE for the case that proceeded */
} gr_case;

int gr_select(gr_case *cases, int n, int64_t timeout_ns);

/* ======================================================================
 * Synchronisation
 *
 * Zero value is unlocked / empty; the bodies are public and of fixed size
 * so they can live on stacks and in structs, but their fields are private.
 * They park the goroutine, never the worker.  Misuse is fatal, as in Go:
 * unlocking an unlocked mutex, a wait group going negative.
 *
 * gr_mutex is fair under starvation: a waiter that has waited over 1 ms
 * switches the mutex to hand-off mode (ownership passes directly to the
 * longest waiter), as Go's sync.Mutex does.  Any goroutine may unlock.
 * gr_rwmutex: a waiting writer blocks new readers; readers waiting when a
 * writer unlocks all go in before the next writer (neither side starves).
 * ==================================================================== */
typedef struct gr_mutex {
    uint32_t _state;
    uint32_t _lock;
    void *_waitq[2];
} gr_mutex;

typedef struct gr_rwmutex {
    uint32_t _lock;
    int32_t _readers;    /* readers holding it */
    uint32_t _writer;    /* a writer holds it */
    uint32_t _wwaiting;  /* writers waiting */
    void *_readq[2];
    void *_writeq[2];
} gr_rwmutex;

typedef struct gr_cond {
    uint32_t _lock;
    uint32_t _pad;
    void *_waitq[2];
} gr_cond;

typedef struct gr_wg {
    uint64_t _state;     /* counter and waiters (sync.c) */
    uint32_t _lock;
    uint32_t _pad;
    void *_waitq[2];
} gr_wg;

typedef struct gr_once {
    uint32_t _state;
    uint32_t _lock;
    void *_waitq[2];
} gr_once;

#define GR_MUTEX_INIT {0}
#define GR_RWMUTEX_INIT {0}
#define GR_COND_INIT {0}
#define GR_WG_INIT {0}
#define GR_ONCE_INIT {0}

void gr_mutex_lock(gr_mutex *m);
int gr_mutex_trylock(gr_mutex *m);      /* 0, or -EBUSY */
void gr_mutex_unlock(gr_mutex *m);
void gr_rwmutex_rlock(gr_rwmutex *rw);
int gr_rwmutex_tryrlock(gr_rwmutex *rw); /* 0, or -EBUSY */
void gr_rwmutex_runlock(gr_rwmutex *rw);
void gr_rwmutex_lock(gr_rwmutex *rw);
int gr_rwmutex_trylock(gr_rwmutex *rw);  /* 0, or -EBUSY */
void gr_rwmutex_unlock(gr_rwmutex *rw);
void gr_cond_wait(gr_cond *c, gr_mutex *m);
/* 0 when signalled, -ETIMEDOUT after timeout_ns (relative), -ECANCELED
 * for a member of a cancelled group (see Groups); m is held again on
 * return in every case.  -ENOMEM: no memory for the timer; it returned at
 * once, m still held.  gr_cond_wait is not interrupted by groups. */
int gr_cond_wait_timeout(gr_cond *c, gr_mutex *m, int64_t timeout_ns);
void gr_cond_signal(gr_cond *c);
void gr_cond_broadcast(gr_cond *c);
/* Wait groups, as Go's sync.WaitGroup: gr_wg_add(n) adds n (negative:
 * as many dones) to the counter, gr_wg_wait waits until it is zero (0),
 * or returns -ECANCELED for a member of a cancelled group (see Groups).
 * Once gr_wg_wait has returned, the wait group is the caller's again:
 * free it, or let its frame go - the gr_wg_done that released it no
 * longer touches it.  Fatal misuse: a counter going negative (or past
 * INT32_MAX), and a gr_wg_add that starts a new round while the waiters
 * of the last one are being released (reuse a wait group only once every
 * gr_wg_wait of the last round has returned, as in Go). */
void gr_wg_add(gr_wg *wg, int n);
void gr_wg_done(gr_wg *wg);
int gr_wg_wait(gr_wg *wg);
/* Runs fn exactly once across all callers of this gr_once; every caller
 * returns only after fn has returned (as Go's Once.Do, pthread_once), and
 * may then free o. */
void gr_once_do(gr_once *o, void (*fn)(void));

/* ======================================================================
 * I/O
 *
 * The calling goroutine puts a request on its worker's io_uring and parks
 * until the completion arrives; the worker runs other goroutines
 * meanwhile.  (On the epoll engine, GR_ENGINE: it makes the system call
 * without blocking, and parks until the fd is ready when it would block;
 * regular files, which epoll cannot wait for, are read and written on
 * the offload pool when the page cache cannot answer at once.)  Counts
 * follow POSIX (short reads and writes are returned as
 * such; gr_read_full / gr_write_all loop).  Errors are -errno; -EINTR is
 * never returned.  A peer that has gone gives -EPIPE or -ECONNRESET:
 * gr_send always adds MSG_NOSIGNAL; for gr_write/gr_writev on a socket,
 * gr_run ignores SIGPIPE while it runs if the program left it at the
 * default disposition (as Go does) - a program that installs its own
 * SIGPIPE handler gets its handler called on such writes.  Past the goroutine's deadline
 * (gr_set_deadline) a blocking call returns -ETIMEDOUT and the fd stays
 * usable.  Called outside a goroutine they fall back to the plain
 * blocking syscall.  -ENOMEM: no memory for the state greenrt keeps per
 * descriptor (made at the first call on a descriptor number), or for the
 * timer that bounds a wait for the descriptor's lock by the deadline.
 *
 * Descriptors shared by goroutines (Go's rules for a net.Conn or an
 * os.File).  The reads of one fd are serialised, and so are its writes:
 * gr_read, gr_readv, gr_recv, gr_recv_buf and gr_accept hold the fd's
 * read lock for their whole duration, gr_write, gr_writev and gr_send its
 * write lock, and gr_read_full and gr_write_all hold theirs across their
 * whole loop - so each of those is atomic against the other reads (or
 * writes) of the fd: two goroutines' gr_write_all on one socket never
 * interleave, and reads and writes at the file position of a regular file
 * behave as read(2) and write(2) from threads do (nothing lost, nothing
 * read twice).  A read and a write of one fd run at the same time, and
 * gr_poll, gr_connect, gr_shutdown and gr_fsync take neither lock.  A
 * call waiting for its turn is parked like any other; its deadline
 * applies.
 *
 * gr_close(fd) marks fd closed: a call that starts on it from then on
 * fails with -EBADF, every call blocked on it (in the kernel, or waiting
 * for its turn) is woken and returns -EBADF, and once they have all
 * returned the descriptor is closed - so the peer of a socket sees end of
 * file and a closed listener refuses connections.  -EBADF rather than
 * -ECANCELED: it is what the same call returns when it starts just after
 * the close, one error for "the fd was closed" (Go's ErrClosed).  This
 * holds for a gr_close called from any thread.  A descriptor closed with
 * close(2) behind greenrt's back is not woken so: calls blocked on it
 * stay blocked until the kernel completes them (as a thread blocked in
 * read(2) does), and calls on a new file that gets the same number wait
 * for their turn behind them.  On the epoll engine (GR_ENGINE) a
 * goroutine blocked on a descriptor closed with close(2) stays blocked
 * until its deadline (nothing holds the file for it), and the number's
 * next file must not be given to a gr_ call before a gr_close: greenrt
 * would take it as already registered with epoll.  Use gr_close, as Go
 * requires Close.
 *
 * Descriptor flags.  A descriptor made O_NONBLOCK by the program still
 * blocks the goroutine in every gr_ call (it waits for readiness, never
 * returns -EAGAIN unless asked with MSG_DONTWAIT).  greenrt leaves the
 * flags of the descriptors it is given alone, but for one case on the
 * epoll engine: gr_accept makes the listening socket O_NONBLOCK (accept(2)
 * has no per-call flag; Go does the same), so an accept(2) of the
 * program's own on it no longer blocks.
 *
 * Cancellation (see Groups).  When a goroutine's group is cancelled, each
 * of its I/O calls that waits - gr_read, gr_write, gr_readv, gr_writev,
 * gr_recv, gr_send, gr_read_full, gr_write_all, gr_recv_buf, gr_accept,
 * gr_connect, gr_poll, gr_open, gr_fsync, gr_dial_tcp, and gr_listen_tcp
 * while it resolves a name - returns -ECANCELED promptly, whether it is
 * in the kernel (its request is cancelled) or waiting for the fd's lock,
 * and the fd stays usable.  A result the kernel delivered wins: a read
 * whose bytes arrived as it was cancelled returns them (the next call
 * says -ECANCELED), and an open or fsync the kernel is already carrying
 * out may still complete and return its result (a descriptor gr_open
 * returns is the caller's to close).  gr_read_full and gr_write_all
 * return -ECANCELED even after moving some bytes, as for any error.
 * From then on those calls fail at once with -ECANCELED, without doing
 * anything, even on a ready fd (gr_poll with timeout 0 included) and
 * past the goroutine's deadline (-ECANCELED, not -ETIMEDOUT: the
 * cancellation is final); on a descriptor that is not open they may say
 * -EBADF.  gr_close and gr_shutdown are never cancelled, so that a
 * cancelled goroutine can clean up.  -ECANCELED means only this: a
 * gr_close of the fd gives -EBADF, a deadline -ETIMEDOUT.
 *
 * EMFILE/ENFILE from gr_accept: the pending connection stays queued.  A
 * server loop should back off before retrying (gr_sleep of a few ms) so
 * it does not spin while the process is out of descriptors:
 *
 *     for (;;) {
 *         int fd = gr_accept(lfd, NULL, NULL);
 *         if (fd == -EMFILE || fd == -ENFILE) { gr_sleep(10000000); continue; }
 *         if (fd < 0) break;
 *         gr_go(serve, (void *)(intptr_t)fd);
 *     }
 * ==================================================================== */
ssize_t gr_read(int fd, void *buf, size_t n);
ssize_t gr_write(int fd, const void *buf, size_t n);
ssize_t gr_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t gr_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t gr_recv(int fd, void *buf, size_t n, int flags);
ssize_t gr_send(int fd, const void *buf, size_t n, int flags);
/* Loop until all n bytes moved: n, or -errno (bytes already moved are
 * lost to the caller only on error), or for gr_read_full a short count
 * at end of file.  Atomic against the other reads (writes) of fd: no
 * other goroutine's bytes get in between. */
ssize_t gr_read_full(int fd, void *buf, size_t n);
ssize_t gr_write_all(int fd, const void *buf, size_t n);
int gr_accept(int fd, struct sockaddr *addr, socklen_t *len); /* CLOEXEC fd */
int gr_connect(int fd, const struct sockaddr *addr, socklen_t len);
/* Wakes the calls blocked on fd (they return -EBADF), waits until they
 * have returned, then closes fd (see "Descriptors shared by goroutines"
 * above).  0, or -EBADF (fd is not open, or another gr_close of it is
 * under way), or the errors of close(2).  Never cut short by a deadline;
 * an interrupted close counts as done. */
int gr_close(int fd);
/* shutdown(2) through the ring: many goroutines shutting connections down
 * at once (a server draining) share one system call (epoll engine: one
 * system call each). */
int gr_shutdown(int fd, int how);
int gr_open(const char *path, int flags, mode_t mode);
int gr_fsync(int fd);
/* Waits for events (POLLIN, POLLOUT...) on fd: returns revents (> 0),
 * 0 on timeout (timeout_ns >= 0), or -errno.  timeout_ns < 0 waits
 * forever (or until the deadline). */
int gr_poll(int fd, short events, int64_t timeout_ns);
/* Absolute gr_now() time after which this goroutine's blocking I/O calls
 * return -ETIMEDOUT; 0 clears it. */
void gr_set_deadline(int64_t deadline_ns);
/* TCP helpers: host may be numeric (v4/v6) or a name (resolved on the
 * offload pool), NULL or "" for any IPv4 address (listen) or 127.0.0.1
 * (dial).  Return an fd (CLOEXEC, TCP_NODELAY; SO_REUSEADDR for
 * listeners) or -errno: as socket(2), bind(2), listen(2), connect(2)
 * (-EADDRINUSE, -ECONNREFUSED, -EHOSTUNREACH...), -EINVAL (port outside
 * 0..65535 to listen, 1..65535 to dial), -ENOENT (a name that does not
 * resolve), -EIO (the resolver failed), -EAGAIN (no offload thread for
 * the resolver), -ETIMEDOUT (dial: the deadline, or connect's own),
 * -ECANCELED (the caller's group was cancelled: dial, or a name's
 * lookup; see Cancellation above). */
int gr_listen_tcp(const char *host, int port, int backlog);
int gr_dial_tcp(const char *host, int port);
/* Runs fn(arg) on the offload thread pool (for calls io_uring cannot do:
 * getaddrinfo, a library that blocks) and parks until it returns.
 * 0, or -EINVAL (NULL fn), or -EAGAIN when no offload thread can be
 * started and none runs (fn was not called), or -ECANCELED for a member
 * of a cancelled group: fn was not called if it was cancelled before, and
 * ran to completion if it was cancelled during the call (see Groups). */
int gr_blocking(void (*fn)(void *), void *arg);

/* Provided buffers: a receive that holds no buffer while it waits.  The
 * kernel picks a buffer from the worker's pool only when data arrives, so
 * ten thousand idle connections pin no read buffers, and (Linux 6.12+)
 * it fills the pool piecewise, so a small message takes only its own bytes
 * of it.  gr_recv_buf returns the byte count (at most 4096; 0 at end of
 * stream, *out NULL) or -errno; the bytes are (*out)->data[0 .. count) and
 * must be handed back with gr_buf_release, before gr_run returns (the
 * pools go with the runtime).  Any number may be held at once: when the
 * pool is empty the receive reads into a buffer of its own.  Errors, with
 * *out NULL: those of recv(2) (-ENOTSOCK: fd must be a socket,
 * -ECONNRESET...), -ETIMEDOUT (the deadline), -EINVAL (out is NULL),
 * -EOPNOTSUPP (outside a goroutine), -ENOMEM (no memory for the pool or a
 * buffer), -EIO (the kernel returned bytes without a buffer), -ECANCELED
 * (the caller's group was cancelled: see Cancellation above). */
typedef struct gr_buf {
    char *data;
    size_t len;
    uint32_t _bid;
    uint32_t _pool;
} gr_buf;
ssize_t gr_recv_buf(int fd, gr_buf **out);
void gr_buf_release(gr_buf *buf);

/* ======================================================================
 * Groups: structured cancellation
 *
 * A group is a set of goroutines that are cancelled, given a deadline and
 * waited for together: Go's context tree, libdill's bundles.  A gr_group
 * is ready when zero-initialised (GR_GROUP_INIT); its state is allocated
 * on first use and freed by gr_group_destroy.
 *
 * Members.  gr_group_go starts a goroutine as gr_go does, a member of g
 * until it exits.  gr_go never makes a member, not even when a member
 * calls it: a goroutine does not inherit a group.  Groups nest: a group's
 * parent is the group of the goroutine that first calls gr_group_go on it
 * (none when that goroutine is in no group).  Cancelling a group cancels
 * its subtree and nothing else; a group whose parent is already cancelled
 * starts cancelled.  Destroying a group hands its child groups to its
 * parent (or leaves them without one).
 *
 * Cancellation (gr_group_cancel, the deadline, or an ancestor's
 * cancellation) first closes the group's done channel (gr_group_done);
 * then every call of a member that waits returns -ECANCELED promptly -
 * those waiting already, and those made later at once, without waiting:
 *   gr_sleep (ns > 0), gr_chan_send and gr_chan_recv, gr_select (only when
 *   no case is ready: a select with a ready case, the done channel's
 *   included, performs it, so a select on the done channel sees the close,
 *   never -ECANCELED), gr_cond_wait_timeout (m is held again on return),
 *   gr_wg_wait, and gr_blocking, whose offloaded call cannot be stopped:
 *   the goroutine waits for fn to return and then gets -ECANCELED (fn ran:
 *   what it left in arg is valid and still the caller's to release); made
 *   after cancellation, it does not run fn.
 *   And every I/O call that waits: gr_read, gr_write, gr_readv,
 *   gr_writev, gr_recv, gr_send, gr_read_full, gr_write_all, gr_recv_buf,
 *   gr_accept, gr_connect, gr_poll, gr_open, gr_fsync, gr_dial_tcp and
 *   gr_listen_tcp's name lookup, in the kernel or waiting for the fd's
 *   lock; the fd stays usable, and bytes the kernel delivered as the
 *   cancel came are returned, never lost (see "Cancellation" under I/O).
 *   Made after cancellation, they fail at once, even on a ready fd.
 *   Not gr_close and gr_shutdown: a cancelled member can still clean up.
 * Not interrupted, by design: gr_mutex_lock and the rwmutex locks (as in
 * Go), gr_once_do, gr_yield, gr_cond_wait (it cannot report it: use
 * gr_cond_wait_timeout), and gr_group_wait (a cancelled member waiting for
 * a group it started still sees it drain).  Calls that need not wait
 * behave as usual, I/O excepted (above): the try_ variants, a channel
 * operation that can proceed at once, gr_wg_wait on a zero counter,
 * gr_sleep(0).
 *
 * gr_group_go, gr_group_go_opts: the new goroutine's id (> 0), or
 *     -ECANCELED (g is cancelled: nothing is started), -ENOMEM, -EINVAL
 *     (NULL g or fn, bad stack size), -EPERM (not called from a goroutine
 *     of a running runtime).  opts as for gr_go_opts.
 * gr_group_cancel: cancels g and its subtree; idempotent (a group whose
 *     members have all exited is only marked: gr_group_go then fails).
 *     May be called from any thread.  NULL is ignored.
 * gr_group_wait: 0 once every member of g has exited (at once if it has
 *     none; members of its child groups are not waited for), -ETIMEDOUT
 *     after timeout_ns (relative; < 0 waits forever, 0 polls), -EDEADLK if
 *     the caller is a member of g (it would wait for itself), -ENOMEM (no
 *     memory for the timeout), -EINVAL (NULL g).
 * gr_group_set_deadline: g is cancelled when gr_now() reaches
 *     deadline_ns (absolute; one already past cancels at once; 0 clears
 *     it), and gr_group_err then says -ETIMEDOUT.  Set while no runtime
 *     runs, it is armed at g's next gr_group_go.  If no memory can be had
 *     to keep it, g is cancelled at once rather than left without its
 *     deadline.  May be called from any thread.  NULL is ignored.
 * gr_group_done: a channel (element size 0) that is closed when g is
 *     cancelled, to select on; NULL with errno ENOMEM, or EINVAL (NULL g).
 *     It belongs to g: do not close or free it; gr_group_destroy frees it.
 * gr_group_err: 0 while g is not cancelled; -ECANCELED once it is;
 *     -ETIMEDOUT if that was its deadline's or an ancestor's doing (Go's
 *     ctx.Err()); -EINVAL for a NULL g.
 * gr_cancelled: 1 if the calling goroutine is a member of a cancelled
 *     group, else 0 (in no group, or not a goroutine).
 * gr_group_destroy: frees g's state; g is zero again and may be reused.
 *     Call it once gr_group_wait has returned 0 and nobody else uses g:
 *     destroying a group with live members is a fatal error that names
 *     each of them, as Go's deadlock report does.  NULL is ignored.
 *
 * A group outlives gr_run: the goroutines gr_run abandoned when it
 * returned are no longer members, and a deadline not yet reached is armed
 * again at the group's next gr_group_go.
 * ==================================================================== */
typedef struct gr_group {
    uint32_t _lock;  /* guards the creation of _state */
    uint32_t _flags; /* cancelled before it had a state */
    void *_state;    /* the group, allocated on first use */
} gr_group;

#define GR_GROUP_INIT {0}

int64_t gr_group_go(gr_group *g, void (*fn)(void *), void *arg);
int64_t gr_group_go_opts(gr_group *g, void (*fn)(void *), void *arg, const gr_opts *opts);
void gr_group_cancel(gr_group *g);
int gr_group_wait(gr_group *g, int64_t timeout_ns);
void gr_group_set_deadline(gr_group *g, int64_t deadline_ns);
gr_chan *gr_group_done(gr_group *g);
int gr_group_err(gr_group *g);
int gr_cancelled(void);
void gr_group_destroy(gr_group *g);

/* ======================================================================
 * Preemption
 *
 * A monitor thread notices a goroutine that has run for 10 ms while
 * others wait and preempts it: at its next gr_ call, or, when GR_PREEMPT
 * is not 0, at once by a signal (SIGURG) if the interrupted instruction
 * is in code that is safe to leave (not libc, not the loader, not
 * greenrt, preemption not disabled) and the goroutine's stack has room
 * left for the preemption (about 9 KiB plus the CPU's extended register
 * state, 2.4 KiB with AVX-512); else at its next gr_ call.  The signal is
 * handled on the worker's own signal stack, never on the goroutine's.
 * The disable count nests.  In a program linked with a static libc (cc
 * -static) libc's code cannot be told apart, so asynchronous preemption is
 * off there unless GR_PREEMPT=1 asks for it (GR_DEBUG says so).
 * ==================================================================== */
void gr_preempt_disable(void);
void gr_preempt_enable(void);

/* ======================================================================
 * Self-observation
 *
 * Counters since gr_run started (or of the last run, after it returned).
 * io_submitted and io_completed count I/O requests (io_uring), or the
 * non-blocking system calls the epoll engine made for I/O calls;
 * ring_enters counts the engine's waits in the kernel: io_uring_enter
 * calls, or epoll_wait calls.
 *
 * gr_engine: the I/O engine of the running runtime, or of the last one
 * after gr_run returned: "uring" or "epoll" (the words of GR_ENGINE);
 * NULL before the first gr_run has started one.
 * ==================================================================== */
typedef struct gr_stats {
    uint64_t spawned, exited, live, switches, steals, parks, preemptions,
        io_submitted, io_completed, ring_enters;
} gr_stats;
void gr_stats_get(gr_stats *out);
const char *gr_engine(void);

/* ======================================================================
 * Tracing (USDT probes, provider "greenrt")
 *
 * A nop instruction each when nobody traces; gtrace and bpftrace attach
 * to them (usdt:libgreenrt.so:greenrt:spawn ...).  Arguments:
 *   worker_start (worker index, tid)
 *   spawn        (new id, parent id, fn address)
 *   switch       (from id, to id)              0 is the worker's scheduler
 *   park         (id, reason code, reason string)  codes: enum gr_wait_reason
 *   ready        (id, by id, source, object)   source: enum gr_wake_source,
 *                object: the gr_chan for GR_WAKE_CHAN, the wakee's
 *                gr_group for GR_WAKE_CANCEL, else NULL
 *   steal        (thief worker, victim worker, count)
 *   preempt      (id, 1 if asynchronous)
 *   exit         (id)
 *   io_submit    (id, io_uring opcode, fd)  on the epoll engine: each
 *                non-blocking system call, with the opcode of the
 *                io_uring request that does the same
 *   io_complete  (id, result)
 *   stats        (address of a gr_trace_stats, 1 if final)
 *   workers      (workers now active): a worker was parked or unparked,
 *                by the CPU governor (GR_ADAPTIVE; GR_DEBUG says why) or
 *                for a stuck worker's queue
 *   group_new    (group id, address of the gr_group): its state was made
 *                (ids are > 0 and name the group in the probes below)
 *   group_parent (group id, parent group id or 0): its first gr_group_go
 *                decided it
 *   group_join   (group id, goroutine id, members now): a member started
 *   group_leave  (group id, goroutine id, members now): a member exited
 *   group_cancel (group id, cause, origin group id, members now): cause 1
 *                gr_group_cancel, 2 a deadline; origin: the group whose
 *                cancellation or deadline started it (itself or an ancestor).
 *                A group cancelled before its state was made fires it (with
 *                group_drained) right after its group_new
 *   group_drained (group id, ns from its cancellation to its last
 *                member's exit; 0 if it had none then)
 *   group_free   (group id): gr_group_destroy
 *
 * The per-event probes on hot paths (switch, park, ready, io_*) cost a
 * uprobe trap (~1 us) each when a tracer attaches to them.  `stats` is the
 * cheap way to count: the monitor fires it about once a second while the
 * runtime runs, and gr_run fires it once more, final, when it stops; the
 * structure holds the runtime's own counters summed over its workers.
 * ==================================================================== */
enum gr_wait_reason {
    GR_WAIT_NONE = 0,
    GR_WAIT_CHAN_SEND,
    GR_WAIT_CHAN_RECV,
    GR_WAIT_SELECT,
    GR_WAIT_SELECT_NO_CASES,
    GR_WAIT_SLEEP,
    GR_WAIT_MUTEX,
    GR_WAIT_RWMUTEX_R,
    GR_WAIT_RWMUTEX_W,
    GR_WAIT_COND,
    GR_WAIT_WG,
    GR_WAIT_ONCE,
    GR_WAIT_IO,
    GR_WAIT_BLOCKING,
    GR_WAIT_GROUP,
    GR_WAIT_REASON_COUNT
};

/* What made a parked goroutine runnable (the `ready` probe's source).
 * GR_WAKE_GOROUTINE: the goroutine `by` (a mutex, rwmutex, cond, wait
 * group or once it released, or a spawn); the others say which runtime
 * event did, `by` being whatever ran on the worker then (0: a worker's
 * scheduler, or a thread that is not a worker). */
enum gr_wake_source {
    GR_WAKE_GOROUTINE = 0,
    GR_WAKE_CHAN,     /* a channel send, receive or close (select too) */
    GR_WAKE_TIMER,    /* a sleep's, select's or cond wait's timer fired */
    GR_WAKE_IO,       /* its I/O completed (io_uring) or its fd got ready (epoll) */
    GR_WAKE_BLOCKING, /* its gr_blocking call returned (the offload pool) */
    GR_WAKE_CANCEL,   /* its group's cancellation (or deadline) ended its wait */
    GR_WAKE_SOURCE_COUNT
};

/* gr_trace_stats.engine */
enum gr_trace_engine { GR_TRACE_ENGINE_URING = 1, GR_TRACE_ENGINE_EPOLL = 2 };

#define GR_TRACE_STATS_VERSION 3 /* 2: GR_WAIT_GROUP added; 3: engine */
typedef struct gr_trace_stats {
    uint32_t version; /* GR_TRACE_STATS_VERSION */
    uint32_t nprocs;
    int64_t at_ns;    /* gr_now() when taken */
    uint64_t spawned, exited, switches, steals, parks, preemptions, io_submitted,
        io_completed, ring_enters;
    uint64_t parks_by_reason[GR_WAIT_REASON_COUNT];
    uint32_t engine;  /* enum gr_trace_engine: the I/O engine of the run */
    uint32_t pad;
} gr_trace_stats;

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* GREENRT_H */
