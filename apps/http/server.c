/* The transport-independent part of an HTTP server around the session (see
 * server.h): document root, file ops, Date, the counted session step. */
#include "apps/http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int root_open_file(void *ctx, const char *relpath, struct http_file *f)
{
    const struct http_root *r = ctx;
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, /* NONBLOCK: FIFOs */
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    struct stat st;
    int fd;

    if (r->fd < 0)
        return -ENOENT;
    if (!r->no_openat2)
        fd = (int)syscall(SYS_openat2, r->fd, relpath, &how, sizeof(how));
    else
        fd = openat(r->fd, relpath, (int)how.flags | O_NOFOLLOW);
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

static void root_close_file(void *ctx, struct http_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

const struct http_file_ops http_root_file_ops = {root_open_file, root_close_file};

int http_root_open(struct http_root *r, const char *path, const char *prog)
{
    struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_BENEATH};
    int fd;

    r->fd = -1;
    r->no_openat2 = false;
    if (!path)
        return 0;
    r->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (r->fd < 0) {
        int err = -errno;
        fprintf(stderr, "%s: --root %s: %s\n", prog, path, strerror(errno));
        return err;
    }
    fd = (int)syscall(SYS_openat2, r->fd, ".", &how, sizeof(how));
    if (fd >= 0) {
        close(fd);
    } else if (errno == ENOSYS) {
        r->no_openat2 = true;
        fprintf(stderr,
                "%s: no openat2 on this kernel: O_NOFOLLOW only on the last path "
                "component\n",
                prog);
    }
    return 0;
}

void http_root_close(struct http_root *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

void http_server_session_init(struct http_session *s, const struct http_service *svc,
                              const struct http_root *root, struct http_cache *cache)
{
    http_session_init(s, svc, &http_root_file_ops, (void *)root);
    if (cache && cache->cfg.entries)
        http_session_set_cache(s, cache);
}

void http_server_date_update(int64_t fixed_date_s, int64_t *date_s, char *date)
{
    int64_t s = fixed_date_s;

    if (s < 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        s = ts.tv_sec;
    }
    if (s != *date_s) {
        *date_s = s;
        http_date_format(s, date);
    }
}

enum http_step http_server_step(struct http_session *s, const uint8_t *in, size_t in_len,
                                size_t *in_used, struct http_out *out, uint64_t now_ms,
                                const char *date, uint64_t *requests, uint64_t *errors)
{
    /* The session counts only while it steps. */
    uint64_t requests0 = s->requests, errors0 = s->errors;
    enum http_step st;

    if (s->cache)
        http_cache_set_now(s->cache, now_ms);
    st = http_session_step(s, in, in_len, in_used, out, date);
    *requests += s->requests - requests0;
    *errors += s->errors - errors0;
    return st;
}

bool http_server_timeout(struct http_session *s, struct http_out *out, const char *date,
                         uint64_t *requests, uint64_t *errors)
{
    uint64_t requests0 = s->requests, errors0 = s->errors;
    bool wrote = http_session_timeout(s, out, date);

    *requests += s->requests - requests0;
    *errors += s->errors - errors0;
    return wrote;
}
