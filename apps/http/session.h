/* One HTTP connection's application logic, transport-independent: the server
 * hands it received bytes and an output buffer; it parses (pipelined)
 * requests, routes them and writes whole responses, streaming large bodies in
 * pieces as output space frees up. The server only moves bytes and does file
 * I/O (open through http_file_ops, reads when asked), so toe-httpd on the
 * userspace stack and the kernel twins send exactly the same bytes.
 *
 * Backpressure: the session parses the next request only once the previous
 * response is completely in the output buffer and HTTP_SESSION_OUT_MIN bytes
 * are free; until then it returns HTTP_STEP_OUTPUT and the server should stop
 * reading from the peer. Memory per session is fixed (sizeof). */
#ifndef TOE_APPS_HTTP_SESSION_H
#define TOE_APPS_HTTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "apps/http/cache.h"
#include "apps/http/http.h"

#define HTTP_SESSION_OUT_MIN  1024         /* free output needed to start a response */
#define HTTP_SESSION_READ_MAX (256u << 10) /* largest single file read asked for */

/* Shared, read-only after http_service_init(): may serve many sessions on
 * many threads. */
struct http_service {
    struct http_config cfg;
    uint8_t pattern[HTTP_PATTERN_PERIOD]; /* one period of the /bytes pattern */
};

void http_service_init(struct http_service *svc, const struct http_config *cfg);

/* A file the server opened for a response. */
struct http_file {
    int fd; /* the server's handle (-1 if data is set) */
    uint64_t size_bytes;
    const uint8_t *data; /* whole body already in memory (a cache hit), else NULL */
    void *cookie;        /* the server's */
};

struct http_file_ops {
    /* Opens relpath (safe: relative, no "..") under the root; regular files
     * only. Returns 0 or -errno: -ENOENT, -ENOTDIR, -EISDIR, -ELOOP,
     * -ENAMETOOLONG -> 404; -EACCES, -EPERM, -EXDEV -> 403; others -> 500. */
    int (*open)(void *ctx, const char *relpath, struct http_file *f);
    void (*close)(void *ctx, struct http_file *f);
};

/* The caller's output buffer: the session appends at buf + len, up to cap
 * (cap must be at least 2 * HTTP_SESSION_OUT_MIN). */
struct http_out {
    uint8_t *buf;
    size_t len;
    size_t cap;
};

enum http_step {
    HTTP_STEP_INPUT = 0, /* all input consumed: read more from the peer */
    HTTP_STEP_OUTPUT,    /* output space exhausted: send, then step again */
    HTTP_STEP_READ,      /* read read_len_bytes at read_off_bytes of file.fd into
                            read_dst (the output tail, or a cache slot being
                            filled), then http_session_read_done() */
    HTTP_STEP_CLOSE,     /* nothing more will be written: send what is
                            buffered, then close (also after errors) */
};

enum http_body_kind {
    HTTP_BODY_NONE = 0,
    HTTP_BODY_MEM,     /* from memory (tiny, a cache entry) */
    HTTP_BODY_PATTERN, /* /bytes/N */
    HTTP_BODY_FILE,    /* streamed from the file through the output buffer */
    HTTP_BODY_FILL,    /* whole file read into a cache slot first, then MEM */
};

struct http_session {
    const struct http_service *svc;
    const struct http_file_ops *ops;
    void *ops_ctx;
    struct http_parser parser;
    enum http_body_kind body;
    const uint8_t *mem;
    uint64_t off_bytes;    /* next body byte to produce */
    uint64_t left_bytes;   /* body bytes still to produce */
    struct http_file file; /* open while body == HTTP_BODY_FILE */
    bool file_open;
    bool reading;            /* HTTP_STEP_READ outstanding */
    bool closing;            /* no more requests after the current body */
    bool eof;                /* the peer sent FIN */
    uint64_t read_off_bytes; /* the outstanding read */
    size_t read_len_bytes;
    uint8_t *read_dst;
    struct http_cache *cache;        /* optional, the server's (per thread) */
    struct http_cache_entry *centry; /* referenced by the current body */
    uint64_t fill_off_bytes;
    /* counters */
    uint64_t requests; /* responses started, errors included */
    uint64_t errors;   /* 4xx/5xx responses */
};

void http_session_init(struct http_session *s, const struct http_service *svc,
                       const struct http_file_ops *ops, void *ops_ctx);
/* Serves small files through cache (NULL: no cache). */
void http_session_set_cache(struct http_session *s, struct http_cache *cache);
/* Closes an open file, drops cache references; the session may then be freed. */
void http_session_fini(struct http_session *s);

/* Consumes input (*in_used bytes of in) and appends output; date is the
 * current IMF-fixdate (http_date_format). Call again after any progress
 * (more input, output sent, read done) until it returns INPUT or CLOSE. */
enum http_step http_session_step(struct http_session *s, const uint8_t *in, size_t in_len,
                                 size_t *in_used, struct http_out *out, const char *date);

/* The read asked for by HTTP_STEP_READ finished: res bytes were written at
 * read_dst (res <= 0: error or file shrank; the connection is then closed
 * since Content-Length was promised). */
void http_session_read_done(struct http_session *s, struct http_out *out, ssize_t res);

/* The peer half-closed: requests already received are still answered, then
 * the step returns HTTP_STEP_CLOSE. */
void http_session_eof(struct http_session *s);

/* A request has started arriving and is not complete, and the session waits
 * for its input (for header timeouts against slow clients). */
bool http_session_mid_request(const struct http_session *s);

/* The server's header timeout fired. Mid-request (http_session_mid_request),
 * appends "408 Request Timeout" with "Connection: close" (RFC 9110 section
 * 15.5.9) and returns true: the server sends it, then FIN (best effort).
 * Otherwise (idle between requests, or less than HTTP_SESSION_OUT_MIN of
 * output free) appends nothing and returns false: just close. Either way no
 * further request is served. */
bool http_session_timeout(struct http_session *s, struct http_out *out, const char *date);

#endif
