/*
 * test_kv.c - cmocka unit tests of the kv store (kv_store.c, kv_list.c)
 * and its commands (kv_cmd.c, kv_cmd_data.c), driven through kv_exec
 * with a clock the test controls: strings, SET's options, counters,
 * multi-key commands, expiry (lazy and the sweeper's cycle), lists and
 * WRONGTYPE, the connection commands, Redis's error words, table growth
 * and shrinkage, and the shard locks under threads hammering the same
 * keys (pthread mutexes, as kv_threads uses them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "kv_cmd.h"
#include "kv_store.h"

/* FLUSHALL and multi-key commands hold up to KV_SHARDS shard locks at
 * once (taken in ascending order, so they cannot deadlock); ThreadSanitizer's
 * deadlock detector tracks at most 64 per thread and aborts beyond.  Races
 * are still detected. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "detect_deadlocks=0";
}

static void lock_init(void *l) { pthread_mutex_init(l, NULL); }
static void lock_lock(void *l) { pthread_mutex_lock(l); }
static void lock_unlock(void *l) { pthread_mutex_unlock(l); }
static void lock_destroy(void *l) { pthread_mutex_destroy(l); }
static const kv_lock_ops locks = {lock_init, lock_lock, lock_unlock, lock_destroy};

typedef struct t_kv {
    kv_store store;
    kv_server srv;
    kv_client cl;
    resp_reply out;
    int64_t now; /* the clock kv_exec sees */
} t_kv;

static int setup(void **st)
{
    t_kv *t = calloc(1, sizeof(*t));
    if (!t || kv_store_init(&t->store, &locks) < 0)
        return -1;
    t->srv.store = &t->store;
    t->srv.model = "test";
    kv_client_init(&t->srv, &t->cl);
    resp_reply_init(&t->out);
    t->now = 1000000;
    *st = t;
    return 0;
}

static int teardown(void **st)
{
    t_kv *t = *st;
    resp_reply_free(&t->out);
    kv_client_free(&t->cl);
    kv_store_destroy(&t->store);
    free(t);
    return 0;
}

/* Runs one inline command (Redis's quoting: "..." with \x00 escapes) and
 * returns its reply (valid until the next call); *len its length. */
static const char *t_run(t_kv *t, const char *cmd, size_t *len)
{
    size_t n = strlen(cmd);
    char *buf = malloc(n + 2);
    memcpy(buf, cmd, n);
    memcpy(buf + n, "\n", 2);
    resp_parser p;
    resp_parser_init(&p);
    t->out.len = 0;
    if (resp_parse(&p, buf, n + 1) != RESP_COMMAND)
        fail_msg("'%s' did not parse as one command", cmd);
    kv_exec(&t->srv, &t->cl, buf + p.start, p.args, p.nargs, &t->out, t->now);
    resp_parser_free(&p);
    free(buf);
    resp_reply_reserve(&t->out, 1);
    t->out.buf[t->out.len] = '\0';
    if (len)
        *len = t->out.len;
    return t->out.buf;
}

#define CHECK(cmd, want)                                                          \
    do {                                                                          \
        const char *got_ = t_run(t, cmd, NULL);                                   \
        if (strcmp(got_, want) != 0)                                              \
            fail_msg("%s:\n  got  '%s'\n  want '%s'", cmd, got_, want);           \
    } while (0)

