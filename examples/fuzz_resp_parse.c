/*
 * fuzz_resp_parse.c - libFuzzer target for the RESP request parser
 * (`make fuzz`, FUZZ_SECONDS=60 per target by default).
 *
 * Treats the input as what a client sent on one connection and parses it
 * the way kv_serve.c does.  Besides memory errors (ASan) and UB (UBSan)
 * it checks the parser's promises:
 *   - the commands and the verdict do not depend on how the bytes are
 *     split: parsing the input at once, and feeding it in pieces (sizes
 *     drawn from the data) while sliding the unparsed tail to the front
 *     of a buffer (resp_parser_rebase) as a server does, give the same
 *     commands, byte for byte, and the same final verdict;
 *   - every argument lies inside its command, every command inside the
 *     bytes fed, within the limits; a command has at least one argument;
 *   - p->need, when set, lies beyond the bytes buffered and within the
 *     request limit;
 *   - errors are only the documented messages.
 * Inputs of RESP_MAX_INLINE bytes or more are skipped: whether a line
 * that long is refused depends on how much of it was buffered when it
 * was examined (in Redis too), so the split comparison would not hold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp_parse.h"

/* The commands seen, serialised as (nargs, then len + bytes per arg). */
typedef struct trace {
    unsigned char *buf;
    size_t len, cap;
} trace;

static void put(trace *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 4096;
        while (ncap < t->len + n)
            ncap *= 2;
        t->buf = realloc(t->buf, ncap);
        if (!t->buf)
            abort();
        t->cap = ncap;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

static void record(trace *t, const resp_parser *p, const char *buf, size_t len)
{
    if (p->nargs == 0 || p->end > len || p->start >= p->end ||
        p->end - p->start > RESP_MAX_REQUEST)
        abort();
    put(t, &p->nargs, sizeof(p->nargs));
    for (uint32_t i = 0; i < p->nargs; i++) {
        const resp_arg *a = &p->args[i];
        if (a->len > RESP_MAX_BULK || (size_t)a->off + a->len > p->end - p->start)
            abort();
        put(t, &a->len, sizeof(a->len));
        put(t, buf + p->start + a->off, a->len);
    }
}

static void check_error(const char *e)
{
    static const char *known[] = {
        "Protocol error: invalid multibulk length",
        "Protocol error: invalid bulk length",
        "Protocol error: too big inline request",
        "Protocol error: too big mbulk count string",
        "Protocol error: too big bulk count string",
        "Protocol error: unbalanced quotes in request",
        "Protocol error: request too large",
        "Protocol error: out of memory",
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(e, known[i]))
            return;
    if (!strncmp(e, "Protocol error: expected '$', got '", 35))
        return;
    abort();
}

/* Parses everything buffered; returns the verdict. */
static int drain(resp_parser *p, char *buf, size_t len, trace *t)
{
    int r;
    while ((r = resp_parse(p, buf, len)) == RESP_COMMAND)
        record(t, p, buf, len);
    if (r == RESP_ERROR)
        check_error(p->error);
    if (r == RESP_NEED_MORE && p->need && (p->need <= len - p->start ||
                                           p->need > RESP_MAX_REQUEST))
        abort();
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= RESP_MAX_INLINE)
        return 0;
    trace whole = {0}, split = {0};

    /* at once, in an exactly sized copy (ASan sees any overread) */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    resp_parser p;
    resp_parser_init(&p);
    int r1 = drain(&p, buf, size, &whole);
    resp_parser_free(&p);
    free(buf);

    /* in pieces, compacting as kv_serve.c does */
    char *win = malloc(size ? size : 1);
    if (!win)
        abort();
    size_t len = 0, fed = 0, step = size ? (data[0] % 7) + 1 : 1;
    int r2 = RESP_NEED_MORE;
    resp_parser_init(&p);
    while (fed < size && r2 == RESP_NEED_MORE) {
        size_t n = fed + step > size ? size - fed : step;
        memcpy(win + len, data + fed, n);
        len += n;
        fed += n;
        r2 = drain(&p, win, len, &split);
        if (r2 == RESP_NEED_MORE) {
            memmove(win, win + p.start, len - p.start);
            len -= p.start;
            resp_parser_rebase(&p);
        }
        step = (data[fed % size] % 13) + 1;
    }
    resp_parser_free(&p);
    free(win);

    if (r1 != r2 || whole.len != split.len ||
        (whole.len && memcmp(whole.buf, split.buf, whole.len) != 0))
        abort();
    free(whole.buf);
    free(split.buf);
    return 0;
}
