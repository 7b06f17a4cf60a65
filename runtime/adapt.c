/*
 * adapt.c - the CPU governor: how many of the GR_PROCS workers take
 * goroutines.
 *
 * The problem.  GR_PROCS defaults to the CPUs in the affinity mask, as
 * GOMAXPROCS does, which assumes those CPUs are ours.  On a shared machine
 * they are not: with a load generator, a database or another runtime
 * busy beside us, N workers on N CPUs means more runnable threads than
 * CPUs, and the kernel time-slices them.  A worker descheduled for a
 * slice strands the goroutines its ring completed; the others spin and
 * sleep more; every ring batches less.  Measured on this 2-CPU machine
 * with the echo server and a busy load generator beside it: 2 workers
 * each waited for a CPU 30-45% of the time they wanted one, and served
 * 115k requests/s at 8.5 us of CPU each; 1 worker waited 0.6% and served
 * 200k at 5 us.
 *
 * The signal.  The kernel counts, per thread, the time spent runnable but
 * not running (the second field of /proc/self/task/TID/schedstat).  That
 * is exactly "a worker wanted a CPU and did not get one", independent of
 * what the other load is.  Every WINDOW_NS the monitor thread (preempt.c)
 * calls adapt_tick, which reads it for the active workers:
 *
 *   - shrink: in two windows running, the active workers waited for more
 *     than WAIT_SHARE of the time they were runnable: park the highest-
 *     numbered active workers (dormant.c), down to the number of CPUs'
 *     worth of time they actually got (at least one, at most all but one
 *     of them), so that 64 workers squeezed onto 2 CPUs shrink in one
 *     step.  A dormant worker runs no more goroutines; its
 *     connections move to the others as their I/O completes.
 *   - grow: a worker is dormant, the active ones are busy (running at
 *     least BUSY_SHARE of the window each), and the CPUs we may run on
 *     were idle for at least IDLE_CPUS of a CPU (/proc/stat), in two
 *     windows running: unpark one.
 *
 * A grow that turns out wrong (contention again within FLAP_NS) doubles
 * the time before the next grow may be tried, up to HOLD_MAX_NS, so an
 * oscillation settles in a few seconds; a worker count that has held for
 * STABLE_NS resets it.  Reading the files costs the monitor one pread per
 * worker plus one per window, not the workers anything.
 *
 * GR_ADAPTIVE=0 turns the governor off: GR_PROCS workers, always.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapt.h"
#include "sched.h"

#define WINDOW_NS 100000000LL   /* 100 ms */
#define WAIT_SHARE 0.15         /* of runnable time spent waiting for a CPU */
#define MIN_RUN_SHARE 0.20      /* below this much running, waits are noise */
#define BUSY_SHARE 0.85         /* of the window, per active worker */
#define IDLE_CPUS 0.60          /* a CPU's worth idle in our affinity mask */
#define HOLD_MIN_NS 1000000000LL  /* after a shrink, before a grow */
#define HOLD_MAX_NS 32000000000LL
#define FLAP_NS 3000000000LL    /* a grow undone sooner than this was wrong */
#define STABLE_NS 10000000000LL /* a count held this long resets the hold */

typedef struct {
    int fd;            /* /proc/self/task/TID/schedstat */
    uint64_t run, wait; /* ns, at the window's start */
} task_clock;

static struct {
    bool on;
    int n;
    task_clock *tc;
    int stat_fd;       /* /proc/stat */
    cpu_set_t cpus;    /* our affinity mask */
    double tick_ns;    /* /proc/stat unit */
    uint64_t idle;     /* idle ticks of our CPUs at the window's start */
    int64_t start;     /* window start; 0: take a baseline first */
    int contended, wanting; /* consecutive windows of each verdict */
    int64_t hold_until, hold_ns, last_grow, last_change;
    bool debug;        /* GR_DEBUG: say what was decided and why */
} ad;

static bool read_task_clock(task_clock *t, uint64_t *run, uint64_t *wait)
{
    char buf[128];
    ssize_t k = pread(t->fd, buf, sizeof buf - 1, 0);
    if (k <= 0)
        return false;
    buf[k] = 0;
    unsigned long long r, w;
    if (sscanf(buf, "%llu %llu", &r, &w) != 2)
        return false;
    *run = r;
    *wait = w;
    return true;
}

/* Idle + iowait ticks summed over the CPUs of our affinity mask. */
static bool read_idle(uint64_t *out)
{
    static char buf[65536];
    ssize_t k = pread(ad.stat_fd, buf, sizeof buf - 1, 0);
    if (k <= 0)
        return false;
    buf[k] = 0;
    uint64_t sum = 0;
    for (char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, "cpu", 3) != 0)
            break; /* the per-CPU lines come first */
        if (line[3] < '0' || line[3] > '9')
            continue; /* the "cpu" total line */
        unsigned cpu;
        unsigned long long user, nice, sys, idle, iowait;
        if (sscanf(line + 3, "%u %llu %llu %llu %llu %llu", &cpu, &user, &nice, &sys, &idle,
                   &iowait) != 6)
            return false;
        if (cpu < CPU_SETSIZE && CPU_ISSET(cpu, &ad.cpus))
            sum += idle + iowait;
    }
    *out = sum;
    return true;
}

