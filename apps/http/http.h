/* HTTP/1.1 building blocks shared by toe-httpd and the kernel twins: an
 * incremental request parser, the request-target router (path safety and the
 * generated benchmark endpoints), the response-head builder, IMF-fixdate, media
 * types and the deterministic /bytes/N pattern. Pure code: bytes in, bytes out,
 * no I/O, no clock (callers pass the time), bounded memory.
 *
 * Status decisions (RFC 9110/9112), all final: the connection is closed after
 * any 4xx/5xx response.
 *   400  malformed request line or field, bad percent-encoding, obs-fold,
 *        HTTP/1.1 without exactly one Host, conflicting Content-Length,
 *        HTTP/0.9 (no version), a Host/Content-Length/Transfer-Encoding/
 *        Connection value over HTTP_FIELD_VALUE_CAP bytes, more than
 *        HTTP_LEADING_CRLF_MAX empty lines before a request
 *   403  traversal attempts: a ".." segment (after percent-decoding), a NUL
 *        (%00), another control byte or a backslash (raw or %5C) in the path;
 *        a file the server may not open (EACCES, or outside the root)
 *   404  no such file, not a regular file (directories without a trailing
 *        slash included), /bytes/N with N malformed or over the bound
 *   405  POST PUT DELETE PATCH OPTIONS TRACE CONNECT (with Allow: GET, HEAD)
 *   413  Content-Length over max_body_bytes
 *   414  request-target longer than max_uri_bytes
 *   431  request line + fields + final CRLF longer than max_header_bytes
 *   501  any other method; any Transfer-Encoding (chunked request bodies are
 *        not supported: without Content-Length framing we cannot skip them)
 *   505  HTTP major version other than 1 (1.x with x > 1 is served as 1.1)
 * Request bodies framed by Content-Length are read and discarded. */
#ifndef TOE_APPS_HTTP_H
#define TOE_APPS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_TARGET_CAP       8192 /* storage for the request-target */
#define HTTP_METHOD_CAP       16   /* longer methods are unknown: 501 */
#define HTTP_FIELD_NAME_CAP   32   /* longer field names are never interesting */
#define HTTP_FIELD_VALUE_CAP  256  /* interesting values (Host, Connection, ...) */
#define HTTP_SERVER_NAME_CAP  64
#define HTTP_DATE_LEN         29  /* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define HTTP_HEAD_MAX         512 /* a response head never exceeds this */
#define HTTP_LEADING_CRLF_MAX 8   /* empty lines tolerated before a request */

struct http_config {
    uint32_t max_header_bytes;         /* request line..final CRLF (8192) -> 431 */
    uint32_t max_uri_bytes;            /* request-target (2048) -> 414; <= HTTP_TARGET_CAP */
    uint64_t max_body_bytes;           /* discarded request content (1 MiB) -> 413 */
    uint64_t max_pattern_bytes;        /* /bytes/N bound (1 GiB) */
    char server[HTTP_SERVER_NAME_CAP]; /* Server field ("toe-httpd") */
};

/* Defaults as above. */
void http_config_init(struct http_config *cfg);

enum http_method {
    HTTP_METHOD_UNKNOWN = 0,
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_NOT_ALLOWED, /* known, unsupported: 405 */
};

/* One parsed request head, valid until the next http_parser_feed(). */
struct http_request {
    enum http_method method;
    uint8_t version_minor; /* 0 or 1; 1 while unknown */
    bool keep_alive;       /* after this response (RFC 9112 section 9.3) */
    uint16_t status;       /* 0, or the error status on HTTP_PARSE_ERROR */
    uint64_t content_length_bytes;
    uint32_t target_len;
    char target[HTTP_TARGET_CAP + 1]; /* raw request-target, NUL-terminated */
};

enum http_parse_result {
    HTTP_PARSE_NEED_MORE = 0, /* every byte consumed, no complete head yet */
    HTTP_PARSE_REQUEST = 1,   /* p->req is a complete, valid request head */
    HTTP_PARSE_ERROR = 2,     /* p->req.status says what to answer; sticky */
};

/* Incremental parser: a byte state machine, so data may arrive in any pieces
 * (one byte at a time gives the same results as one buffer). Bounded: its
 * size is fixed whatever the input. After HTTP_PARSE_REQUEST the request's
 * content (Content-Length) is skipped by the following feeds, then the next
 * pipelined request is parsed. */
