/*
 * test_http_parse.c - cmocka unit tests of the HTTP/1.1 request parser
 * (http_parse.c): complete requests, every error status, limits, byte-at-
 * a-time feeding, pipelining, and path decoding / traversal refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_parse.h"

static int feed_all(const char *s, size_t n, http_parser *p)
{
    http_parser_init(p);
    return http_parser_feed(p, s, n);
}

static int feed_str(const char *s, http_parser *p)
{
    return feed_all(s, strlen(s), p);
}

static void test_http_parse_simple_get(void **st)
{
    (void)st;
    http_parser p;
    const char *r = "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n";
    assert_int_equal(feed_str(r, &p), 1);
    assert_int_equal(p.req.method, HTTP_GET);
    assert_int_equal(p.req.minor, 1);
    assert_int_equal(p.req.keep_alive, 1);
    assert_int_equal(p.req.content_length, 0);
    assert_int_equal(p.req.nheaders, 2);
    assert_int_equal(p.req.head_len, strlen(r));
    assert_int_equal(p.req.target_len, strlen("/hello?x=1"));
    assert_memory_equal(r + p.req.target_off, "/hello?x=1", p.req.target_len);
}

static void test_http_parse_head_and_other_methods(void **st)
{
    (void)st;
    http_parser p;
    assert_int_equal(feed_str("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", &p), 1);
    assert_int_equal(p.req.method, HTTP_HEAD);
    assert_int_equal(feed_str("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", &p), 1);
    assert_int_equal(p.req.method, HTTP_OTHER);
    assert_int_equal(p.req.content_length, 5);
    assert_int_equal(feed_str("get / HTTP/1.1\r\nHost: a\r\n\r\n", &p), 1);
    assert_int_equal(p.req.method, HTTP_OTHER); /* methods are case-sensitive */
}

static void test_http_parse_need_more(void **st)
{
    (void)st;
    http_parser p;
    assert_int_equal(feed_str("", &p), 0);
    assert_int_equal(feed_str("GET / HTTP/1.1\r\nHost: a\r\n", &p), 0);
    assert_int_equal(feed_str("GET / HTTP/1.1\r\nHost: a\r\n\r", &p), 0);
}

static void test_http_parse_byte_at_a_time(void **st)
{
    (void)st;
    const char *r = "\r\nGET /a/b HTTP/1.0\r\nConnection: Keep-Alive\r\nX: y \r\n\r\n";
    size_t n = strlen(r);
    http_parser p;
    http_parser_init(&p);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(http_parser_feed(&p, r, i), 0);
    assert_int_equal(http_parser_feed(&p, r, n), 1);
    assert_int_equal(p.req.minor, 0);
    assert_int_equal(p.req.keep_alive, 1);
    assert_int_equal(p.req.head_len, n);
}

