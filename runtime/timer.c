/*
 * timer.c - per-worker 4-ary min-heaps of timers (design in timer.h).
 *
 * A 4-ary heap is shallower than a binary one (log4 n levels: 10 for a
 * million timers) and its four children share a cache line of pointers.
 */
#include "timer.h"

#include <errno.h>
#include <stdlib.h>

#include "lock.h"
#include "sched.h"

void timer_heap_init(timer_heap *h)
{
    h->lock = 0;
    h->len = h->cap = 0;
    h->slots = NULL;
    h->earliest = INT64_MAX;
}

void timer_heap_destroy(timer_heap *h)
{
    for (int i = 0; i < h->len; i++)
        __atomic_store_n(&h->slots[i]->owner, NULL, __ATOMIC_RELEASE);
    free(h->slots);
    timer_heap_init(h);
}

static void place(timer_heap *h, int i, timer *t)
{
    h->slots[i] = t;
    t->index = i;
}

static void sift_up(timer_heap *h, int i)
{
    timer *t = h->slots[i];
    while (i > 0) {
        int parent = (i - 1) / 4;
        if (h->slots[parent]->when <= t->when)
            break;
        place(h, i, h->slots[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(timer_heap *h, int i)
{
    timer *t = h->slots[i];
    for (;;) {
        int c = 4 * i + 1;
        if (c >= h->len)
            break;
        int best = c;
        int end = c + 4 < h->len ? c + 4 : h->len;
        for (int k = c + 1; k < end; k++)
            if (h->slots[k]->when < h->slots[best]->when)
                best = k;
        if (h->slots[best]->when >= t->when)
            break;
        place(h, i, h->slots[best]);
        i = best;
    }
    place(h, i, t);
}

static void publish_earliest(timer_heap *h)
{
    __atomic_store_n(&h->earliest, h->len ? h->slots[0]->when : INT64_MAX, __ATOMIC_RELEASE);
}

/* Removes slot i; heap locked. */
static void remove_at(timer_heap *h, int i)
{
    timer *t = h->slots[i];
    h->len--;
    if (i != h->len) {
        place(h, i, h->slots[h->len]);
        if (i > 0 && h->slots[(i - 1) / 4]->when > h->slots[i]->when)
            sift_up(h, i);
        else
            sift_down(h, i);
    }
    /* Release: timer_cancel reads owner without the lock, and must then
     * see firing as timers_run set it before this store. */
    __atomic_store_n(&t->owner, NULL, __ATOMIC_RELEASE);
    t->index = -1;
    __atomic_fetch_sub(&sched.ntimers, 1, __ATOMIC_ACQ_REL);
}

/* Room for one more timer; heap locked.  False when out of memory. */
static bool heap_room(timer_heap *h)
{
    if (h->len < h->cap)
        return true;
    int ncap = h->cap ? h->cap * 2 : 64;
    timer **n = realloc(h->slots, sizeof(timer *) * (size_t)ncap);
    if (!n)
        return false;
    h->slots = n;
    h->cap = ncap;
    return true;
}

int timer_reserve(worker *w)
{
    timer_heap *h = &w->timers;
    lock(&h->lock);
    bool ok = heap_room(h);
    unlock(&h->lock);
    return ok ? 0 : -ENOMEM;
}

int timer_arm(worker *w, timer *t, int64_t when)
{
    timer_heap *h = &w->timers;
    lock(&h->lock);
    if (!heap_room(h)) {
        unlock(&h->lock);
        return -ENOMEM;
    }
    t->when = when;
    __atomic_store_n(&t->firing, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->owner, w, __ATOMIC_RELEASE);
    __atomic_fetch_add(&sched.ntimers, 1, __ATOMIC_ACQ_REL);
    place(h, h->len++, t);
    sift_up(h, t->index);
    publish_earliest(h);
    unlock(&h->lock);
    return 0;
}

bool timer_cancel(timer *t)
{
    for (;;) {
        worker *w = __atomic_load_n(&t->owner, __ATOMIC_ACQUIRE);
        if (!w) {
            /* Fired or firing: wait until fire() is done with t. */
            while (__atomic_load_n(&t->firing, __ATOMIC_ACQUIRE))
                cpu_relax();
            return false;
        }
        timer_heap *h = &w->timers;
        lock(&h->lock);
        if (t->owner != w) { /* fired meanwhile */
            unlock(&h->lock);
            continue;
        }
        remove_at(h, t->index);
        publish_earliest(h);
        unlock(&h->lock);
        return true;
    }
}

int timers_run(worker *w, int64_t now)
{
    timer_heap *h = &w->timers;
    int fired = 0;
    for (;;) {
        lock(&h->lock);
        if (h->len == 0 || h->slots[0]->when > now) {
            publish_earliest(h);
            unlock(&h->lock);
            return fired;
        }
        timer *t = h->slots[0];
        /* Before owner = NULL (a release), so cancel sees one or the other. */
        __atomic_store_n(&t->firing, 1, __ATOMIC_RELAXED);
        remove_at(h, 0);
        publish_earliest(h);
        unlock(&h->lock);
        t->fire(t);
        fired++;
    }
}
