/*
 * kv_cmd.c - the command table, the dispatch, and the commands about the
 * connection and the server (PING, ECHO, QUIT, SELECT, AUTH, HELLO,
 * CLIENT, CONFIG GET, COMMAND, INFO).  The data commands are in
 * kv_cmd_data.c.
 *
 * Dispatch follows Redis's processCommand: look the name up (ASCII case
 * ignored), then, for a container (CLIENT, CONFIG, COMMAND) given an
 * argument, its subcommand; an unknown name gets "unknown command" (or
 * "unknown subcommand" under a container), then the arity is checked
 * against the command's or subcommand's, whose full name ("client|setname")
 * the error quotes.  Only then does the handler run.
 *
 * What clients send when they connect, and what they get: redis-cli's
 * interactive mode asks COMMAND DOCS (for its hints); redis-benchmark
 * asks CONFIG GET save and CONFIG GET appendonly (kv persists nothing, so
 * "" and "no", as redis-server with --save '' --appendonly no says);
 * client libraries send HELLO to ask for RESP3, which kv does not speak:
 * it answers "-NOPROTO unsupported protocol version" - what a Redis that
 * lacks a protocol version says - and clients carry on in RESP2.  There
 * is one database: SELECT 0 is accepted, any other index is out of range.
 */
#include "kv_cmd_int.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The Redis version whose commands and replies kv follows (HELLO, INFO). */
#define KV_REDIS_VERSION "7.0.0"

typedef void cmd_fn(kv_call *c);

typedef struct kv_command {
    const char *name;   /* lowercase; a subcommand's is "parent|name" */
    int arity;          /* Redis's convention: n exactly, -n at least n */
    cmd_fn *fn;
    const char *flags;  /* COMMAND INFO: space-separated */
    const char *acl;    /* COMMAND INFO: ACL categories */
    int first, last, step; /* COMMAND INFO: key positions */
    const char *group, *since, *summary; /* COMMAND DOCS */
    const struct kv_command *subs; /* a container's subcommands, NULL-name terminated */
} kv_command;

static cmd_fn cmd_ping, cmd_echo, cmd_quit, cmd_select, cmd_auth, cmd_hello,
    cmd_client_setname, cmd_client_getname, cmd_client_id, cmd_client_help,
    cmd_config_get, cmd_config_help, cmd_command, cmd_command_count, cmd_command_docs,
    cmd_command_info, cmd_command_list, cmd_command_help, cmd_info;

#define CONN_FLAGS "noscript loading stale fast no_auth allow_busy"
#define KEYS1 1, 1, 1
#define NOKEYS 0, 0, 0

static const kv_command client_subs[] = {
    {"client|setname", 3, cmd_client_setname, "noscript loading stale", "@slow @connection",
     NOKEYS, "connection", "2.6.9", "Set the current connection name", NULL},
    {"client|getname", 2, cmd_client_getname, "noscript loading stale", "@slow @connection",
     NOKEYS, "connection", "2.6.9", "Get the current connection name", NULL},
    {"client|id", 2, cmd_client_id, "noscript loading stale", "@slow @connection", NOKEYS,
     "connection", "5.0.0", "Returns the client ID for the current connection", NULL},
    {"client|help", 2, cmd_client_help, "loading stale", "@slow @connection", NOKEYS,
     "connection", "5.0.0", "Show helpful text about the different subcommands", NULL},
    {NULL, 0, NULL, NULL, NULL, NOKEYS, NULL, NULL, NULL, NULL},
};

static const kv_command config_subs[] = {
    {"config|get", -3, cmd_config_get, "admin noscript loading stale", "@admin @slow @dangerous",
     NOKEYS, "server", "2.0.0", "Get the values of configuration parameters", NULL},
    {"config|help", 2, cmd_config_help, "loading stale", "@slow", NOKEYS, "server", "5.0.0",
     "Show helpful text about the different subcommands", NULL},
    {NULL, 0, NULL, NULL, NULL, NOKEYS, NULL, NULL, NULL, NULL},
};

