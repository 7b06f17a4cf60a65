/*
 * env.c - the runtime's environment variables (documented in greenrt.h).
 * A malformed value is an error reported on stderr, never a silent default.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "greenrt.h"
#include "sched.h"
#include "stack.h"

/* Parses a decimal integer with an optional k/m/g suffix (x1024). */
static int parse_size(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1024ull * 1024 * 1024, end++;
    if (*end)
        return -1;
    if (v > ~0ull / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static int bad(const char *var, const char *val, const char *want)
{
    fprintf(stderr, "greenrt: %s=\"%s\" is not valid: %s\n", var, val, want);
    return -EINVAL;
}

static int parse_bool(const char *var, bool *out)
{
    const char *v = getenv(var);
    if (!v)
        return 0;
    if (!strcmp(v, "0"))
        *out = false;
    else if (!strcmp(v, "1"))
        *out = true;
    else
        return bad(var, v, "use 0 or 1");
    return 0;
}

int env_parse(void)
{
    const char *v = getenv("GR_PROCS");
    if (v) {
        unsigned long long n;
        if (parse_size(v, &n) || strpbrk(v, "kKmMgG") || n < 1 || n > MAX_WORKERS)
            return bad("GR_PROCS", v, "use a number of workers from 1 to 1024");
        sched.nprocs = (int)n;
    } else {
        cpu_set_t set;
        int n = 0;
        if (sched_getaffinity(0, sizeof set, &set) == 0)
            n = CPU_COUNT(&set);
        sched.nprocs = n > 0 ? (n > MAX_WORKERS ? MAX_WORKERS : n) : 1;
    }

    sched.default_stack = GR_DEFAULT_STACK_SIZE;
    v = getenv("GR_STACK_SIZE");
    if (v) {
        unsigned long long n;
        if (parse_size(v, &n) || n < GR_MIN_STACK_SIZE || n > GR_MAX_STACK_SIZE)
            return bad("GR_STACK_SIZE", v, "use bytes from 16k to 1g (suffix k, m or g allowed)");
        sched.default_stack = page_round((size_t)n);
    }

    sched.preempt_async = true;
    sched.preempt_explicit = getenv("GR_PREEMPT") != NULL;
    int err = parse_bool("GR_PREEMPT", &sched.preempt_async);
    if (err)
        return err;
#if defined(__SANITIZE_THREAD__)
    /* TSan cannot follow a goroutine switch made inside a signal handler. */
    sched.preempt_async = false;
#endif
    sched.adaptive = true;
    err = parse_bool("GR_ADAPTIVE", &sched.adaptive);
    if (err)
        return err;
    sched.randomize = false;
    err = parse_bool("GR_SCHED_RANDOM", &sched.randomize);
    if (err)
        return err;

    sched.engine_want = ENGINE_WANT_AUTO;
    v = getenv("GR_ENGINE");
    if (v) {
        if (!strcmp(v, "auto"))
            sched.engine_want = ENGINE_WANT_AUTO;
        else if (!strcmp(v, "uring"))
            sched.engine_want = ENGINE_WANT_URING;
        else if (!strcmp(v, "epoll"))
            sched.engine_want = ENGINE_WANT_EPOLL;
        else
            return bad("GR_ENGINE", v, "use auto, uring or epoll");
    }
    return 0;
}
