/* The echo service of toe-echo (see echo.h). Backpressure: a connection reads
 * at most what its send buffer can take now (toe_conn_writable); if toe_send
 * still takes less than was read, the rest waits in a small per-connection
 * buffer and the connection is not read again until on_sent has flushed it.
 * So memory per connection stays bounded whatever the peer does, and a peer
 * that does not read its echo sees our receive window close (RFC 9293 3.8.6). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "echo.h"

struct echo_conn {
    struct echo_service *svc;
    struct echo_conn *prev, *next; /* svc->conns */
    uint8_t *pending;    /* read but not yet taken by toe_send (lazily allocated) */
    size_t pending_off, pending_len;
};

/* Takes ec off its service's list (the service of the core that owns it). */
static void echo_conn_unlink(struct echo_conn *ec)
{
    if (ec->prev)
        ec->prev->next = ec->next;
    else
        ec->svc->conns = ec->next;
    if (ec->next)
        ec->next->prev = ec->prev;
    ec->prev = ec->next = NULL;
    ec->svc->c.open--;
}

static void echo_conn_link(struct echo_service *svc, struct echo_conn *ec)
{
    ec->svc = svc;
    ec->prev = NULL;
    ec->next = svc->conns;
    if (svc->conns)
        svc->conns->prev = ec;
    svc->conns = ec;
    svc->c.open++;
}

static void echo_conn_free(struct echo_conn *ec)
{
    echo_conn_unlink(ec);
    free(ec->pending);
    free(ec);
}

/* Stashes bytes toe_send did not take; returns -ENOMEM if it cannot. */
static int echo_stash(struct echo_conn *ec, const uint8_t *buf, size_t len)
{
    if (!ec->pending) {
        ec->pending = malloc(ECHO_SCRATCH_BYTES);
        if (!ec->pending)
            return -ENOMEM;
    }
    memcpy(ec->pending, buf, len);
    ec->pending_off = 0;
    ec->pending_len = len;
    return 0;
}

/* The send side failed for good: reset the connection and forget it. */
static void echo_fail(struct toe_conn *conn, struct echo_conn *ec)
{
    ec->svc->c.send_errors++;
    toe_abort(conn);
    echo_conn_free(ec);
}

/* Moves as much as possible from the receive side to the send side. Returns
 * when the connection has nothing more to read, cannot send more, or ended. */
static void echo_pump(struct toe_conn *conn, struct echo_conn *ec)
{
    struct echo_service *svc = ec->svc;

    for (;;) {
        size_t room, want;
        ssize_t n, s;

        if (ec->pending_len) {
            s = toe_send(conn, ec->pending + ec->pending_off, ec->pending_len);
            if (s == -EAGAIN)
                return; /* on_sent brings us back */
            if (s < 0) {
                echo_fail(conn, ec);
                return;
            }
            svc->c.bytes_echoed += (uint64_t)s;
            ec->pending_off += (size_t)s;
            ec->pending_len -= (size_t)s;
            if (ec->pending_len)
                return;
            svc->c.resumes++;
        }
        room = toe_conn_writable(conn);
        if (room == 0)
            return; /* send buffer full of unacked data: on_sent comes */
        want = room < ECHO_SCRATCH_BYTES ? room : ECHO_SCRATCH_BYTES;
        n = toe_recv(conn, svc->scratch, want);
        if (n == -EAGAIN)
            return;
        if (n == 0) {
            /* Peer FIN and everything echoed: our FIN follows the data. */
            svc->c.closed_by_peer++;
            toe_close(conn);
            echo_conn_free(ec);
            return;
        }
        if (n < 0)
            return; /* reset or dead: on_close reports it */
        s = toe_send(conn, svc->scratch, (size_t)n);
        if (s == -EAGAIN)
            s = 0;
        if (s < 0) {
            echo_fail(conn, ec);
            return;
        }
        svc->c.bytes_echoed += (uint64_t)s;
        if (s < n) {
            svc->c.stalls++;
            if (echo_stash(ec, svc->scratch + s, (size_t)(n - s)) < 0)
                echo_fail(conn, ec);
            return;
        }
    }
}

static int echo_on_accept(struct toe_conn *conn, void *listen_ctx)
{
    struct echo_service *svc = listen_ctx;
    struct echo_conn *ec = calloc(1, sizeof(*ec));

    if (!ec) {
        svc->c.rejected_nomem++;
        return -ENOMEM; /* the stack answers with RST */
    }
    echo_conn_link(svc, ec);
    svc->c.accepted++;
    toe_conn_set_ctx(conn, ec);
    /* Data may have come with the handshake's last ACK. */
    echo_pump(conn, ec);
    return 0;
}