static const kv_command command_subs[] = {
    {"command|count", 2, cmd_command_count, "loading stale", "@slow @connection", NOKEYS,
     "server", "2.8.13", "Get total number of Redis commands", NULL},
    {"command|docs", -2, cmd_command_docs, "loading stale", "@slow @connection", NOKEYS,
     "server", "7.0.0", "Get array of specific Redis command documentation", NULL},
    {"command|info", -2, cmd_command_info, "loading stale", "@slow @connection", NOKEYS,
     "server", "2.8.13", "Get array of specific Redis command details, or all when no argument is given.", NULL},
    {"command|list", -2, cmd_command_list, "loading stale", "@slow @connection", NOKEYS,
     "server", "7.0.0", "Get an array of Redis command names", NULL},
    {"command|help", 2, cmd_command_help, "loading stale", "@slow @connection", NOKEYS,
     "server", "5.0.0", "Show helpful text about the different subcommands", NULL},
    {NULL, 0, NULL, NULL, NULL, NOKEYS, NULL, NULL, NULL, NULL},
};

/* GET and SET first: the lookup is a scan, and they are most of the load. */
static const kv_command commands[] = {
    {"get", 2, cmd_get, "readonly fast", "@read @string @fast", KEYS1, "string", "1.0.0",
     "Get the value of a key", NULL},
    {"set", -3, cmd_set, "write denyoom", "@write @string @slow", KEYS1, "string", "1.0.0",
     "Set the string value of a key", NULL},
    {"del", -2, cmd_del, "write", "@keyspace @write @slow", 1, -1, 1, "generic", "1.0.0",
     "Delete a key", NULL},
    {"exists", -2, cmd_exists, "readonly fast", "@keyspace @read @fast", 1, -1, 1, "generic",
     "1.0.0", "Determine if a key exists", NULL},
    {"incr", 2, cmd_incr, "write denyoom fast", "@write @string @fast", KEYS1, "string",
     "1.0.0", "Increment the integer value of a key by one", NULL},
    {"decr", 2, cmd_decr, "write denyoom fast", "@write @string @fast", KEYS1, "string",
     "1.0.0", "Decrement the integer value of a key by one", NULL},
    {"incrby", 3, cmd_incrby, "write denyoom fast", "@write @string @fast", KEYS1, "string",
     "1.0.0", "Increment the integer value of a key by the given amount", NULL},
    {"decrby", 3, cmd_decrby, "write denyoom fast", "@write @string @fast", KEYS1, "string",
     "1.0.0", "Decrement the integer value of a key by the given number", NULL},
    {"mget", -2, cmd_mget, "readonly fast", "@read @string @fast", 1, -1, 1, "string", "1.0.0",
     "Get the values of all the given keys", NULL},
    {"mset", -3, cmd_mset, "write denyoom", "@write @string @slow", 1, -1, 2, "string",
     "1.0.1", "Set multiple keys to multiple values", NULL},
    {"expire", -3, cmd_expire, "write fast", "@keyspace @write @fast", KEYS1, "generic",
     "1.0.0", "Set a key's time to live in seconds", NULL},
    {"pexpire", -3, cmd_pexpire, "write fast", "@keyspace @write @fast", KEYS1, "generic",
     "2.6.0", "Set a key's time to live in milliseconds", NULL},
    {"expireat", -3, cmd_expireat, "write fast", "@keyspace @write @fast", KEYS1, "generic",
     "1.2.0", "Set the expiration for a key as a UNIX timestamp", NULL},
    {"pexpireat", -3, cmd_pexpireat, "write fast", "@keyspace @write @fast", KEYS1, "generic",
     "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds", NULL},
    {"ttl", 2, cmd_ttl, "readonly fast", "@keyspace @read @fast", KEYS1, "generic", "1.0.0",
     "Get the time to live for a key in seconds", NULL},
    {"pttl", 2, cmd_pttl, "readonly fast", "@keyspace @read @fast", KEYS1, "generic", "2.6.0",
     "Get the time to live for a key in milliseconds", NULL},
    {"persist", 2, cmd_persist, "write fast", "@keyspace @write @fast", KEYS1, "generic",
     "2.2.0", "Remove the expiration from a key", NULL},
    {"type", 2, cmd_type, "readonly fast", "@keyspace @read @fast", KEYS1, "generic", "1.0.0",
     "Determine the type stored at key", NULL},
    {"lpush", -3, cmd_lpush, "write denyoom fast", "@write @list @fast", KEYS1, "list",
     "1.0.0", "Prepend one or multiple elements to a list", NULL},
    {"rpush", -3, cmd_rpush, "write denyoom fast", "@write @list @fast", KEYS1, "list",
     "1.0.0", "Append one or multiple elements to a list", NULL},
    {"lpop", -2, cmd_lpop, "write fast", "@write @list @fast", KEYS1, "list", "1.0.0",
     "Remove and get the first elements in a list", NULL},
    {"rpop", -2, cmd_rpop, "write fast", "@write @list @fast", KEYS1, "list", "1.0.0",
     "Remove and get the last elements in a list", NULL},
    {"lrange", 4, cmd_lrange, "readonly", "@read @list @slow", KEYS1, "list", "1.0.0",
     "Get a range of elements from a list", NULL},
    {"llen", 2, cmd_llen, "readonly fast", "@read @list @fast", KEYS1, "list", "1.0.0",
     "Get the length of a list", NULL},
    {"dbsize", 1, cmd_dbsize, "readonly fast", "@keyspace @read @fast", NOKEYS, "server",
     "1.0.0", "Return the number of keys in the selected database", NULL},
    {"flushall", -1, cmd_flushall, "write", "@keyspace @write @slow @dangerous", NOKEYS,
     "server", "1.0.0", "Remove all keys from all databases", NULL},
    {"flushdb", -1, cmd_flushall, "write", "@keyspace @write @slow @dangerous", NOKEYS,
     "server", "1.0.0", "Remove all keys from the current database", NULL},
    {"ping", -1, cmd_ping, "fast", "@fast @connection", NOKEYS, "connection", "1.0.0",
     "Ping the server", NULL},
    {"echo", 2, cmd_echo, "fast", "@fast @connection", NOKEYS, "connection", "1.0.0",
     "Echo the given string", NULL},
    {"quit", -1, cmd_quit, CONN_FLAGS, "@fast @connection", NOKEYS, "connection", "1.0.0",
     "Close the connection", NULL},
    {"select", 2, cmd_select, "loading stale fast", "@keyspace @fast", NOKEYS, "connection",
     "1.0.0", "Change the selected database for the current connection", NULL},
    {"auth", -2, cmd_auth, CONN_FLAGS, "@fast @connection", NOKEYS, "connection", "1.0.0",
     "Authenticate to the server", NULL},
    {"hello", -1, cmd_hello, CONN_FLAGS, "@fast @connection", NOKEYS, "connection", "6.0.0",
     "Handshake with Redis", NULL},
    {"client", -2, NULL, "", "@slow", NOKEYS, "connection", "2.4.0",
     "A container for client connection commands", client_subs},
    {"config", -2, NULL, "", "@slow", NOKEYS, "server", "2.0.0",
     "A container for server configuration commands", config_subs},
    {"command", -1, cmd_command, "loading stale", "@slow @connection", NOKEYS, "server",
     "2.8.13", "Get array of Redis command details", command_subs},
    {"info", -1, cmd_info, "loading stale", "@slow @dangerous", NOKEYS, "server", "1.0.0",
     "Get information and statistics about the server", NULL},
    {NULL, 0, NULL, NULL, NULL, NOKEYS, NULL, NULL, NULL, NULL},
};

