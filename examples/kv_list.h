/*
 * kv_list.h - the list value type of the kv store (LPUSH, RPUSH, LPOP,
 * RPOP, LRANGE, LLEN): a ring buffer of pointers to items, so pushes and
 * pops at either end are O(1) and LRANGE indexes directly.  It exists so
 * that kv has a second type and -WRONGTYPE is a real answer, as in Redis.
 * Not locked: the key's shard lock covers it.
 */
#ifndef EXAMPLES_KV_LIST_H
#define EXAMPLES_KV_LIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct kv_item {
    uint32_t len;
    char data[];
} kv_item;

typedef struct kv_list {
    kv_item **ring;   /* cap slots; items at head, head+1, ... (mod cap) */
    uint32_t head, len, cap;
} kv_list;

kv_list *kv_list_new(void);            /* NULL on ENOMEM */
void kv_list_free(kv_list *l);
/* 0, or -ENOMEM (the list is unchanged). */
int kv_list_push(kv_list *l, int front, const void *p, size_t n);
/* The item at the front (or back), removed; the caller frees it. */
kv_item *kv_list_pop(kv_list *l, int front);
/* The i-th item, 0 <= i < len. */
static inline const kv_item *kv_list_at(const kv_list *l, uint32_t i)
{
    return l->ring[(l->head + i) & (l->cap - 1)];
}

#endif
