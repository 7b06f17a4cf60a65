/*
 * kv_cmd_data.c - the commands on keys and values: strings (GET, SET,
 * INCR..., MGET, MSET), the key space (DEL, EXISTS, TYPE, DBSIZE,
 * FLUSHALL), expiry (EXPIRE..., TTL, PTTL, PERSIST) and lists (LPUSH,
 * RPUSH, LPOP, RPOP, LRANGE, LLEN).
 *
 * Each follows its Redis 7.0 counterpart (t_string.c, db.c, expire.c,
 * t_list.c) in the order it checks things, because the order decides
 * which error a bad call gets: e.g. INCRBY parses its increment before it
 * looks at the key, so "INCRBY list x" is "not an integer", not
 * WRONGTYPE.  A command holds its shard lock(s) while it reads the value
 * into the reply, and for nothing else.
 */
#include "kv_cmd_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* One key's hash, shard and bytes. */
typedef struct keyref {
    uint64_t h;
    kv_shard *sh;
    const char *k;
    size_t n;
} keyref;

static void key_lock(kv_call *c, uint32_t i, keyref *kr)
{
    kr->k = arg(c, i);
    kr->n = arg_len(c, i);
    kr->h = kv_hash(c->srv->store, kr->k, kr->n);
    kr->sh = kv_shard_of(c->srv->store, kr->h);
    kv_lock(c->srv->store, kr->sh);
}

static void key_unlock(kv_call *c, keyref *kr)
{
    kv_unlock(c->srv->store, kr->sh);
}

static kv_entry *key_find(kv_call *c, keyref *kr)
{
    return kv_find(kr->sh, kr->h, kr->k, kr->n, c->now);
}

/* Keys first, first+step, ... < end: their shards, locked together. */
static void keys_lock(kv_call *c, uint32_t first, uint32_t step, kv_lockset *ls)
{
    memset(ls, 0, sizeof(*ls));
    for (uint32_t i = first; i < c->argc; i += step)
        kv_lockset_add(ls, kv_hash(c->srv->store, arg(c, i), arg_len(c, i)));
    kv_lockset_lock(c->srv->store, ls);
}

/* A key of a locked lockset. */
static kv_entry *find_in_set(kv_call *c, uint32_t i, keyref *kr)
{
    kr->k = arg(c, i);
    kr->n = arg_len(c, i);
    kr->h = kv_hash(c->srv->store, kr->k, kr->n);
    kr->sh = kv_shard_of(c->srv->store, kr->h);
    return kv_find(kr->sh, kr->h, kr->k, kr->n, c->now);
}

/* --- strings ------------------------------------------------------------- */

void cmd_get(kv_call *c)
{
    keyref k;
    key_lock(c, 1, &k);
    kv_entry *e = key_find(c, &k);
    if (!e)
        resp_reply_nil(c->out);
    else if (e->type != KV_STRING)
        resp_reply_error(c->out, E_WRONGTYPE);
    else
        resp_reply_bulk(c->out, kv_value(e), e->vlen);
    key_unlock(c, &k);
}

enum {
    SET_NX = 1 << 0,
    SET_XX = 1 << 1,
    SET_GET = 1 << 2,
    SET_KEEPTTL = 1 << 3,
    SET_EX = 1 << 4,
    SET_PX = 1 << 5,
    SET_EXAT = 1 << 6,
    SET_PXAT = 1 << 7,
};

/* EX, PX, EXAT or PXAT at argument j: its flag, or 0. */
static int ttl_option(kv_call *c, uint32_t j)
{
    if (arg_is(c, j, "ex"))
        return SET_EX;
    if (arg_is(c, j, "px"))
        return SET_PX;
    if (arg_is(c, j, "exat"))
        return SET_EXAT;
    if (arg_is(c, j, "pxat"))
        return SET_PXAT;
    return 0;
}

/* SET's options, as t_string.c: parseExtendedStringArgumentsOrReply
 * (one TTL option, which may repeat; KEEPTTL excludes them; NX excludes
 * XX).  0, or -1 after replying "syntax error". */
