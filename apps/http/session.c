/* Per-connection HTTP application logic (see session.h): parser -> router ->
 * response head + body source, with backpressure through the output buffer. */
#include "apps/http/session.h"

#include <errno.h>
#include <string.h>

void http_service_init(struct http_service *svc, const struct http_config *cfg)
{
    svc->cfg = *cfg;
    if (svc->cfg.max_uri_bytes > HTTP_TARGET_CAP)
        svc->cfg.max_uri_bytes = HTTP_TARGET_CAP;
    http_pattern_fill(svc->pattern, 0, sizeof(svc->pattern));
}

void http_session_init(struct http_session *s, const struct http_service *svc,
                       const struct http_file_ops *ops, void *ops_ctx)
{
    memset(s, 0, sizeof(*s));
    s->svc = svc;
    s->ops = ops;
    s->ops_ctx = ops_ctx;
    s->file.fd = -1;
    http_parser_init(&s->parser, &svc->cfg);
}

void http_session_set_cache(struct http_session *s, struct http_cache *cache)
{
    s->cache = cache;
}

bool http_session_mid_request(const struct http_session *s)
{
    return !http_parser_idle(&s->parser) && s->body == HTTP_BODY_NONE && !s->closing && !s->reading;
}

static void end_body(struct http_session *s)
{
    if (s->centry) {
        if (s->body == HTTP_BODY_FILL)
            http_cache_abort(s->cache, s->centry);
        else
            http_cache_put(s->cache, s->centry);
        s->centry = NULL;
    }
    if (s->file_open) {
        s->ops->close(s->ops_ctx, &s->file);
        s->file_open = false;
        s->file.fd = -1;
    }
    s->body = HTTP_BODY_NONE;
    s->mem = NULL;
    s->left_bytes = 0;
    s->off_bytes = 0;
}

void http_session_fini(struct http_session *s)
{
    end_body(s);
}

void http_session_eof(struct http_session *s)
{
    s->eof = true;
}

static void put_head(struct http_session *s, struct http_out *out, const struct http_response *r,
                     const char *date)
{
    int n =
        http_response_head(&s->svc->cfg, r, date, (char *)out->buf + out->len, out->cap - out->len);
    /* Cannot fail: the caller made sure HTTP_SESSION_OUT_MIN bytes are free. */
    if (n > 0)
        out->len += (size_t)n;
    s->requests++;
}

/* An error answer: always the last one on the connection. */
static void put_error(struct http_session *s, struct http_out *out, uint16_t status,
                      uint8_t version_minor, bool head_only, const char *date)
{
    char body[64];
    size_t blen = http_error_body(status, body, sizeof(body));
    struct http_response r = {
        .status = status,
        .version_minor = version_minor,
        .keep_alive = false,
        .content_length_bytes = blen,
        .content_type = "text/plain; charset=utf-8",
    };
    put_head(s, out, &r, date);
    if (!head_only) {
        memcpy(out->buf + out->len, body, blen);
        out->len += blen;
    }
    s->errors++;
    s->closing = true;
}

bool http_session_timeout(struct http_session *s, struct http_out *out, const char *date)
{
    bool mid = http_session_mid_request(s);

    s->closing = true;
    if (!mid || out->cap - out->len < HTTP_SESSION_OUT_MIN)
        return false;
    /* The request line may not be complete: answer in our own version. */
    put_error(s, out, 408, 1, false, date);
    return true;
}

static uint16_t open_status(int err)
{
    switch (err) {
    case -ENOENT:
    case -ENOTDIR:
    case -EISDIR:
    case -ELOOP:
    case -ENAMETOOLONG:
        return 404;
    case -EACCES:
    case -EPERM:
    case -EXDEV:
        return 403;
    default:
        return 500;
    }
}

static void handle_request(struct http_session *s, struct http_out *out, const char *date)
{
    const struct http_request *req = &s->parser.req;
    bool head_only = req->method == HTTP_METHOD_HEAD;
    struct http_route route;
    struct http_response r = {
        .status = 200,
        .version_minor = req->version_minor,
        .keep_alive = req->keep_alive,
    };

    http_route_resolve(&s->svc->cfg, req->target, req->target_len, &route);
    switch (route.kind) {
    case HTTP_ROUTE_ERROR:
        put_error(s, out, route.status, req->version_minor, head_only, date);
        return;
    case HTTP_ROUTE_TINY:
        r.content_type = "text/plain; charset=utf-8";
        r.content_length_bytes = sizeof(HTTP_TINY_BODY) - 1;
        s->body = HTTP_BODY_MEM;
        s->mem = (const uint8_t *)HTTP_TINY_BODY;
        break;
    case HTTP_ROUTE_BYTES:
        r.content_type = "application/octet-stream";
        r.content_length_bytes = route.bytes;
        s->body = HTTP_BODY_PATTERN;
        break;
    case HTTP_ROUTE_FILE: {
        int err;
        struct http_cache_entry *e = s->cache ? http_cache_get(s->cache, route.path) : NULL;
        r.content_type = http_content_type(route.path);
        if (e) {
            s->centry = e;
            s->body = HTTP_BODY_MEM;
            s->mem = e->data;
            r.content_length_bytes = e->size_bytes;
            break;
        }
        memset(&s->file, 0, sizeof(s->file));
        s->file.fd = -1;
        err = s->ops->open(s->ops_ctx, route.path, &s->file);
        if (err < 0) {
            put_error(s, out, open_status(err), req->version_minor, head_only, date);
            return;
        }
        s->file_open = true;
        r.content_length_bytes = s->file.size_bytes;
        if (!head_only && s->cache && !s->file.data && s->file.size_bytes > 0 &&
            (e = http_cache_reserve(s->cache, route.path, s->file.size_bytes))) {
            s->centry = e;
            s->body = HTTP_BODY_FILL;
            s->fill_off_bytes = 0;
        } else if (s->file.data) {
            s->body = HTTP_BODY_MEM;
            s->mem = s->file.data;
        } else {
            s->body = HTTP_BODY_FILE;
        }
        break;
    }
    }
    put_head(s, out, &r, date);
    s->off_bytes = 0;
    s->left_bytes = r.content_length_bytes;
    if (head_only || s->left_bytes == 0)
        end_body(s);
    if (!req->keep_alive)
        s->closing = true;
}

