/*
 * sync.h - what sync.c (gr_mutex, gr_rwmutex, gr_cond, gr_wg, gr_once)
 * offers beyond the public API: a test hook.
 */
#ifndef GR_SYNC_H
#define GR_SYNC_H

/* Test hook (tests/unit/t_internal.h), NULL otherwise: called by the
 * gr_wg_done that reached zero with waiters counted, between its atomic
 * add and taking the wait group's lock - a test parks the releaser there
 * to hold a release under way while waiters arrive or are cancelled. */
extern void (*wg_release_hook)(void);

#endif
