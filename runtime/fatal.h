/*
 * fatal.h - fatal errors (fatal.c): misuse reported as Go panics, and the
 * deadlock report.  Both write to stderr and exit with status 2.
 */
#ifndef GR_FATAL_H
#define GR_FATAL_H

struct g;

/* "fatal: <message>" and exit(2), without stdio (another thread may hold
 * its locks). */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A report that lists goroutines: fatal_headline ("fatal: <message>"),
 * then fatal_goroutine for each (at most FATAL_REPORT_MAX of them, then
 * fatal_more with the count left out), then fatal_exit. */
#define FATAL_REPORT_MAX 1000
void fatal_headline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "goroutine ID (NAME) [wait reason, runnable or running]" */
void fatal_goroutine(struct g *gp);
void fatal_more(long more);
_Noreturn void fatal_exit(void);
/* "all goroutines are asleep - deadlock!", every parked or runnable
 * goroutine with its wait reason, and exit(2). */
_Noreturn void fatal_deadlock(void);
/* Go's wording of an enum gr_wait_reason ("chan receive"). */
const char *wait_reason_str(int reason);

#endif
