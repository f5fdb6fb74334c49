/* HTTP protocol of the twins: apps/http's session (the code toe-httpd uses)
 * over the twin connection buffers, so both serve byte-identical responses.
 * Files are opened synchronously with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) below --root, so neither ".." nor symlinks leave it;
 * reads are done by the engine (pread, or IORING_OP_READ). */
#include "bench/twins/twin.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "apps/http/session.h"

struct http_twin {
    struct http_service svc;
    int rootfd; /* -1: no --root */
    bool no_openat2;
};

static int twin_open(void *ctx, const char *relpath, struct http_file *f)
{
    struct http_twin *t = ctx;
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, /* NONBLOCK: FIFOs */
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    struct stat st;
    int fd;

    if (t->rootfd < 0)
        return -ENOENT;
    if (!t->no_openat2)
        fd = (int)syscall(SYS_openat2, t->rootfd, relpath, &how, sizeof(how));
    else
        fd = openat(t->rootfd, relpath, (int)how.flags | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return S_ISDIR(st.st_mode) ? -EISDIR : -ENOENT;
    }
    f->fd = fd;
    f->size_bytes = (uint64_t)st.st_size;
    f->data = NULL;
    return 0;
}

static void twin_close(void *ctx, struct http_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static const struct http_file_ops twin_file_ops = {twin_open, twin_close};

static int http_global_init(const struct twin_opts *o, void **global)
{
    struct http_twin *t = calloc(1, sizeof(*t));
    struct http_config cfg;

    if (!t)
        return -ENOMEM;
    http_config_init(&cfg);
    http_service_init(&t->svc, &cfg);
    t->rootfd = -1;
    if (o->root) {
        t->rootfd = open(o->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (t->rootfd < 0) {
            fprintf(stderr, "%s: --root %s: %s\n", o->prog, o->root, strerror(errno));
            free(t);
            return -ENOENT;
        }
        /* Probe once: workers only read the flag afterwards. */
        struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                               .resolve = RESOLVE_BENEATH};
        int fd = (int)syscall(SYS_openat2, t->rootfd, ".", &how, sizeof(how));
        if (fd >= 0)
            close(fd);
        else if (errno == ENOSYS) {
            t->no_openat2 = true;
            fprintf(stderr,
                    "%s: no openat2 on this kernel: O_NOFOLLOW only on the last "
                    "path component\n",
                    o->prog);
        }
    }
    *global = t;
    return 0;
}

static void http_global_fini(void *global)
{
    struct http_twin *t = global;
    if (!t)
        return;
    if (t->rootfd >= 0)
        close(t->rootfd);
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
    struct http_cache *cache = w->wstate;
    http_session_init(c->state, &t->svc, &twin_file_ops, t);
    if (cache && cache->cfg.entries)
        http_session_set_cache(c->state, cache);
}

static bool http_mid_request(struct twin_worker *w, struct twin_conn *c)
{
    return http_session_mid_request(c->state);
}

static void account(struct twin_worker *w, struct twin_conn *c, const struct http_session *s)
{
    w->cnt.requests += s->requests - c->acct_requests;
    w->cnt.errors += s->errors - c->acct_errors;
    c->acct_requests = s->requests;
    c->acct_errors = s->errors;
}

static enum twin_want http_step(struct twin_worker *w, struct twin_conn *c)
{
    struct http_session *s = c->state;
    struct http_out out = {c->out, c->out_len, c->out_cap};
    size_t used = 0;
    enum http_step st;

    if (s->cache)
        http_cache_set_now(s->cache, w->now_ms);
    st = http_session_step(s, c->in + c->in_off, c->in_len - c->in_off, &used, &out, w->date);

    c->in_off += (uint32_t)used;
    c->out_len = (uint32_t)out.len;
    account(w, c, s);
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
};
