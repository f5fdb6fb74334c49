/* epoll engine of the twins: non-blocking sockets, edge-triggered
 * EPOLLIN|EPOLLOUT|EPOLLRDHUP registered once; readiness is remembered per
 * connection (can_read/can_write) and cleared on EAGAIN. File reads are
 * synchronous pread(). A connection that keeps making progress yields after a
 * bounded number of rounds and goes to a run queue, so one busy peer cannot
 * starve the others. */
#include "bench/twins/twin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ROUNDS_PER_TURN 16
#define MAX_EVENTS      256

struct epoll_ctx {
    int epfd;
    struct twin_conn *runq;
};

/* Ends a connection now (error, timeout): RST if unread data remain. */
static void conn_kill(struct twin_worker *w, struct epoll_ctx *e, struct twin_conn *c)
{
    c->phase = TWIN_DEAD;
    if (c->in_runq)
        return; /* freed when the run queue reaches it */
    epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    twin_conn_free(w, c);
}

static void runq_push(struct epoll_ctx *e, struct twin_conn *c)
{
    if (c->in_runq)
        return;
    c->in_runq = true;
    c->runq_next = e->runq;
    e->runq = c;
}

/* Returns false if c was freed. */
static bool conn_run(struct twin_worker *w, struct epoll_ctx *e, struct twin_conn *c)
{
    const struct twin_proto *p = w->proto;
    int rounds;

    for (rounds = 0; rounds < ROUNDS_PER_TURN; rounds++) {
        bool progress = false;

        if (c->phase == TWIN_OPEN) {
            enum twin_want want = twin_conn_step(w, c);
            if (want == TWIN_WANT_READ) {
                ssize_t n = pread(c->rd_fd, c->rd_dst, c->rd_len, (off_t)c->rd_off);
                p->read_done(w, c, n < 0 ? -errno : n);
                continue;
            }
            if (want == TWIN_WANT_CLOSE)
                c->phase = TWIN_FLUSHING;
        }
        if (c->out_off < c->out_len && c->can_write) {
            ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                c->out_off += (uint32_t)n;
                w->cnt.bytes_out += (uint64_t)n;
                c->active_ms = w->now_ms;
                progress = true;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                c->can_write = false;
            } else if (n < 0 && errno != EINTR) {
                w->cnt.resets++;
                conn_kill(w, e, c);
                return false;
            }
        }
        if (c->phase == TWIN_FLUSHING && c->out_off == c->out_len) {
            /* Our FIN; keep reading so unread data cannot turn close into RST
             * and lose the response (RFC 9112 section 9.6). */
            shutdown(c->fd, SHUT_WR);
            c->phase = TWIN_LINGER;
            c->deadline_ms = w->now_ms + w->opts->linger_ms;
            progress = true;
        }
        if (c->can_read && !c->peer_eof &&
            (c->phase == TWIN_LINGER || (c->phase == TWIN_OPEN && c->want == TWIN_WANT_INPUT))) {
            uint8_t *dst;
            size_t room;
            if (c->phase == TWIN_LINGER) {
                dst = c->in; /* discarded */
                room = c->in_cap;
            } else {
                twin_conn_compact_in(c);
                dst = c->in + c->in_len;
                room = c->in_cap - c->in_len;
            }
            ssize_t n = room ? recv(c->fd, dst, room, MSG_DONTWAIT) : -1;
            if (n > 0) {
                w->cnt.bytes_in += (uint64_t)n;
                c->active_ms = w->now_ms;
                if (c->phase != TWIN_LINGER)
                    c->in_len += (uint32_t)n;
                progress = true;
            } else if (n == 0) {
                c->peer_eof = true;
                if (c->phase == TWIN_LINGER) {
                    conn_kill(w, e, c);
                    return false;
                }
                p->eof(w, c);
                progress = true;
            } else if (room && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                c->can_read = false;
            } else if (room && errno != EINTR) {
                w->cnt.resets++;
                conn_kill(w, e, c);
                return false;
            }
        }
        if (c->phase == TWIN_LINGER && c->peer_eof) {
            conn_kill(w, e, c);
            return false;
        }
        if (!progress)
            return true;
    }
    runq_push(e, c); /* still busy: continue after the others had a turn */
    return true;
}

static void do_accept(struct twin_worker *w, struct epoll_ctx *e)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                twin_log(w, "accept: %s", strerror(errno));
            return;
        }
        if (w->nconns >= w->opts->max_conns) {
            w->cnt.refused++;
            close(fd);
            continue;
        }
        twin_sock_setup(fd);
        struct twin_conn *c = twin_conn_new(w, fd);
        if (!c) {
            w->cnt.refused++;
            close(fd);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = c};
        if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            twin_conn_free(w, c);
            continue;
        }
        /* EPOLLOUT is reported at once; data may already be there too. */
        c->can_write = true;
        c->can_read = true;
        conn_run(w, e, c);
    }
}

static void sweep(struct twin_worker *w, struct epoll_ctx *e)
{
    struct twin_conn *c = w->conns.next;
    while (c != &w->conns) {
        struct twin_conn *next = c->next;
        if (twin_conn_expired(w, c)) {
            if (twin_conn_timeout_answer(w, c))
                runq_push(e, c); /* the 408, FIN, linger */
            else
                conn_kill(w, e, c);
        }
        c = next;
    }
}

static int epoll_run(struct twin_worker *w)
{
    struct epoll_ctx e = {.epfd = epoll_create1(EPOLL_CLOEXEC)};
    struct epoll_event evs[MAX_EVENTS];
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};

    if (e.epfd < 0 || epoll_ctl(e.epfd, EPOLL_CTL_ADD, w->lfd, &lev) < 0) {
        twin_log(w, "epoll: %s", strerror(errno));
        return -errno;
    }
    if (w->id == 0)
        twin_log(w, "engine epoll: edge-triggered, non-blocking send/recv, pread for files");
    twin_worker_tick(w);
    while (!twin_stop) {
        int n = epoll_wait(e.epfd, evs, MAX_EVENTS, e.runq ? 0 : 250);
        twin_worker_tick(w);
        for (int i = 0; i < n; i++) {
            struct twin_conn *c = evs[i].data.ptr;
            if (!c) {
                do_accept(w, &e);
                continue;
            }
            if (c->phase == TWIN_DEAD)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                c->can_read = true;
            if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                c->can_write = true;
            if (!c->in_runq)
                conn_run(w, &e, c);
        }
        /* Connections that used their turn. */
        struct twin_conn *q = e.runq;
        e.runq = NULL;
        while (q) {
            struct twin_conn *c = q;
            q = q->runq_next;
            c->in_runq = false;
            if (c->phase == TWIN_DEAD)
                conn_kill(w, &e, c);
            else
                conn_run(w, &e, c);
        }
        if (twin_worker_sweep_due(w))
            sweep(w, &e);
    }
    while (w->conns.next != &w->conns)
        twin_conn_free(w, w->conns.next);
    close(e.epfd);
    return 0;
}

const struct twin_engine twin_engine_epoll = {
    .name = "epoll",
    .run = epoll_run,
};
