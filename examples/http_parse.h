/*
 * http_parse.h - an incremental HTTP/1.1 request-head parser that survives
 * any byte sequence.  Shared by http_threads, http_greenrt, the fuzz target
 * and the unit tests.  See http_parse.c for the design.
 */
#ifndef EXAMPLES_HTTP_PARSE_H
#define EXAMPLES_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Limits.  A request head (request line + header fields + the empty line)
 * longer than HTTP_MAX_HEAD bytes, or with more than HTTP_MAX_HEADERS
 * fields, is answered 431; a request line longer than HTTP_MAX_REQLINE is
 * answered 414; a Content-Length above HTTP_MAX_BODY is answered 413. */
#define HTTP_MAX_HEAD 8192
#define HTTP_MAX_REQLINE 4096
#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_BODY (1024 * 1024)

enum http_method { HTTP_OTHER = 0, HTTP_GET, HTTP_HEAD };

/* A parsed request head.  Offsets are into the caller's buffer (the one
 * given to http_parser_feed), so the caller may move its buffer between
 * calls as long as the bytes keep their positions relative to its start. */
typedef struct http_request {
    int method;              /* enum http_method */
    size_t method_off, method_len;
    size_t target_off, target_len; /* request-target as sent (origin-form) */
    int minor;               /* HTTP/1.<minor>: 0 or 1 */
    int keep_alive;          /* 1 if the connection stays open afterwards */
    int64_t content_length;  /* body bytes that follow the head (0 if none) */
    int nheaders;            /* header fields seen */
    size_t head_len;         /* bytes of the head, including the empty line */
} http_request;

/* Parser state for one request; zero it (http_parser_init) per request. */
typedef struct http_parser {
    size_t pos;         /* bytes of the buffer examined so far */
    size_t line_start;  /* offset of the line being scanned */
    int in_headers;     /* the request line has been parsed */
    int has_cl;         /* a Content-Length field was seen */
    int has_host;       /* a Host field was seen */
    int conn_close, conn_keep; /* Connection: close / keep-alive seen */
    http_request req;   /* filled as lines complete */
} http_parser;

void http_parser_init(http_parser *p);

/* Feeds the buffer buf[0..len): every byte the caller has received for
 * this request so far (the first len bytes are the same as last call's,
 * plus new ones).  Returns:
 *   1            complete: p->req describes the head (buf[0..head_len))
 *   0            need more bytes
 *   -status      the request is invalid; answer with this status and close
 *                (-400 malformed, -413 body too large, -414 request line
 *                too long, -431 head too large / too many fields,
 *                -501 Transfer-Encoding (not implemented),
 *                -505 HTTP version other than 1.0/1.1)
 * Work is linear in the bytes fed over all calls. */
int http_parser_feed(http_parser *p, const char *buf, size_t len);

/* Decodes the path of an origin-form request-target into out (size outsz):
 * strips the query, percent-decodes, and refuses what could leave the
 * document root.  Returns the decoded length, or
 *   -400  not origin-form (does not start with '/'), bad %-escape,
 *         NUL or control byte after decoding
 *   -403  a "." or ".." segment, or a backslash (after decoding)
 *   -414  does not fit in out */
int http_path_decode(const char *target, size_t len, char *out, size_t outsz);

/* Reason phrase for a status code ("OK", "Not Found"...). */
const char *http_reason(int status);

#endif
