/*
 * bench_harness.h - the measurement harness shared by greenrt's benchmark
 * programs (bench_sched, bench_io).
 *
 * A benchmark program is a table of figures and a call to bench_main().
 * Each figure is a goroutine main that bench_main runs under gr_run in a
 * fresh child process and that reports its numbers with bench_report().
 * The parent runs every figure for each GR_PROCS value and RUNS times,
 * then prints a table and one JSON line per reported quantity (see
 * bench_harness.c for the why and the protocol).
 */
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <stdint.h>

struct bench_fig {
    const char *name;      /* on the command line, in the JSON "bench" field;
                              the figure's first bench_report uses it too */
    const char *what;      /* one line, for -l */
    void (*main)(void *);  /* goroutine main, run by gr_run in the child */
};

/* Parses the command line and either runs as the driver (forks a child
 * per measurement) or, with the private "--child NAME" arguments, as the
 * child that measures one figure.  Returns the process exit status. */
int bench_main(int argc, char **argv, const struct bench_fig *figs, int nfigs);

/* Child side, from the figure's goroutines. */

/* One measured quantity: metric is the JSON "bench" name, unit "ns", "B",
 * "KiB" or "ratio", n the operations it was averaged over (0: none). */
void bench_report(const char *metric, const char *unit, double value, long n);
/* A line of context (runtime counters...), shown by the driver with -v. */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The measurement cannot be trusted (a lost value, a failed call): prints
 * why and ends the child with status 1, which the driver reports. */
_Noreturn void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* n scaled by -s SCALE (default 1), at least 1. */
long bench_scaled(long n);
/* Seconds a time-capped loop may run (-t, default 0.5). */
double bench_time_cap(void);
/* Resident set size now, in bytes, from /proc/self/statm. */
long bench_rss_bytes(void);
/* Peak resident set size of this process, in KiB (getrusage ru_maxrss). */
long bench_peak_rss_kib(void);
/* Counters of the running runtime as a bench_note line. */
void bench_note_stats(const char *when);

#endif /* BENCH_HARNESS_H */
