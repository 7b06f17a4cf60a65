/*
 * kv_store.h - the key space of the kv service, shared by kv_threads and
 * kv_greenrt: binary-safe keys holding strings or lists, with expiry.
 * See kv_store.c for the design (shards, locks, expiry).
 *
 * Usage, for one key:
 *
 *     uint64_t h = kv_hash(s, key, klen);
 *     kv_shard *sh = kv_shard_of(s, h);
 *     kv_lock(s, sh);
 *     kv_entry *e = kv_find(sh, h, key, klen, now);   (expired: removed)
 *     ... read or change e, copy what the reply needs ...
 *     kv_unlock(s, sh);
 *
 * and for several keys at once (MSET, MGET, DEL...), a kv_lockset that
 * takes every shard involved in ascending order, so that two multi-key
 * commands cannot deadlock and each is atomic, as in Redis.
 *
 * Entries are valid only while their shard is locked: copy, never keep.
 */
#ifndef EXAMPLES_KV_STORE_H
#define EXAMPLES_KV_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "kv_list.h"

#define KV_SHARD_BITS 8
#define KV_SHARDS (1u << KV_SHARD_BITS)
/* Room for one lock of either model: pthread_mutex_t (40 bytes on
 * x86_64 glibc) or gr_mutex (24); each model asserts its lock fits. */
#define KV_LOCK_SIZE 48

/* The model's lock: a pthread mutex (threads), a gr_mutex (greenrt: it
 * parks the goroutine, never the worker). */
typedef struct kv_lock_ops {
    void (*init)(void *lock);
    void (*lock)(void *lock);
    void (*unlock)(void *lock);
    void (*destroy)(void *lock);
} kv_lock_ops;

enum kv_type { KV_STRING = 0, KV_LIST = 1 };

typedef struct kv_entry {
    struct kv_entry *next; /* hash chain */
    uint64_t hash;
    int64_t expire_ms;     /* kv_now_ms() time at which it expires; 0: never */
    uint32_t exp_slot;     /* its index in the shard's expires[] while expire_ms */
    uint32_t klen;
    uint32_t vlen, vcap;   /* KV_STRING: value bytes after the key, and room */
    uint32_t type;         /* enum kv_type */
    kv_list *list;         /* KV_LIST: the items (never empty) */
    char data[];           /* the key, then (KV_STRING) the value */
} kv_entry;

static inline const char *kv_key(const kv_entry *e)
{
    return e->data;
}

static inline char *kv_value(kv_entry *e)
{
    return e->data + e->klen;
}

typedef struct kv_shard {
    _Alignas(64) unsigned char lock[KV_LOCK_SIZE]; /* guards everything below */
    kv_entry **buckets;  /* mask + 1 chains */
    size_t mask;
    size_t count;        /* keys, expired ones not yet removed included */
    kv_entry **expires;  /* the keys with a TTL, sampled by the sweeper */
    uint32_t nexp, expcap;
} kv_shard;

typedef struct kv_store {
    kv_shard shards[KV_SHARDS];
    const kv_lock_ops *ops;
    uint64_t k0, k1;       /* SipHash key, random per process */
    uint32_t sweep_next;   /* the sweeper's next shard (sweeper only) */
} kv_store;

/* The store's clock: CLOCK_MONOTONIC in milliseconds, read through the
 * vDSO (no system call, never blocks: safe in a goroutine). */
static inline int64_t kv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0, or -ENOMEM.  Call before any other thread or goroutine uses it. */
int kv_store_init(kv_store *s, const kv_lock_ops *ops);
void kv_store_destroy(kv_store *s);

uint64_t kv_hash(const kv_store *s, const void *key, size_t n);

static inline kv_shard *kv_shard_of(kv_store *s, uint64_t h)
{
    return &s->shards[h >> (64 - KV_SHARD_BITS)];
}
static inline void kv_lock(kv_store *s, kv_shard *sh)
{
    s->ops->lock(sh->lock);
}
static inline void kv_unlock(kv_store *s, kv_shard *sh)
{
    s->ops->unlock(sh->lock);
}

/* --- with the key's shard locked ------------------------------------- */

/* The live entry of key, or NULL; an expired one is deleted on the way
 * (lazy expiry). */
kv_entry *kv_find(kv_shard *sh, uint64_t h, const void *key, size_t klen, int64_t now);
/* Makes key hold the string val: e is its live entry (from kv_find) or
 * NULL for a new key.  The TTL is kept; a list value is freed.  Returns
 * the entry (it may have moved: use this one), or NULL when memory ran
 * out (nothing changed). */
kv_entry *kv_put_string(kv_shard *sh, kv_entry *e, uint64_t h, const void *key,
                        size_t klen, const void *val, size_t vlen);
/* A new key (absent: the caller checked) holding an empty list, which the
 * caller fills before unlocking; NULL on ENOMEM. */
kv_entry *kv_put_list(kv_shard *sh, uint64_t h, const void *key, size_t klen);
void kv_delete(kv_shard *sh, kv_entry *e);
/* when: absolute kv_now_ms() time, 0 to persist.  0, or -ENOMEM (the TTL
 * is unchanged). */
int kv_set_expire(kv_shard *sh, kv_entry *e, int64_t when);

/* --- several shards ---------------------------------------------------- */

typedef struct kv_lockset {
    uint64_t bits[KV_SHARDS / 64];
} kv_lockset;

static inline void kv_lockset_add(kv_lockset *ls, uint64_t h)
{
    unsigned i = (unsigned)(h >> (64 - KV_SHARD_BITS));
    ls->bits[i / 64] |= 1ull << (i % 64);
}
void kv_lockset_lock(kv_store *s, const kv_lockset *ls);
void kv_lockset_unlock(kv_store *s, const kv_lockset *ls);

/* --- the whole store (takes the locks itself) -------------------------- */

/* Keys, and of them *with_ttl have a TTL (expired ones not yet removed
 * included, as Redis's DBSIZE counts them). */
size_t kv_store_count(kv_store *s, size_t *with_ttl);
void kv_store_flush(kv_store *s);

/* One active-expiry cycle (Redis's activeExpireCycle): visits the shards
 * in turn, from where the last cycle stopped; in each, samples up to
 * KV_EXPIRE_SAMPLE keys with a TTL and deletes the expired ones, again
 * while more than KV_EXPIRE_STALE_PCT percent of a sample had expired;
 * stops once kv_now_ms() passes deadline_ms.  *rng is the caller's
 * xorshift state.  Returns the keys deleted; *finished says whether every
 * shard was visited (0: the deadline cut the cycle short, call again). */
#define KV_EXPIRE_SAMPLE 20
#define KV_EXPIRE_STALE_PCT 10
size_t kv_store_expire_cycle(kv_store *s, int64_t deadline_ms, uint64_t *rng, int *finished);

#endif
