/*
 * san.h - tell AddressSanitizer and ThreadSanitizer about goroutine
 * switches (fiber annotations), so that they follow the stack in use
 * instead of reporting every switch as stack corruption or a race.
 * Compiled out unless the build has SANITIZE=...
 */
#ifndef GR_SAN_H
#define GR_SAN_H

#include "g.h"
#include "stack.h"

#if defined(__SANITIZE_ADDRESS__)
#define GR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GR_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define GR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GR_TSAN 1
#endif
#endif

#ifdef GR_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
void __asan_get_shadow_mapping(uintptr_t *shadow_scale, uintptr_t *shadow_offset);
#include <sys/mman.h>
#endif
#ifdef GR_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

/* Before switching from `from` to `to`.  A dying goroutine passes NULL
 * as its fake-stack slot so ASan frees it. */
static inline void san_before_switch(g *from, g *to, int from_dying)
{
#ifdef GR_ASAN
    /* g0's stk holds the worker thread's own stack bounds. */
    __sanitizer_start_switch_fiber(from_dying ? NULL : &from->san_fake_stack, to->stk.base,
                                   to->stk.size);
#endif
#ifdef GR_TSAN
    if (!to->san_fiber)
        to->san_fiber = __tsan_create_fiber(0);
    __tsan_switch_to_fiber(to->san_fiber, 0);
#endif
    (void)from, (void)to, (void)from_dying;
}

/* First thing on the stack that was switched to. */
static inline void san_after_switch(g *self)
{
#ifdef GR_ASAN
    __sanitizer_finish_switch_fiber(self->san_fake_stack, NULL, NULL);
#endif
    (void)self;
}

static inline void san_g0_init(g *g0)
{
#ifdef GR_TSAN
    g0->san_fiber = __tsan_get_current_fiber();
#endif
    (void)g0;
}

static inline void san_g_release(g *gp)
{
#ifdef GR_TSAN
    if (gp->san_fiber) {
        __tsan_destroy_fiber(gp->san_fiber);
        gp->san_fiber = NULL;
    }
#endif
    (void)gp;
}

/* A stack's pages were given back (stack.c): ASan's shadow of them, which
 * san_stack_clean wrote all of, goes back too (pages of zeros: nothing
 * poisoned), or a burst of big stacks would keep an eighth of its memory
 * resident after it. */
static inline void san_stack_released(const stack *s)
{
#ifdef GR_ASAN
    uintptr_t scale, offset;
    __asan_get_shadow_mapping(&scale, &offset);
    uintptr_t lo = ((uintptr_t)s->base >> scale) + offset;
    uintptr_t hi = (((uintptr_t)s->base + s->size) >> scale) + offset;
    uintptr_t pg = page_size();
    lo = (lo + pg - 1) & ~(pg - 1); /* whole shadow pages only */
    hi &= ~(pg - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
#endif
    (void)s;
}

/* ASan keeps shadow poison for a stack's old frames (an abandoned
 * goroutine never unwinds; a new mapping may land where an old one was):
 * a stack handed out is clean. */
static inline void san_stack_clean(const stack *s)
{
#ifdef GR_ASAN
    __asan_unpoison_memory_region(s->base, s->size);
#endif
    (void)s;
}

#endif
