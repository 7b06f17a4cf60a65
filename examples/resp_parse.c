/*
 * resp_parse.c - the RESP2 request parser (see resp_parse.h).
 *
 * Design.  A connection reads into one contiguous buffer and calls
 * resp_parse until it says RESP_NEED_MORE; every complete command in the
 * buffer is returned in turn, so a pipelined batch costs one read and is
 * answered with one write.  Arguments are not copied: each is an
 * (offset, length) pair into the buffer, relative to the command's first
 * byte, so the common path (GET/SET from redis-benchmark) allocates
 * nothing and the caller can slide a partial command to the front of its
 * buffer (resp_parser_rebase) without the parser noticing.  The parser
 * remembers where it stopped inside a partial command (which argument,
 * and where the search for the next line end resumes), so bytes that
 * trickle in one at a time are examined once: no quadratic rescans.
 *
 * Bounds.  Nothing grows with what a client claims, only with what it
 * has sent: the argument array doubles as arguments arrive (a "*1000000"
 * header alone allocates nothing), and p->need tells the caller how big
 * its buffer must be for the bulk string being read - never more than
 * RESP_MAX_REQUEST.  Oversized counts, lengths and lines are refused with
 * Redis's own messages.
 *
 * Compatibility.  The grammar is Redis's (networking.c:
 * processMultibulkBuffer, processInlineBuffer, sdssplitargs), including
 * its leniencies, so a differential test against redis-server can compare
 * replies byte for byte: a line ends at '\r' and the byte after it is not
 * checked; the two bytes after a bulk string are skipped unchecked; an
 * inline command ends at '\n' (one '\r' before it dropped) and at its
 * first NUL, and is split with sdssplitargs' quoting rules ("..." with
 * \n \r \t \b \a \xHH escapes, '...' with \' only).
 */
#include "resp_parse.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_NONE = 0, KIND_MULTI = '*', KIND_INLINE = 'i' };

void resp_parser_init(resp_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->args = p->small;
    p->cap = RESP_SMALL_ARGS;
    p->expect = -1;
    p->bulk = -1;
}

void resp_parser_free(resp_parser *p)
{
    if (p->args != p->small)
        free(p->args);
    resp_parser_init(p);
}

int resp_parse_ll(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    int neg = 0;
    if (n == 0 || n > 20)
        return -1;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1)
            return -1;
    }
    if (s[i] < '1' || s[i] > '9')
        return -1;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return -1;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return -1;
        *out = (long long)v;
    }
    return 0;
}

static int fail(resp_parser *p, const char *msg)
{
    p->error = msg;
    return RESP_ERROR;
}

/* Appends an argument, growing the array by doubling. */
static int push_arg(resp_parser *p, uint32_t off, uint32_t len)
{
    if (p->nargs == p->cap) {
        uint32_t ncap = p->cap * 2;
        resp_arg *a = malloc((size_t)ncap * sizeof(*a));
        if (!a)
            return -1;
        memcpy(a, p->args, (size_t)p->nargs * sizeof(*a));
        if (p->args != p->small)
            free(p->args);
        p->args = a;
        p->cap = ncap;
    }
    p->args[p->nargs++] = (resp_arg){off, len};
    return 0;
}

/* Resets the per-command state; the next command starts at `start`. */
static void next_command(resp_parser *p, size_t start)
{
    p->start = start;
    p->kind = KIND_NONE;
    p->pos = p->scan = 0;
    p->expect = p->bulk = -1;
    p->nargs = 0;
    p->need = 0;
}

/* The offset (from the command start) of the first `c` at or after
 * p->scan and before avail, or -1 after remembering where to resume. */
static long find_byte(resp_parser *p, const char *b, size_t avail, char c)
{
    size_t from = p->scan > p->pos ? p->scan : p->pos;
    if (from >= avail)
        return -1;
    const char *hit = memchr(b + from, c, avail - from);
    if (!hit) {
        p->scan = (uint32_t)avail;
        return -1;
    }
    return hit - b;
}