static void test_kv_strings(void **st)
{
    t_kv *t = *st;
    CHECK("GET a", "$-1\r\n");
    CHECK("SET a hello", "+OK\r\n");
    CHECK("get a", "$5\r\nhello\r\n");
    CHECK("SET a \"longer value than before, to move the entry\"", "+OK\r\n");
    CHECK("GET a", "$43\r\nlonger value than before, to move the entry\r\n");
    CHECK("SET a x", "+OK\r\n");
    CHECK("GET a", "$1\r\nx\r\n");
    CHECK("SET a y NX", "$-1\r\n");
    CHECK("SET b y XX", "$-1\r\n");
    CHECK("SET b y NX", "+OK\r\n");
    CHECK("SET b z XX GET", "$1\r\ny\r\n");
    CHECK("SET c z NX GET", "$-1\r\n");
    CHECK("GET c", "$1\r\nz\r\n");
    CHECK("SET a b NX XX", "-ERR syntax error\r\n");
    CHECK("SET a b EX 10 PX 10", "-ERR syntax error\r\n");
    CHECK("SET a b KEEPTTL EX 10", "-ERR syntax error\r\n");
    CHECK("SET a b EX", "-ERR syntax error\r\n");
    CHECK("SET a b FOO", "-ERR syntax error\r\n");
    CHECK("SET a b EX 0", "-ERR invalid expire time in 'set' command\r\n");
    CHECK("SET a b PX -5", "-ERR invalid expire time in 'set' command\r\n");
    CHECK("SET a b EX 9223372036854775", "-ERR invalid expire time in 'set' command\r\n");
    CHECK("SET a b EX x", "-ERR value is not an integer or out of range\r\n");
    CHECK("SET a", "-ERR wrong number of arguments for 'set' command\r\n");
    /* binary-safe keys and values */
    size_t len;
    t_run(t, "SET \"k\\x00\\r\\n\" \"v\\x00\\r\\n\"", NULL);
    const char *r = t_run(t, "GET \"k\\x00\\r\\n\"", &len);
    assert_int_equal(len, 10);
    assert_memory_equal(r, "$4\r\nv\0\r\n\r\n", 10);
    CHECK("GET k", "$-1\r\n");
}

static void test_kv_counters(void **st)
{
    t_kv *t = *st;
    CHECK("INCR n", ":1\r\n");
    CHECK("INCRBY n 41", ":42\r\n");
    CHECK("DECR n", ":41\r\n");
    CHECK("DECRBY n -9", ":50\r\n");
    CHECK("GET n", "$2\r\n50\r\n");
    CHECK("INCRBY n x", "-ERR value is not an integer or out of range\r\n");
    CHECK("SET n 9223372036854775807", "+OK\r\n");
    CHECK("INCR n", "-ERR increment or decrement would overflow\r\n");
    CHECK("DECRBY n -9223372036854775808", "-ERR decrement would overflow\r\n");
    CHECK("SET s \" 1\"", "+OK\r\n");
    CHECK("INCR s", "-ERR value is not an integer or out of range\r\n");
    CHECK("SET s 01", "+OK\r\n");
    CHECK("INCR s", "-ERR value is not an integer or out of range\r\n");
    /* INCR keeps the TTL, SET drops it */
    CHECK("SET t 5 EX 100", "+OK\r\n");
    CHECK("INCR t", ":6\r\n");
    CHECK("TTL t", ":100\r\n");
    CHECK("SET t 7", "+OK\r\n");
    CHECK("TTL t", ":-1\r\n");
}

static void test_kv_multi_key(void **st)
{
    t_kv *t = *st;
    CHECK("MSET a 1 b 2 c 3", "+OK\r\n");
    CHECK("MSET a 1 b", "-ERR wrong number of arguments for 'mset' command\r\n");
    CHECK("MGET a b nope c", "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n$1\r\n3\r\n");
    CHECK("EXISTS a a nope b", ":3\r\n");
    CHECK("DEL a a nope b", ":2\r\n");
    CHECK("DBSIZE", ":1\r\n");
    CHECK("LPUSH l x", ":1\r\n");
    CHECK("MGET c l", "*2\r\n$1\r\n3\r\n$-1\r\n");
    CHECK("FLUSHALL ASYNC", "+OK\r\n");
    CHECK("FLUSHALL now", "-ERR syntax error\r\n");
    CHECK("DBSIZE", ":0\r\n");
}

