/*
 * test_resp_parse.c - cmocka unit tests of the RESP request parser
 * (resp_parse.c) and the reply writer (resp_reply.c): arrays of bulk
 * strings and inline commands, byte-at-a-time feeding, pipelining,
 * binary-safe arguments, Redis's leniencies, every protocol error and
 * limit, and the reply encodings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resp_parse.h"
#include "resp_reply.h"

/* Every command of a buffer, parsed at once, as "arg|arg|...\n" lines
 * (bytes other than printable ASCII as \xHH); *verdict: the last result. */
static char *parse_all(const char *in, size_t n, int *verdict, char *err, size_t errsz)
{
    char *buf = malloc(n + 1);
    memcpy(buf, in, n);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    resp_parser p;
    resp_parser_init(&p);
    int r;
    while ((r = resp_parse(&p, buf, n)) == RESP_COMMAND) {
        for (uint32_t i = 0; i < p.nargs; i++) {
            const unsigned char *a = (const unsigned char *)buf + p.start + p.args[i].off;
            for (uint32_t j = 0; j < p.args[i].len; j++) {
                if (len + 8 > cap)
                    out = realloc(out, cap *= 2);
                if (a[j] >= 0x20 && a[j] < 0x7f && a[j] != '\\' && a[j] != '|')
                    out[len++] = (char)a[j];
                else
                    len += (size_t)sprintf(out + len, "\\x%02x", a[j]);
            }
            if (len + 8 > cap)
                out = realloc(out, cap *= 2);
            out[len++] = i + 1 < p.nargs ? '|' : '\n';
        }
        out[len] = '\0';
    }
    *verdict = r;
    if (err)
        snprintf(err, errsz, "%s", r == RESP_ERROR ? p.error : "");
    resp_parser_free(&p);
    free(buf);
    return out;
}

static void expect(const char *in, const char *cmds, int verdict, const char *error)
{
    int v;
    char err[128];
    char *got = parse_all(in, strlen(in), &v, err, sizeof(err));
    if (strcmp(got, cmds) != 0)
        fail_msg("input '%s': commands\n%s\nwant\n%s", in, got, cmds);
    if (v != verdict)
        fail_msg("input '%s': verdict %d, want %d (%s)", in, v, verdict, err);
    if (error && strcmp(err, error) != 0)
        fail_msg("input '%s': error '%s', want '%s'", in, err, error);
    free(got);
}