/* sdssplitargs on line[0 .. n), decoding each argument in place (a
 * decoded argument is never longer than its source, and lies at or
 * before it).  Offsets are from the command start, which is `line`.
 * 0, or -1 on unbalanced quotes, -2 out of memory. */
static int split_inline(resp_parser *p, char *line, size_t n)
{
#define AT(i) ((i) < n ? line[i] : '\0')
#define SPACE(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r' || (c) == '\v' || (c) == '\f')
    size_t i = 0, w = 0;
    for (;;) {
        while (i < n && SPACE(line[i]))
            i++;
        if (i >= n)
            return 0;
        int inq = 0, insq = 0, done = 0;
        size_t arg = w;
        while (!done) {
            char c = AT(i);
            if (inq) {
                static const char hex[] = "0123456789abcdef0123456789ABCDEF";
                const char *h1, *h2;
                if (c == '\\' && AT(i + 1) == 'x' && AT(i + 2) && AT(i + 3) &&
                    (h1 = strchr(hex, AT(i + 2))) && (h2 = strchr(hex, AT(i + 3)))) {
                    line[w++] = (char)(((h1 - hex) % 16) * 16 + (h2 - hex) % 16);
                    i += 3;
                } else if (c == '\\' && AT(i + 1)) {
                    i++;
                    switch (line[i]) {
                    case 'n': line[w++] = '\n'; break;
                    case 'r': line[w++] = '\r'; break;
                    case 't': line[w++] = '\t'; break;
                    case 'b': line[w++] = '\b'; break;
                    case 'a': line[w++] = '\a'; break;
                    default: line[w++] = line[i]; break;
                    }
                } else if (c == '"') {
                    if (AT(i + 1) && !SPACE(AT(i + 1)))
                        return -1; /* a closing quote must end the argument */
                    done = 1;
                } else if (!c) {
                    return -1; /* unterminated quotes */
                } else {
                    line[w++] = c;
                }
            } else if (insq) {
                if (c == '\\' && AT(i + 1) == '\'') {
                    i++;
                    line[w++] = '\'';
                } else if (c == '\'') {
                    if (AT(i + 1) && !SPACE(AT(i + 1)))
                        return -1;
                    done = 1;
                } else if (!c) {
                    return -1;
                } else {
                    line[w++] = c;
                }
            } else {
                switch (c) {
                case ' ': case '\n': case '\r': case '\t': case '\0':
                    done = 1;
                    break;
                case '"':
                    inq = 1;
                    break;
                case '\'':
                    insq = 1;
                    break;
                default:
                    line[w++] = c;
                    break;
                }
            }
            if (AT(i))
                i++;
        }
        if (push_arg(p, (uint32_t)arg, (uint32_t)(w - arg)) < 0)
            return -2;
    }
#undef AT
#undef SPACE
}

static int parse_inline(resp_parser *p, char *b, size_t avail)
{
    long nl = find_byte(p, b, avail, '\n');
    if (nl < 0) {
        if (avail > RESP_MAX_INLINE)
            return fail(p, "Protocol error: too big inline request");
        return RESP_NEED_MORE;
    }
    size_t n = (size_t)nl;
    if (n > 0 && b[n - 1] == '\r')
        n--;
    const char *nul = memchr(b, '\0', n); /* Redis reads the line as a C string */
    if (nul)
        n = (size_t)(nul - b);
    int r = split_inline(p, b, n);
    if (r == -1)
        return fail(p, "Protocol error: unbalanced quotes in request");
    if (r < 0)
        return fail(p, "Protocol error: out of memory");
    p->end = p->start + (size_t)nl + 1;
    return RESP_COMMAND;
}

/* Reads the "*N" or "$N" line at p->pos: 1 and *v, RESP_NEED_MORE, or
 * RESP_ERROR (too long: toolong is the message). */