struct http_parser {
    const struct http_config *cfg;
    uint8_t state;
    uint8_t lf_next; /* state after the expected LF */
    uint8_t method_len;
    uint8_t version_len;
    uint8_t name_len;
    uint8_t leading_crlf;
    bool value_wanted; /* current field is one we interpret */
    bool have_cl, conn_close, conn_keep, te;
    uint8_t host_count;
    uint16_t value_len;
    uint32_t head_bytes;
    uint64_t body_left_bytes;
    char method[HTTP_METHOD_CAP];
    char version[8];
    char name[HTTP_FIELD_NAME_CAP];
    char value[HTTP_FIELD_VALUE_CAP];
    struct http_request req;
};

void http_parser_init(struct http_parser *p, const struct http_config *cfg);
/* Parses from data; *consumed says how many bytes were used (all of them on
 * NEED_MORE; up to the end of the head on REQUEST; 0 once in error). */
enum http_parse_result http_parser_feed(struct http_parser *p, const void *data, size_t len,
                                        size_t *consumed);
/* True between requests (nothing partial buffered): a peer FIN here is clean. */
bool http_parser_idle(const struct http_parser *p);

/* Router. */
enum http_route_kind {
    HTTP_ROUTE_ERROR = 0, /* status says which */
    HTTP_ROUTE_FILE,      /* path: safe relative path under the root */
    HTTP_ROUTE_TINY,      /* /tiny: HTTP_TINY_BODY */
    HTTP_ROUTE_BYTES,     /* /bytes/N: N bytes of the pattern */
};

#define HTTP_TINY_BODY "ok\n"

struct http_route {
    enum http_route_kind kind;
    uint16_t status;                 /* ERROR */
    uint64_t bytes;                  /* BYTES */
    char path[HTTP_TARGET_CAP + 16]; /* FILE: never empty, no leading '/',
                                        no "." or ".." segments, no NUL or '\\' */
};

/* Maps a request-target (origin-form, or absolute-form whose authority is
 * ignored) to a route. The query is ignored; "%XX" is decoded; empty and "."
 * segments are dropped ("//etc" is "etc" under the root); a path ending in '/'
 * gets "index.html". */
void http_route_resolve(const struct http_config *cfg, const char *target, size_t len,
                        struct http_route *out);

/* Responses. */
struct http_response {
    uint16_t status;
    uint8_t version_minor; /* answered as HTTP/1.<minor> */
    bool keep_alive;       /* false: "Connection: close" */
    uint64_t content_length_bytes;
    const char *content_type; /* NULL: no Content-Type field */
};

/* Writes the status line and fields (Server, Date, Content-Type,
 * Content-Length, Allow for 405, Connection) and the empty line. date is an
 * IMF-fixdate (http_date_format). Returns the length (< HTTP_HEAD_MAX) or
 * -ENOSPC. A 1.0 keep-alive response says "Connection: keep-alive". */
int http_response_head(const struct http_config *cfg, const struct http_response *r,
                       const char *date, char *buf, size_t cap);

/* Reason phrase ("Not Found"); "Unknown" for others. */
const char *http_reason(uint16_t status);
/* Body sent with an error status: "<code> <reason>\n" (text/plain). */
size_t http_error_body(uint16_t status, char *buf, size_t cap);

/* IMF-fixdate of a Unix time (RFC 9110 section 5.6.7), NUL-terminated;
 * out must hold HTTP_DATE_LEN + 1 bytes. */
void http_date_format(int64_t unix_s, char *out);

/* Media type for a path by its extension, case-insensitive (html htm css js
 * json txt png jpg jpeg gif svg ico wasm pdf); application/octet-stream else. */
const char *http_content_type(const char *path);

/* The /bytes/N body: byte i depends only on i (period HTTP_PATTERN_PERIOD, a
 * prime), so any range can be produced without the rest:
 *   j = i mod 8191;  byte = ((j * 2654435761) mod 2^32) >> 16  (low 8 bits) */
#define HTTP_PATTERN_PERIOD 8191u
static inline uint8_t http_pattern_byte(uint64_t offset)
{
    uint32_t j = (uint32_t)(offset % HTTP_PATTERN_PERIOD);
    return (uint8_t)((j * 2654435761u) >> 16);
}
/* Fills dst with bytes [offset, offset + len) of the pattern. */
void http_pattern_fill(void *dst, uint64_t offset, size_t len);

#endif