/* --- helpers shared with kv_cmd_data.c ------------------------------------- */

int arg_ll(kv_call *c, uint32_t i, long long *v, const char *msg)
{
    if (resp_parse_ll(arg(c, i), arg_len(c, i), v) == 0)
        return 0;
    resp_reply_error(c->out, msg ? msg : E_NOT_INT);
    return -1;
}

void reply_arity(kv_call *c)
{
    resp_reply_errorf(c->out, "ERR wrong number of arguments for '%s' command", c->name);
}

int64_t kv_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The part of a name after "parent|". */
static const char *short_name(const char *name)
{
    const char *bar = strchr(name, '|');
    return bar ? bar + 1 : name;
}

static const kv_command *lookup(const kv_command *table, const char *s, size_t n)
{
    for (const kv_command *k = table; k->name; k++) {
        const char *nm = short_name(k->name);
        if (strlen(nm) == n && strncasecmp(nm, s, n) == 0)
            return k;
    }
    return NULL;
}

/* "name" or "parent|sub", as COMMAND INFO and DOCS accept them. */
static const kv_command *lookup_full(const char *s, size_t n)
{
    const char *bar = memchr(s, '|', n);
    if (!bar)
        return lookup(commands, s, n);
    const kv_command *parent = lookup(commands, s, (size_t)(bar - s));
    if (!parent || !parent->subs)
        return NULL;
    return lookup(parent->subs, bar + 1, n - (size_t)(bar - s) - 1);
}