static void test_resp_parse_multibulk(void **st)
{
    (void)st;
    expect("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "GET|k\n", RESP_NEED_MORE, NULL);
    expect("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$2\r\nab\r\n", "SET||ab\n", RESP_NEED_MORE, NULL);
    /* incomplete at every stage */
    expect("*2\r\n$3\r\nGET\r\n$1\r\n", "", RESP_NEED_MORE, NULL);
    expect("*2\r\n$3\r\nGE", "", RESP_NEED_MORE, NULL);
    expect("*2\r", "", RESP_NEED_MORE, NULL);
    expect("*", "", RESP_NEED_MORE, NULL);
}

static void test_resp_parse_binary_safe(void **st)
{
    (void)st;
    static const char in[] = "*2\r\n$4\r\nECHO\r\n$6\r\na\r\n\0b\n\r\n";
    int v;
    char *got = parse_all(in, sizeof(in) - 1, &v, NULL, 0);
    assert_string_equal(got, "ECHO|a\\x0d\\x0a\\x00b\\x0a\n");
    assert_int_equal(v, RESP_NEED_MORE);
    free(got);
}

static void test_resp_parse_pipelined(void **st)
{
    (void)st;
    expect("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING x\r\n*1\r\n$4\r\nQU",
           "PING\nGET|a\nPING|x\n", RESP_NEED_MORE, NULL);
}

static void test_resp_parse_empty_commands_skipped(void **st)
{
    (void)st;
    expect("*0\r\n*-1\r\n\r\n\n   \r\n*1\r\n$4\r\nPING\r\n", "PING\n", RESP_NEED_MORE, NULL);
}

static void test_resp_parse_inline(void **st)
{
    (void)st;
    expect("PING\r\n", "PING\n", RESP_NEED_MORE, NULL);
    expect("set  a\tb\n", "set|a|b\n", RESP_NEED_MORE, NULL);
    expect("set \"a b\" 'c\\'d' \"\\x41\\n\\q\"\r\n", "set|a b|c'd|A\\x0aq\n", RESP_NEED_MORE,
           NULL);
    expect("echo a\"b c\"d\r\n", "", RESP_ERROR, "Protocol error: unbalanced quotes in request");
    expect("echo a\"b c\" d\r\n", "echo|ab c|d\n", RESP_NEED_MORE, NULL);
    expect("echo \"abc\r\n", "", RESP_ERROR, "Protocol error: unbalanced quotes in request");
    expect("echo 'abc\r\n", "", RESP_ERROR, "Protocol error: unbalanced quotes in request");
    expect("PING", "", RESP_NEED_MORE, NULL); /* no end of line yet */
    /* a NUL ends the line, as it ends Redis's C string */
    static const char nul[] = "echo ab\0cd\r\nPING\r\n";
    int v;
    char *got = parse_all(nul, sizeof(nul) - 1, &v, NULL, 0);
    assert_string_equal(got, "echo|ab\nPING\n");
    free(got);
}

static void test_resp_parse_lenient_like_redis(void **st)
{
    (void)st;
    /* the two bytes after a bulk string and the byte after '\r' are not
     * checked, as in Redis */
    expect("*1\r\n$4\r\nPINGxx*1\rx$4\rxPING\r\n", "PING\nPING\n", RESP_NEED_MORE, NULL);
}

static void test_resp_parse_errors(void **st)
{
    (void)st;
    expect("*abc\r\n", "", RESP_ERROR, "Protocol error: invalid multibulk length");
    expect("*1048577\r\n", "", RESP_ERROR, "Protocol error: invalid multibulk length");
    expect("*01\r\n", "", RESP_ERROR, "Protocol error: invalid multibulk length");
    expect("*2\r\n:1\r\n", "", RESP_ERROR, "Protocol error: expected '$', got ':'");
    expect("*2\r\n\r\n", "", RESP_ERROR, "Protocol error: expected '$', got ' '");
    static const char nul[] = "*1\r\n\0";
    int v;
    char err[128];
    free(parse_all(nul, sizeof(nul) - 1, &v, err, sizeof(err)));
    assert_int_equal(v, RESP_ERROR);
    assert_string_equal(err, "Protocol error: expected '$', got '");
    expect("*1\r\n$-1\r\n", "", RESP_ERROR, "Protocol error: invalid bulk length");
    expect("*1\r\n$x\r\n", "", RESP_ERROR, "Protocol error: invalid bulk length");
    expect("*1\r\n$16777217\r\n", "", RESP_ERROR, "Protocol error: invalid bulk length");
    /* commands before the error are still returned */
    expect("PING\r\n*x\r\n", "PING\n", RESP_ERROR, "Protocol error: invalid multibulk length");
}

static void test_resp_parse_line_limits(void **st)
{
    (void)st;
    size_t n = RESP_MAX_INLINE + 16; /* past the limit, wherever the line starts */
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    expect(big, "", RESP_ERROR, "Protocol error: too big inline request");
    big[0] = '*';
    memset(big + 1, '1', n - 1);
    expect(big, "", RESP_ERROR, "Protocol error: too big mbulk count string");
    memcpy(big, "*1\r\n$", 5);
    expect(big, "", RESP_ERROR, "Protocol error: too big bulk count string");
    free(big);
}

static void test_resp_parse_request_limit(void **st)
{
    (void)st;
    /* two maximal bulks do not fit in one request: refused before the
     * second one's bytes are asked for */
    size_t n = 64 + RESP_MAX_BULK;
    char *buf = malloc(n + 64);
    size_t len = (size_t)sprintf(buf, "*3\r\n$%d\r\n", RESP_MAX_BULK);
    memset(buf + len, 'x', RESP_MAX_BULK);
    len += RESP_MAX_BULK;
    len += (size_t)sprintf(buf + len, "\r\n$%d\r\n", RESP_MAX_BULK);
    resp_parser p;
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, buf, len), RESP_ERROR);
    assert_string_equal(p.error, "Protocol error: request too large");
    resp_parser_free(&p);
    free(buf);
}

static void test_resp_parse_need(void **st)
{
    (void)st;
    char buf[64];
    resp_parser p;
    resp_parser_init(&p);
    int n = sprintf(buf, "*2\r\n$3\r\nSET\r\n$100000\r\nab");
    assert_int_equal(resp_parse(&p, buf, (size_t)n), RESP_NEED_MORE);
    /* the second bulk starts at 22: it needs 100000 bytes and its CRLF */
    assert_int_equal(p.need, 22 + 100000 + 2);
    resp_parser_free(&p);
}

/* Feeding a byte at a time, sliding the tail to the front as a server
 * does (resp_parser_rebase), gives the same commands. */
