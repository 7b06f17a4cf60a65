/*
 * kv_store.c - the kv key space: a sharded hash table with expiry.
 *
 * Shards.  The key space is KV_SHARDS independent chained hash tables,
 * picked by the top bits of the key's hash, each behind its own lock.  A
 * command locks only the shard(s) of its key(s), does no I/O and never
 * parks while holding one (the reply is copied into the connection's
 * buffer under the lock, the write comes later), so a lock is held for
 * a hundred nanoseconds or so.  Two workers meet on a lock only when they
 * touch the same shard at the same moment.
 *
 * Locks per model.  The store is one implementation; the lock is the
 * model's, through kv_lock_ops: a pthread mutex for thread-per-connection,
 * a gr_mutex for greenrt.  A pthread mutex in a goroutine would block the
 * whole worker - and every goroutine queued on it - while another worker
 * holds it; a gr_mutex parks only the goroutine that waits.  Rejected: one
 * global lock (at 1,000 connections on several workers every command
 * would queue on it), a reader-writer lock (GET and SET are both short:
 * readers gain little, and the rwlock costs two atomics more), lock-free
 * tables (values must be copied out consistently, which then needs
 * reference counts or epochs; far more code for no gain at this size).
 *
 * Hash.  SipHash-1-3 with a random per-process key, as Redis uses, so a
 * client cannot choose keys that all fall into one chain (hash flooding).
 * A shard doubles its bucket array when it holds more keys than buckets
 * and halves it when it falls below an eighth; the rehash is done at once
 * but touches only that shard's keys (1/KV_SHARDS of the store), which
 * bounds the pause without Redis's incremental rehashing.
 *
 * Entries.  One allocation per key: header, key bytes, then a string's
 * value with a little slack, so SET of a value no bigger than the old one
 * rewrites it in place (redis-benchmark's SET allocates nothing).  A list
 * value is a kv_list hanging off the entry.
 *
 * Expiry.  expire_ms is an absolute kv_now_ms() time.  Expired keys are
 * removed lazily by kv_find (every command looks its keys up through it)
 * and actively by kv_store_expire_cycle, which the model runs periodically
 * (kv_greenrt: a goroutine on a greenrt timer; kv_threads: a thread).  To
 * sample keys with a TTL in O(1), each shard keeps an array of them
 * (expires[]); an entry knows its slot, so adding, removing (swap with the
 * last) and sampling are all constant time.
 */
#include "kv_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define SHARD_INITIAL_BUCKETS 16
/* String values get room rounded up to this, so small SETs of a slightly
 * longer value still fit in place. */
#define VALUE_SLACK 16

/* --- SipHash-1-3 ----------------------------------------------------------
 * Aumasson and Bernstein's design, one compression round and three
 * finalisation rounds (the variant Redis uses for its dicts). */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                              \
    do {                                                                      \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);             \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);             \
    } while (0)

