/*
 * fatal.c - fatal errors: misuse (Go's panics), and the deadlock report.
 *
 * Fatal messages go straight to stderr with write(2) - no stdio buffers
 * that another thread might hold - and the process exits with status 2,
 * as a Go program does on a fatal error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fatal.h"
#include "goroutine.h"
#include "greenrt.h"
#include "sched.h"

static const char *const reasons[GR_WAIT_REASON_COUNT] = {
    [GR_WAIT_NONE] = "runnable",
    [GR_WAIT_CHAN_SEND] = "chan send",
    [GR_WAIT_CHAN_RECV] = "chan receive",
    [GR_WAIT_SELECT] = "select",
    [GR_WAIT_SELECT_NO_CASES] = "select (no cases)",
    [GR_WAIT_SLEEP] = "sleep",
    [GR_WAIT_MUTEX] = "sync.Mutex lock",
    [GR_WAIT_RWMUTEX_R] = "sync.RWMutex rlock",
    [GR_WAIT_RWMUTEX_W] = "sync.RWMutex lock",
    [GR_WAIT_COND] = "sync.Cond wait",
    [GR_WAIT_WG] = "sync.WaitGroup wait",
    [GR_WAIT_ONCE] = "sync.Once",
    [GR_WAIT_IO] = "IO wait",
    [GR_WAIT_BLOCKING] = "blocking call",
    [GR_WAIT_GROUP] = "group wait",
};

const char *wait_reason_str(int reason)
{
    if (reason < 0 || reason >= GR_WAIT_REASON_COUNT || !reasons[reason])
        return "unknown";
    return reasons[reason];
}

static void put(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = write(STDERR_FILENO, s, n);
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

static void vheadline(const char *fmt, va_list ap)
{
    char buf[1024];
    int n = vsnprintf(buf + 7, sizeof buf - 8, fmt, ap);
    memcpy(buf, "fatal: ", 7);
    if (n < 0)
        n = 0;
    size_t len = 7 + ((size_t)n < sizeof buf - 9 ? (size_t)n : sizeof buf - 9);
    buf[len++] = '\n';
    put(buf, len);
}

_Noreturn void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vheadline(fmt, ap);
    va_end(ap);
    _exit(2);
}

void fatal_headline(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vheadline(fmt, ap);
    va_end(ap);
}

_Noreturn void fatal_exit(void)
{
    _exit(2);
}

void fatal_goroutine(g *gp)
{
    char line[160];
    uint32_t st = load_relaxed(&gp->status);
    const char *what = st == G_WAITING    ? wait_reason_str(gp->wait_reason)
                       : st == G_RUNNABLE ? "runnable"
                                          : "running";
    int n = snprintf(line, sizeof line, "goroutine %lld (%s) [%s]\n", (long long)gp->id,
                     g_name(gp), what);
    put(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void fatal_more(long more)
{
    char line[64];
    int n = snprintf(line, sizeof line, "... and %ld more goroutines\n", more);
    put(line, (size_t)n);
}

/* Every goroutine that is parked or runnable, one line each. */
_Noreturn void fatal_deadlock(void)
{
    static const char head[] = "fatal: all goroutines are asleep - deadlock!\n\n";
    put(head, sizeof head - 1);
    long shown = 0, total = 0;
    for (g *gp = sched.allg; gp; gp = gp->allnext) {
        uint32_t st = load_relaxed(&gp->status);
        if (st != G_WAITING && st != G_RUNNABLE)
            continue;
        total++;
        if (shown >= FATAL_REPORT_MAX)
            continue;
        shown++;
        fatal_goroutine(gp);
    }
    if (total > shown)
        fatal_more(total - shown);
    _exit(2);
}