static int read_count(resp_parser *p, const char *b, size_t avail, long long *v, int *ok,
                      const char *toolong)
{
    long cr = find_byte(p, b, avail, '\r');
    if (cr < 0 || (size_t)cr + 1 >= avail) {
        if (cr >= 0)
            p->scan = (uint32_t)cr; /* found, but the byte after it is not here */
        if (avail - p->pos > RESP_MAX_INLINE)
            return fail(p, toolong);
        return RESP_NEED_MORE;
    }
    *ok = resp_parse_ll(b + p->pos + 1, (size_t)cr - p->pos - 1, v) == 0;
    p->pos = (uint32_t)cr + 2;
    p->scan = p->pos;
    return 1;
}

static int parse_multibulk(resp_parser *p, const char *b, size_t avail)
{
    long long v;
    int ok, r;
    if (p->expect < 0) {
        r = read_count(p, b, avail, &v, &ok, "Protocol error: too big mbulk count string");
        if (r != 1)
            return r;
        if (!ok || v > RESP_MAX_ARGS)
            return fail(p, "Protocol error: invalid multibulk length");
        if (v <= 0) { /* an empty command: skipped */
            p->end = p->start + p->pos;
            return RESP_COMMAND;
        }
        p->expect = v;
    }
    while ((int64_t)p->nargs < p->expect) {
        if (p->bulk < 0) {
            if (p->pos >= avail)
                return RESP_NEED_MORE;
            if (b[p->pos] != '$') {
                /* Redis formats the byte with %c into a C string: a NUL
                 * ends the message there; \r and \n become spaces. */
                char c = b[p->pos];
                if (c == '\r' || c == '\n')
                    c = ' ';
                strcpy(p->errbuf, "Protocol error: expected '$', got '");
                if (c) {
                    size_t l = strlen(p->errbuf);
                    p->errbuf[l] = c;
                    p->errbuf[l + 1] = '\'';
                    p->errbuf[l + 2] = '\0';
                }
                return fail(p, p->errbuf);
            }
            r = read_count(p, b, avail, &v, &ok, "Protocol error: too big bulk count string");
            if (r != 1)
                return r;
            if (!ok || v < 0 || v > RESP_MAX_BULK)
                return fail(p, "Protocol error: invalid bulk length");
            if ((uint64_t)p->pos + (uint64_t)v + 2 > RESP_MAX_REQUEST)
                return fail(p, "Protocol error: request too large");
            p->bulk = v;
        }
        size_t want = (size_t)p->pos + (size_t)p->bulk + 2;
        if (avail < want) {
            p->need = want;
            return RESP_NEED_MORE;
        }
        if (push_arg(p, p->pos, (uint32_t)p->bulk) < 0)
            return fail(p, "Protocol error: out of memory");
        p->pos = p->scan = (uint32_t)want;
        p->bulk = -1;
        p->need = 0;
    }
    p->end = p->start + p->pos;
    return RESP_COMMAND;
}

int resp_parse(resp_parser *p, char *buf, size_t len)
{
    if (p->returned) {
        p->returned = 0;
        next_command(p, p->end);
    }
    for (;;) {
        if (p->start >= len)
            return RESP_NEED_MORE;
        char *b = buf + p->start;
        size_t avail = len - p->start;
        if (avail > RESP_MAX_REQUEST)
            avail = RESP_MAX_REQUEST + 1; /* the limit is checked below */
        if (p->kind == KIND_NONE)
            p->kind = b[0] == '*' ? KIND_MULTI : KIND_INLINE;
        int r = p->kind == KIND_MULTI ? parse_multibulk(p, b, avail)
                                      : parse_inline(p, b, avail);
        if (r == RESP_NEED_MORE && avail > RESP_MAX_REQUEST)
            return fail(p, "Protocol error: request too large");
        if (r != RESP_COMMAND)
            return r;
        if (p->nargs == 0) { /* empty: skip it, as Redis does */
            next_command(p, p->end);
            continue;
        }
        p->returned = 1;
        return RESP_COMMAND;
    }
}
