/*
 * kv_list.c - the list value type: a power-of-two ring of item pointers
 * (kv_list.h).  Grows by doubling; never shrinks below what it held (a
 * list that empties is deleted with its key, as Redis deletes it).
 */
#include "kv_list.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LIST_INITIAL 8

kv_list *kv_list_new(void)
{
    kv_list *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->ring = malloc(LIST_INITIAL * sizeof(*l->ring));
    if (!l->ring) {
        free(l);
        return NULL;
    }
    l->cap = LIST_INITIAL;
    return l;
}

void kv_list_free(kv_list *l)
{
    if (!l)
        return;
    for (uint32_t i = 0; i < l->len; i++)
        free(l->ring[(l->head + i) & (l->cap - 1)]);
    free(l->ring);
    free(l);
}

static int grow(kv_list *l)
{
    if (l->cap > UINT32_MAX / 2)
        return -ENOMEM;
    uint32_t ncap = l->cap * 2;
    kv_item **r = malloc((size_t)ncap * sizeof(*r));
    if (!r)
        return -ENOMEM;
    for (uint32_t i = 0; i < l->len; i++)
        r[i] = l->ring[(l->head + i) & (l->cap - 1)];
    free(l->ring);
    l->ring = r;
    l->head = 0;
    l->cap = ncap;
    return 0;
}

int kv_list_push(kv_list *l, int front, const void *p, size_t n)
{
    if (n > UINT32_MAX)
        return -ENOMEM;
    if (l->len == l->cap && grow(l) < 0)
        return -ENOMEM;
    kv_item *it = malloc(sizeof(*it) + n);
    if (!it)
        return -ENOMEM;
    it->len = (uint32_t)n;
    memcpy(it->data, p, n);
    if (front) {
        l->head = (l->head - 1) & (l->cap - 1);
        l->ring[l->head] = it;
    } else {
        l->ring[(l->head + l->len) & (l->cap - 1)] = it;
    }
    l->len++;
    return 0;
}

kv_item *kv_list_pop(kv_list *l, int front)
{
    if (l->len == 0)
        return NULL;
    kv_item *it;
    if (front) {
        it = l->ring[l->head];
        l->head = (l->head + 1) & (l->cap - 1);
    } else {
        it = l->ring[(l->head + l->len - 1) & (l->cap - 1)];
    }
    l->len--;
    return it;
}