static void echo_on_recv(struct toe_conn *conn, void *ctx)
{
    echo_pump(conn, ctx);
}

static void echo_on_sent(struct toe_conn *conn, size_t acked_bytes, void *ctx)
{
    echo_pump(conn, ctx);
}

static void echo_on_close(struct toe_conn *conn, int status, void *ctx)
{
    struct echo_conn *ec = ctx;
    struct echo_counters *c = &ec->svc->c;

    if (status == 0)
        c->closed_orderly++;
    else if (status == -ECONNRESET)
        c->closed_reset++;
    else if (status == -ETIMEDOUT)
        c->closed_timeout++;
    else
        c->closed_other++;
    echo_conn_free(ec);
}

/* A bucket move takes the connection to another core: it leaves this
 * core's service (on the old core's thread) and joins the new core's
 * (core_ctx, on the new core's thread). ec itself travels as the ctx. */
static int echo_on_move_out(struct toe_conn *conn, void *ctx)
{
    struct echo_conn *ec = ctx;

    (void)conn;
    ec->svc->c.moved_out++;
    echo_conn_unlink(ec);
    return 0;
}

static void echo_on_move_in(struct toe_conn *conn, void *ctx, void *core_ctx)
{
    struct echo_conn *ec = ctx;
    struct echo_service *svc = core_ctx;

    echo_conn_link(svc, ec);
    svc->c.moved_in++;
    echo_pump(conn, ec); /* what arrived while it moved */
}

const struct toe_app_ops echo_ops = {
    .on_accept = echo_on_accept,
    .on_recv = echo_on_recv,
    .on_sent = echo_on_sent,
    .on_close = echo_on_close,
    .on_move_out = echo_on_move_out,
    .on_move_in = echo_on_move_in,
};

void echo_service_init(struct echo_service *svc)
{
    memset(&svc->c, 0, sizeof(svc->c));
    svc->conns = NULL;
}

void echo_service_release(struct echo_service *svc)
{
    while (svc->conns)
        echo_conn_free(svc->conns);
}

void echo_counters_add(struct echo_counters *a, const struct echo_counters *b)
{
    a->accepted += b->accepted;
    a->rejected_nomem += b->rejected_nomem;
    a->open += b->open;
    a->closed_by_peer += b->closed_by_peer;
    a->closed_orderly += b->closed_orderly;
    a->closed_reset += b->closed_reset;
    a->closed_timeout += b->closed_timeout;
    a->closed_other += b->closed_other;
    a->bytes_echoed += b->bytes_echoed;
    a->stalls += b->stalls;
    a->resumes += b->resumes;
    a->send_errors += b->send_errors;
    a->moved_out += b->moved_out;
    a->moved_in += b->moved_in;
}

void echo_counters_print(const struct echo_counters *c, FILE *out)
{
    fprintf(out, "EchoAccepted %" PRIu64 "\n", c->accepted);
    fprintf(out, "EchoRejectedNoMem %" PRIu64 "\n", c->rejected_nomem);
    fprintf(out, "EchoOpen %" PRIu64 "\n", c->open);
    fprintf(out, "EchoClosedByPeer %" PRIu64 "\n", c->closed_by_peer);
    fprintf(out, "EchoClosedOrderly %" PRIu64 "\n", c->closed_orderly);
    fprintf(out, "EchoClosedReset %" PRIu64 "\n", c->closed_reset);
    fprintf(out, "EchoClosedTimeout %" PRIu64 "\n", c->closed_timeout);
    fprintf(out, "EchoClosedOther %" PRIu64 "\n", c->closed_other);
    fprintf(out, "EchoBytes %" PRIu64 "\n", c->bytes_echoed);
    fprintf(out, "EchoStalls %" PRIu64 "\n", c->stalls);
    fprintf(out, "EchoResumes %" PRIu64 "\n", c->resumes);
    fprintf(out, "EchoSendErrors %" PRIu64 "\n", c->send_errors);
    fprintf(out, "EchoMovedOut %" PRIu64 "\n", c->moved_out);
    fprintf(out, "EchoMovedIn %" PRIu64 "\n", c->moved_in);
}
