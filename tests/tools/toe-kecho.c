/* toe-kecho: a small kernel-socket TCP echo server for testing the test tools
 * (toe-echo-check must pass against it, and must fail against it when it is
 * told to corrupt a byte) and as the kernel listener in SYN-flood tests.
 * Echoes every byte with backpressure (stops reading a connection while its
 * echo cannot be written), half-close aware: after the client's FIN it sends
 * what is left, then its own FIN. One thread, non-blocking, epoll.
 * Runs until SIGINT/SIGTERM or --max-seconds. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KE_BUF_BYTES 65536

struct ke_conn {
    int fd;
    uint64_t index;      /* accept order */
    uint64_t in_bytes;   /* stream offset of the next byte read */
    uint8_t buf[KE_BUF_BYTES];
    size_t head, len;    /* pending echo */
    bool eof;
};

static volatile sig_atomic_t ke_stop;

static void ke_on_signal(int sig)
{
    ke_stop = 1;
}

static void ke_usage(FILE *out)
{
    fprintf(out,
        "usage: toe-kecho [--addr A] [--port P] [options]\n"
        "Kernel TCP echo server (a test helper).\n"
        "  --addr A            listen address (default 127.0.0.1)\n"
        "  --port P            listen port, 0 = any free one (default 0)\n"
        "  --port-file FILE    write the bound port to FILE once listening\n"
        "  --backlog N         listen backlog (default 128)\n"
        "  --corrupt-at OFF    flip the byte at stream offset OFF of the first\n"
        "                      accepted connection (to prove checkers can fail)\n"
        "  --max-seconds S     exit after S seconds (default 600: never runs unbounded)\n"
        "  --help              this text\n");
}

static void ke_close(int epfd, struct ke_conn *c, uint64_t *open)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
    (*open)--;
}

static int ke_rearm(int epfd, struct ke_conn *c)
{
    struct epoll_event e = {.data.ptr = c};

    if (!c->eof && c->len < KE_BUF_BYTES)
        e.events |= EPOLLIN;
    if (c->len)
        e.events |= EPOLLOUT;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
}

/* Returns <0 when the connection is finished (closed or failed). */
static int ke_service(int epfd, struct ke_conn *c, int64_t corrupt_at)
{
    for (;;) {
        bool progress = false;

        if (!c->eof && c->len < KE_BUF_BYTES) {
            size_t tail = (c->head + c->len) % KE_BUF_BYTES;
            size_t room = KE_BUF_BYTES - c->len;
            ssize_t n;

            if (room > KE_BUF_BYTES - tail)
                room = KE_BUF_BYTES - tail;
            n = recv(c->fd, c->buf + tail, room, MSG_DONTWAIT);
            if (n > 0) {
                if (c->index == 0 && corrupt_at >= 0 && (uint64_t)corrupt_at >= c->in_bytes &&
                    (uint64_t)corrupt_at < c->in_bytes + (uint64_t)n)
                    c->buf[tail + (size_t)((uint64_t)corrupt_at - c->in_bytes)] ^= 0x5a;
                c->in_bytes += (uint64_t)n;
                c->len += (size_t)n;
                progress = true;
            } else if (n == 0) {
                c->eof = true;
                progress = true;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return -1;
            }
        }
        if (c->len) {
            size_t chunk = c->len;
            ssize_t n;

            if (chunk > KE_BUF_BYTES - c->head)
                chunk = KE_BUF_BYTES - c->head;
            n = send(c->fd, c->buf + c->head, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                c->head = (c->head + (size_t)n) % KE_BUF_BYTES;
                c->len -= (size_t)n;
                progress = true;
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return -1;
            }
        }
        if (c->eof && !c->len)
            return -1; /* everything echoed: close sends our FIN */
        if (!progress)
            break;
    }
    return ke_rearm(epfd, c) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    enum { O_ADDR = 256, O_PORT, O_PORTFILE, O_BACKLOG, O_CORRUPT, O_MAXS, O_HELP };
    static const struct option lo[] = {
        {"addr", required_argument, NULL, O_ADDR},
        {"port", required_argument, NULL, O_PORT},
        {"port-file", required_argument, NULL, O_PORTFILE},
        {"backlog", required_argument, NULL, O_BACKLOG},
        {"corrupt-at", required_argument, NULL, O_CORRUPT},
        {"max-seconds", required_argument, NULL, O_MAXS},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct sockaddr_in sin = {.sin_family = AF_INET};
    const char *port_file = NULL;
    int64_t corrupt_at = -1;
    double max_s = 600;
    int backlog = 128, one = 1, c, lfd, epfd;
    uint64_t accepted = 0, open = 0;
    struct epoll_event e, evs[64];
    struct sigaction sa;
    struct timespec t0, t;
    socklen_t slen = sizeof(sin);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_ADDR:
            if (inet_pton(AF_INET, optarg, &sin.sin_addr) != 1) {
                fprintf(stderr, "toe-kecho: --addr %s: not an IPv4 address\n", optarg);
                return 2;
            }
            break;
        case O_PORT:
            sin.sin_port = htons((uint16_t)strtoul(optarg, NULL, 0));
            break;
        case O_PORTFILE:
            port_file = optarg;
            break;
        case O_BACKLOG:
            backlog = atoi(optarg);
            break;
        case O_CORRUPT:
            corrupt_at = strtoll(optarg, NULL, 0);
            break;
        case O_MAXS:
            max_s = strtod(optarg, NULL);
            if (!(max_s > 0) || max_s > 86400) {
                fprintf(stderr, "toe-kecho: --max-seconds must be in (0, 86400]\n");
                return 2;
            }
            break;
        case O_HELP:
            ke_usage(stdout);
            return 0;
        default:
            fprintf(stderr, "toe-kecho: bad option %s\n", argv[optind - 1]);
            ke_usage(stderr);
            return 2;
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ke_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, backlog) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &slen) < 0) {
        fprintf(stderr, "toe-kecho: listen: %s\n", strerror(errno));
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    e.events = EPOLLIN;
    e.data.ptr = NULL; /* the listener */
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &e) < 0) {
        fprintf(stderr, "toe-kecho: epoll: %s\n", strerror(errno));
        return 1;
    }
    if (port_file) {
        char tmp[4096];
        FILE *f;

        /* Write then rename, so a waiting reader never sees a partial file. */
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", ntohs(sin.sin_port)) < 0 || fclose(f) != 0 ||
            rename(tmp, port_file) < 0) {
            fprintf(stderr, "toe-kecho: %s: %s\n", port_file, strerror(errno));
            return 1;
        }
    }
    fprintf(stderr, "toe-kecho: listening on port %u\n", ntohs(sin.sin_port));

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!ke_stop) {
        int n = epoll_wait(epfd, evs, 64, 100);

        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > max_s)
            break;
        for (int i = 0; i < n; i++) {
            struct ke_conn *kc = evs[i].data.ptr;

            if (!kc) {
                for (int k = 0; k < 64; k++) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                    if (fd < 0)
                        break;
                    kc = calloc(1, sizeof(*kc));
                    if (!kc) {
                        close(fd);
                        continue;
                    }
                    kc->fd = fd;
                    kc->index = accepted++;
                    e.events = EPOLLIN;
                    e.data.ptr = kc;
                    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
                        close(fd);
                        free(kc);
                        continue;
                    }
                    open++;
                }
                continue;
            }
            if (ke_service(epfd, kc, corrupt_at) < 0)
                ke_close(epfd, kc, &open);
        }
    }
    fprintf(stderr, "toe-kecho: accepted %" PRIu64 " connections, %" PRIu64 " still open\n",
            accepted, open);
    return 0;
}