static void test_http_parse_connection(void **st)
{
    (void)st;
    http_parser p;
    assert_int_equal(feed_str("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &p), 1);
    assert_int_equal(p.req.keep_alive, 0);
    assert_int_equal(feed_str("GET / HTTP/1.1\r\nHost: a\r\nconnection: foo, CLOSE\r\n\r\n", &p), 1);
    assert_int_equal(p.req.keep_alive, 0);
    assert_int_equal(feed_str("GET / HTTP/1.0\r\n\r\n", &p), 1); /* 1.0: no Host needed */
    assert_int_equal(p.req.keep_alive, 0);
}

static void test_http_parse_malformed_400(void **st)
{
    (void)st;
    static const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /\r\n\r\n",
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\nHost: a\n\n",
        "GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n",
        "GET / HTTX/1.1\r\nHost: a\r\n\r\n",
        "GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    http_parser p;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = feed_str(bad[i], &p);
        if (r != -400)
            fail_msg("case %zu: got %d for \"%s\"", i, r, bad[i]);
    }
    static const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    assert_int_equal(feed_all(nul, sizeof(nul) - 1, &p), -400);
}

static void test_http_parse_limits(void **st)
{
    (void)st;
    http_parser p;
    char *big = malloc(HTTP_MAX_HEAD * 2);
    assert_non_null(big);
    /* too many fields: 431 */
    size_t n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
        n += (size_t)sprintf(big + n, "X-%d: v\r\n", i);
    n += (size_t)sprintf(big + n, "\r\n");
    assert_int_equal(feed_all(big, n, &p), -431);
    /* head too large: 431 even before the end arrives */
    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nX: ");
    memset(big + n, 'a', HTTP_MAX_HEAD);
    assert_int_equal(feed_all(big, n + HTTP_MAX_HEAD, &p), -431);
    /* request line too long: 414 */
    n = (size_t)sprintf(big, "GET /");
    memset(big + n, 'a', HTTP_MAX_REQLINE);
    assert_int_equal(feed_all(big, n + HTTP_MAX_REQLINE, &p), -414);
    /* body too large: 413 */
    assert_int_equal(feed_str("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", &p), -413);
    assert_int_equal(feed_str("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", &p), -413);
    assert_int_equal(feed_str("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n", &p), 1);
    /* versions and transfer codings */
    assert_int_equal(feed_str("GET / HTTP/2.0\r\n\r\n", &p), -505);
    assert_int_equal(feed_str("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &p), -501);
    free(big);
}

static void test_http_parse_pipelined(void **st)
{
    (void)st;
    const char *r = "GET /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                    "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t n = strlen(r);
    http_parser p;
    assert_int_equal(feed_all(r, n, &p), 1);
    assert_int_equal(p.req.content_length, 3);
    size_t next = p.req.head_len + 3;
    assert_int_equal(feed_all(r + next, n - next, &p), 1);
    assert_memory_equal(r + next + p.req.target_off, "/2", 2);
    assert_int_equal(next + p.req.head_len, n);
}

static void test_http_parse_path_decode(void **st)
{
    (void)st;
    char out[64];
    assert_int_equal(http_path_decode("/a%20b?q=..", 11, out, sizeof(out)), 4);
    assert_string_equal(out, "/a b");
    assert_int_equal(http_path_decode("/", 1, out, sizeof(out)), 1);
    static const char *forbidden[] = {"/..", "/../x", "/a/../../x", "/%2e%2e/x", "/%2E%2E%2Fx",
                                      "/..%2fx", "/a/./b", "/x/..", "/a%5c..%5cb", "/a\\b"};
    for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
        int r = http_path_decode(forbidden[i], strlen(forbidden[i]), out, sizeof(out));
        if (r != -403)
            fail_msg("'%s' gave %d", forbidden[i], r);
    }
    assert_int_equal(http_path_decode("x", 1, out, sizeof(out)), -400);
    assert_int_equal(http_path_decode("/%", 2, out, sizeof(out)), -400);
    assert_int_equal(http_path_decode("/%4", 3, out, sizeof(out)), -400);
    assert_int_equal(http_path_decode("/%zz", 4, out, sizeof(out)), -400);
    assert_int_equal(http_path_decode("/%00", 4, out, sizeof(out)), -400);
    assert_int_equal(http_path_decode("/abcdef", 7, out, 4), -414);
    assert_int_equal(http_path_decode("/..a/b..", 8, out, sizeof(out)), 8); /* not segments */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_parse_simple_get),
        cmocka_unit_test(test_http_parse_head_and_other_methods),
        cmocka_unit_test(test_http_parse_need_more),
        cmocka_unit_test(test_http_parse_byte_at_a_time),
        cmocka_unit_test(test_http_parse_connection),
        cmocka_unit_test(test_http_parse_malformed_400),
        cmocka_unit_test(test_http_parse_limits),
        cmocka_unit_test(test_http_parse_pipelined),
        cmocka_unit_test(test_http_parse_path_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