static int set_options(kv_call *c, int *flags, uint32_t *expire_arg)
{
    const int ttl_any = SET_EX | SET_PX | SET_EXAT | SET_PXAT;
    for (uint32_t j = 3; j < c->argc; j++) {
        int f = *flags, t;
        if (arg_is(c, j, "nx") && !(f & SET_XX)) {
            *flags |= SET_NX;
        } else if (arg_is(c, j, "xx") && !(f & SET_NX)) {
            *flags |= SET_XX;
        } else if (arg_is(c, j, "get")) {
            *flags |= SET_GET;
        } else if (arg_is(c, j, "keepttl") && !(f & ttl_any)) {
            *flags |= SET_KEEPTTL;
        } else if ((t = ttl_option(c, j)) && j + 1 < c->argc && !(f & SET_KEEPTTL) &&
                   !(f & (ttl_any & ~t))) {
            *flags |= t;
            *expire_arg = ++j;
        } else {
            resp_reply_error(c->out, E_SYNTAX);
            return -1;
        }
    }
    return 0;
}

static void reply_expire_time(kv_call *c)
{
    resp_reply_errorf(c->out, "ERR invalid expire time in '%s' command", "set");
}

/* SET's expire argument as an absolute store time (t_string.c:
 * getExpireMillisecondsOrReply).  0, or -1 after replying. */
static int set_expire_time(kv_call *c, int flags, uint32_t i, int64_t *when)
{
    long long ms;
    if (arg_ll(c, i, &ms, NULL) < 0)
        return -1;
    int seconds = flags & (SET_EX | SET_EXAT);
    if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000)) {
        reply_expire_time(c);
        return -1;
    }
    if (seconds)
        ms *= 1000;
    int64_t unix_now = kv_unix_ms();
    if (flags & (SET_EX | SET_PX)) { /* relative: Redis adds the time, and overflows */
        if (ms > LLONG_MAX - unix_now) {
            reply_expire_time(c);
            return -1;
        }
        *when = c->now + ms;
    } else { /* a Unix time, mapped onto the store's clock */
        *when = c->now + (ms - unix_now);
        if (*when <= 0)
            *when = 1; /* already expired; 0 would mean "no TTL" */
    }
    return 0;
}

void cmd_set(kv_call *c)
{
    int flags = 0;
    uint32_t ex = 0;
    int64_t when = 0;
    if (set_options(c, &flags, &ex) < 0)
        return;
    if (ex && set_expire_time(c, flags, ex, &when) < 0)
        return;
    keyref k;
    key_lock(c, 1, &k);
    kv_entry *e = key_find(c, &k);
    size_t mark = c->out->len;
    if (flags & SET_GET) {
        if (e && e->type != KV_STRING) {
            resp_reply_error(c->out, E_WRONGTYPE);
            goto out;
        }
        if (e)
            resp_reply_bulk(c->out, kv_value(e), e->vlen);
        else
            resp_reply_nil(c->out);
    }
    if (((flags & SET_NX) && e) || ((flags & SET_XX) && !e)) {
        if (!(flags & SET_GET))
            resp_reply_nil(c->out);
        goto out;
    }
    kv_entry *ne = kv_put_string(k.sh, e, k.h, k.k, k.n, arg(c, 2), arg_len(c, 2));
    if (!ne || (!(flags & SET_KEEPTTL) && kv_set_expire(k.sh, ne, when) < 0)) {
        if (ne && !e)
            kv_delete(k.sh, ne);
        c->out->len = mark;
        resp_reply_error(c->out, E_OOM);
        goto out;
    }
    if (!(flags & SET_GET))
        resp_reply_simple(c->out, "OK");
out:
    key_unlock(c, &k);
}

/* INCR/DECR/INCRBY/DECRBY (t_string.c: incrDecrCommand).  The TTL stays. */
static void incr_by(kv_call *c, long long incr)
{
    keyref k;
    key_lock(c, 1, &k);
    kv_entry *e = key_find(c, &k);
    long long v = 0;
    if (e && e->type != KV_STRING) {
        resp_reply_error(c->out, E_WRONGTYPE);
    } else if (e && resp_parse_ll(kv_value(e), e->vlen, &v) < 0) {
        resp_reply_error(c->out, E_NOT_INT);
    } else if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
               (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
        resp_reply_error(c->out, "ERR increment or decrement would overflow");
    } else {
        char digits[24];
        v += incr;
        size_t n = resp_format_ll(digits, v);
        if (kv_put_string(k.sh, e, k.h, k.k, k.n, digits, n))
            resp_reply_int(c->out, v);
        else
            resp_reply_error(c->out, E_OOM);
    }
    key_unlock(c, &k);
}

