/*
 * kv_cmd_int.h - what the command files share (private to kv_cmd.c and
 * kv_cmd_data.c): one command call, argument access, Redis's shared
 * error messages, and the handlers the table in kv_cmd.c points at.
 */
#ifndef EXAMPLES_KV_CMD_INT_H
#define EXAMPLES_KV_CMD_INT_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "kv_cmd.h"

/* Redis's words (server.c: createSharedObjects, and t_string.c...). */
#define E_SYNTAX "ERR syntax error"
#define E_NOT_INT "ERR value is not an integer or out of range"
#define E_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define E_OOM "ERR out of memory"

/* One call of a command. */
typedef struct kv_call {
    kv_server *srv;
    kv_client *cl;
    const char *base;      /* the command's first byte: args are offsets from it */
    const resp_arg *args;
    uint32_t argc;
    resp_reply *out;
    int64_t now;           /* kv_now_ms() */
    const char *name;      /* the command's full name: "get", "client|setname" */
} kv_call;

static inline const char *arg(const kv_call *c, uint32_t i)
{
    return c->base + c->args[i].off;
}
static inline size_t arg_len(const kv_call *c, uint32_t i)
{
    return c->args[i].len;
}
/* Argument i is `word`, ignoring ASCII case. */
static inline int arg_is(const kv_call *c, uint32_t i, const char *word)
{
    size_t n = strlen(word);
    return arg_len(c, i) == n && strncasecmp(arg(c, i), word, n) == 0;
}
/* Argument i as a long long (Redis's string2ll); replies E_NOT_INT (or
 * msg) and returns -1 if it is not one. */
int arg_ll(kv_call *c, uint32_t i, long long *v, const char *msg);

/* "ERR wrong number of arguments for 'NAME' command" */
void reply_arity(kv_call *c);

/* CLOCK_REALTIME in ms: EXAT/PXAT/EXPIREAT take Unix times, the store
 * keeps kv_now_ms() times. */
int64_t kv_unix_ms(void);

/* Handlers of the data commands (kv_cmd_data.c). */
void cmd_get(kv_call *c);
void cmd_set(kv_call *c);
void cmd_del(kv_call *c);
void cmd_exists(kv_call *c);
void cmd_incr(kv_call *c);
void cmd_decr(kv_call *c);
void cmd_incrby(kv_call *c);
void cmd_decrby(kv_call *c);
void cmd_mget(kv_call *c);
void cmd_mset(kv_call *c);
void cmd_expire(kv_call *c);
void cmd_pexpire(kv_call *c);
void cmd_expireat(kv_call *c);
void cmd_pexpireat(kv_call *c);
void cmd_ttl(kv_call *c);
void cmd_pttl(kv_call *c);
void cmd_persist(kv_call *c);
void cmd_type(kv_call *c);
void cmd_dbsize(kv_call *c);
void cmd_flushall(kv_call *c);
void cmd_lpush(kv_call *c);
void cmd_rpush(kv_call *c);
void cmd_lpop(kv_call *c);
void cmd_rpop(kv_call *c);
void cmd_lrange(kv_call *c);
void cmd_llen(kv_call *c);

#endif
