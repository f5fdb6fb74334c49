/* io_uring engine of the twins (liburing): multishot accept when the kernel
 * has it (else one accept SQE re-armed per connection), one recv, one send
 * and one file read (IORING_OP_READ, else pread) in flight per connection at
 * most. Buffers are only compacted when nothing is in flight. Ending a
 * connection: shutdown(SHUT_RDWR) completes its pending recv, then the socket
 * is closed and the memory freed once every operation has completed. The
 * features used are printed at start. */
#include "bench/twins/twin.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_READ };

#define OP_MASK 7ull

struct uring_ctx {
    struct io_uring ring;
    bool multishot; /* multishot accept (learnt from the first completion) */
    bool have_read; /* IORING_OP_READ */
    bool accept_armed;
};

static void *udata(struct twin_conn *c, unsigned op)
{
    return (void *)((uintptr_t)c | op);
}

static struct io_uring_sqe *get_sqe(struct uring_ctx *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    while (!sqe) {
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static void arm_accept(struct twin_worker *w, struct uring_ctx *u)
{
    struct io_uring_sqe *sqe = get_sqe(u);
    if (u->multishot)
        io_uring_prep_multishot_accept(sqe, w->lfd, NULL, NULL, SOCK_CLOEXEC);
    else
        io_uring_prep_accept(sqe, w->lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data(sqe, udata(NULL, OP_ACCEPT));
    u->accept_armed = true;
}

static bool conn_idle(const struct twin_conn *c)
{
    return !c->recv_busy && !c->send_busy && !c->read_busy;
}

/* Ends a connection; the memory goes once no operation is in flight. */
static void conn_kill(struct twin_worker *w, struct twin_conn *c)
{
    if (c->phase != TWIN_DEAD) {
        c->phase = TWIN_DEAD;
        shutdown(c->fd, SHUT_RDWR); /* completes a pending recv/send */
    }
    if (conn_idle(c))
        twin_conn_free(w, c);
}

/* Queues whatever the connection can do now. */
static void conn_kick(struct twin_worker *w, struct uring_ctx *u, struct twin_conn *c)
{
    const struct twin_proto *p = w->proto;

    if (c->phase == TWIN_DEAD) {
        conn_kill(w, c);
        return;
    }
    for (;;) {
        if (c->phase != TWIN_OPEN || c->read_busy)
            break;
        enum twin_want want = twin_conn_step(w, c);
        if (want == TWIN_WANT_READ) {
            if (u->have_read) {
                struct io_uring_sqe *sqe = get_sqe(u);
                io_uring_prep_read(sqe, c->rd_fd, c->rd_dst, c->rd_len, c->rd_off);
                io_uring_sqe_set_data(sqe, udata(c, OP_READ));
                c->read_busy = true;
                break;
            }
            ssize_t n = pread(c->rd_fd, c->rd_dst, c->rd_len, (off_t)c->rd_off);
            p->read_done(w, c, n < 0 ? -errno : n);
            continue;
        }
        if (want == TWIN_WANT_CLOSE)
            c->phase = TWIN_FLUSHING;
        break;
    }
    if (c->out_off < c->out_len && !c->send_busy) {
        struct io_uring_sqe *sqe = get_sqe(u);
        io_uring_prep_send(sqe, c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        io_uring_sqe_set_data(sqe, udata(c, OP_SEND));
        c->send_busy = true;
    }
    if (c->phase == TWIN_FLUSHING && c->out_off == c->out_len && !c->send_busy && !c->read_busy) {
        shutdown(c->fd, SHUT_WR); /* our FIN, then drain (RFC 9112 section 9.6) */
        c->phase = TWIN_LINGER;
        c->deadline_ms = w->now_ms + w->opts->linger_ms;
    }
    if (!c->recv_busy && !c->peer_eof) {
        uint8_t *dst = NULL;
        size_t room = 0;
        if (c->phase == TWIN_LINGER) {
            dst = c->in; /* discarded */
            room = c->in_cap;
        } else if (c->phase == TWIN_OPEN && c->want == TWIN_WANT_INPUT) {
            twin_conn_compact_in(c);
            dst = c->in + c->in_len;
            room = c->in_cap - c->in_len;
        }
        if (room) {
            struct io_uring_sqe *sqe = get_sqe(u);
            io_uring_prep_recv(sqe, c->fd, dst, room, 0);
            io_uring_sqe_set_data(sqe, udata(c, OP_RECV));
            c->recv_busy = true;
        }
    }
    if (c->phase == TWIN_LINGER && c->peer_eof)
        conn_kill(w, c);
}

static void on_accept(struct twin_worker *w, struct uring_ctx *u, struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        u->accept_armed = false;
    if (cqe->res == -EINVAL && u->multishot) {
        u->multishot = false;
        twin_log(w, "uring: multishot accept not supported, re-arming single accepts");
    } else if (cqe->res >= 0) {
        int fd = cqe->res;
        if (w->nconns >= w->opts->max_conns) {
            w->cnt.refused++;
            close(fd);
        } else {
            twin_sock_setup(fd);
            struct twin_conn *c = twin_conn_new(w, fd);
            if (!c) {
                w->cnt.refused++;
                close(fd);
            } else {
                conn_kick(w, u, c);
            }
        }
    } else if (cqe->res != -EINTR && cqe->res != -ECONNABORTED && cqe->res != -EAGAIN) {
        twin_log(w, "accept: %s", strerror(-cqe->res));
    }
    if (!u->accept_armed && !twin_stop)
        arm_accept(w, u);
}

static void on_cqe(struct twin_worker *w, struct uring_ctx *u, struct io_uring_cqe *cqe)
{
    uintptr_t ud = (uintptr_t)io_uring_cqe_get_data(cqe);
    unsigned op = (unsigned)(ud & OP_MASK);
    struct twin_conn *c = (struct twin_conn *)(ud & ~(uintptr_t)OP_MASK);
    int res = cqe->res;

    if (op == OP_ACCEPT) {
        on_accept(w, u, cqe);
        return;
    }
    switch (op) {
    case OP_RECV:
        c->recv_busy = false;
        if (c->phase == TWIN_DEAD)
            break;
        if (res > 0) {
            w->cnt.bytes_in += (uint64_t)res;
            c->active_ms = w->now_ms;
            if (c->phase != TWIN_LINGER)
                c->in_len += (uint32_t)res;
        } else if (res == 0) {
            c->peer_eof = true;
            if (c->phase == TWIN_OPEN || c->phase == TWIN_FLUSHING)
                w->proto->eof(w, c);
        } else if (res != -EINTR && res != -EAGAIN) {
            w->cnt.resets++;
            conn_kill(w, c);
            return;
        }
        break;
    case OP_SEND:
        c->send_busy = false;
        if (c->phase == TWIN_DEAD)
            break;
        if (res > 0) {
            c->out_off += (uint32_t)res;
            w->cnt.bytes_out += (uint64_t)res;
            c->active_ms = w->now_ms;
        } else if (res != -EINTR && res != -EAGAIN) {
            w->cnt.resets++;
            conn_kill(w, c);
            return;
        }
        break;
    case OP_READ:
        c->read_busy = false;
        if (c->phase == TWIN_DEAD)
            break;
        w->proto->read_done(w, c, res);
        break;
    default:
        return;
    }
    conn_kick(w, u, c);
}

static int ring_setup(struct twin_worker *w, struct uring_ctx *u)
{
    static const struct {
        unsigned flags;
        const char *what;
    } tries[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single issuer, defer taskrun"},
        {IORING_SETUP_COOP_TASKRUN, "coop taskrun"},
        {0, "plain"},
    };
    /* Hidden, for tests of the fallbacks: TOE_TWIN_URING_DISABLE=setup,multishot,read */
    const char *off = getenv("TOE_TWIN_URING_DISABLE");
    bool no_setup = off && strstr(off, "setup");
    int err = -EINVAL;

    if (off && strstr(off, "multishot"))
        u->multishot = false;
    for (size_t i = no_setup ? 2 : 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        struct io_uring_params p = {.flags = tries[i].flags | IORING_SETUP_CQSIZE,
                                    .cq_entries = w->opts->uring_entries * 4};
        err = io_uring_queue_init_params(w->opts->uring_entries, &u->ring, &p);
        if (err == 0) {
            struct io_uring_probe *probe = io_uring_get_probe_ring(&u->ring);
            bool recv = true, send = true, accept = true;
            if (probe) {
                u->have_read = io_uring_opcode_supported(probe, IORING_OP_READ);
                recv = io_uring_opcode_supported(probe, IORING_OP_RECV);
                send = io_uring_opcode_supported(probe, IORING_OP_SEND);
                accept = io_uring_opcode_supported(probe, IORING_OP_ACCEPT);
                io_uring_free_probe(probe);
            }
            if (off && strstr(off, "read"))
                u->have_read = false;
            if (!recv || !send || !accept) {
                twin_log(w, "uring: this kernel lacks IORING_OP_RECV/SEND/ACCEPT; use the "
                            "epoll twin");
                io_uring_queue_exit(&u->ring);
                return -ENOSYS;
            }
            if (w->id == 0)
                twin_log(w,
                         "engine uring: %u entries, setup %s, accept %s, recv/send SQEs, "
                         "files via %s",
                         w->opts->uring_entries, tries[i].what,
                         u->multishot ? "multishot (if supported)" : "single-shot",
                         u->have_read ? "IORING_OP_READ" : "pread (no IORING_OP_READ)");
            return 0;
        }
    }
    twin_log(w, "io_uring_queue_init: %s", strerror(-err));
    return err;
}

static int uring_run(struct twin_worker *w)
{
    struct uring_ctx u = {.multishot = true};
    int err = ring_setup(w, &u);

    if (err)
        return err;
    twin_worker_tick(w);
    arm_accept(w, &u);
    while (!twin_stop) {
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 250000000};
        struct io_uring_cqe *cqe = NULL;
        err = io_uring_submit_and_wait_timeout(&u.ring, &cqe, 1, &ts, NULL);
        twin_worker_tick(w);
        if (err < 0 && err != -ETIME && err != -EINTR && err != -EAGAIN && err != -EBUSY) {
            twin_log(w, "io_uring_submit_and_wait: %s", strerror(-err));
            break;
        }
        unsigned head, n = 0;
        io_uring_for_each_cqe(&u.ring, head, cqe)
        {
            on_cqe(w, &u, cqe);
            n++;
        }
        io_uring_cq_advance(&u.ring, n);
        if (twin_worker_sweep_due(w)) {
            struct twin_conn *c = w->conns.next;
            while (c != &w->conns) {
                struct twin_conn *next = c->next;
                if (twin_conn_expired(w, c)) {
                    if (twin_conn_timeout_answer(w, c))
                        conn_kick(w, &u, c); /* the 408, FIN, linger */
                    else
                        conn_kill(w, c);
                }
                c = next;
            }
        }
    }
    /* The ring goes first: it cancels whatever is still in flight. */
    io_uring_queue_exit(&u.ring);
    while (w->conns.next != &w->conns)
        twin_conn_free(w, w->conns.next);
    return 0;
}

const struct twin_engine twin_engine_uring = {
    .name = "uring",
    .run = uring_run,
};
