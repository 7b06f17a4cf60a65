/*
 * http_parse.c - incremental HTTP/1.1 request-head parser.
 *
 * The servers read bytes into a per-connection buffer and call
 * http_parser_feed with everything received so far for the current
 * request.  The parser remembers how far it has looked (pos) and the start
 * of the line it is in, so each byte is examined once however the bytes are
 * split across reads.  A line is validated as soon as its CRLF arrives, and
 * the request is complete at the empty line.  Offsets, not pointers, are
 * stored, so the caller can compact its buffer between requests (after a
 * request it memmoves the rest - pipelined requests - to the front and
 * starts a fresh parser).
 *
 * Strictness, chosen to make the parser small and obviously safe rather
 * than maximally lenient (RFC 9112 allows both):
 *   - lines end in CRLF; a bare CR or a bare LF is 400;
 *   - one SP between the three request-line parts; the target is origin-
 *     form printable ASCII; versions other than HTTP/1.0 and 1.1 are 505;
 *   - empty lines before the request line are skipped (RFC 9112 2.2);
 *   - obsolete line folding, whitespace before a field's colon, control
 *     bytes in a value are 400;
 *   - HTTP/1.1 without Host is 400;
 *   - Content-Length: digits only; repeated with a different value is 400;
 *     above HTTP_MAX_BODY is 413.  A body is allowed on any method: the
 *     servers read and discard it (GET and HEAD bodies have no meaning,
 *     but rejecting them would break clients that send "Content-Length:
 *     0"), and answer methods other than GET/HEAD with 405.
 *   - Transfer-Encoding of any kind is 501: the servers never need chunked
 *     request bodies, and refusing it removes the classic CL/TE request-
 *     smuggling ambiguity.
 * Every error closes the connection (the framing can no longer be trusted).
 *
 * Rejected: a table-driven state machine a la http-parser/llhttp - far more
 * code than a server serving GET needs; and re-parsing the whole buffer on
 * each read - quadratic in the head size for a byte-at-a-time client.
 */
#include "http_parse.h"

#include <string.h>

void http_parser_init(http_parser *p)
{
    memset(p, 0, sizeof(*p));
}

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int ieq(const char *a, size_t alen, const char *lit)
{
    size_t n = strlen(lit);
    if (alen != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lit[i])
            return 0;
    return 1;
}

/* method SP request-target SP HTTP-version */
static int parse_request_line(http_parser *p, const char *buf, size_t off, size_t len)
{
    const char *l = buf + off;
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i >= len || l[i] != ' ')
        return -400;
    p->req.method_off = off;
    p->req.method_len = i;
    if (i == 3 && memcmp(l, "GET", 3) == 0)
        p->req.method = HTTP_GET;
    else if (i == 4 && memcmp(l, "HEAD", 4) == 0)
        p->req.method = HTTP_HEAD;
    else
        p->req.method = HTTP_OTHER;

    size_t t = ++i;
    while (i < len && (unsigned char)l[i] > 0x20 && (unsigned char)l[i] < 0x7f)
        i++;
    if (i == t || i >= len || l[i] != ' ')
        return -400;
    p->req.target_off = off + t;
    p->req.target_len = i - t;

    const char *v = l + i + 1;
    size_t vlen = len - i - 1;
    if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.')
        return -400;
    if (v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
        return -400;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return -505;
    p->req.minor = v[7] - '0';
    return 0;
}

static int parse_content_length(http_parser *p, const char *v, size_t n)
{
    if (n == 0)
        return -400;
    int64_t cl = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -400;
        cl = cl * 10 + (v[i] - '0');
        if (cl > HTTP_MAX_BODY)
            return -413;
    }
    if (p->has_cl && p->req.content_length != cl)
        return -400;
    p->has_cl = 1;
    p->req.content_length = cl;
    return 0;
}