/* Bytes of an argument as Redis's "%.*s" on its C string sees them: up
 * to max, stopping at a NUL. */
static int c_len(const char *s, size_t n, size_t max)
{
    if (n > max)
        n = max;
    const char *nul = memchr(s, '\0', n);
    return (int)(nul ? (size_t)(nul - s) : n);
}

static void reply_unknown(kv_call *c)
{
    char args[512];
    size_t al = 0;
    for (uint32_t i = 1; i < c->argc && al < 128; i++) {
        int n = c_len(arg(c, i), arg_len(c, i), 128 - al);
        args[al++] = '\'';
        memcpy(args + al, arg(c, i), (size_t)n);
        al += (size_t)n;
        args[al++] = '\'';
        args[al++] = ' ';
    }
    resp_reply_errorf(c->out, "ERR unknown command '%.*s', with args beginning with: %.*s",
                      c_len(arg(c, 0), arg_len(c, 0), 128), arg(c, 0), (int)al, args);
}

static void reply_unknown_sub(kv_call *c)
{
    char parent[32];
    int n = c_len(arg(c, 0), arg_len(c, 0), sizeof(parent) - 1);
    for (int i = 0; i < n; i++)
        parent[i] = (char)(arg(c, 0)[i] >= 'a' && arg(c, 0)[i] <= 'z' ? arg(c, 0)[i] - 32 : arg(c, 0)[i]);
    parent[n] = '\0';
    resp_reply_errorf(c->out, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                      c_len(arg(c, 1), arg_len(c, 1), 128), arg(c, 1), parent);
}

static int arity_ok(int arity, uint32_t argc)
{
    return arity > 0 ? argc == (uint32_t)arity : argc >= (uint32_t)-arity;
}

void kv_exec(kv_server *srv, kv_client *cl, const char *base, const resp_arg *args,
             uint32_t nargs, resp_reply *out, int64_t now)
{
    kv_call c = {.srv = srv, .cl = cl, .base = base, .args = args, .argc = nargs,
                 .out = out, .now = now, .name = NULL};
    const kv_command *k = lookup(commands, arg(&c, 0), arg_len(&c, 0));
    if (!k) {
        reply_unknown(&c);
        return;
    }
    if (k->subs && nargs > 1) {
        const kv_command *sub = lookup(k->subs, arg(&c, 1), arg_len(&c, 1));
        if (!sub) {
            reply_unknown_sub(&c);
            return;
        }
        k = sub;
    }
    c.name = k->name;
    if (!arity_ok(k->arity, nargs)) {
        reply_arity(&c);
        return;
    }
    k->fn(&c);
}

void kv_client_init(kv_server *srv, kv_client *cl)
{
    cl->id = atomic_fetch_add(&srv->next_client_id, 1) + 1;
    cl->name = NULL;
    cl->quit = 0;
}

void kv_client_free(kv_client *cl)
{
    free(cl->name);
    cl->name = NULL;
}

/* --- connection ----------------------------------------------------------- */

static void cmd_ping(kv_call *c)
{
    if (c->argc > 2)
        reply_arity(c);
    else if (c->argc == 1)
        resp_reply_simple(c->out, "PONG");
    else
        resp_reply_bulk(c->out, arg(c, 1), arg_len(c, 1));
}

static void cmd_echo(kv_call *c)
{
    resp_reply_bulk(c->out, arg(c, 1), arg_len(c, 1));
}

static void cmd_quit(kv_call *c)
{
    resp_reply_simple(c->out, "OK");
    c->cl->quit = 1;
}

static void cmd_select(kv_call *c)
{
    long long id;
    if (arg_ll(c, 1, &id, NULL) < 0)
        return;
    if (id < INT32_MIN || id > INT32_MAX)
        resp_reply_error(c->out, E_NOT_INT);
    else if (id != 0)
        resp_reply_error(c->out, "ERR DB index is out of range");
    else
        resp_reply_simple(c->out, "OK");
}

/* No password is configured: the default user has "nopass", as in a
 * stock redis-server. 0 on success, else -1 after replying. */