uint64_t kv_hash(const kv_store *s, const void *key, size_t n)
{
    const unsigned char *in = key;
    uint64_t v0 = 0x736f6d6570736575ULL ^ s->k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ s->k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ s->k0;
    uint64_t v3 = 0x7465646279746573ULL ^ s->k1;
    uint64_t b = (uint64_t)n << 56;
    const unsigned char *end = in + (n & ~(size_t)7);
    for (; in != end; in += 8) {
        uint64_t m;
        memcpy(&m, in, 8); /* little-endian host (x86_64, aarch64) */
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    switch (n & 7) {
    case 7: b |= (uint64_t)in[6] << 48; /* fall through */
    case 6: b |= (uint64_t)in[5] << 40; /* fall through */
    case 5: b |= (uint64_t)in[4] << 32; /* fall through */
    case 4: b |= (uint64_t)in[3] << 24; /* fall through */
    case 3: b |= (uint64_t)in[2] << 16; /* fall through */
    case 2: b |= (uint64_t)in[1] << 8;  /* fall through */
    case 1: b |= (uint64_t)in[0];       /* fall through */
    case 0: break;
    }
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* --- one shard --------------------------------------------------------- */

/* nexp changes under the shard lock, but the sweeper peeks at it without
 * the lock to skip shards with no TTL (most of them, often all): relaxed
 * atomics, plain moves on x86, make that peek race-free. */
static void set_nexp(kv_shard *sh, uint32_t n)
{
    __atomic_store_n(&sh->nexp, n, __ATOMIC_RELAXED);
}

static int shard_init(kv_shard *sh, const kv_lock_ops *ops)
{
    sh->buckets = calloc(SHARD_INITIAL_BUCKETS, sizeof(*sh->buckets));
    if (!sh->buckets)
        return -ENOMEM;
    sh->mask = SHARD_INITIAL_BUCKETS - 1;
    sh->count = 0;
    sh->expires = NULL;
    sh->nexp = sh->expcap = 0;
    ops->init(sh->lock);
    return 0;
}

static void free_entry(kv_entry *e)
{
    if (e->type == KV_LIST)
        kv_list_free(e->list);
    free(e);
}

/* Frees every entry; the shard is left empty with its current table. */
static void shard_clear(kv_shard *sh)
{
    for (size_t i = 0; i <= sh->mask; i++) {
        kv_entry *e = sh->buckets[i];
        while (e) {
            kv_entry *next = e->next;
            free_entry(e);
            e = next;
        }
        sh->buckets[i] = NULL;
    }
    sh->count = 0;
    set_nexp(sh, 0);
}

/* Rehashes into 2^bits... buckets; keeps the old table if memory is short. */
static void resize(kv_shard *sh, size_t nbuckets)
{
    kv_entry **nb = calloc(nbuckets, sizeof(*nb));
    if (!nb)
        return;
    for (size_t i = 0; i <= sh->mask; i++) {
        kv_entry *e = sh->buckets[i];
        while (e) {
            kv_entry *next = e->next;
            size_t j = e->hash & (nbuckets - 1);
            e->next = nb[j];
            nb[j] = e;
            e = next;
        }
    }
    free(sh->buckets);
    sh->buckets = nb;
    sh->mask = nbuckets - 1;
}

/* The link that points at e (e must be in the shard). */
static kv_entry **link_of(kv_shard *sh, const kv_entry *e)
{
    kv_entry **l = &sh->buckets[e->hash & sh->mask];
    while (*l != e)
        l = &(*l)->next;
    return l;
}

static void exp_remove(kv_shard *sh, kv_entry *e)
{
    uint32_t i = e->exp_slot;
    set_nexp(sh, sh->nexp - 1);
    kv_entry *last = sh->expires[sh->nexp];
    sh->expires[i] = last;
    last->exp_slot = i;
    e->expire_ms = 0;
}

int kv_set_expire(kv_shard *sh, kv_entry *e, int64_t when)
{
    if (when == 0) {
        if (e->expire_ms)
            exp_remove(sh, e);
        return 0;
    }
    if (!e->expire_ms) {
        if (sh->nexp == sh->expcap) {
            uint32_t ncap = sh->expcap ? sh->expcap * 2 : 16;
            kv_entry **ne = realloc(sh->expires, (size_t)ncap * sizeof(*ne));
            if (!ne)
                return -ENOMEM;
            sh->expires = ne;
            sh->expcap = ncap;
        }
        e->exp_slot = sh->nexp;
        sh->expires[sh->nexp] = e;
        set_nexp(sh, sh->nexp + 1);
    }
    e->expire_ms = when;
    return 0;
}

void kv_delete(kv_shard *sh, kv_entry *e)
{
    *link_of(sh, e) = e->next;
    if (e->expire_ms)
        exp_remove(sh, e);
    free_entry(e);
    sh->count--;
    size_t nb = sh->mask + 1;
    if (nb > SHARD_INITIAL_BUCKETS && sh->count < nb / 8)
        resize(sh, nb / 2);
}

kv_entry *kv_find(kv_shard *sh, uint64_t h, const void *key, size_t klen, int64_t now)
{
    kv_entry *e = sh->buckets[h & sh->mask];
    for (; e; e = e->next) {
        if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
            break;
    }
    if (e && e->expire_ms && e->expire_ms <= now) {
        kv_delete(sh, e);
        return NULL;
    }
    return e;
}

/* Links a new entry (not yet in the table) and grows the table if due. */
static void insert(kv_shard *sh, kv_entry *e)
{
    kv_entry **b = &sh->buckets[e->hash & sh->mask];
    e->next = *b;
    *b = e;
    sh->count++;
    if (sh->count > sh->mask + 1)
        resize(sh, (sh->mask + 1) * 2);
}

static size_t value_room(size_t vlen)
{
    return (vlen + VALUE_SLACK - 1) / VALUE_SLACK * VALUE_SLACK;
}

static kv_entry *new_entry(uint64_t h, const void *key, size_t klen, size_t vcap)
{
    kv_entry *e = malloc(sizeof(*e) + klen + vcap);
    if (!e)
        return NULL;
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->klen = (uint32_t)klen;
    e->vcap = (uint32_t)vcap;
    memcpy(e->data, key, klen);
    return e;
}

kv_entry *kv_put_string(kv_shard *sh, kv_entry *e, uint64_t h, const void *key,
                        size_t klen, const void *val, size_t vlen)
{
    if (klen > UINT32_MAX || vlen > UINT32_MAX - VALUE_SLACK)
        return NULL;
    if (!e) {
        e = new_entry(h, key, klen, value_room(vlen));
        if (!e)
            return NULL;
        e->type = KV_STRING;
        e->vlen = (uint32_t)vlen;
        memcpy(kv_value(e), val, vlen);
        insert(sh, e);
        return e;
    }
    /* Reuse the entry when the value fits and does not waste much. */
    size_t room = value_room(vlen);
    if (vlen > e->vcap || e->vcap > 4 * room + 256) {
        kv_entry **link = link_of(sh, e);
        kv_entry *ne = realloc(e, sizeof(*e) + e->klen + room);
        if (!ne)
            return NULL;
        *link = ne;
        if (ne->expire_ms)
            sh->expires[ne->exp_slot] = ne;
        ne->vcap = (uint32_t)room;
        e = ne;
    }
    if (e->type == KV_LIST) {
        kv_list_free(e->list);
        e->list = NULL;
        e->type = KV_STRING;
    }
    e->vlen = (uint32_t)vlen;
    memmove(kv_value(e), val, vlen);
    return e;
}

kv_entry *kv_put_list(kv_shard *sh, uint64_t h, const void *key, size_t klen)
{
    if (klen > UINT32_MAX)
        return NULL;
    kv_entry *e = new_entry(h, key, klen, 0);
    if (!e)
        return NULL;
    e->type = KV_LIST;
    e->list = kv_list_new();
    if (!e->list) {
        free(e);
        return NULL;
    }
    insert(sh, e);
    return e;
}

/* --- the whole store ------------------------------------------------------ */

int kv_store_init(kv_store *s, const kv_lock_ops *ops)
{
    memset(s, 0, sizeof(*s));
    s->ops = ops;
    uint64_t key[2];
    if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
        /* no entropy source: still unpredictable enough across runs */
        key[0] = (uint64_t)kv_now_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
        key[1] = (uint64_t)(uintptr_t)s * 0xbf58476d1ce4e5b9ULL;
    }
    s->k0 = key[0];
    s->k1 = key[1];
    for (unsigned i = 0; i < KV_SHARDS; i++) {
        if (shard_init(&s->shards[i], ops) < 0) {
            while (i-- > 0) {
                ops->destroy(s->shards[i].lock);
                free(s->shards[i].buckets);
            }
            return -ENOMEM;
        }
    }
    return 0;
}

void kv_store_destroy(kv_store *s)
{
    for (unsigned i = 0; i < KV_SHARDS; i++) {
        kv_shard *sh = &s->shards[i];
        shard_clear(sh);
        free(sh->buckets);
        free(sh->expires);
        s->ops->destroy(sh->lock);
    }
}

void kv_lockset_lock(kv_store *s, const kv_lockset *ls)
{
    for (unsigned w = 0; w < KV_SHARDS / 64; w++)
        for (uint64_t b = ls->bits[w]; b; b &= b - 1)
            kv_lock(s, &s->shards[w * 64 + (unsigned)__builtin_ctzll(b)]);
}

void kv_lockset_unlock(kv_store *s, const kv_lockset *ls)
{
    for (unsigned w = 0; w < KV_SHARDS / 64; w++)
        for (uint64_t b = ls->bits[w]; b; b &= b - 1)
            kv_unlock(s, &s->shards[w * 64 + (unsigned)__builtin_ctzll(b)]);
}

size_t kv_store_count(kv_store *s, size_t *with_ttl)
{
    size_t n = 0, t = 0;
    for (unsigned i = 0; i < KV_SHARDS; i++) {
        kv_shard *sh = &s->shards[i];
        kv_lock(s, sh);
        n += sh->count;
        t += sh->nexp;
        kv_unlock(s, sh);
    }
    if (with_ttl)
        *with_ttl = t;
    return n;
}

/* Every shard is locked first, so no client sees a half-flushed store. */
void kv_store_flush(kv_store *s)
{
    for (unsigned i = 0; i < KV_SHARDS; i++)
        kv_lock(s, &s->shards[i]);
    for (unsigned i = 0; i < KV_SHARDS; i++) {
        kv_shard *sh = &s->shards[i];
        shard_clear(sh);
        if (sh->mask + 1 > SHARD_INITIAL_BUCKETS)
            resize(sh, SHARD_INITIAL_BUCKETS);
        free(sh->expires);
        sh->expires = NULL;
        sh->expcap = 0;
    }
    for (unsigned i = KV_SHARDS; i-- > 0;)
        kv_unlock(s, &s->shards[i]);
}

static uint64_t xorshift(uint64_t *st)
{
    uint64_t x = *st ? *st : 0x2545f4914f6cdd1dULL;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *st = x;
}

size_t kv_store_expire_cycle(kv_store *s, int64_t deadline_ms, uint64_t *rng, int *finished)
{
    size_t deleted = 0;
    *finished = 0;
    for (unsigned visited = 0; visited < KV_SHARDS; visited++) {
        kv_shard *sh = &s->shards[s->sweep_next];
        s->sweep_next = (s->sweep_next + 1) % KV_SHARDS;
        if (__atomic_load_n(&sh->nexp, __ATOMIC_RELAXED) == 0)
            continue; /* no key with a TTL: nothing to lock for */
        for (;;) {
            kv_lock(s, sh);
            int64_t now = kv_now_ms();
            unsigned sampled = sh->nexp < KV_EXPIRE_SAMPLE ? sh->nexp : KV_EXPIRE_SAMPLE;
            unsigned expired = 0;
            for (unsigned i = 0; i < sampled && sh->nexp > 0; i++) {
                kv_entry *e = sh->expires[xorshift(rng) % sh->nexp];
                if (e->expire_ms <= now) {
                    kv_delete(sh, e);
                    expired++;
                }
            }
            kv_unlock(s, sh);
            deleted += expired;
            if (kv_now_ms() >= deadline_ms)
                return deleted;
            if (sampled == 0 || expired * 100 <= sampled * KV_EXPIRE_STALE_PCT)
                break;
        }
    }
    *finished = 1;
    return deleted;
}
