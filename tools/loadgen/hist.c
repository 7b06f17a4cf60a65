/*
 * hist.c - log-linear histogram (see hist.h for the layout and precision).
 *
 * Index of a value v:
 *   v < 256:  v itself
 *   else:     shift = msb(v) - 7, so that v >> shift is in [128, 256);
 *             index = 256 + (shift - 1) * 128 + ((v >> shift) - 128)
 * Chosen over a fixed-width or purely logarithmic layout because it keeps
 * a constant relative error (<= 0.8%) from nanoseconds to minutes in 35 KiB
 * and records with a count-leading-zeros and two shifts.
 */
#include "hist.h"

#include <string.h>

void hist_init(hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

int hist_index(uint64_t v)
{
    if (v < 256)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - HIST_SUB_BITS;
    if (shift > HIST_MAX_SHIFT)
        return HIST_BUCKETS - 1;
    return 256 + (shift - 1) * 128 + (int)((v >> shift) - 128);
}

uint64_t hist_bucket_high(int idx)
{
    if (idx < 256)
        return (uint64_t)idx;
    int shift = (idx - 256) / 128 + 1;
    uint64_t sub = (uint64_t)((idx - 256) % 128) + 128;
    return ((sub + 1) << shift) - 1;
}

void hist_record(hist *h, uint64_t ns)
{
    int i = hist_index(ns);
    /* single writer: relaxed stores let a reader copy without tearing */
    __atomic_store_n(&h->count[i], h->count[i] + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&h->total, h->total + 1, __ATOMIC_RELAXED);
    if (ns > h->max)
        __atomic_store_n(&h->max, ns, __ATOMIC_RELAXED);
    if (ns < h->min)
        __atomic_store_n(&h->min, ns, __ATOMIC_RELAXED);
    h->sum += (double)ns;
}

void hist_snapshot(hist *dst, const hist *src)
{
    for (int i = 0; i < HIST_BUCKETS; i++)
        dst->count[i] = __atomic_load_n(&src->count[i], __ATOMIC_RELAXED);
    dst->total = 0;
    for (int i = 0; i < HIST_BUCKETS; i++)
        dst->total += dst->count[i];
    dst->max = __atomic_load_n(&src->max, __ATOMIC_RELAXED);
    dst->min = __atomic_load_n(&src->min, __ATOMIC_RELAXED);
    dst->sum = 0; /* not needed for progress lines */
}

void hist_merge(hist *dst, const hist *src)
{
    for (int i = 0; i < HIST_BUCKETS; i++)
        dst->count[i] += src->count[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
    if (src->min < dst->min)
        dst->min = src->min;
}

void hist_sub(hist *dst, const hist *a, const hist *b)
{
    dst->total = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        dst->count[i] = a->count[i] >= b->count[i] ? a->count[i] - b->count[i] : 0;
        dst->total += dst->count[i];
    }
    dst->max = a->max;
    dst->min = 0;
    dst->sum = 0;
}

uint64_t hist_percentile(const hist *h, double p)
{
    if (h->total == 0)
        return 0;
    uint64_t want = (uint64_t)((p / 100.0) * (double)h->total + 0.5);
    if (want < 1)
        want = 1;
    if (want > h->total)
        want = h->total;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= want) {
            uint64_t v = hist_bucket_high(i);
            return v > h->max && h->max ? h->max : v;
        }
    }
    return h->max;
}

double hist_mean(const hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}
