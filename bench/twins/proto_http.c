/* HTTP protocol of the twins: apps/http's session (the code toe-httpd uses)
 * over the twin connection buffers, so both serve byte-identical responses.
 * Files are opened synchronously below --root by apps/http/server.c, so
 * neither ".." nor symlinks leave it; reads are done by the engine (pread, or
 * IORING_OP_READ). */
#include "bench/twins/twin.h"

#include <errno.h>
#include <stdlib.h>

#include "apps/http/server.h"
#include "apps/http/session.h"

struct http_twin {
    struct http_service svc;
    struct http_root root; /* fd -1: no --root */
};

static int http_global_init(const struct twin_opts *o, void **global)
{
    struct http_twin *t = calloc(1, sizeof(*t));
    struct http_config cfg;

    if (!t)
        return -ENOMEM;
    http_config_init(&cfg);
    http_service_init(&t->svc, &cfg);
    if (http_root_open(&t->root, o->root, o->prog) < 0) {
        free(t);
        return -ENOENT;
    }
    *global = t;
    return 0;
}

static void http_global_fini(void *global)
{
    struct http_twin *t = global;
    if (!t)
        return;
    http_root_close(&t->root);
    free(t);
}

/* One small-file cache per worker: no sharing, no locks. */
static int http_worker_init(struct twin_worker *w)
{
    struct http_cache_config cc;
    struct http_cache *cache = calloc(1, sizeof(*cache));
    if (!cache)
        return -ENOMEM;
    http_cache_config_init(&cc);
    cc.entries = w->opts->cache_entries;
    cc.max_entry_bytes = w->opts->cache_max_bytes;
    if (http_cache_init(cache, &cc)) {
        free(cache);
        return -ENOMEM;
    }
    w->wstate = cache;
    return 0;
}

static void http_worker_fini(struct twin_worker *w)
{
    struct http_cache *cache = w->wstate;
    if (!cache)
        return;
    if (w->id == 0 && cache->cfg.entries)
        twin_log(w, "cache (worker 0): %llu hits, %llu misses, %llu fills, %llu evictions",
                 (unsigned long long)cache->hits, (unsigned long long)cache->misses,
                 (unsigned long long)cache->fills, (unsigned long long)cache->evictions);
    http_cache_fini(cache);
    free(cache);
    w->wstate = NULL;
}

static void http_conn_init(struct twin_worker *w, struct twin_conn *c)
{
    struct http_twin *t = w->global;
    http_server_session_init(c->state, &t->svc, &t->root, w->wstate);
}

static bool http_mid_request(struct twin_worker *w, struct twin_conn *c)
{
    return http_session_mid_request(c->state);
}

static bool http_timeout(struct twin_worker *w, struct twin_conn *c)
{
    struct http_out out = {c->out, c->out_len, c->out_cap};
    bool wrote = http_server_timeout(c->state, &out, w->date, &w->cnt.requests, &w->cnt.errors);

    c->out_len = (uint32_t)out.len;
    return wrote;
}

static enum twin_want http_step(struct twin_worker *w, struct twin_conn *c)
{
    struct http_session *s = c->state;
    struct http_out out = {c->out, c->out_len, c->out_cap};
    size_t used = 0;
    enum http_step st;

    st = http_server_step(s, c->in + c->in_off, c->in_len - c->in_off, &used, &out, w->now_ms,
                          w->date, &w->cnt.requests, &w->cnt.errors);
    c->in_off += (uint32_t)used;
    c->out_len = (uint32_t)out.len;
    switch (st) {
    case HTTP_STEP_INPUT:
        return TWIN_WANT_INPUT;
    case HTTP_STEP_OUTPUT:
        return TWIN_WANT_OUTPUT;
    case HTTP_STEP_READ:
        c->rd_fd = s->file.fd;
        c->rd_off = s->read_off_bytes;
        c->rd_len = (uint32_t)s->read_len_bytes;
        c->rd_dst = s->read_dst;
        return TWIN_WANT_READ;
    case HTTP_STEP_CLOSE:
    default:
        return TWIN_WANT_CLOSE;
    }
}

static void http_read_done(struct twin_worker *w, struct twin_conn *c, ssize_t res)
{
    struct http_out out = {c->out, c->out_len, c->out_cap};
    http_session_read_done(c->state, &out, res);
    c->out_len = (uint32_t)out.len;
}

static void http_eof(struct twin_worker *w, struct twin_conn *c)
{
    http_session_eof(c->state);
}

static void http_conn_fini(struct twin_worker *w, struct twin_conn *c)
{
    http_session_fini(c->state);
}

const struct twin_proto twin_proto_http = {
    .name = "httpd",
    .in_cap = 16 << 10,
    .out_cap = 64 << 10,
    .state_size = sizeof(struct http_session),
    .global_init = http_global_init,
    .global_fini = http_global_fini,
    .worker_init = http_worker_init,
    .worker_fini = http_worker_fini,
    .conn_init = http_conn_init,
    .step = http_step,
    .read_done = http_read_done,
    .eof = http_eof,
    .conn_fini = http_conn_fini,
    .mid_request = http_mid_request,
    .timeout = http_timeout,
};
