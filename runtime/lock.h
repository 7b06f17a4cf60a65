/*
 * lock.h - the runtime's internal lock, and the atomics vocabulary.
 *
 * Channel, timer-heap, wait-queue and scheduler locks are held for a few
 * dozen instructions and never across a goroutine switch that could need
 * the same lock.  A pure spinlock would do while every worker is on a CPU,
 * but workers are ordinary threads that the OS can preempt while holding
 * one; then a spinner would burn its whole time slice.  So the lock spins
 * briefly and then sleeps on a futex (as Go's lock_futex.go does).
 *
 * The lock word is a plain uint32_t so that zero-initialised public sync
 * bodies (gr_mutex._lock ...) are valid unlocked locks:
 *   0 unlocked, 1 locked, 2 locked and someone may sleep on the futex.
 */
#ifndef GR_LOCK_H
#define GR_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#define load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define cas_acq_rel(p, expp, v) \
    __atomic_compare_exchange_n((p), (expp), (v), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

static inline void cpu_relax(void) { __builtin_ia32_pause(); }

/* A full (StoreLoad) barrier. */
static inline void full_fence(void)
{
#if defined(__SANITIZE_THREAD__)
    uint32_t dummy = 0;
    __atomic_fetch_add(&dummy, 0, __ATOMIC_SEQ_CST); /* visible to TSan */
#else
    __asm__ volatile("lock orq $0, (%%rsp)" ::: "memory", "cc");
#endif
}

/* After an atomic read-modify-write: makes the stores before it visible
 * before the loads after it, as full_fence() would (the StoreLoad order a
 * "publish, then check the other side's flag" handshake needs).  On x86
 * the locked instruction of the RMW is already a full barrier, so this is
 * only a compiler barrier (Linux's smp_mb__after_atomic). */
static inline void fence_after_rmw(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* Sleeps while *addr == val (a futex; spurious returns happen), and wakes
 * one such sleeper.  For threads that are not goroutines. */
void futex_wait(uint32_t *addr, uint32_t val);
void futex_wake_one(uint32_t *addr);

void lock_slow(uint32_t *l);
void unlock_slow(uint32_t *l);

static inline void lock(uint32_t *l)
{
    uint32_t zero = 0;
    if (__builtin_expect(__atomic_compare_exchange_n(l, &zero, 1, false, __ATOMIC_ACQUIRE,
                                                     __ATOMIC_RELAXED),
                         1))
        return;
    lock_slow(l);
}

static inline bool trylock(uint32_t *l)
{
    uint32_t zero = 0;
    return __atomic_compare_exchange_n(l, &zero, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void unlock(uint32_t *l)
{
    /* Release: everything written under the lock is visible to the next
     * owner.  A previous value of 2 means a sleeper may need waking. */
    if (__builtin_expect(__atomic_exchange_n(l, 0, __ATOMIC_RELEASE) != 1, 0))
        unlock_slow(l);
}

#endif