static void test_resp_parse_byte_at_a_time(void **st)
{
    (void)st;
    static const char in[] = "*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$5\r\nv\r\n\0x\r\n"
                             "set  'a b' \"c\\x00d\"\r\n*0\r\n*1\r\n$4\r\nPING\r\n";
    size_t n = sizeof(in) - 1;
    int v;
    char *whole = parse_all(in, n, &v, NULL, 0);
    char buf[256], got[1024];
    size_t len = 0, glen = 0;
    resp_parser p;
    resp_parser_init(&p);
    for (size_t i = 0; i < n; i++) {
        buf[len++] = in[i];
        int r;
        while ((r = resp_parse(&p, buf, len)) == RESP_COMMAND) {
            for (uint32_t a = 0; a < p.nargs; a++) {
                const unsigned char *s = (const unsigned char *)buf + p.start + p.args[a].off;
                for (uint32_t j = 0; j < p.args[a].len; j++) {
                    if (s[j] >= 0x20 && s[j] < 0x7f && s[j] != '\\' && s[j] != '|')
                        got[glen++] = (char)s[j];
                    else
                        glen += (size_t)sprintf(got + glen, "\\x%02x", s[j]);
                }
                got[glen++] = a + 1 < p.nargs ? '|' : '\n';
            }
        }
        assert_int_equal(r, RESP_NEED_MORE);
        memmove(buf, buf + p.start, len - p.start);
        len -= p.start;
        resp_parser_rebase(&p);
    }
    got[glen] = '\0';
    assert_string_equal(got, whole);
    assert_string_equal(got, "SET|k1|v\\x0d\\x0a\\x00x\nset|a b|c\\x00d\nPING\n");
    resp_parser_free(&p);
    free(whole);
}

static void test_resp_parse_many_args(void **st)
{
    (void)st;
    char *buf = malloc(100000);
    size_t len = (size_t)sprintf(buf, "*1000\r\n");
    for (int i = 0; i < 1000; i++)
        len += (size_t)sprintf(buf + len, "$%d\r\n%d\r\n", i < 10 ? 1 : i < 100 ? 2 : 3, i);
    resp_parser p;
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, buf, len), RESP_COMMAND);
    assert_int_equal(p.nargs, 1000);
    assert_memory_equal(buf + p.start + p.args[999].off, "999", 3);
    assert_int_equal(p.end, len);
    assert_int_equal(resp_parse(&p, buf, len), RESP_NEED_MORE);
    resp_parser_free(&p);
    free(buf);
}

static void test_resp_parse_ll(void **st)
{
    (void)st;
    long long v;
    assert_int_equal(resp_parse_ll("0", 1, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(resp_parse_ll("-12", 3, &v), 0);
    assert_int_equal(v, -12);
    assert_int_equal(resp_parse_ll("9223372036854775807", 19, &v), 0);
    assert_true(v == 9223372036854775807LL);
    assert_int_equal(resp_parse_ll("-9223372036854775808", 20, &v), 0);
    assert_true(v == -9223372036854775807LL - 1);
    static const char *bad[] = {"", "-", "-0", "01", "+1", " 1", "1 ", "1a",
                                "9223372036854775808", "-9223372036854775809",
                                "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (resp_parse_ll(bad[i], strlen(bad[i]), &v) == 0)
            fail_msg("'%s' parsed as %lld", bad[i], v);
}

static void test_resp_reply_encodings(void **st)
{
    (void)st;
    resp_reply r;
    resp_reply_init(&r);
    resp_reply_simple(&r, "OK");
    resp_reply_error(&r, "ERR x");
    resp_reply_int(&r, -9223372036854775807LL - 1);
    resp_reply_int(&r, 0);
    resp_reply_bulk(&r, "a\r\n\0", 4);
    resp_reply_nil(&r);
    resp_reply_array(&r, 2);
    resp_reply_array(&r, -1);
    resp_reply_errorf(&r, "ERR %s|%.*s", "a\r\nb", 3, "x\0yz");
    static const char want[] = "+OK\r\n-ERR x\r\n:-9223372036854775808\r\n:0\r\n"
                               "$4\r\na\r\n\0\r\n$-1\r\n*2\r\n*-1\r\n-ERR a  b|x\r\n";
    assert_int_equal(r.len, sizeof(want) - 1);
    assert_memory_equal(r.buf, want, sizeof(want) - 1);
    /* a reply bigger than the initial buffer grows it; reset gives it back */
    char *big = calloc(1, 3 * RESP_REPLY_INITIAL);
    resp_reply_bulk(&r, big, 3 * RESP_REPLY_INITIAL);
    assert_true(r.cap >= 3 * RESP_REPLY_INITIAL);
    resp_reply_reset(&r);
    assert_int_equal(r.len, 0);
    assert_true(r.cap <= RESP_REPLY_INITIAL);
    free(big);
    resp_reply_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp_parse_multibulk),
        cmocka_unit_test(test_resp_parse_binary_safe),
        cmocka_unit_test(test_resp_parse_pipelined),
        cmocka_unit_test(test_resp_parse_empty_commands_skipped),
        cmocka_unit_test(test_resp_parse_inline),
        cmocka_unit_test(test_resp_parse_lenient_like_redis),
        cmocka_unit_test(test_resp_parse_errors),
        cmocka_unit_test(test_resp_parse_line_limits),
        cmocka_unit_test(test_resp_parse_request_limit),
        cmocka_unit_test(test_resp_parse_need),
        cmocka_unit_test(test_resp_parse_byte_at_a_time),
        cmocka_unit_test(test_resp_parse_many_args),
        cmocka_unit_test(test_resp_parse_ll),
        cmocka_unit_test(test_resp_reply_encodings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