/* Produces body bytes into the output; false when it must stop (full, or a
 * read is needed). */
static enum http_step fill_body(struct http_session *s, struct http_out *out, bool *stop)
{
    size_t space = out->cap - out->len;
    size_t n = space;

    *stop = true;
    if (s->body == HTTP_BODY_FILL) {
        uint64_t left = s->centry->size_bytes - s->fill_off_bytes;
        s->read_off_bytes = s->fill_off_bytes;
        s->read_len_bytes = left < HTTP_SESSION_READ_MAX ? (size_t)left : HTTP_SESSION_READ_MAX;
        s->read_dst = s->centry->data + s->fill_off_bytes;
        s->reading = true;
        return HTTP_STEP_READ;
    }
    if (s->left_bytes < n)
        n = (size_t)s->left_bytes;
    if (n == 0)
        return HTTP_STEP_OUTPUT;
    switch (s->body) {
    case HTTP_BODY_MEM:
        memcpy(out->buf + out->len, s->mem + s->off_bytes, n);
        break;
    case HTTP_BODY_PATTERN: {
        size_t done = 0;
        while (done < n) {
            size_t j = (size_t)((s->off_bytes + done) % HTTP_PATTERN_PERIOD);
            size_t k = HTTP_PATTERN_PERIOD - j;
            if (k > n - done)
                k = n - done;
            memcpy(out->buf + out->len + done, s->svc->pattern + j, k);
            done += k;
        }
        break;
    }
    case HTTP_BODY_FILE:
        if (n > HTTP_SESSION_READ_MAX)
            n = HTTP_SESSION_READ_MAX;
        s->read_off_bytes = s->off_bytes;
        s->read_len_bytes = n;
        s->read_dst = out->buf + out->len;
        s->reading = true;
        return HTTP_STEP_READ;
    case HTTP_BODY_FILL:
    case HTTP_BODY_NONE:
        break;
    }
    out->len += n;
    s->off_bytes += n;
    s->left_bytes -= n;
    if (s->left_bytes == 0)
        end_body(s);
    *stop = s->body != HTTP_BODY_NONE;
    return HTTP_STEP_OUTPUT;
}

void http_session_read_done(struct http_session *s, struct http_out *out, ssize_t res)
{
    s->reading = false;
    if (res <= 0 || (size_t)res > s->read_len_bytes) {
        /* The promised Content-Length cannot be met: cut the connection. */
        end_body(s);
        s->closing = true;
        s->eof = true;
        return;
    }
    if (s->body == HTTP_BODY_FILL) {
        s->fill_off_bytes += (uint64_t)res;
        if (s->fill_off_bytes == s->centry->size_bytes) {
            /* Loaded: the file is no longer needed; serve from the cache. */
            http_cache_commit(s->cache, s->centry);
            s->ops->close(s->ops_ctx, &s->file);
            s->file_open = false;
            s->file.fd = -1;
            s->body = HTTP_BODY_MEM;
            s->mem = s->centry->data;
        }
        return;
    }
    out->len += (size_t)res;
    s->off_bytes += (uint64_t)res;
    s->left_bytes -= (uint64_t)res;
    if (s->left_bytes == 0)
        end_body(s);
}

enum http_step http_session_step(struct http_session *s, const uint8_t *in, size_t in_len,
                                 size_t *in_used, struct http_out *out, const char *date)
{
    *in_used = 0;
    if (s->reading)
        return HTTP_STEP_READ;
    for (;;) {
        if (s->body != HTTP_BODY_NONE) {
            bool stop;
            enum http_step st = fill_body(s, out, &stop);
            if (stop)
                return st;
            continue;
        }
        if (s->closing)
            return HTTP_STEP_CLOSE;
        if (out->cap - out->len < HTTP_SESSION_OUT_MIN)
            return HTTP_STEP_OUTPUT;

        size_t used = 0;
        enum http_parse_result pr =
            http_parser_feed(&s->parser, in + *in_used, in_len - *in_used, &used);
        *in_used += used;
        if (pr == HTTP_PARSE_NEED_MORE)
            return s->eof ? HTTP_STEP_CLOSE : HTTP_STEP_INPUT;
        if (pr == HTTP_PARSE_ERROR) {
            bool head_only = s->parser.method_len == 4 && memcmp(s->parser.method, "HEAD", 4) == 0;
            put_error(s, out, s->parser.req.status, s->parser.req.version_minor, head_only, date);
            continue;
        }
        handle_request(s, out, date);
    }
}
