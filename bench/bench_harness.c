/*
 * bench_harness.c - runs each benchmark figure in fresh processes and
 * reports medians.
 *
 * Why a process per measurement.  Three things would leak from one
 * measurement into the next if they shared a process: the peak resident
 * set size (getrusage's ru_maxrss only ever grows, so a million-goroutine
 * run would hide every later peak), memory the runtime keeps pooled
 * (stacks, goroutine records: a second run would measure a warm pool, not
 * the program a user starts), and GR_PROCS, which gr_run reads from the
 * environment when it starts.  So the driver never calls gr_run itself:
 * for each figure, each GR_PROCS value and each repeat it forks, sets
 * GR_PROCS, and execs /proc/self/exe with the private arguments
 * "--child NAME --scale S --cap T".  (exec gives the child a new address
 * space, so its ru_maxrss starts from the driver's few hundred KiB, not
 * from an earlier child's peak.)
 *
 * The child runs the figure's goroutine main under gr_run.  It reports on
 * its stdout, a pipe read by the driver, one line per quantity:
 *
 *     @metric NAME UNIT VALUE N
 *     @note   free text (shown with -v)
 *
 * anything else it prints is passed through to the driver's stderr.  A
 * child that exits non-zero, dies of a signal or outlives its alarm
 * (CHILD_TIMEOUT_S) counts as a failed run of that figure; the driver goes
 * on with the next one and exits 1 at the end.  After a timeout the
 * remaining runs of that figure and GR_PROCS value are skipped, so a hung
 * runtime costs one timeout, not RUNS of them.
 *
 * The driver keeps every run's value per (quantity, GR_PROCS), prints a
 * table with the median and the runs, and one JSON line per (quantity,
 * GR_PROCS) on stdout, also appended to results.jsonl beside the binary
 * (or -o FILE):
 *
 *   {"bench":"chan_roundtrip","impl":"greenrt","procs":2,"unit":"ns",
 *    "median":71.2,"runs":[70.9,71.2,74.0],"n":1000000,"ts":1732750000}
 *
 * The Go twins (bench/go) print the same lines with "impl":"go", so a
 * single awk script (bench/side_by_side.awk) can put them side by side.
 */
#define _GNU_SOURCE
#include "bench_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <greenrt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_TIMEOUT_S 30
#define MAX_RUNS 15
#define MAX_PROCS 8
#define MAX_ENTRIES 256

static const char *prog = "bench";
static double scale = 1.0;
static double time_cap = 0.5;

/* ---------------------------------------------------------------- child */

void bench_report(const char *metric, const char *unit, double value, long n)
{
    printf("@metric %s %s %.17g %ld\n", metric, unit, value, n);
    fflush(stdout);
}

void bench_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("@note ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}

void bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stdout);
    _exit(1);
}

long bench_scaled(long n)
{
    double v = (double)n * scale;
    return v < 1 ? 1 : (long)v;
}

double bench_time_cap(void)
{
    return time_cap;
}

long bench_rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        bench_fail("cannot open /proc/self/statm: %s", strerror(errno));
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        bench_fail("cannot parse /proc/self/statm");
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

long bench_peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

void bench_note_stats(const char *when)
{
    gr_stats s;
    gr_stats_get(&s);
    bench_note("%s: spawned=%llu exited=%llu live=%llu switches=%llu steals=%llu "
               "parks=%llu preemptions=%llu io_submitted=%llu io_completed=%llu "
               "ring_enters=%llu",
               when, (unsigned long long)s.spawned, (unsigned long long)s.exited,
               (unsigned long long)s.live, (unsigned long long)s.switches,
               (unsigned long long)s.steals, (unsigned long long)s.parks,
               (unsigned long long)s.preemptions, (unsigned long long)s.io_submitted,
               (unsigned long long)s.io_completed, (unsigned long long)s.ring_enters);
}

static int child_main(const struct bench_fig *fig)
{
    alarm(CHILD_TIMEOUT_S); /* a hung runtime must not hang `make bench` */
    int rc = gr_run(fig->main, NULL);
    fflush(stdout);
    if (rc < 0) {
        fprintf(stderr, "%s: %s: gr_run failed: %s\n", prog, fig->name, strerror(-rc));
        return 1;
    }
    return 0;
}

/* --------------------------------------------------------------- driver */

struct entry {
    char metric[64];
    char unit[16];
    int order;          /* first-seen rank of the metric, for the table */
    int procs;
    double v[MAX_RUNS]; /* successful runs, in run order */
    int nv;
    long n;
    int failed;         /* runs of the figure that failed (primary metric) */
};

