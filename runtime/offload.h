/*
 * offload.h - the helper threads of gr_blocking (offload.c).
 */
#ifndef GR_OFFLOAD_H
#define GR_OFFLOAD_H

/* The runtime is stopping (gr_run): idle helpers exit; jobs still
 * running are abandoned, their goroutines never resumed. */
void offload_stop(void);

#endif