static int check_auth(kv_call *c, uint32_t user, uint32_t pass)
{
    (void)pass;
    if (user == 0) {
        resp_reply_error(c->out, "ERR AUTH <password> called without any password configured "
                                 "for the default user. Are you sure your configuration is correct?");
        return -1;
    }
    if (arg_len(c, user) != 7 || memcmp(arg(c, user), "default", 7) != 0) {
        resp_reply_error(c->out, "WRONGPASS invalid username-password pair or user is disabled.");
        return -1;
    }
    return 0;
}

static void cmd_auth(kv_call *c)
{
    if (c->argc > 3) {
        resp_reply_error(c->out, E_SYNTAX);
        return;
    }
    if (check_auth(c, c->argc == 3 ? 1 : 0, c->argc - 1) == 0)
        resp_reply_simple(c->out, "OK");
}

/* Redis's rule for client names: printable ASCII without spaces. */
static int set_client_name(kv_call *c, uint32_t i)
{
    const char *s = arg(c, i);
    size_t n = arg_len(c, i);
    for (size_t j = 0; j < n; j++) {
        if (s[j] < '!' || s[j] > '~') {
            resp_reply_error(c->out, "ERR Client names cannot contain spaces, newlines or "
                                     "special characters.");
            return -1;
        }
    }
    char *name = NULL;
    if (n > 0) {
        name = malloc(n + 1);
        if (!name) {
            resp_reply_error(c->out, E_OOM);
            return -1;
        }
        memcpy(name, s, n);
        name[n] = '\0';
    }
    free(c->cl->name);
    c->cl->name = name;
    return 0;
}

static void bulk_str(resp_reply *out, const char *s)
{
    resp_reply_bulk(out, s, strlen(s));
}

/* HELLO [protover [AUTH user pass] [SETNAME name]] (networking.c:
 * helloCommand); RESP2 only. */
static void cmd_hello(kv_call *c)
{
    uint32_t j = 1;
    if (c->argc >= 2) {
        long long ver;
        if (arg_ll(c, 1, &ver, "ERR Protocol version is not an integer or out of range") < 0)
            return;
        if (ver != 2) {
            resp_reply_error(c->out, "NOPROTO unsupported protocol version");
            return;
        }
        j = 2;
    }
    for (; j < c->argc; j++) {
        uint32_t more = c->argc - 1 - j;
        if (arg_is(c, j, "auth") && more >= 2) {
            if (check_auth(c, j + 1, j + 2) < 0)
                return;
            j += 2;
        } else if (arg_is(c, j, "setname") && more >= 1) {
            if (set_client_name(c, j + 1) < 0)
                return;
            j++;
        } else {
            resp_reply_errorf(c->out, "ERR Syntax error in HELLO option '%.*s'",
                              c_len(arg(c, j), arg_len(c, j), 128), arg(c, j));
            return;
        }
    }
    resp_reply_array(c->out, 14);
    bulk_str(c->out, "server");
    bulk_str(c->out, "greenrt-kv");
    bulk_str(c->out, "version");
    bulk_str(c->out, KV_REDIS_VERSION);
    bulk_str(c->out, "proto");
    resp_reply_int(c->out, 2);
    bulk_str(c->out, "id");
    resp_reply_int(c->out, c->cl->id);
    bulk_str(c->out, "mode");
    bulk_str(c->out, "standalone");
    bulk_str(c->out, "role");
    bulk_str(c->out, "master");
    bulk_str(c->out, "modules");
    resp_reply_array(c->out, 0);
}

static void cmd_client_setname(kv_call *c)
{
    if (set_client_name(c, 2) == 0)
        resp_reply_simple(c->out, "OK");
}

static void cmd_client_getname(kv_call *c)
{
    if (c->cl->name)
        bulk_str(c->out, c->cl->name);
    else
        resp_reply_nil(c->out);
}

static void cmd_client_id(kv_call *c)
{
    resp_reply_int(c->out, c->cl->id);
}

/* A container's HELP, laid out as Redis's addReplyHelp lays it out. */
static void reply_help(kv_call *c, const char *parent, const char *const *lines)
{
    size_t n = 0;
    while (lines[n])
        n++;
    resp_reply_array(c->out, (long long)n + 3);
    char head[96];
    snprintf(head, sizeof(head), "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", parent);
    resp_reply_simple(c->out, head);
    for (size_t i = 0; i < n; i++)
        resp_reply_simple(c->out, lines[i]);
    resp_reply_simple(c->out, "HELP");
    resp_reply_simple(c->out, "    Print this help.");
}

