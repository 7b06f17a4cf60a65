/*
 * goroutine.h - goroutine control blocks: their allocator (galloc.c) and
 * what goroutine.c, the spawn and identity API, offers the runtime.
 */
#ifndef GR_GOROUTINE_H
#define GR_GOROUTINE_H

#include "g.h"

struct worker;

/* A free control block from w's free list (owner only), refilled from
 * the shared pool or a new slab; NULL when out of memory. */
g *g_alloc(struct worker *w);
/* A free control block for a thread that is not a worker (gr_go from
 * outside the runtime): from the shared pool or a new slab; NULL when out
 * of memory. */
g *g_alloc_shared(void);
/* Gives a dead goroutine's control block back to w's free list. */
void g_release(struct worker *w, g *gp);
/* The runtime stopped: frees every control block ever made. */
void g_free_all(void);

struct group;
struct gr_opts;

/* The calling thread's worker if it may spawn (a worker of a running
 * runtime), else NULL (gr_go's -EPERM). */
struct worker *spawner(void);
/* gr_group_go: as gr_go_opts on w (from spawner()), the goroutine a
 * member of grp; -ECANCELED if grp is cancelled. */
int64_t spawn_member(struct worker *w, void (*fn)(void *), void *arg, const struct gr_opts *opts,
                     struct group *grp);
/* gr_run's main goroutine, named "main", queued on w.  0 or -errno. */
int spawn_main(struct worker *w, void (*fn)(void *), void *arg);
/* gp's name: given at spawn, else its entry point's symbol. */
const char *g_name(g *gp);

#endif
