/*
 * resp_reply.c - RESP2 replies into one growing buffer (resp_reply.h).
 * Integers are formatted by hand: snprintf costs more than the rest of a
 * GET.
 */
#include "resp_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void resp_reply_init(resp_reply *r)
{
    memset(r, 0, sizeof(*r));
}

void resp_reply_free(resp_reply *r)
{
    free(r->buf);
    resp_reply_init(r);
}

char *resp_reply_reserve(resp_reply *r, size_t n)
{
    if (r->oom)
        return NULL;
    if (r->cap - r->len < n) {
        size_t ncap = r->cap ? r->cap : RESP_REPLY_INITIAL;
        while (ncap - r->len < n) {
            if (ncap > SIZE_MAX / 2) {
                r->oom = 1;
                return NULL;
            }
            ncap *= 2;
        }
        char *nb = realloc(r->buf, ncap);
        if (!nb) {
            r->oom = 1;
            return NULL;
        }
        r->buf = nb;
        r->cap = ncap;
    }
    return r->buf + r->len;
}

void resp_reply_reset(resp_reply *r)
{
    r->len = 0;
    if (r->cap > RESP_REPLY_INITIAL) {
        free(r->buf);
        r->buf = NULL;
        r->cap = 0;
    }
}

void resp_reply_raw(resp_reply *r, const void *p, size_t n)
{
    char *w = resp_reply_reserve(r, n);
    if (w) {
        memcpy(w, p, n);
        r->len += n;
    }
}

size_t resp_format_ll(char *out, long long v)
{
    char tmp[21];
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    return len;
}

/* prefix, then v, then CRLF */
static void prefixed_ll(resp_reply *r, char prefix, long long v)
{
    char *w = resp_reply_reserve(r, 24);
    if (!w)
        return;
    w[0] = prefix;
    size_t n = 1 + resp_format_ll(w + 1, v);
    w[n++] = '\r';
    w[n++] = '\n';
    r->len += n;
}

static void line(resp_reply *r, char prefix, const char *s, size_t n)
{
    char *w = resp_reply_reserve(r, n + 3);
    if (!w)
        return;
    w[0] = prefix;
    memcpy(w + 1, s, n);
    w[n + 1] = '\r';
    w[n + 2] = '\n';
    r->len += n + 3;
}

void resp_reply_simple(resp_reply *r, const char *s)
{
    line(r, '+', s, strlen(s));
}

void resp_reply_error(resp_reply *r, const char *s)
{
    line(r, '-', s, strlen(s));
}

void resp_reply_errorf(resp_reply *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = strnlen(msg, sizeof(msg) - 1);
    for (size_t i = 0; i < len; i++)
        if (msg[i] == '\r' || msg[i] == '\n')
            msg[i] = ' ';
    line(r, '-', msg, len);
}

void resp_reply_int(resp_reply *r, long long v)
{
    prefixed_ll(r, ':', v);
}

void resp_reply_bulk(resp_reply *r, const void *p, size_t n)
{
    char *w = resp_reply_reserve(r, n + 26);
    if (!w)
        return;
    w[0] = '$';
    size_t h = 1 + resp_format_ll(w + 1, (long long)n);
    w[h++] = '\r';
    w[h++] = '\n';
    memcpy(w + h, p, n);
    h += n;
    w[h++] = '\r';
    w[h++] = '\n';
    r->len += h;
}

void resp_reply_nil(resp_reply *r)
{
    resp_reply_raw(r, "$-1\r\n", 5);
}

void resp_reply_array(resp_reply *r, long long n)
{
    prefixed_ll(r, '*', n);
}