void cmd_incr(kv_call *c)
{
    incr_by(c, 1);
}

void cmd_decr(kv_call *c)
{
    incr_by(c, -1);
}

void cmd_incrby(kv_call *c)
{
    long long v;
    if (arg_ll(c, 2, &v, NULL) == 0)
        incr_by(c, v);
}

void cmd_decrby(kv_call *c)
{
    long long v;
    if (arg_ll(c, 2, &v, NULL) < 0)
        return;
    if (v == LLONG_MIN) {
        resp_reply_error(c->out, "ERR decrement would overflow");
        return;
    }
    incr_by(c, -v);
}

void cmd_mget(kv_call *c)
{
    kv_lockset ls;
    keyref k;
    keys_lock(c, 1, 1, &ls);
    resp_reply_array(c->out, c->argc - 1);
    for (uint32_t i = 1; i < c->argc; i++) {
        kv_entry *e = find_in_set(c, i, &k);
        if (e && e->type == KV_STRING)
            resp_reply_bulk(c->out, kv_value(e), e->vlen);
        else
            resp_reply_nil(c->out);
    }
    kv_lockset_unlock(c->srv->store, &ls);
}

void cmd_mset(kv_call *c)
{
    if (c->argc % 2 == 0) {
        reply_arity(c);
        return;
    }
    kv_lockset ls;
    keyref k;
    int oom = 0;
    keys_lock(c, 1, 2, &ls);
    for (uint32_t i = 1; i < c->argc && !oom; i += 2) {
        kv_entry *e = find_in_set(c, i, &k);
        kv_entry *ne = kv_put_string(k.sh, e, k.h, k.k, k.n, arg(c, i + 1), arg_len(c, i + 1));
        oom = !ne || kv_set_expire(k.sh, ne, 0) < 0;
    }
    kv_lockset_unlock(c->srv->store, &ls);
    if (oom)
        resp_reply_error(c->out, E_OOM);
    else
        resp_reply_simple(c->out, "OK");
}

/* --- the key space ----------------------------------------------------- */

void cmd_del(kv_call *c)
{
    kv_lockset ls;
    keyref k;
    long long n = 0;
    keys_lock(c, 1, 1, &ls);
    for (uint32_t i = 1; i < c->argc; i++) {
        kv_entry *e = find_in_set(c, i, &k);
        if (e) {
            kv_delete(k.sh, e);
            n++;
        }
    }
    kv_lockset_unlock(c->srv->store, &ls);
    resp_reply_int(c->out, n);
}

void cmd_exists(kv_call *c)
{
    kv_lockset ls;
    keyref k;
    long long n = 0;
    keys_lock(c, 1, 1, &ls);
    for (uint32_t i = 1; i < c->argc; i++)
        n += find_in_set(c, i, &k) != NULL;
    kv_lockset_unlock(c->srv->store, &ls);
    resp_reply_int(c->out, n);
}

void cmd_type(kv_call *c)
{
    keyref k;
    key_lock(c, 1, &k);
    kv_entry *e = key_find(c, &k);
    resp_reply_simple(c->out, !e ? "none" : e->type == KV_LIST ? "list" : "string");
    key_unlock(c, &k);
}

void cmd_dbsize(kv_call *c)
{
    resp_reply_int(c->out, (long long)kv_store_count(c->srv->store, NULL));
}

/* FLUSHALL and FLUSHDB (one database): [ASYNC|SYNC], both done at once. */
void cmd_flushall(kv_call *c)
{
    if (c->argc > 2 || (c->argc == 2 && !arg_is(c, 1, "sync") && !arg_is(c, 1, "async"))) {
        resp_reply_error(c->out, E_SYNTAX);
        return;
    }
    kv_store_flush(c->srv->store);
    resp_reply_simple(c->out, "OK");
}

