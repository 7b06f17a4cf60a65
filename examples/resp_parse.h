/*
 * resp_parse.h - an incremental, binary-safe, bounded parser for the
 * commands a Redis client sends (RESP2): arrays of bulk strings
 * ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", what every client library sends) and
 * inline commands ("PING\r\n", what a person types into telnet or nc).
 * Shared by kv_threads, kv_greenrt, the fuzz target and the unit tests;
 * see resp_parse.c for the design.
 */
#ifndef EXAMPLES_RESP_PARSE_H
#define EXAMPLES_RESP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Limits.  A command announcing more than RESP_MAX_ARGS arguments gets
 * "Protocol error: invalid multibulk length", an argument longer than
 * RESP_MAX_BULK "invalid bulk length" (Redis's words for its own limits,
 * proto-max-bulk-len), a command longer than RESP_MAX_REQUEST on the wire
 * "request too large"; a "*N"/"$N" line or an inline command with no end
 * of line within RESP_MAX_INLINE bytes is refused as Redis refuses it.
 * RESP_MAX_BULK < RESP_MAX_REQUEST, so a buffer grown to RESP_MAX_REQUEST
 * always holds a whole command. */
#define RESP_MAX_ARGS (1024 * 1024)
#define RESP_MAX_BULK (16 * 1024 * 1024)
#define RESP_MAX_REQUEST (32 * 1024 * 1024)
#define RESP_MAX_INLINE (64 * 1024)

/* Arguments kept in the parser itself; longer commands (MSET of many
 * keys) grow a heap array, bounded by the bytes actually received. */
#define RESP_SMALL_ARGS 8

enum { RESP_ERROR = -1, RESP_NEED_MORE = 0, RESP_COMMAND = 1 };

/* One argument: bytes buf[start + off .. start + off + len).  Offsets are
 * relative to the command's first byte, so the caller may move the
 * unparsed tail of its buffer to the front between calls. */
typedef struct resp_arg {
    uint32_t off, len;
} resp_arg;

typedef struct resp_parser {
    /* results, read by the caller */
    size_t start;      /* buffer offset of the command being parsed or returned */
    size_t end;        /* RESP_COMMAND: offset just past it */
    uint32_t nargs;    /* RESP_COMMAND: entries in args (>= 1) */
    resp_arg *args;    /* small, or a heap array */
    size_t need;       /* RESP_NEED_MORE: bytes from start the buffer must be
                          able to hold to make progress (0: any more bytes) */
    const char *error; /* RESP_ERROR: Redis's message, without "-ERR " */
    /* private state */
    int kind;          /* 0 (between commands), '*' or 'i' (inline) */
    int returned;      /* the last call returned this command */
    uint32_t pos;      /* from start: where parsing resumes */
    uint32_t scan;     /* from start: where the search for a line end resumes */
    int64_t expect;    /* '*': arguments announced (-1: count line not read) */
    int64_t bulk;      /* '*': length of the argument being read (-1: its
                          "$N" line is not read yet) */
    uint32_t cap;      /* entries allocated in args */
    char errbuf[48];
    resp_arg small[RESP_SMALL_ARGS];
} resp_parser;

void resp_parser_init(resp_parser *p);
/* Frees a heap args array; the parser is then as after init. */
void resp_parser_free(resp_parser *p);

/* Parses buf[0 .. len): the bytes received so far, of which [0, p->start)
 * the caller has already consumed.  Returns
 *   RESP_COMMAND    a command: p->args[0 .. p->nargs) (name first); the
 *                   next call continues after it (at p->end).  Inline
 *                   commands are unquoted in place, so buf is written.
 *   RESP_NEED_MORE  everything complete has been returned: read more
 *                   (after resp_parser_rebase if the caller compacts)
 *   RESP_ERROR      a protocol error: answer "-ERR " p->error and close;
 *                   the parser must not be called again before init.
 * Empty commands ("*0\r\n", a blank inline line) are skipped, as Redis
 * skips them.  Work is linear in the bytes received, however they are
 * split across calls. */
int resp_parse(resp_parser *p, char *buf, size_t len);

/* The caller moved buf[p->start .. len) to the front of its buffer. */
static inline void resp_parser_rebase(resp_parser *p)
{
    p->start = 0;
}

/* Redis's string2ll: the whole of s[0 .. n) is a decimal long long with no
 * sign but '-', no leading zeros, no spaces.  0 and *out, or -1. */
int resp_parse_ll(const char *s, size_t n, long long *out);

#endif
