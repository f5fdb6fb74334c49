/* The stat socket's thread (stat_server.h): accept, write one snapshot,
 * close; poll() with a timeout so a stop is seen within STOP_POLL_MS. */
#include "apps/common/stat_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STOP_POLL_MS 100
#define SEND_TIMEOUT_MS 1000 /* a reader that does not read is dropped */

struct stat_server {
    pthread_t thread;
    atomic_bool stop;
    int fd;
    struct toe_stack *stack;
    uint64_t start_us;
    char app[32];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct toe_snap snap; /* the thread's; large, so not on its stack */
};

static uint64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void stat_socket_default_path(char *buf, size_t len, long pid)
{
    snprintf(buf, len, "%s/%ld.sock", STAT_SOCKET_DIR, pid);
}

void stat_snapshot_take(struct toe_stack *stack, const char *app, uint64_t start_us,
                        struct toe_snap *snap)
{
    toe_stack_snapshot(stack, snap);
    snprintf(snap->app, sizeof(snap->app), "%s", app);
    snap->pid = getpid();
    snap->uptime_us = mono_us() - start_us;
}

static void serve_one(struct stat_server *s, int cfd)
{
    struct timeval tv = {.tv_sec = SEND_TIMEOUT_MS / 1000};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f)
        return;
    setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    stat_snapshot_take(s->stack, s->app, s->start_us, &s->snap);
    toe_snap_write(&s->snap, f);
    fclose(f);
    for (size_t off = 0; off < len;) {
        ssize_t n = send(cfd, text + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(text);
}

static void *stat_thread(void *arg)
{
    struct stat_server *s = arg;
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};

    while (!atomic_load(&s->stop)) {
        if (poll(&pfd, 1, STOP_POLL_MS) <= 0)
            continue;
        int cfd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0)
            continue;
        serve_one(s, cfd);
        close(cfd);
    }
    return NULL;
}

/* A socket file left by a dead server goes; a live server's stays. */
static int clear_stale(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
    close(fd);
    if (rc == 0)
        return -EADDRINUSE;
    if (unlink(sa->sun_path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

static int listen_on(struct stat_server *s)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int rc;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
    rc = clear_stale(&sa);
    if (rc < 0)
        return rc;
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        return -errno;
    /* Only the server's user (and root) may look: the counters tell about
     * every connection. umask, not chmod after bind: no moment in which
     * anyone may connect. It is process-wide: the servers call this before
     * their stack's threads start. */
    mode_t old = umask(0177);
    rc = bind(s->fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc < 0)
        return -errno;
    if (listen(s->fd, 16) < 0) {
        rc = -errno;
        unlink(s->path);
        return rc;
    }
    return 0;
}

int stat_server_start(const char *path, const char *app, uint64_t start_us,
                      struct toe_stack *stack, struct stat_server **out)
{
    struct stat_server *s = calloc(1, sizeof(*s));
    int rc;

    if (!s)
        return -ENOMEM;
    s->fd = -1;
    s->stack = stack;
    s->start_us = start_us;
    snprintf(s->app, sizeof(s->app), "%s", app);
    if (path) {
        if (strlen(path) >= sizeof(s->path)) {
            rc = -ENAMETOOLONG;
            goto fail;
        }
        snprintf(s->path, sizeof(s->path), "%s", path);
    } else {
        if (mkdir(STAT_SOCKET_DIR, 0755) < 0 && errno != EEXIST) {
            rc = -errno;
            goto fail;
        }
        stat_socket_default_path(s->path, sizeof(s->path), (long)getpid());
    }
    rc = listen_on(s);
    if (rc < 0)
        goto fail;
    rc = -pthread_create(&s->thread, NULL, stat_thread, s);
    if (rc < 0) {
        unlink(s->path);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (s->fd >= 0)
        close(s->fd);
    free(s);
    return rc;
}

void stat_server_stop(struct stat_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->fd);
    unlink(s->path);
    free(s);
}

const char *stat_server_path(const struct stat_server *s)
{
    return s->path;
}