/* Connection: a comma-separated list of tokens. */
static void parse_connection(http_parser *p, const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (ieq(v + s, i - s, "close"))
            p->conn_close = 1;
        else if (ieq(v + s, i - s, "keep-alive"))
            p->conn_keep = 1;
    }
}

/* field-name ":" OWS field-value OWS */
static int parse_header(http_parser *p, const char *l, size_t len)
{
    if (++p->req.nheaders > HTTP_MAX_HEADERS)
        return -431;
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i >= len || l[i] != ':')
        return -400; /* also catches obs-fold (leading SP/HTAB) */
    size_t nlen = i++;
    for (size_t k = i; k < len; k++) {
        unsigned char c = (unsigned char)l[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return -400;
    }
    while (i < len && (l[i] == ' ' || l[i] == '\t'))
        i++;
    size_t e = len;
    while (e > i && (l[e - 1] == ' ' || l[e - 1] == '\t'))
        e--;
    const char *v = l + i;
    size_t vlen = e - i;
    if (ieq(l, nlen, "content-length"))
        return parse_content_length(p, v, vlen);
    if (ieq(l, nlen, "transfer-encoding"))
        return -501;
    if (ieq(l, nlen, "connection"))
        parse_connection(p, v, vlen);
    else if (ieq(l, nlen, "host"))
        p->has_host = 1;
    return 0;
}

int http_parser_feed(http_parser *p, const char *buf, size_t len)
{
    size_t lim = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    while (p->pos < lim) {
        size_t pos = p->pos;
        unsigned char c = (unsigned char)buf[pos];
        if (c != '\n') {
            if (pos > p->line_start && buf[pos - 1] == '\r')
                return -400; /* bare CR */
            if (!p->in_headers && pos - p->line_start >= HTTP_MAX_REQLINE)
                return -414;
            p->pos++;
            continue;
        }
        if (pos == p->line_start || buf[pos - 1] != '\r')
            return -400; /* bare LF */
        size_t lstart = p->line_start;
        size_t llen = pos - 1 - lstart;
        p->pos = pos + 1;
        p->line_start = pos + 1;
        if (!p->in_headers) {
            if (llen == 0)
                continue; /* empty line before the request line */
            int r = parse_request_line(p, buf, lstart, llen);
            if (r < 0)
                return r;
            p->in_headers = 1;
            continue;
        }
        if (llen == 0) { /* end of head */
            if (p->req.minor == 1 && !p->has_host)
                return -400;
            p->req.head_len = p->pos;
            if (p->req.minor == 1)
                p->req.keep_alive = !p->conn_close;
            else
                p->req.keep_alive = p->conn_keep && !p->conn_close;
            if (!p->has_cl)
                p->req.content_length = 0;
            return 1;
        }
        int r = parse_header(p, buf + lstart, llen);
        if (r < 0)
            return r;
    }
    if (p->pos >= HTTP_MAX_HEAD)
        return p->in_headers ? -431 : -414;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int http_path_decode(const char *target, size_t len, char *out, size_t outsz)
{
    if (len == 0 || target[0] != '/' || outsz == 0)
        return -400;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)target[i];
        if (c == '?' || c == '#')
            break;
        if (c == '%') {
            if (i + 2 >= len)
                return -400;
            int h = hexval((unsigned char)target[i + 1]);
            int l = hexval((unsigned char)target[i + 2]);
            if (h < 0 || l < 0)
                return -400;
            c = h * 16 + l;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            return -400;
        if (c == '\\')
            return -403;
        if (n + 1 >= outsz)
            return -414;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    /* refuse "." and ".." segments: /./ /../ and a trailing /. or /.. */
    for (size_t i = 0; i < n; i++) {
        if (out[i] != '/')
            continue;
        size_t s = i + 1, e = s;
        while (e < n && out[e] != '/')
            e++;
        size_t sl = e - s;
        if ((sl == 1 && out[s] == '.') || (sl == 2 && out[s] == '.' && out[s + 1] == '.'))
            return -403;
    }
    return (int)n;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