void adapt_stop(void)
{
    if (ad.tc) {
        for (int i = 0; i < ad.n; i++)
            if (ad.tc[i].fd >= 0)
                close(ad.tc[i].fd);
        free(ad.tc);
    }
    if (ad.stat_fd >= 0)
        close(ad.stat_fd);
    memset(&ad, 0, sizeof ad);
    ad.stat_fd = -1;
}

/* Monitor thread, at its start.  Without the files (no /proc), the
 * governor stays off and GR_PROCS workers run. */
void adapt_start(void)
{
    memset(&ad, 0, sizeof ad);
    ad.stat_fd = -1;
    if (!sched.adaptive || sched.nprocs < 2)
        return;
    ad.n = sched.nprocs;
    ad.tc = calloc((size_t)ad.n, sizeof *ad.tc);
    if (!ad.tc)
        return;
    for (int i = 0; i < ad.n; i++)
        ad.tc[i].fd = -1;
    for (int i = 0; i < ad.n; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", sched.workers[i].tid);
        ad.tc[i].fd = open(path, O_RDONLY | O_CLOEXEC);
        if (ad.tc[i].fd < 0) {
            adapt_stop();
            return;
        }
    }
    ad.stat_fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    long hz = sysconf(_SC_CLK_TCK);
    if (ad.stat_fd < 0 || hz <= 0 || sched_getaffinity(0, sizeof ad.cpus, &ad.cpus) != 0) {
        adapt_stop();
        return;
    }
    ad.tick_ns = 1e9 / (double)hz;
    ad.debug = getenv("GR_DEBUG") != NULL;
    ad.hold_ns = HOLD_MIN_NS;
    ad.on = true;
}

/* The monitor slept (every worker idle): the next window starts afresh. */
void adapt_reset(void)
{
    ad.start = 0;
    ad.contended = ad.wanting = 0;
}

static bool take_baseline(int64_t now)
{
    for (int i = 0; i < ad.n; i++)
        if (!read_task_clock(&ad.tc[i], &ad.tc[i].run, &ad.tc[i].wait))
            return false;
    if (!read_idle(&ad.idle))
        return false;
    ad.start = now;
    return true;
}

static void changed(int64_t now, bool grew, uint32_t active, double wait_share, double idle_cpus)
{
    if (ad.debug)
        fprintf(stderr,
                "greenrt: %s: %u of %d workers active (workers waited for a CPU %.0f%% of "
                "their runnable time, %.2f CPUs idle)\n",
                grew ? "CPU free" : "CPUs contended", active, ad.n, wait_share * 100, idle_cpus);
    ad.contended = ad.wanting = 0;
    ad.last_change = now;
    if (grew) {
        ad.last_grow = now;
        return;
    }
    if (ad.last_grow && now - ad.last_grow < FLAP_NS && ad.hold_ns < HOLD_MAX_NS)
        ad.hold_ns *= 2;
    ad.hold_until = now + ad.hold_ns;
}

/* Monitor thread, every period while some worker is busy. */
void adapt_tick(int64_t now)
{
    if (!ad.on)
        return;
    if (!ad.start) {
        if (!take_baseline(now))
            ad.on = false; /* the files went away: keep what we have */
        return;
    }
    int64_t win = now - ad.start;
    if (win < WINDOW_NS)
        return;

    uint32_t active = load_relaxed(&sched.nactive);
    double run = 0, wait = 0;
    for (int i = 0; i < ad.n; i++) {
        uint64_t r, w;
        if (!read_task_clock(&ad.tc[i], &r, &w)) {
            ad.on = false;
            return;
        }
        if ((uint32_t)i < active) {
            run += (double)(r - ad.tc[i].run);
            wait += (double)(w - ad.tc[i].wait);
        }
        ad.tc[i].run = r;
        ad.tc[i].wait = w;
    }
    uint64_t idle;
    if (!read_idle(&idle)) {
        ad.on = false;
        return;
    }
    double idle_cpus = (double)(idle - ad.idle) * ad.tick_ns / (double)win;
    ad.idle = idle;
    ad.start = now;

    bool contended = run > MIN_RUN_SHARE * (double)win && wait > WAIT_SHARE * (run + wait);
    bool wanting = active < (uint32_t)ad.n && run >= BUSY_SHARE * (double)active * (double)win &&
                   idle_cpus >= IDLE_CPUS && now >= ad.hold_until;
    ad.contended = contended ? ad.contended + 1 : 0;
    ad.wanting = wanting ? ad.wanting + 1 : 0;

    double wait_share = run + wait > 0 ? wait / (run + wait) : 0;
    if (ad.contended >= 2) {
        /* The CPUs we got, rounded: that many workers would have had them
         * to themselves. */
        double got = run / (double)win;
        uint32_t target = got < 1.5 ? 1 : (uint32_t)(got + 0.5);
        if (target >= active)
            target = active - 1;
        uint32_t parked = 0;
        while (active - parked > target && sched_park_worker())
            parked++;
        if (parked)
            changed(now, false, active - parked, wait_share, idle_cpus);
    } else if (ad.wanting >= 2 && sched_unpark_worker())
        changed(now, true, active + 1, wait_share, idle_cpus);
    else if (ad.last_change && now - ad.last_change >= STABLE_NS)
        ad.hold_ns = HOLD_MIN_NS;
}