static struct entry entries[MAX_ENTRIES];
static int nentries, nmetrics;
static int verbose;

static struct entry *entry_get(const char *metric, int procs)
{
    int order = -1;
    for (int i = 0; i < nentries; i++) {
        if (strcmp(entries[i].metric, metric))
            continue;
        order = entries[i].order;
        if (entries[i].procs == procs)
            return &entries[i];
    }
    if (nentries == MAX_ENTRIES) {
        fprintf(stderr, "%s: too many metrics (max %d)\n", prog, MAX_ENTRIES);
        exit(1);
    }
    struct entry *e = &entries[nentries++];
    memset(e, 0, sizeof(*e));
    snprintf(e->metric, sizeof(e->metric), "%s", metric);
    e->order = order >= 0 ? order : nmetrics++;
    e->procs = procs;
    return e;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_RUNS];
    memcpy(s, v, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->order != y->order)
        return x->order - y->order;
    return x->procs - y->procs;
}

/* Table figures: whole numbers when large, more digits when small. */
static void fmt_num(char *buf, size_t len, double v)
{
    if (v >= 1000 || v <= -1000)
        snprintf(buf, len, "%.0f", v);
    else if (v >= 1 || v <= -1)
        snprintf(buf, len, "%.1f", v);
    else
        snprintf(buf, len, "%.4f", v);
}

/* Parses one "@metric NAME UNIT VALUE N" line into the entry table. */
static int take_metric(const char *line, int procs)
{
    char metric[64], unit[16];
    double value;
    long n;
    if (sscanf(line, "@metric %63s %15s %lf %ld", metric, unit, &value, &n) != 4)
        return -1;
    struct entry *e = entry_get(metric, procs);
    snprintf(e->unit, sizeof(e->unit), "%s", unit);
    e->n = n;
    if (e->nv < MAX_RUNS)
        e->v[e->nv++] = value;
    return 0;
}

/* One measurement: fork, exec ourselves as the child for fig with
 * GR_PROCS=procs, collect its metrics.  Returns 0, -1 if it failed, -2 if
 * it timed out. */
