/*
 * lock.c - slow paths of the internal spin-then-futex lock (see lock.h).
 */
#include "lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

void futex_wait(uint32_t *addr, uint32_t val)
{
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

void futex_wake_one(uint32_t *addr)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void lock_slow(uint32_t *l)
{
    /* Spin first: the holder is most likely running on the other CPU and
     * about to release; sleeping costs tens of microseconds here. */
    for (int i = 0; i < 200; i++) {
        if (load_relaxed(l) == 0 && trylock(l))
            return;
        cpu_relax();
    }
    /* Mark the lock contended (2) and sleep until it looks free.  Whoever
     * takes it on this path leaves it at 2, so its unlock wakes the next
     * sleeper: no wake-up is lost. */
    while (__atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE) != 0)
        futex_wait(l, 2);
}

void unlock_slow(uint32_t *l)
{
    futex_wake_one(l);
}