static void cmd_client_help(kv_call *c)
{
    static const char *const lines[] = {
        "GETNAME", "    Return the name of the current connection.",
        "ID", "    Return the ID of the current connection.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        NULL,
    };
    reply_help(c, "CLIENT", lines);
}

/* --- server ----------------------------------------------------------------- */

/* What CONFIG GET reports: kv has no configuration file and persists
 * nothing. */
static const char *const config_params[][2] = {
    {"appendonly", "no"},
    {"databases", "1"},
    {"save", ""},
};

static void cmd_config_get(kv_call *c)
{
    const size_t np = sizeof(config_params) / sizeof(config_params[0]);
    int matched[sizeof(config_params) / sizeof(config_params[0])] = {0};
    size_t count = 0;
    for (uint32_t i = 2; i < c->argc; i++) {
        char pat[256];
        size_t n = arg_len(c, i) < sizeof(pat) - 1 ? arg_len(c, i) : sizeof(pat) - 1;
        for (size_t j = 0; j < n; j++) {
            char ch = arg(c, i)[j];
            pat[j] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
        pat[n] = '\0';
        for (size_t p = 0; p < np; p++) {
            if (!matched[p] && fnmatch(pat, config_params[p][0], 0) == 0) {
                matched[p] = 1;
                count++;
            }
        }
    }
    resp_reply_array(c->out, (long long)count * 2);
    for (size_t p = 0; p < np; p++) {
        if (matched[p]) {
            bulk_str(c->out, config_params[p][0]);
            bulk_str(c->out, config_params[p][1]);
        }
    }
}

static void cmd_config_help(kv_call *c)
{
    static const char *const lines[] = {
        "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
        NULL,
    };
    reply_help(c, "CONFIG", lines);
}

/* Space-separated words as an array of status replies, with a prefix. */
static void reply_words(resp_reply *out, const char *words)
{
    long long n = 0;
    for (const char *p = words; *p;) {
        while (*p == ' ')
            p++;
        if (*p)
            n++;
        while (*p && *p != ' ')
            p++;
    }
    resp_reply_array(out, n);
    for (const char *p = words; *p;) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        if (p > w) {
            char *dst = resp_reply_reserve(out, (size_t)(p - w) + 3);
            if (dst) {
                dst[0] = '+';
                memcpy(dst + 1, w, (size_t)(p - w));
                dst[(p - w) + 1] = '\r';
                dst[(p - w) + 2] = '\n';
                out->len += (size_t)(p - w) + 3;
            }
        }
    }
}

static size_t count_of(const kv_command *t)
{
    size_t n = 0;
    while (t[n].name)
        n++;
    return n;
}

/* COMMAND INFO's ten fields (Redis 7.0); key specs are left empty. */
static void reply_info_of(resp_reply *out, const kv_command *k)
{
    resp_reply_array(out, 10);
    bulk_str(out, k->name);
    resp_reply_int(out, k->arity);
    reply_words(out, k->flags);
    resp_reply_int(out, k->first);
    resp_reply_int(out, k->last);
    resp_reply_int(out, k->step);
    reply_words(out, k->acl);
    resp_reply_array(out, 0); /* tips */
    resp_reply_array(out, 0); /* key specs */
    if (k->subs) {
        resp_reply_array(out, (long long)count_of(k->subs));
        for (const kv_command *s = k->subs; s->name; s++)
            reply_info_of(out, s);
    } else {
        resp_reply_array(out, 0);
    }
}

static void cmd_command(kv_call *c)
{
    resp_reply_array(c->out, (long long)count_of(commands));
    for (const kv_command *k = commands; k->name; k++)
        reply_info_of(c->out, k);
}

static void cmd_command_count(kv_call *c)
{
    resp_reply_int(c->out, (long long)count_of(commands));
}

static void cmd_command_info(kv_call *c)
{
    if (c->argc == 2) {
        cmd_command(c);
        return;
    }
    resp_reply_array(c->out, c->argc - 2);
    for (uint32_t i = 2; i < c->argc; i++) {
        const kv_command *k = lookup_full(arg(c, i), arg_len(c, i));
        if (k)
            reply_info_of(c->out, k);
        else
            resp_reply_nil(c->out);
    }
}