static void test_kv_expiry(void **st)
{
    t_kv *t = *st;
    CHECK("SET a 1 PX 1500", "+OK\r\n");
    CHECK("PTTL a", ":1500\r\n");
    CHECK("TTL a", ":2\r\n"); /* rounded as Redis rounds */
    t->now += 1000;
    CHECK("TTL a", ":1\r\n");
    CHECK("GET a", "$1\r\n1\r\n");
    t->now += 500;
    CHECK("GET a", "$-1\r\n"); /* lazily expired */
    CHECK("TTL a", ":-2\r\n");
    CHECK("SET a 1", "+OK\r\n");
    CHECK("TTL a", ":-1\r\n");
    CHECK("EXPIRE a 10 XX", ":0\r\n");
    CHECK("EXPIRE a 10 NX", ":1\r\n");
    CHECK("EXPIRE a 20 NX", ":0\r\n");
    CHECK("EXPIRE a 5 GT", ":0\r\n");
    CHECK("EXPIRE a 50 GT", ":1\r\n");
    CHECK("EXPIRE a 60 LT", ":0\r\n");
    CHECK("PEXPIRE a 30000 LT", ":1\r\n");
    CHECK("TTL a", ":30\r\n");
    CHECK("EXPIRE a 10 NX XX", "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
    CHECK("EXPIRE a 10 GT LT", "-ERR GT and LT options at the same time are not compatible\r\n");
    CHECK("EXPIRE a 10 FOO", "-ERR Unsupported option FOO\r\n");
    CHECK("EXPIRE a x", "-ERR value is not an integer or out of range\r\n");
    CHECK("EXPIRE a 9223372036854776", "-ERR invalid expire time in 'expire' command\r\n");
    CHECK("EXPIRE nope 10", ":0\r\n");
    CHECK("PERSIST a", ":1\r\n");
    CHECK("PERSIST a", ":0\r\n");
    CHECK("TTL a", ":-1\r\n");
    CHECK("EXPIRE a 0", ":1\r\n"); /* a time in the past deletes */
    CHECK("EXISTS a", ":0\r\n");
    CHECK("SET b 1 KEEPTTL", "+OK\r\n");
    CHECK("EXPIRE b 100", ":1\r\n");
    CHECK("SET b 2 KEEPTTL", "+OK\r\n");
    CHECK("TTL b", ":100\r\n");
}

static void test_kv_expire_cycle(void **st)
{
    t_kv *t = *st;
    /* 1,000 keys that expired "in the past" of the real clock the
     * sweeper reads, 10 that have not */
    t->now = kv_now_ms() - 60000;
    char cmd[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(cmd, sizeof(cmd), "SET old%d x PX 1", i);
        CHECK(cmd, "+OK\r\n");
    }
    for (int i = 0; i < 10; i++) {
        snprintf(cmd, sizeof(cmd), "SET new%d x EX 1000", i);
        CHECK(cmd, "+OK\r\n");
    }
    CHECK("SET forever x", "+OK\r\n");
    uint64_t rng = 42;
    size_t ttl, deleted = 0;
    for (int cycles = 0; cycles < 1000 && kv_store_count(&t->store, NULL) > 11; cycles++) {
        int finished;
        deleted += kv_store_expire_cycle(&t->store, kv_now_ms() + 1000, &rng, &finished);
    }
    assert_int_equal(deleted, 1000);
    assert_int_equal(kv_store_count(&t->store, &ttl), 11);
    assert_int_equal(ttl, 10);
}

static void test_kv_lists_and_wrongtype(void **st)
{
    t_kv *t = *st;
    CHECK("RPUSH l b c", ":2\r\n");
    CHECK("LPUSH l a", ":3\r\n");
    CHECK("LRANGE l 0 -1", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    CHECK("LRANGE l -2 100", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    CHECK("LRANGE l 2 1", "*0\r\n");
    CHECK("LRANGE l x 1", "-ERR value is not an integer or out of range\r\n");
    CHECK("LLEN l", ":3\r\n");
    CHECK("TYPE l", "+list\r\n");
    CHECK("GET l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    CHECK("INCR l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    CHECK("INCRBY l x", "-ERR value is not an integer or out of range\r\n");
    CHECK("SET l v GET", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    CHECK("LPOP l 0", "*0\r\n");
    CHECK("LPOP l -1", "-ERR value is out of range, must be positive\r\n");
    CHECK("LPOP l 1 2", "-ERR wrong number of arguments for 'lpop' command\r\n");
    CHECK("RPOP l 2", "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    CHECK("LPOP l", "$1\r\na\r\n");
    CHECK("EXISTS l", ":0\r\n"); /* an emptied list is deleted */
    CHECK("LPOP l", "$-1\r\n");
    CHECK("LPOP l 3", "*-1\r\n");
    CHECK("SET s v", "+OK\r\n");
    CHECK("LPUSH s x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    CHECK("LLEN s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    CHECK("LPUSH m x", ":1\r\n");
    CHECK("SET m v", "+OK\r\n"); /* SET replaces any type */
    CHECK("TYPE m", "+string\r\n");
    /* a list longer than the ring's first size */
    for (int i = 0; i < 100; i++)
        t_run(t, "LPUSH big x", NULL);
    CHECK("LLEN big", ":100\r\n");
}

static void test_kv_connection_commands(void **st)
{
    t_kv *t = *st;
    CHECK("PING", "+PONG\r\n");
    CHECK("PING hi", "$2\r\nhi\r\n");
    CHECK("PING a b", "-ERR wrong number of arguments for 'ping' command\r\n");
    CHECK("ECHO \"a b\"", "$3\r\na b\r\n");
    CHECK("SELECT 0", "+OK\r\n");
    CHECK("SELECT 1", "-ERR DB index is out of range\r\n");
    CHECK("SELECT x", "-ERR value is not an integer or out of range\r\n");
    CHECK("CLIENT GETNAME", "$-1\r\n");
    CHECK("CLIENT SETNAME bench", "+OK\r\n");
    CHECK("client getname", "$5\r\nbench\r\n");
    CHECK("CLIENT SETNAME \"a b\"",
          "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    CHECK("CLIENT SETNAME", "-ERR wrong number of arguments for 'client|setname' command\r\n");
    CHECK("CLIENT", "-ERR wrong number of arguments for 'client' command\r\n");
    CHECK("CLIENT foo", "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n");
    CHECK("config foo", "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n");
    CHECK("CONFIG GET save", "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    CHECK("CONFIG GET APPENDONLY", "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
    CHECK("CONFIG GET nope", "*0\r\n");
    CHECK("HELLO 3", "-NOPROTO unsupported protocol version\r\n");
    CHECK("HELLO x", "-ERR Protocol version is not an integer or out of range\r\n");
    CHECK("HELLO 2 foo", "-ERR Syntax error in HELLO option 'foo'\r\n");
    CHECK("AUTH x", "-ERR AUTH <password> called without any password configured for the "
                    "default user. Are you sure your configuration is correct?\r\n");
    CHECK("AUTH u p", "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    CHECK("AUTH default p", "+OK\r\n");
    CHECK("COMMAND COUNT", ":37\r\n");
    CHECK("COMMAND INFO nope", "*1\r\n$-1\r\n");
    CHECK("QUIT", "+OK\r\n");
    assert_int_equal(t->cl.quit, 1);
}

static void test_kv_unknown_command_words(void **st)
{
    t_kv *t = *st;
    CHECK("foo", "-ERR unknown command 'foo', with args beginning with: \r\n");
    CHECK("foo a \"b c\"", "-ERR unknown command 'foo', with args beginning with: 'a' 'b c' \r\n");
    /* \r\n become spaces; a NUL ends an argument, as in Redis's %s */
    CHECK("\"f\\r\\no\" \"x\\x00y\" z",
          "-ERR unknown command 'f  o', with args beginning with: 'x' 'z' \r\n");
    /* the arguments are cut once 128 bytes are quoted */
    char cmd[400], want[400];
    memset(cmd, 0, sizeof(cmd));
    strcpy(cmd, "foo ");
    memset(cmd + 4, 'a', 200);
    strcat(cmd, " b");
    snprintf(want, sizeof(want), "-ERR unknown command 'foo', with args beginning with: '%.128s' \r\n",
             cmd + 4);
    CHECK(cmd, want);
    CHECK("GET", "-ERR wrong number of arguments for 'get' command\r\n");
}

static void test_kv_table_grows_and_shrinks(void **st)
{
    t_kv *t = *st;
    char cmd[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(cmd, sizeof(cmd), "SET key:%d %d", i, i);
        t_run(t, cmd, NULL);
    }
    CHECK("DBSIZE", ":20000\r\n");
    size_t buckets = 0;
    for (unsigned s = 0; s < KV_SHARDS; s++)
        buckets += t->store.shards[s].mask + 1;
    assert_true(buckets >= 20000 / 2);
    CHECK("GET key:12345", "$5\r\n12345\r\n");
    for (int i = 0; i < 20000; i += 2) {
        snprintf(cmd, sizeof(cmd), "DEL key:%d", i);
        CHECK(cmd, ":1\r\n");
    }
    for (int i = 1; i < 20000; i += 2) {
        snprintf(cmd, sizeof(cmd), "DEL key:%d", i);
        CHECK(cmd, ":1\r\n");
    }
    buckets = 0;
    for (unsigned s = 0; s < KV_SHARDS; s++)
        buckets += t->store.shards[s].mask + 1;
    assert_true(buckets <= KV_SHARDS * 32);
    CHECK("DBSIZE", ":0\r\n");
}

/* Threads INCR the same few keys and MSET/MGET pairs that must stay
 * equal: the shard locks make each command atomic. */
#define HAMMER_THREADS 4
#define HAMMER_ROUNDS 20000

struct hammer {
    t_kv *t;
    int id;
    int torn;
};

static void *hammer_main(void *p)
{
    struct hammer *h = p;
    kv_client cl;
    resp_reply out;
    kv_client_init(&h->t->srv, &cl);
    resp_reply_init(&out);
    char buf[128];
    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        int n = i % 4 == 0 ? snprintf(buf, sizeof(buf), "MSET pa %d pb %d\n", i, i)
              : i % 4 == 1 ? snprintf(buf, sizeof(buf), "MGET pa pb\n")
                           : snprintf(buf, sizeof(buf), "INCR c%d\n", i % 3);
        resp_parser p;
        resp_parser_init(&p);
        resp_parse(&p, buf, (size_t)n);
        out.len = 0;
        kv_exec(&h->t->srv, &cl, buf + p.start, p.args, p.nargs, &out, kv_now_ms());
        resp_parser_free(&p);
        if (i % 4 == 1 && out.len > 4) {
            /* *2\r\n$L\r\nA\r\n$L\r\nB\r\n: the two values must match */
            char a[32], b[32];
            if (sscanf(out.buf, "*2\r\n$%*d\r\n%31[0-9]\r\n$%*d\r\n%31[0-9]", a, b) == 2 &&
                strcmp(a, b) != 0)
                h->torn++;
        }
    }
    resp_reply_free(&out);
    kv_client_free(&cl);
    return NULL;
}

static void test_kv_concurrent_commands(void **st)
{
    t_kv *t = *st;
    pthread_t th[HAMMER_THREADS];
    struct hammer h[HAMMER_THREADS];
    for (int i = 0; i < HAMMER_THREADS; i++) {
        h[i] = (struct hammer){t, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < HAMMER_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(h[i].torn, 0);
    }
    /* per thread, rounds with i % 4 in {2, 3}: HAMMER_ROUNDS / 2 INCRs,
     * spread over c0, c1, c2 */
    long long total = 0;
    for (int k = 0; k < 3; k++) {
        char cmd[32];
        snprintf(cmd, sizeof(cmd), "GET c%d", k);
        const char *r = t_run(t, cmd, NULL);
        long long v = 0;
        assert_int_equal(sscanf(r, "$%*d\r\n%lld", &v), 1);
        total += v;
    }
    assert_int_equal(total, (long long)HAMMER_THREADS * HAMMER_ROUNDS / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kv_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_multi_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_expire_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_lists_and_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_connection_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_unknown_command_words, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_table_grows_and_shrinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_concurrent_commands, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
