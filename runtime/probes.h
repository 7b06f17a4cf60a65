/*
 * probes.h - USDT probes, provider "greenrt" (documented in greenrt.h).
 *
 * <sys/sdt.h> compiles each probe to a single nop plus an ELF note that
 * tracers (gtrace, bpftrace, perf) read to place a uprobe; untraced, the
 * cost is that nop.  Arguments must be cheap to compute: they are
 * evaluated whether or not anybody listens.
 */
#ifndef GR_PROBES_H
#define GR_PROBES_H

#if defined(__has_include)
#if __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#define GR_HAVE_SDT 1
#endif
#endif

#ifdef GR_HAVE_SDT
#define PROBE1(name, a) DTRACE_PROBE1(greenrt, name, a)
#define PROBE2(name, a, b) DTRACE_PROBE2(greenrt, name, a, b)
#define PROBE3(name, a, b, c) DTRACE_PROBE3(greenrt, name, a, b, c)
#define PROBE4(name, a, b, c, d) DTRACE_PROBE4(greenrt, name, a, b, c, d)
#else
#define PROBE1(name, a) ((void)(a))
#define PROBE2(name, a, b) ((void)(a), (void)(b))
#define PROBE3(name, a, b, c) ((void)(a), (void)(b), (void)(c))
#define PROBE4(name, a, b, c, d) ((void)(a), (void)(b), (void)(c), (void)(d))
#endif

/* A function that holds a probe several paths fire, so that it has one
 * call site: each site is one uprobe for a tracer to place, and to
 * remove, which costs the tracer an RCU grace period per uprobe (~0.1 s
 * here, one after another).  noclone: a copy specialised on a constant
 * argument would be a second site. */
#if defined(__clang__)
#define PROBE_SITE __attribute__((noinline))
#else
#define PROBE_SITE __attribute__((noinline, noclone))
#endif

#endif
