/* What an HTTP server wraps around the session (session.h) whatever its
 * transport, shared by toe-httpd (userspace stack) and the kernel twins
 * (bench/twins) so both behave alike: the document root and its file ops,
 * the Date string, and one session step with the server's request counters.
 * Moving bytes, file reads and timeouts stay with each server. */
#ifndef TOE_APPS_HTTP_SERVER_H
#define TOE_APPS_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apps/http/cache.h"
#include "apps/http/session.h"

/* The document root. Files are opened synchronously with openat2(
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) below it, so neither ".." nor
 * symlinks leave it. */
struct http_root {
    int fd;          /* O_PATH directory, -1 without a root (nothing is found) */
    bool no_openat2; /* the kernel has none: O_NOFOLLOW on the last component only */
};

/* Opens path (NULL: no root) and probes openat2 once, so that workers only
 * read the flag afterwards. 0, or -errno after a message on stderr naming
 * prog. */
int http_root_open(struct http_root *r, const char *path, const char *prog);
void http_root_close(struct http_root *r);

/* Opens regular files below the root (ctx: the struct http_root). */
extern const struct http_file_ops http_root_file_ops;

/* A session serving files from root, small ones through cache (NULL or a
 * cache without entries: none). */
void http_server_session_init(struct http_session *s, const struct http_service *svc,
                              const struct http_root *root, struct http_cache *cache);

/* Keeps date (HTTP_DATE_LEN + 1 bytes) the IMF-fixdate of now, or of
 * fixed_date_s if that is >= 0 (tests); *date_s: the second date shows
 * (-1 before the first call). */
void http_server_date_update(int64_t fixed_date_s, int64_t *date_s, char *date);

/* Runs the session once (http_session_step) with the cache's clock at
 * now_ms: consumes *in_used bytes of in, appends to out, and adds the
 * responses it started (errors included) and the error responses among them
 * to *requests and *errors. */
enum http_step http_server_step(struct http_session *s, const uint8_t *in, size_t in_len,
                                size_t *in_used, struct http_out *out, uint64_t now_ms,
                                const char *date, uint64_t *requests, uint64_t *errors);

/* http_session_timeout with the server's counters (a 408 counts as a
 * request and an error): true if a 408 was appended to out. */
bool http_server_timeout(struct http_session *s, struct http_out *out, const char *date,
                         uint64_t *requests, uint64_t *errors);

#endif