static int run_child(const struct bench_fig *fig, int procs, int run)
{
    char scale_s[32], cap_s[32], procs_s[16];
    snprintf(scale_s, sizeof(scale_s), "%.17g", scale);
    snprintf(cap_s, sizeof(cap_s), "%.17g", time_cap);
    snprintf(procs_s, sizeof(procs_s), "%d", procs);
    char *args[] = {(char *)prog,     "--child",        (char *)fig->name,
                    "--scale",        scale_s,          "--cap",
                    cap_s,            NULL};
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        fprintf(stderr, "%s: pipe: %s\n", prog, strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pfd[1], STDOUT_FILENO);
        setenv("GR_PROCS", procs_s, 1);
        execv("/proc/self/exe", args);
        fprintf(stderr, "%s: cannot exec /proc/self/exe: %s\n", prog, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int got = 0;
    while (f && (len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = 0;
        if (!strncmp(line, "@metric ", 8)) {
            if (take_metric(line, procs) == 0)
                got++;
            else
                fprintf(stderr, "%s: %s: malformed line from child: %s\n", prog,
                        fig->name, line);
        } else if (!strncmp(line, "@note ", 6)) {
            if (verbose)
                fprintf(stderr, "    [%s GR_PROCS=%d run %d] %s\n", fig->name, procs,
                        run + 1, line + 6);
        } else {
            fprintf(stderr, "%s\n", line);
        }
    }
    free(line);
    if (f)
        fclose(f);
    else
        close(pfd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    const char *why = NULL;
    char buf[64];
    if (WIFSIGNALED(st)) {
        snprintf(buf, sizeof(buf), "killed by signal %d (%s)%s", WTERMSIG(st),
                 strsignal(WTERMSIG(st)),
                 WTERMSIG(st) == SIGALRM ? ", timed out" : "");
        why = buf;
    } else if (WEXITSTATUS(st) != 0) {
        snprintf(buf, sizeof(buf), "exit status %d", WEXITSTATUS(st));
        why = buf;
    } else if (!got) {
        why = "reported nothing";
    }
    if (why) {
        fprintf(stderr, "%s: %s (GR_PROCS=%d, run %d) failed: %s\n", prog, fig->name,
                procs, run + 1, why);
        entry_get(fig->name, procs)->failed++;
        return WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? -2 : -1;
    }
    return 0;
}

static void print_results(FILE *out, FILE *jsonl, const char *impl)
{
    qsort(entries, nentries, sizeof(entries[0]), cmp_entry);
    fprintf(out, "\n%-24s %5s %12s %-5s  %s\n", "figure", "procs", "median", "unit",
            "runs");
    for (int i = 0; i < nentries; i++) {
        struct entry *e = &entries[i];
        char med[32] = "failed", runs[256] = "", num[32];
        if (e->nv) {
            fmt_num(med, sizeof(med), median(e->v, e->nv));
            for (int k = 0; k < e->nv; k++) {
                fmt_num(num, sizeof(num), e->v[k]);
                size_t l = strlen(runs);
                snprintf(runs + l, sizeof(runs) - l, "%s%s", k ? " " : "", num);
            }
        }
        if (e->failed) {
            size_t l = strlen(runs);
            snprintf(runs + l, sizeof(runs) - l, "%s(%d failed)", e->nv ? " " : "",
                     e->failed);
        }
        fprintf(out, "%-24s %5d %12s %-5s  %s\n", e->metric, e->procs, med, e->unit,
                runs);
    }
    fputc('\n', out);

    long ts = (long)time(NULL);
    for (int i = 0; i < nentries; i++) {
        struct entry *e = &entries[i];
        char line[1024];
        int l = snprintf(line, sizeof(line),
                         "{\"bench\":\"%s\",\"impl\":\"%s\",\"procs\":%d,\"unit\":\"%s\","
                         "\"median\":",
                         e->metric, impl, e->procs, e->unit);
        if (e->nv)
            l += snprintf(line + l, sizeof(line) - l, "%.6g", median(e->v, e->nv));
        else
            l += snprintf(line + l, sizeof(line) - l, "null");
        l += snprintf(line + l, sizeof(line) - l, ",\"runs\":[");
        for (int k = 0; k < e->nv; k++)
            l += snprintf(line + l, sizeof(line) - l, "%s%.6g", k ? "," : "", e->v[k]);
        l += snprintf(line + l, sizeof(line) - l, "],\"n\":%ld,\"ts\":%ld", e->n, ts);
        if (e->failed)
            l += snprintf(line + l, sizeof(line) - l, ",\"failed\":%d", e->failed);
        snprintf(line + l, sizeof(line) - l, "}");
        fprintf(out, "%s\n", line);
        if (jsonl)
            fprintf(jsonl, "%s\n", line);
    }
}

static void usage(FILE *f, const struct bench_fig *figs, int nfigs)
{
    fprintf(f,
            "usage: %s [-r RUNS] [-p PROCS,...] [-s SCALE] [-t SECONDS] [-o FILE] [-n] [-v]"
            " [FIGURE...]\n"
            "Runs greenrt benchmark figures, each in a fresh process per run, and prints\n"
            "a table of medians and one JSON line per figure.\n\n"
            "  -r RUNS      runs per figure and GR_PROCS value (default 3, max %d)\n"
            "  -p LIST      GR_PROCS values, comma-separated (default 1,2)\n"
            "  -s SCALE     multiply operation counts (default 1; 0.1 for a smoke run)\n"
            "  -t SECONDS   cap of each time-capped loop (default 0.5)\n"
            "  -o FILE      append the JSON lines to FILE (default: results.jsonl\n"
            "               beside this binary)\n"
            "  -n           do not append the JSON lines anywhere\n"
            "  -v           show each run's notes (runtime counters)\n"
            "  -l           list the figures\n\n"
            "figures:\n",
            prog, MAX_RUNS);
    for (int i = 0; i < nfigs; i++)
        fprintf(f, "  %-16s %s\n", figs[i].name, figs[i].what);
    fprintf(f, "\nexample: %s -r 1 -p 2 -s 0.1 chan_roundtrip yield\n", prog);
}

static int parse_procs(const char *s, int *out)
{
    int n = 0;
    char *copy = strdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strtol(t, &end, 10);
        if (*end || v < 1 || v > 1024 || n == MAX_PROCS) {
            free(copy);
            return -1;
        }
        out[n++] = (int)v;
    }
    free(copy);
    return n;
}

static void default_results_path(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (l <= 0) {
        snprintf(buf, len, "results.jsonl");
        return;
    }
    exe[l] = 0;
    snprintf(buf, len, "%s/results.jsonl", dirname(exe));
}

int bench_main(int argc, char **argv, const struct bench_fig *figs, int nfigs)
{
    prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

    /* Child: "--child NAME --scale S --cap T", written only by run_child. */
    if (argc == 7 && !strcmp(argv[1], "--child") && !strcmp(argv[3], "--scale") &&
        !strcmp(argv[5], "--cap")) {
        scale = strtod(argv[4], NULL);
        time_cap = strtod(argv[6], NULL);
        for (int i = 0; i < nfigs; i++)
            if (!strcmp(figs[i].name, argv[2]))
                return child_main(&figs[i]);
        fprintf(stderr, "%s: no figure named '%s'\n", prog, argv[2]);
        return 2;
    }

    int runs = 3, procs[MAX_PROCS] = {1, 2}, nprocs = 2, append = 1, c;
    char results[PATH_MAX] = "";
    while ((c = getopt(argc, argv, "r:p:s:t:o:nvlh")) != -1) {
        switch (c) {
        case 'r':
            runs = atoi(optarg);
            if (runs < 1 || runs > MAX_RUNS) {
                fprintf(stderr, "%s: -r wants 1..%d runs, not '%s'\n", prog, MAX_RUNS, optarg);
                return 2;
            }
            break;
        case 'p':
            nprocs = parse_procs(optarg, procs);
            if (nprocs <= 0) {
                fprintf(stderr, "%s: -p wants a list like 1,2 (up to %d values of 1..1024), "
                        "not '%s'\n", prog, MAX_PROCS, optarg);
                return 2;
            }
            break;
        case 's':
            scale = strtod(optarg, NULL);
            if (!(scale > 0 && scale <= 100)) {
                fprintf(stderr, "%s: -s wants a scale in (0, 100], not '%s'\n", prog, optarg);
                return 2;
            }
            break;
        case 't':
            time_cap = strtod(optarg, NULL);
            if (!(time_cap > 0 && time_cap <= 60)) {
                fprintf(stderr, "%s: -t wants seconds in (0, 60], not '%s'\n", prog, optarg);
                return 2;
            }
            break;
        case 'o':
            snprintf(results, sizeof(results), "%s", optarg);
            break;
        case 'n':
            append = 0;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'l':
            for (int i = 0; i < nfigs; i++)
                printf("%-16s %s\n", figs[i].name, figs[i].what);
            return 0;
        case 'h':
            usage(stdout, figs, nfigs);
            return 0;
        default:
            usage(stderr, figs, nfigs);
            return 2;
        }
    }

    /* Which figures: those named, in table order, or all. */
    int want[64] = {0}, any = optind < argc;
    for (int a = optind; a < argc; a++) {
        int found = 0;
        for (int i = 0; i < nfigs; i++)
            if (!strcmp(figs[i].name, argv[a]))
                want[i] = found = 1;
        if (!found) {
            fprintf(stderr, "%s: no figure named '%s' (%s -l lists them)\n", prog, argv[a], prog);
            return 2;
        }
    }

    int failures = 0;
    for (int i = 0; i < nfigs; i++) {
        if (any && !want[i])
            continue;
        for (int p = 0; p < nprocs; p++) {
            fprintf(stderr, "%s: %s GR_PROCS=%d ...", prog, figs[i].name, procs[p]);
            if (verbose)
                fputc('\n', stderr);
            for (int r = 0; r < runs; r++) {
                int rc = run_child(&figs[i], procs[p], r);
                failures += rc < 0;
                if (rc == -2) {
                    fprintf(stderr, "%s: %s GR_PROCS=%d: skipping its other runs after a "
                            "timeout\n", prog, figs[i].name, procs[p]);
                    break;
                }
            }
            struct entry *e = entry_get(figs[i].name, procs[p]);
            if (e->nv) {
                char m[32];
                fmt_num(m, sizeof(m), median(e->v, e->nv));
                fprintf(stderr, " %s %s\n", m, e->unit);
            } else {
                fprintf(stderr, " failed\n");
            }
        }
    }

    FILE *jsonl = NULL;
    if (append) {
        if (!results[0])
            default_results_path(results, sizeof(results));
        jsonl = fopen(results, "a");
        if (!jsonl)
            fprintf(stderr, "%s: cannot append to %s: %s (results only on stdout)\n", prog,
                    results, strerror(errno));
    }
    print_results(stdout, jsonl, "greenrt");
    if (jsonl)
        fclose(jsonl);
    if (failures)
        fprintf(stderr, "%s: %d run(s) failed\n", prog, failures);
    return failures ? 1 : 0;
}
