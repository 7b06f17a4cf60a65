/*
 * fuzz_http_parse.c - libFuzzer target for the HTTP request parser
 * (`make fuzz`, FUZZ_SECONDS=60 by default).
 *
 * Treats the input as what a client sent on one connection and parses it
 * the way http_serve.c does: request after request (pipelining), skipping
 * each body, decoding each path.  Besides memory errors (ASan) and UB
 * (UBSan) it checks the parser's own promises:
 *   - the result does not depend on how the bytes are split: feeding the
 *     buffer in pieces (sizes drawn from the data) gives the same verdict
 *     and the same request as feeding it at once;
 *   - a complete head lies within the bytes fed and the limits;
 *   - errors are only the documented statuses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

static int feed_split(const uint8_t *data, size_t size, http_parser *p)
{
    http_parser_init(p);
    size_t fed = 0;
    size_t step = size ? (data[0] % 7) + 1 : 1;
    int r = 0;
    while (fed < size) {
        fed = fed + step > size ? size : fed + step;
        r = http_parser_feed(p, (const char *)data, fed);
        if (r != 0)
            return r;
        step = (data[fed % size] % 13) + 1;
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* own copy, exactly sized, so ASan sees any read past the end */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    size_t off = 0;
    for (int n = 0; n < 64 && off <= size; n++) {
        http_parser whole, split;
        http_parser_init(&whole);
        int r = http_parser_feed(&whole, buf + off, size - off);
        int r2 = feed_split((const uint8_t *)buf + off, size - off, &split);
        if (r != r2)
            abort();
        if (r < 0) {
            if (r != -400 && r != -413 && r != -414 && r != -431 && r != -501 && r != -505)
                abort();
            break;
        }
        if (r == 0)
            break;
        if (memcmp(&whole.req, &split.req, sizeof(whole.req)) != 0)
            abort();
        const http_request *q = &whole.req;
        if (q->head_len == 0 || q->head_len > size - off || q->head_len > HTTP_MAX_HEAD)
            abort();
        if (q->target_off + q->target_len > q->head_len || q->content_length < 0 ||
            q->content_length > HTTP_MAX_BODY || q->nheaders > HTTP_MAX_HEADERS)
            abort();
        char path[1024];
        int pl = http_path_decode(buf + off + q->target_off, q->target_len, path, sizeof(path));
        if (pl >= 0 && (strlen(path) != (size_t)pl || strstr(path, "/../") ||
                        (pl >= 3 && !strcmp(path + pl - 3, "/.."))))
            abort();
        (void)http_reason(pl < 0 ? -pl : 200);
        size_t adv = q->head_len + (size_t)q->content_length;
        if (adv > size - off)
            break;
        off += adv;
    }
    free(buf);
    return 0;
}