/* --- expiry ---------------------------------------------------------------- */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

/* EXPIRE's NX|XX|GT|LT (expire.c: parseExtendedExpireArgumentsOrReply). */
static int expire_options(kv_call *c, int *flags)
{
    for (uint32_t j = 3; j < c->argc; j++) {
        if (arg_is(c, j, "nx"))
            *flags |= EXP_NX;
        else if (arg_is(c, j, "xx"))
            *flags |= EXP_XX;
        else if (arg_is(c, j, "gt"))
            *flags |= EXP_GT;
        else if (arg_is(c, j, "lt"))
            *flags |= EXP_LT;
        else {
            resp_reply_errorf(c->out, "ERR Unsupported option %.*s", (int)arg_len(c, j), arg(c, j));
            return -1;
        }
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        resp_reply_error(c->out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        resp_reply_error(c->out, "ERR GT and LT options at the same time are not compatible");
        return -1;
    }
    return 0;
}

/* expire.c: expireGenericCommand.  Times are Unix ms as in Redis (so the
 * overflow checks match), mapped onto the store's clock at the end. */
static void expire_generic(kv_call *c, int relative, int seconds)
{
    int flags = 0;
    long long when;
    if (expire_options(c, &flags) < 0 || arg_ll(c, 2, &when, NULL) < 0)
        return;
    int64_t unix_now = kv_unix_ms();
    int64_t base = relative ? unix_now : 0;
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
            goto bad_time;
        when *= 1000;
    }
    if (when > LLONG_MAX - base)
        goto bad_time;
    when += base;

    keyref k;
    key_lock(c, 1, &k);
    kv_entry *e = key_find(c, &k);
    int set = 0;
    if (e) {
        /* the store's time (<= now: already past; far past clamped) */
        int64_t at = c->now + (when < LLONG_MIN / 2 + unix_now ? LLONG_MIN / 2 : when - unix_now);
        int64_t cur = e->expire_ms;              /* 0: none, an infinite TTL */
        if ((flags & EXP_NX) && cur)
            goto reply;
        if ((flags & EXP_XX) && !cur)
            goto reply;
        if ((flags & EXP_GT) && (!cur || at <= cur))
            goto reply;
        if ((flags & EXP_LT) && cur && at >= cur)
            goto reply;
        if (when <= unix_now) {
            kv_delete(k.sh, e);
        } else if (kv_set_expire(k.sh, e, at) < 0) {
            key_unlock(c, &k);
            resp_reply_error(c->out, E_OOM);
            return;
        }
        set = 1;
    }
reply:
    key_unlock(c, &k);
    resp_reply_int(c->out, set);
    return;
bad_time:
    resp_reply_errorf(c->out, "ERR invalid expire time in '%s' command", c->name);
}

void cmd_expire(kv_call *c)
{
    expire_generic(c, 1, 1);
}

void cmd_pexpire(kv_call *c)
{
    expire_generic(c, 1, 0);
}

void cmd_expireat(kv_call *c)
{
    expire_generic(c, 0, 1);
}

void cmd_pexpireat(kv_call *c)
{
    expire_generic(c, 0, 0);
}

static void ttl_generic(kv_call *c, int ms)
{
    keyref k;
    key_lock(c, 1, &k);
    kv_entry *e = key_find(c, &k);
    long long ttl = -2;
    if (e && !e->expire_ms) {
        ttl = -1;
    } else if (e) {
        ttl = e->expire_ms - c->now;
        if (ttl < 0)
            ttl = 0;
        if (!ms)
            ttl = (ttl + 500) / 1000;
    }
    key_unlock(c, &k);
    resp_reply_int(c->out, ttl);
}

void cmd_ttl(kv_call *c)
{
    ttl_generic(c, 0);
}

void cmd_pttl(kv_call *c)
{
    ttl_generic(c, 1);
}

void cmd_persist(kv_call *c)
{
    keyref k;
    key_lock(c, 1, &k);
    kv_entry *e = key_find(c, &k);
    int had = e && e->expire_ms;
    if (had)
        kv_set_expire(k.sh, e, 0);
    key_unlock(c, &k);
    resp_reply_int(c->out, had);
}

