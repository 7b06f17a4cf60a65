/*
 * resp_reply.h - the replies of one batch of commands, built in one
 * growing buffer so that a pipelined batch is answered with one write.
 *
 * Appends never fail visibly: if the buffer cannot grow, the buffer is
 * marked `oom` and further appends are dropped; the connection loop then
 * closes the connection instead of sending a truncated reply.
 */
#ifndef EXAMPLES_RESP_REPLY_H
#define EXAMPLES_RESP_REPLY_H

#include <stddef.h>
#include <stdint.h>

typedef struct resp_reply {
    char *buf;
    size_t len, cap;
    int oom;  /* an append could not grow the buffer */
} resp_reply;

void resp_reply_init(resp_reply *r);
void resp_reply_free(resp_reply *r);
/* Makes room for n more bytes: a pointer to write them at, or NULL (oom).
 * The caller then adds what it wrote to r->len. */
char *resp_reply_reserve(resp_reply *r, size_t n);
/* Empties the buffer after it was written; gives a grown buffer back
 * once its content is small again, so one big reply does not pin memory
 * for the life of the connection. */
void resp_reply_reset(resp_reply *r);

void resp_reply_raw(resp_reply *r, const void *p, size_t n);
void resp_reply_simple(resp_reply *r, const char *s);       /* +s */
void resp_reply_error(resp_reply *r, const char *s);        /* -s ("ERR ...") */
/* -fmt...: \r and \n in the result become spaces, and it stops at a NUL,
 * as Redis's addReplyErrorFormat does. */
void resp_reply_errorf(resp_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void resp_reply_int(resp_reply *r, long long v);             /* :v */
void resp_reply_bulk(resp_reply *r, const void *p, size_t n); /* $n p */
void resp_reply_nil(resp_reply *r);                          /* $-1 */
void resp_reply_array(resp_reply *r, long long n);           /* *n (-1: nil array) */

/* Decimal digits of v into out (at least 21 bytes); returns the length. */
size_t resp_format_ll(char *out, long long v);

/* The initial (and shrink-back) size of a reply buffer. */
#define RESP_REPLY_INITIAL (4 * 1024)

#endif
