/*
 * offload.h - the helper threads of gr_blocking (offload.c).
 */
#ifndef GR_OFFLOAD_H
#define GR_OFFLOAD_H

#include <stdint.h>

/* Runs fn(arg) on a helper thread while the calling goroutine parks
 * (wait reason `reason`), until fn returns: 0, or -EAGAIN when no helper
 * thread can be started and none runs (fn was not called).  Not
 * interruptible: fn cannot be stopped.  gr_blocking, and the epoll
 * engine's file I/O (epoll_io.c). */
int offload_run(void (*fn)(void *), void *arg, uint16_t reason);

/* The runtime is stopping (gr_run): idle helpers exit; jobs still
 * running are abandoned, their goroutines never resumed. */
void offload_stop(void);

#endif
