/*
 * hist.h - a log-linear latency histogram (HdrHistogram-like).
 *
 * Values are nanoseconds.  Below 256 (2 << HIST_SUB_BITS) every value has
 * its own bucket; above, each power of two is split into 128
 * (1 << HIST_SUB_BITS) equal buckets, so a bucket is at most 1/128 (0.8%)
 * of the values it holds wide.  Values up to 2^40 ns (18 minutes,
 * HIST_MAX_SHIFT) are kept; larger ones are clamped.  HIST_BUCKETS buckets
 * of 8 bytes: one histogram per load-generator thread, merged at the end.
 *
 * One thread records (hist_record); another may read a copy at any time
 * (hist_snapshot) with relaxed atomic loads - the copy is not a consistent
 * cut, which is fine for a progress line.
 */
#ifndef LOADGEN_HIST_H
#define LOADGEN_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_MAX_SHIFT 33                         /* 2^(33+7) = 2^40 ns */
#define HIST_BUCKETS (256 + HIST_MAX_SHIFT * 128) /* 4480 */

typedef struct hist {
    uint64_t count[HIST_BUCKETS];
    uint64_t total;  /* values recorded */
    uint64_t max;    /* exact largest value */
    uint64_t min;    /* exact smallest value (UINT64_MAX when empty) */
    double sum;      /* for the mean */
} hist;

void hist_init(hist *h);
void hist_record(hist *h, uint64_t ns);
void hist_snapshot(hist *dst, const hist *src);   /* racy copy, see above */
void hist_merge(hist *dst, const hist *src);      /* dst += src */
void hist_sub(hist *dst, const hist *a, const hist *b); /* a - b (max: a's) */
/* The value at percentile p (0..100): the upper edge of the bucket holding
 * the p-th percentile value, capped at the exact max; 0 when empty. */
uint64_t hist_percentile(const hist *h, double p);
double hist_mean(const hist *h);

/* exposed for tests */
int hist_index(uint64_t v);
uint64_t hist_bucket_high(int idx);

#endif
