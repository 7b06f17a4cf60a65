/*
 * stack.h - goroutine stacks: allocation, per-worker pools, overflow checks.
 */
#ifndef GR_STACK_H
#define GR_STACK_H

#include <stdbool.h>
#include <stddef.h>

#include "g.h"

struct worker;

enum { STACK_GUARDED = 1, STACK_BULK = 2, STACK_CHUNKED = 3 };

/* The canary is the stack's lowest word, which must stay zero.  Zero, not
 * a magic value: writing one would touch the bottom page of every stack
 * and double a parked goroutine's memory, while reading an untouched
 * page maps the kernel's shared zero page, which costs no memory.  Frames
 * that run off the bottom write return addresses and saved registers
 * there, which are not all zero. */
#define STACK_CANARY 0ull

/* The system's page size, sysconf(_SC_PAGESIZE): read once, then cached.
 * Stack sizes are multiples of it (page_round). */
size_t page_size(void);
static inline size_t page_round(size_t n)
{
    size_t p = page_size();
    return (n + p - 1) & ~(p - 1);
}

/* Process-wide setup: map budget, SIGSEGV handler on an alternate stack
 * (per thread: see stack_thread_init).  -errno on failure. */
int stacks_init(void);
/* Frees every stack mapping made since stacks_init (the runtime stopped). */
void stacks_teardown(void);
/* Every worker thread calls this: installs its sigaltstack. */
int stack_thread_init(void);
void stack_thread_fini(void);

/* A stack of `size` bytes (a page_size() multiple) for a goroutine about to start,
 * from w's pool when possible (no system call).  0 or -ENOMEM. */
int stack_alloc(struct worker *w, size_t size, stack *out);
/* Gives a dead goroutine's stack back to w's pool. */
void stack_free(struct worker *w, stack *s);
/* Moves w's pooled stacks to the shared pool (w going idle or stopping),
 * where the scavenger sees them.  One load when w's pool is empty. */
void stack_pool_flush(struct worker *w);
/* Monitor thread: gives back the pages of the stacks pooled unused for
 * SCAVENGE_DELAY_NS (stack.c).  Returns the ns until the next ones fall
 * due, or -1 when nothing is pooled.  One load when none is due. */
int64_t stacks_scavenge(int64_t now);

static inline bool stack_canary_ok(const stack *s)
{
    return *(const volatile unsigned long long *)s->base == STACK_CANARY;
}

/* Test hook (tests/unit/t_internal.h): set before gr_run to use the
 * fallback kinds (GUARDED, then BULK) even where guard regions exist. */
extern bool stack_no_guard_regions;

/* Reports "goroutine N (name) overflowed its S-byte stack" and exits 2. */
_Noreturn void stack_overflow_fatal(const g *gp);

#endif