/* COMMAND DOCS's map (a flat array in RESP2): summary, since, group, and
 * a container's subcommands. */
static void reply_docs_of(resp_reply *out, const kv_command *k)
{
    bulk_str(out, k->name);
    resp_reply_array(out, k->subs ? 8 : 6);
    bulk_str(out, "summary");
    bulk_str(out, k->summary);
    bulk_str(out, "since");
    bulk_str(out, k->since);
    bulk_str(out, "group");
    bulk_str(out, k->group);
    if (k->subs) {
        bulk_str(out, "subcommands");
        resp_reply_array(out, (long long)count_of(k->subs) * 2);
        for (const kv_command *s = k->subs; s->name; s++)
            reply_docs_of(out, s);
    }
}

static void cmd_command_docs(kv_call *c)
{
    if (c->argc == 2) {
        resp_reply_array(c->out, (long long)count_of(commands) * 2);
        for (const kv_command *k = commands; k->name; k++)
            reply_docs_of(c->out, k);
        return;
    }
    const kv_command *found[64];
    size_t n = 0;
    for (uint32_t i = 2; i < c->argc && n < 64; i++) {
        const kv_command *k = lookup_full(arg(c, i), arg_len(c, i));
        if (k)
            found[n++] = k;
    }
    resp_reply_array(c->out, (long long)n * 2);
    for (size_t i = 0; i < n; i++)
        reply_docs_of(c->out, found[i]);
}

static void cmd_command_list(kv_call *c)
{
    if (c->argc > 2) { /* FILTERBY is not supported */
        resp_reply_error(c->out, E_SYNTAX);
        return;
    }
    size_t n = 0;
    for (const kv_command *k = commands; k->name; k++)
        n += 1 + (k->subs ? count_of(k->subs) : 0);
    resp_reply_array(c->out, (long long)n);
    for (const kv_command *k = commands; k->name; k++) {
        bulk_str(c->out, k->name);
        for (const kv_command *s = k->subs; s && s->name; s++)
            bulk_str(c->out, s->name);
    }
}

static void cmd_command_help(kv_call *c)
{
    static const char *const lines[] = {
        "(no subcommand)", "    Return details about all Redis commands.",
        "COUNT", "    Return the total number of commands in this Redis server.",
        "LIST", "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
        "DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
        NULL,
    };
    reply_help(c, "COMMAND", lines);
}

/* INFO [section ...]: server, clients and keyspace, the sections kv has
 * figures for. */
static void cmd_info(kv_call *c)
{
    int want_server = c->argc == 1, want_clients = c->argc == 1, want_keys = c->argc == 1;
    for (uint32_t i = 1; i < c->argc; i++) {
        int all = arg_is(c, i, "all") || arg_is(c, i, "default") || arg_is(c, i, "everything");
        want_server |= all || arg_is(c, i, "server");
        want_clients |= all || arg_is(c, i, "clients");
        want_keys |= all || arg_is(c, i, "keyspace");
    }
    char text[1024];
    size_t n = 0;
    if (want_server) {
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "# Server\r\nredis_version:%s\r\nredis_mode:standalone\r\n"
                              "os:Linux\r\narch_bits:%d\r\nmultiplexing_api:%s\r\n"
                              "process_id:%ld\r\ntcp_port:%d\r\nuptime_in_seconds:%lld\r\n",
                              KV_REDIS_VERSION, (int)(sizeof(void *) * 8), c->srv->model,
                              (long)getpid(), c->srv->port,
                              (long long)(c->now - c->srv->started_ms) / 1000);
    }
    if (want_clients && n < sizeof(text)) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s# Clients\r\nconnected_clients:%ld\r\n",
                              n ? "\r\n" : "", atomic_load(&c->srv->clients));
    }
    if (want_keys && n < sizeof(text)) {
        size_t ttl, keys = kv_store_count(c->srv->store, &ttl);
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s# Keyspace\r\n", n ? "\r\n" : "");
        if (keys && n < sizeof(text))
            n += (size_t)snprintf(text + n, sizeof(text) - n,
                                  "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n", keys, ttl);
    }
    if (n >= sizeof(text))
        n = sizeof(text) - 1;
    resp_reply_bulk(c->out, text, n);
}