/* --- lists --------------------------------------------------------------- */

static void push_generic(kv_call *c, int front)
{
    keyref k;
    key_lock(c, 1, &k);
    kv_entry *e = key_find(c, &k);
    if (e && e->type != KV_LIST) {
        resp_reply_error(c->out, E_WRONGTYPE);
        goto out;
    }
    if (!e && !(e = kv_put_list(k.sh, k.h, k.k, k.n))) {
        resp_reply_error(c->out, E_OOM);
        goto out;
    }
    for (uint32_t i = 2; i < c->argc; i++) {
        if (kv_list_push(e->list, front, arg(c, i), arg_len(c, i)) < 0) {
            if (e->list->len == 0)
                kv_delete(k.sh, e); /* no empty lists */
            resp_reply_error(c->out, E_OOM);
            goto out;
        }
    }
    resp_reply_int(c->out, e->list->len);
out:
    key_unlock(c, &k);
}

void cmd_lpush(kv_call *c)
{
    push_generic(c, 1);
}

void cmd_rpush(kv_call *c)
{
    push_generic(c, 0);
}

/* t_list.c: popGenericCommand (LPOP/RPOP key [count]). */
static void pop_generic(kv_call *c, int front)
{
    int has_count = c->argc == 3;
    long long count = 0;
    if (c->argc > 3) {
        reply_arity(c);
        return;
    }
    if (has_count && (arg_ll(c, 2, &count, "ERR value is out of range, must be positive") < 0))
        return;
    if (has_count && count < 0) {
        resp_reply_error(c->out, "ERR value is out of range, must be positive");
        return;
    }
    keyref k;
    key_lock(c, 1, &k);
    kv_entry *e = key_find(c, &k);
    if (!e) {
        if (has_count)
            resp_reply_array(c->out, -1);
        else
            resp_reply_nil(c->out);
    } else if (e->type != KV_LIST) {
        resp_reply_error(c->out, E_WRONGTYPE);
    } else if (has_count && count == 0) {
        resp_reply_array(c->out, 0);
    } else {
        uint32_t n = 1;
        if (has_count) {
            n = count < e->list->len ? (uint32_t)count : e->list->len;
            resp_reply_array(c->out, n);
        }
        while (n--) {
            kv_item *it = kv_list_pop(e->list, front);
            resp_reply_bulk(c->out, it->data, it->len);
            free(it);
        }
        if (e->list->len == 0)
            kv_delete(k.sh, e);
    }
    key_unlock(c, &k);
}

void cmd_lpop(kv_call *c)
{
    pop_generic(c, 1);
}

void cmd_rpop(kv_call *c)
{
    pop_generic(c, 0);
}

void cmd_lrange(kv_call *c)
{
    long long start, end;
    if (arg_ll(c, 2, &start, NULL) < 0 || arg_ll(c, 3, &end, NULL) < 0)
        return;
    keyref k;
    key_lock(c, 1, &k);
    kv_entry *e = key_find(c, &k);
    if (!e) {
        resp_reply_array(c->out, 0);
    } else if (e->type != KV_LIST) {
        resp_reply_error(c->out, E_WRONGTYPE);
    } else {
        long long len = e->list->len;
        if (start < 0)
            start += len;
        if (end < 0)
            end += len;
        if (start < 0)
            start = 0;
        if (start > end || start >= len) {
            resp_reply_array(c->out, 0);
        } else {
            if (end >= len)
                end = len - 1;
            resp_reply_array(c->out, end - start + 1);
            for (long long i = start; i <= end; i++) {
                const kv_item *it = kv_list_at(e->list, (uint32_t)i);
                resp_reply_bulk(c->out, it->data, it->len);
            }
        }
    }
    key_unlock(c, &k);
}

void cmd_llen(kv_call *c)
{
    keyref k;
    key_lock(c, 1, &k);
    kv_entry *e = key_find(c, &k);
    if (e && e->type != KV_LIST)
        resp_reply_error(c->out, E_WRONGTYPE);
    else
        resp_reply_int(c->out, e ? e->list->len : 0);
    key_unlock(c, &k);
}
