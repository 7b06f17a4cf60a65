/*
 * stack.h - goroutine stacks: allocation, per-worker pools, overflow checks.
 */
#ifndef GR_STACK_H
#define GR_STACK_H

#include <stdbool.h>
#include <stddef.h>

#include "g.h"

struct worker;

enum { STACK_GUARDED = 1, STACK_BULK = 2 };

#define STACK_CANARY 0x67726e7274737461ull /* "grnrtsta" */

/* Process-wide setup: map budget, SIGSEGV handler on an alternate stack
 * (per thread: see stack_thread_init).  -errno on failure. */
int stacks_init(void);
/* Frees every stack mapping made since stacks_init (the runtime stopped). */
void stacks_teardown(void);
/* Every worker thread calls this: installs its sigaltstack. */
int stack_thread_init(void);
void stack_thread_fini(void);

/* A stack of `size` bytes (page multiple) for a goroutine about to start,
 * from w's pool when possible (no system call).  0 or -ENOMEM. */
int stack_alloc(struct worker *w, size_t size, stack *out);
/* Gives a dead goroutine's stack back to w's pool. */
void stack_free(struct worker *w, stack *s);
/* Moves w's pooled stacks to the shared pool (worker stopping). */
void stack_pool_flush(struct worker *w);

static inline void stack_canary_set(stack *s)
{
    *(unsigned long long *)s->base = STACK_CANARY;
}

static inline bool stack_canary_ok(const stack *s)
{
    return *(const unsigned long long *)s->base == STACK_CANARY;
}

/* Reports "goroutine N (name) overflowed its S-byte stack" and exits 2. */
_Noreturn void stack_overflow_fatal(const g *gp);

#endif
