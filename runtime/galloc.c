/*
 * galloc.c - goroutine control blocks: per-worker free lists over a shared
 * pool over slabs.
 *
 * A control block is never freed while the runtime runs (g.h says why):
 * a dead goroutine's goes back to its worker's free list, which spills
 * GFREE_BATCH of them to the shared pool past GFREE_LOCAL_MAX, and a
 * worker with an empty list takes a batch from the pool before it makes
 * a new slab of G_SLAB.  Every block ever made is on the slab chain
 * (sched.allg), which the deadlock report walks.
 */
#include <stdlib.h>

#include "goroutine.h"
#include "lock.h"
#include "san.h"
#include "sched.h"

#define GFREE_LOCAL_MAX 128
#define GFREE_BATCH 64
#define G_SLAB 64

static uint32_t gfree_lock;
static g *gfree_global;
static int ngfree_global;

static g *g_slab_new(void)
{
    g *slab = calloc(G_SLAB, sizeof(g));
    if (!slab)
        return NULL;
    lock(&sched.gslab_lock);
    for (int i = 0; i < G_SLAB; i++) {
        slab[i].allnext = sched.allg;
        sched.allg = &slab[i];
    }
    unlock(&sched.gslab_lock);
    /* slab[0] is the first of the chain as built (the last pushed is
     * slab[G_SLAB-1]); free list links go through schedlink. */
    for (int i = 0; i < G_SLAB - 1; i++)
        slab[i].schedlink = &slab[i + 1];
    slab[G_SLAB - 1].schedlink = NULL;
    return slab;
}

g *g_alloc(worker *w)
{
    if (!w->gfree) {
        lock(&gfree_lock);
        int n = 0;
        while (gfree_global && n < GFREE_BATCH) {
            g *gp = gfree_global;
            gfree_global = gp->schedlink;
            gp->schedlink = w->gfree;
            w->gfree = gp;
            n++;
        }
        ngfree_global -= n;
        unlock(&gfree_lock);
        w->ngfree += n;
        if (!w->gfree) {
            g *slab = g_slab_new();
            if (!slab)
                return NULL;
            slab[G_SLAB - 1].schedlink = w->gfree;
            w->gfree = slab;
            w->ngfree += G_SLAB;
        }
    }
    g *gp = w->gfree;
    w->gfree = gp->schedlink;
    w->ngfree--;
    gp->schedlink = NULL;
    return gp;
}

g *g_alloc_shared(void)
{
    lock(&gfree_lock);
    g *gp = gfree_global;
    if (gp) {
        gfree_global = gp->schedlink;
        ngfree_global--;
        unlock(&gfree_lock);
        gp->schedlink = NULL;
        return gp;
    }
    unlock(&gfree_lock);
    g *slab = g_slab_new();
    if (!slab)
        return NULL;
    /* One for the caller, the rest to the shared pool. */
    lock(&gfree_lock);
    slab[G_SLAB - 1].schedlink = gfree_global;
    gfree_global = &slab[1];
    ngfree_global += G_SLAB - 1;
    unlock(&gfree_lock);
    slab[0].schedlink = NULL;
    return &slab[0];
}

void g_release(worker *w, g *gp)
{
    san_g_release(gp);
    gp->status = G_FREE;
    gp->fn = NULL;
    gp->arg = NULL;
    gp->schedlink = w->gfree;
    w->gfree = gp;
    if (++w->ngfree > GFREE_LOCAL_MAX) {
        /* Spawner and runner are often different workers: without this
         * the spawner would keep making slabs while the runner hoards. */
        g *head = NULL, *tail = NULL;
        for (int i = 0; i < GFREE_BATCH; i++) {
            g *x = w->gfree;
            w->gfree = x->schedlink;
            x->schedlink = head;
            head = x;
            if (!tail)
                tail = x;
        }
        w->ngfree -= GFREE_BATCH;
        lock(&gfree_lock);
        tail->schedlink = gfree_global;
        gfree_global = head;
        ngfree_global += GFREE_BATCH;
        unlock(&gfree_lock);
    }
}

/* The runtime stopped: frees every slab (their goroutines are gone). */
void g_free_all(void)
{
    /* Slabs were pushed one control block at a time; a slab's first
     * element is the one whose allnext leads out of the slab.  Collect
     * slab bases: an element is a slab base if it is at index 0, which we
     * recognise by address arithmetic against its chain neighbours. */
    g *gp = sched.allg;
    while (gp) {
        /* Elements of one slab are consecutive in the chain, from
         * slab[G_SLAB-1] down to slab[0]. */
        g *base = gp - (G_SLAB - 1);
        gp = base->allnext;
        san_g_release(base);
        free(base);
    }
    sched.allg = NULL;
    gfree_global = NULL;
    ngfree_global = 0;
}
