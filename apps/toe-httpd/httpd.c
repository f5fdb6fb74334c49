/* The HTTP service of toe-httpd (see httpd.h). A connection goes OPEN ->
 * FLUSHING (the session is done: send the rest) -> LINGER (our FIN is out;
 * read and discard until the peer's FIN or linger_ms, so unread data cannot
 * turn our close into a RST that destroys the response, RFC 9112 section 9.6)
 * -> freed. DEAD: the stack's handle is gone but a file read still targets
 * the connection's buffer; freed when it completes.
 *
 * Files are opened synchronously below the root by apps/http/server.c (the
 * kernel twins use it too), so neither ".." nor symlinks leave it; their data
 * is read with IORING_OP_READ and the completions are picked up by
 * httpd_service_poll in the stack's loop. */
#include "apps/toe-httpd/httpd.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS_PER_TURN      64   /* then other connections get a turn (run queue) */
#define SWEEP_MS             100  /* timeout checks */
#define HTTPD_PROGRESS_BYTES 4096 /* output that counts as progress (idle timeout) */

enum { HC_OPEN = 0, HC_FLUSHING, HC_LINGER, HC_DEAD };

struct httpd_conn {
    struct httpd_conn *prev, *next; /* svc->conns */
    struct httpd_conn *runq_next;
    struct httpd_service *svc;
    struct toe_conn *conn; /* NULL once given back to the stack */
    uint8_t phase;
    enum http_step want;
    bool peer_eof;
    bool reading; /* an IORING_OP_READ targets this connection */
    bool in_runq;
    size_t sndbuf_bytes; /* toe_conn_writable() when nothing is queued */
    uint32_t in_off, in_len;
    uint32_t out_off, out_len;
    uint32_t sent_unaccounted; /* sent since active_ms last moved */
    uint64_t req_start_ms;     /* a request is arriving since then; 0: none */
    uint64_t active_ms;        /* last progress */
    uint64_t deadline_ms;      /* LINGER */
    struct http_session s;
    uint8_t in[HTTPD_IN_BYTES];
    uint8_t out[HTTPD_OUT_BYTES];
};

void httpd_config_init(struct httpd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->header_timeout_ms = 10000;
    cfg->idle_timeout_ms = 60000;
    cfg->linger_ms = 2000;
    cfg->max_conns = 10000;
    cfg->cache_entries = 64;
    cfg->cache_max_bytes = 64u << 10;
    cfg->uring_entries = 256;
    cfg->fixed_date_s = -1;
}

int httpd_global_init(struct httpd_global *g, const struct httpd_config *cfg, const char *prog)
{
    struct http_config hc;

    memset(g, 0, sizeof(*g));
    g->cfg = *cfg;
    http_config_init(&hc);
    http_service_init(&g->http, &hc);
    return http_root_open(&g->root, cfg->root, prog);
}

void httpd_global_fini(struct httpd_global *g)
{
    http_root_close(&g->root);
}

/* ------------------------------------------------------------ connections */

static void conn_unlink(struct httpd_conn *hc)
{
    struct httpd_service *svc = hc->svc;

    if (hc->prev)
        hc->prev->next = hc->next;
    else
        svc->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    hc->prev = hc->next = NULL;
}

static void conn_free(struct httpd_conn *hc)
{
    struct httpd_service *svc = hc->svc;

    if (hc->in_runq) {
        hc->phase = HC_DEAD; /* the run queue frees it */
        return;
    }
    http_session_fini(&hc->s);
    conn_unlink(hc);
    svc->nconns--;
    svc->c.open--;
    free(hc);
}

/* The stack's handle is gone (given back or dead); the memory goes once no
 * file read targets it. */
static void conn_release(struct httpd_conn *hc)
{
    hc->conn = NULL;
    hc->phase = HC_DEAD;
    if (!hc->reading)
        conn_free(hc);
}

/* Ends a connection now: FIN if all we queued was acknowledged and nothing
 * is unread (the stack sends RST otherwise), else RST. */
static void conn_kill(struct httpd_conn *hc)
{
    if (hc->conn) {
        if (hc->out_off == hc->out_len && toe_conn_writable(hc->conn) >= hc->sndbuf_bytes)
            toe_close(hc->conn);
        else
            toe_abort(hc->conn);
    }
    conn_release(hc);
}

static void submit_read(struct httpd_conn *hc)
{
    struct httpd_service *svc = hc->svc;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&svc->ring);

    if (!sqe) {
        io_uring_submit(&svc->ring);
        sqe = io_uring_get_sqe(&svc->ring);
    }
    if (!sqe) {
        /* Cannot happen with a drained queue; fail the response safely. */
        struct http_out out = {hc->out, hc->out_len, HTTPD_OUT_BYTES};
        http_session_read_done(&hc->s, &out, -EBUSY);
        hc->out_len = (uint32_t)out.len;
        svc->c.file_read_errors++;
        return;
    }
    io_uring_prep_read(sqe, hc->s.file.fd, hc->s.read_dst, (unsigned)hc->s.read_len_bytes,
                       hc->s.read_off_bytes);
    io_uring_sqe_set_data(sqe, hc);
    hc->reading = true;
    svc->reads_in_flight++;
    svc->sq_pending = true;
}

/* Runs the session once: consumes input, appends output, may ask for a read. */
static bool conn_step(struct httpd_conn *hc)
{
    struct httpd_service *svc = hc->svc;
    struct http_out out;
    size_t used = 0, before;

    if (hc->out_off > 0) {
        memmove(hc->out, hc->out + hc->out_off, hc->out_len - hc->out_off);
        hc->out_len -= hc->out_off;
        hc->out_off = 0;
    }
    out.buf = hc->out;
    out.len = hc->out_len;
    out.cap = HTTPD_OUT_BYTES;
    before = out.len;
    hc->want = http_server_step(&hc->s, hc->in + hc->in_off, hc->in_len - hc->in_off, &used, &out,
                                svc->now_ms, svc->date, &svc->c.requests, &svc->c.errors);
    hc->in_off += (uint32_t)used;
    hc->out_len = (uint32_t)out.len;
    if (hc->want == HTTP_STEP_READ)
        submit_read(hc);
    else if (hc->want == HTTP_STEP_CLOSE)
        hc->phase = HC_FLUSHING;
    /* Header timeout: from when a request starts arriving until complete. */
    if (hc->want == HTTP_STEP_INPUT && http_session_mid_request(&hc->s)) {
        if (!hc->req_start_ms)
            hc->req_start_ms = svc->now_ms ? svc->now_ms : 1;
    } else {
        hc->req_start_ms = 0;
    }
    return used > 0 || out.len != before || hc->want == HTTP_STEP_CLOSE;
}

/* Sends buffered output; false if the connection was ended. */
static bool conn_send(struct httpd_conn *hc, bool *progress)
{
    struct httpd_service *svc = hc->svc;
    size_t len = hc->out_len - hc->out_off;
    ssize_t n;

    if (!len)
        return true;
    n = toe_send(hc->conn, hc->out + hc->out_off, len);
    if (n == -EAGAIN || n == 0) {
        svc->c.output_stalls++;
        return true; /* on_sent brings us back */
    }
    if (n < 0) {
        svc->c.send_errors++;
        toe_abort(hc->conn);
        conn_release(hc);
        return false;
    }
    if ((size_t)n < len)
        svc->c.output_stalls++;
    hc->out_off += (uint32_t)n;
    svc->c.bytes_out += (uint64_t)n;
    /* Progress for the idle timeout: HTTPD_PROGRESS_BYTES, or all we had. A
     * peer that reads a byte now and then (slow read) does not keep the
     * connection. */
    hc->sent_unaccounted += (uint32_t)n;
    if (hc->sent_unaccounted >= HTTPD_PROGRESS_BYTES || hc->out_off == hc->out_len) {
        hc->active_ms = svc->now_ms;
        hc->sent_unaccounted = 0;
    }
    *progress = true;
    return true;
}

/* Reads from the peer; false if the connection was ended. */
static bool conn_recv(struct httpd_conn *hc, bool *progress)
{
    struct httpd_service *svc = hc->svc;
    uint8_t *dst;
    size_t room;
    ssize_t n;

    if (hc->phase == HC_LINGER) {
        dst = svc->discard;
        room = sizeof(svc->discard);
    } else {
        if (hc->in_off > 0) {
            memmove(hc->in, hc->in + hc->in_off, hc->in_len - hc->in_off);
            hc->in_len -= hc->in_off;
            hc->in_off = 0;
        }
        dst = hc->in + hc->in_len;
        room = HTTPD_IN_BYTES - hc->in_len;
    }
    if (!room)
        return true;
    n = toe_recv(hc->conn, dst, room);
    if (n > 0) {
        svc->c.bytes_in += (uint64_t)n;
        hc->active_ms = svc->now_ms;
        if (hc->phase != HC_LINGER)
            hc->in_len += (uint32_t)n;
        *progress = true;
    } else if (n == 0) {
        hc->peer_eof = true;
        if (hc->phase == HC_LINGER) {
            svc->c.closed_orderly++;
            toe_close(hc->conn);
            conn_release(hc);
            return false;
        }
        http_session_eof(&hc->s);
        *progress = true;
    }
    /* -EAGAIN: on_recv comes with more; a reset is reported by on_close. */
    return true;
}

static void runq_push(struct httpd_conn *hc)
{
    if (hc->in_runq)
        return;
    hc->in_runq = true;
    hc->runq_next = hc->svc->runq;
    hc->svc->runq = hc;
}

/* Moves bytes between the stack, the buffers and the session until nothing
 * more can happen now. May free hc. */
static void conn_pump(struct httpd_conn *hc)
{
    struct httpd_service *svc = hc->svc;

    for (int round = 0; round < ROUNDS_PER_TURN; round++) {
        bool progress = false;

        if (hc->phase == HC_DEAD) {
            if (!hc->reading)
                conn_free(hc);
            return;
        }
        if (hc->phase == HC_OPEN && !hc->reading)
            progress = conn_step(hc);
        if (!conn_send(hc, &progress))
            return;
        if (hc->phase == HC_FLUSHING && hc->out_off == hc->out_len && !hc->reading) {
            if (hc->peer_eof) {
                /* Both directions done: our FIN, and the stack finishes. */
                svc->c.closed_by_peer++;
                toe_close(hc->conn);
                conn_release(hc);
                return;
            }
            toe_shutdown(hc->conn);
            hc->phase = HC_LINGER;
            hc->deadline_ms = svc->now_ms + svc->g->cfg.linger_ms;
            progress = true;
        }
        if (!hc->peer_eof && (hc->phase == HC_LINGER || (hc->phase == HC_OPEN && !hc->reading &&
                                                         hc->want == HTTP_STEP_INPUT)))
            if (!conn_recv(hc, &progress))
                return;
        if (!progress)
            return;
    }
    runq_push(hc); /* still busy: continue after the others had a turn */
}

/* -------------------------------------------------------------- callbacks */

static int httpd_on_accept(struct toe_conn *conn, void *listen_ctx)
{
    struct httpd_service *svc = listen_ctx;
    struct httpd_conn *hc;

    if (svc->nconns >= svc->g->cfg.max_conns) {
        svc->c.refused++;
        return -EBUSY; /* the stack answers with RST */
    }
    hc = malloc(sizeof(*hc));
    if (!hc) {
        svc->c.refused++;
        return -ENOMEM;
    }
    memset(hc, 0, offsetof(struct httpd_conn, s));
    hc->svc = svc;
    hc->conn = conn;
    hc->want = HTTP_STEP_INPUT;
    hc->active_ms = svc->now_ms;
    hc->sndbuf_bytes = toe_conn_writable(conn);
    http_server_session_init(&hc->s, &svc->g->http, &svc->g->root, &svc->cache);
    hc->next = svc->conns;
    if (svc->conns)
        svc->conns->prev = hc;
    svc->conns = hc;
    svc->nconns++;
    svc->c.accepted++;
    svc->c.open++;
    toe_conn_set_ctx(conn, hc);
    /* Whole responses are written at once: no reason to wait for ACKs. */
    toe_conn_set_nodelay(conn, true);
    conn_pump(hc); /* data may have come with the handshake's last ACK */
    return 0;
}

static void httpd_on_recv(struct toe_conn *conn, void *ctx)
{
    struct httpd_conn *hc = ctx;

    if (!hc->in_runq)
        conn_pump(hc);
}

static void httpd_on_sent(struct toe_conn *conn, size_t acked_bytes, void *ctx)
{
    struct httpd_conn *hc = ctx;

    if (!hc->in_runq)
        conn_pump(hc);
}

static void httpd_on_close(struct toe_conn *conn, int status, void *ctx)
{
    struct httpd_conn *hc = ctx;
    struct httpd_counters *c = &hc->svc->c;

    if (status == 0)
        c->closed_orderly++;
    else if (status == -ECONNRESET)
        c->closed_reset++;
    else
        c->closed_other++;
    conn_release(hc);
}

/* A bucket move or a class handover takes the connection to another core.
 * What ties it to this core -- a file read in flight on this core's ring, a
 * place on its run queue, an open file or an entry of its cache -- keeps it
 * here (the stack then keeps the flow). Between requests nothing does: the
 * connection leaves this core's list and joins the next core's. */
static int httpd_on_move_out(struct toe_conn *conn, void *ctx)
{
    struct httpd_conn *hc = ctx;
    struct httpd_service *svc = hc->svc;

    (void)conn;
    if (hc->phase != HC_OPEN || hc->reading || hc->in_runq || hc->s.reading ||
        hc->s.file_open || hc->s.centry) {
        svc->c.moves_refused++;
        return -EBUSY;
    }
    conn_unlink(hc);
    svc->nconns--;
    svc->c.open--;
    svc->c.moved_out++;
    hc->svc = NULL;
    return 0;
}

static void httpd_on_move_in(struct toe_conn *conn, void *ctx, void *core_ctx)
{
    struct httpd_conn *hc = ctx;
    struct httpd_service *svc = core_ctx;

    hc->svc = svc;
    http_session_set_cache(&hc->s, &svc->cache);
    hc->next = svc->conns;
    if (svc->conns)
        svc->conns->prev = hc;
    svc->conns = hc;
    svc->nconns++;
    svc->c.open++;
    svc->c.moved_in++;
    hc->active_ms = svc->now_ms;
    hc->conn = conn; /* the handle on this core */
    conn_pump(hc); /* what arrived while it moved */
}

const struct toe_app_ops httpd_ops = {
    .on_accept = httpd_on_accept,
    .on_recv = httpd_on_recv,
    .on_sent = httpd_on_sent,
    .on_close = httpd_on_close,
    .on_move_out = httpd_on_move_out,
    .on_move_in = httpd_on_move_in,
};

/* ----------------------------------------------------------------- service */

int httpd_service_init(struct httpd_service *svc, const struct httpd_global *g)
{
    struct http_cache_config cc;
    int rc;

    memset(svc, 0, offsetof(struct httpd_service, discard));
    svc->g = g;
    svc->date_s = -1;
    http_cache_config_init(&cc);
    cc.entries = g->cfg.cache_entries;
    cc.max_entry_bytes = g->cfg.cache_max_bytes;
    if (http_cache_init(&svc->cache, &cc))
        return -ENOMEM;
    /* A plain ring: its fd polls readable when completions are posted, so the
     * loop's poll() wakes for them like for frames. */
    rc = io_uring_queue_init(g->cfg.uring_entries, &svc->ring, 0);
    if (rc < 0) {
        fprintf(stderr, "toe-httpd: io_uring_queue_init: %s\n", strerror(-rc));
        http_cache_fini(&svc->cache);
        return rc;
    }
    svc->ring_ok = true;
    return 0;
}

static void tick(struct httpd_service *svc, uint64_t now_us)
{
    svc->now_ms = now_us / 1000;
    http_server_date_update(svc->g->cfg.fixed_date_s, &svc->date_s, svc->date);
}

static void read_complete(struct httpd_service *svc, struct httpd_conn *hc, int res)
{
    struct http_out out = {hc->out, hc->out_len, HTTPD_OUT_BYTES};

    svc->reads_in_flight--;
    hc->reading = false;
    svc->c.file_reads++;
    if (hc->phase == HC_DEAD) {
        conn_free(hc);
        return;
    }
    if (res <= 0)
        svc->c.file_read_errors++;
    http_session_read_done(&hc->s, &out, res);
    hc->out_len = (uint32_t)out.len;
    hc->active_ms = svc->now_ms;
    conn_pump(hc);
}

static int reap(struct httpd_service *svc)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;

    io_uring_for_each_cqe(&svc->ring, head, cqe)
    {
        struct httpd_conn *hc = io_uring_cqe_get_data(cqe);
        int res = cqe->res;

        io_uring_cqe_seen(&svc->ring, cqe);
        read_complete(svc, hc, res);
        n++;
    }
    return (int)n;
}

/* Header timeout: queue the session's 408 (RFC 9110 section 15.5.9) and
 * flush like any last response. False if there is none to send (the session
 * is not mid-request, or no room): the caller just ends the connection. */
static bool conn_timeout_408(struct httpd_conn *hc)
{
    struct httpd_service *svc = hc->svc;
    struct http_out out;

    if (hc->phase != HC_OPEN || hc->reading)
        return false;
    if (hc->out_off > 0) {
        memmove(hc->out, hc->out + hc->out_off, hc->out_len - hc->out_off);
        hc->out_len -= hc->out_off;
        hc->out_off = 0;
    }
    out.buf = hc->out;
    out.len = hc->out_len;
    out.cap = HTTPD_OUT_BYTES;
    if (!http_server_timeout(&hc->s, &out, svc->date, &svc->c.requests, &svc->c.errors))
        return false;
    hc->out_len = (uint32_t)out.len;
    hc->want = HTTP_STEP_CLOSE;
    hc->phase = HC_FLUSHING;
    hc->req_start_ms = 0;
    return true;
}

static void sweep(struct httpd_service *svc)
{
    const struct httpd_config *cfg = &svc->g->cfg;
    struct httpd_conn *hc = svc->conns, *next;

    for (; hc; hc = next) {
        next = hc->next;
        if (hc->phase == HC_DEAD || hc->in_runq)
            continue;
        if (hc->phase == HC_LINGER) {
            if (svc->now_ms >= hc->deadline_ms) {
                svc->c.linger_timeouts++;
                toe_close(hc->conn);
                conn_release(hc);
            }
        } else if (hc->req_start_ms && cfg->header_timeout_ms &&
                   svc->now_ms >= hc->req_start_ms + cfg->header_timeout_ms) {
            svc->c.header_timeouts++;
            if (conn_timeout_408(hc))
                runq_push(hc); /* send it, FIN, linger */
            else
                conn_kill(hc);
        } else if (cfg->idle_timeout_ms && !hc->reading &&
                   svc->now_ms >= hc->active_ms + cfg->idle_timeout_ms) {
            svc->c.idle_timeouts++;
            conn_kill(hc);
        }
    }
}

int httpd_service_poll(struct httpd_service *svc, uint64_t now_us)
{
    int work = 0;

    tick(svc, now_us);
    if (svc->sq_pending) {
        svc->sq_pending = false;
        io_uring_submit(&svc->ring);
    }
    work += reap(svc);
    /* Connections that used their turn. */
    struct httpd_conn *q = svc->runq;
    svc->runq = NULL;
    while (q) {
        struct httpd_conn *hc = q;
        q = q->runq_next;
        hc->in_runq = false;
        if (hc->phase == HC_DEAD && !hc->reading)
            conn_free(hc);
        else if (hc->phase != HC_DEAD)
            conn_pump(hc);
        work++;
    }
    if (svc->sq_pending) {
        svc->sq_pending = false;
        io_uring_submit(&svc->ring);
    }
    if (svc->now_ms >= svc->sweep_ms + SWEEP_MS) {
        svc->sweep_ms = svc->now_ms;
        sweep(svc);
    }
    return work + (svc->runq != NULL);
}

int httpd_service_fd(const struct httpd_service *svc)
{
    return svc->ring_ok ? svc->ring.ring_fd : -1;
}

uint64_t httpd_service_next_us(const struct httpd_service *svc)
{
    if (svc->runq || svc->sq_pending)
        return 0;
    if (!svc->conns)
        return UINT64_MAX;
    return (svc->sweep_ms + SWEEP_MS) * 1000;
}

void httpd_service_quiesce(struct httpd_service *svc)
{
    if (!svc->ring_ok)
        return;
    if (svc->sq_pending)
        io_uring_submit(&svc->ring);
    svc->sq_pending = false;
    for (int i = 0; i < 100 && svc->reads_in_flight; i++) {
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe_timeout(&svc->ring, &cqe, &ts) == 0) {
            struct httpd_conn *hc = io_uring_cqe_get_data(cqe);
            io_uring_cqe_seen(&svc->ring, cqe);
            svc->reads_in_flight--;
            hc->reading = false;
            svc->c.file_reads++;
        }
    }
}

void httpd_service_fini(struct httpd_service *svc)
{
    /* The stack is gone: its handles with it. */
    while (svc->conns) {
        struct httpd_conn *hc = svc->conns;
        hc->in_runq = false;
        hc->reading = false;
        conn_free(hc);
    }
    if (svc->ring_ok)
        io_uring_queue_exit(&svc->ring);
    svc->ring_ok = false;
    http_cache_fini(&svc->cache);
}

/* ---------------------------------------------------------------- counters */

void httpd_counters_add(struct httpd_counters *a, const struct httpd_counters *b)
{
    a->accepted += b->accepted;
    a->refused += b->refused;
    a->open += b->open;
    a->requests += b->requests;
    a->errors += b->errors;
    a->bytes_in += b->bytes_in;
    a->bytes_out += b->bytes_out;
    a->output_stalls += b->output_stalls;
    a->file_reads += b->file_reads;
    a->file_read_errors += b->file_read_errors;
    a->closed_by_peer += b->closed_by_peer;
    a->closed_orderly += b->closed_orderly;
    a->closed_reset += b->closed_reset;
    a->closed_other += b->closed_other;
    a->header_timeouts += b->header_timeouts;
    a->idle_timeouts += b->idle_timeouts;
    a->linger_timeouts += b->linger_timeouts;
    a->send_errors += b->send_errors;
    a->moved_out += b->moved_out;
    a->moved_in += b->moved_in;
    a->moves_refused += b->moves_refused;
}

void httpd_counters_print(const struct httpd_counters *c, FILE *out)
{
    fprintf(out, "HttpAccepted %" PRIu64 "\n", c->accepted);
    fprintf(out, "HttpRefused %" PRIu64 "\n", c->refused);
    fprintf(out, "HttpOpen %" PRIu64 "\n", c->open);
    fprintf(out, "HttpRequests %" PRIu64 "\n", c->requests);
    fprintf(out, "HttpErrors %" PRIu64 "\n", c->errors);
    fprintf(out, "HttpBytesIn %" PRIu64 "\n", c->bytes_in);
    fprintf(out, "HttpBytesOut %" PRIu64 "\n", c->bytes_out);
    fprintf(out, "HttpOutputStalls %" PRIu64 "\n", c->output_stalls);
    fprintf(out, "HttpFileReads %" PRIu64 "\n", c->file_reads);
    fprintf(out, "HttpFileReadErrors %" PRIu64 "\n", c->file_read_errors);
    fprintf(out, "HttpClosedByPeer %" PRIu64 "\n", c->closed_by_peer);
    fprintf(out, "HttpClosedOrderly %" PRIu64 "\n", c->closed_orderly);
    fprintf(out, "HttpClosedReset %" PRIu64 "\n", c->closed_reset);
    fprintf(out, "HttpClosedOther %" PRIu64 "\n", c->closed_other);
    fprintf(out, "HttpHeaderTimeouts %" PRIu64 "\n", c->header_timeouts);
    fprintf(out, "HttpIdleTimeouts %" PRIu64 "\n", c->idle_timeouts);
    fprintf(out, "HttpLingerTimeouts %" PRIu64 "\n", c->linger_timeouts);
    fprintf(out, "HttpSendErrors %" PRIu64 "\n", c->send_errors);
    fprintf(out, "HttpMovedOut %" PRIu64 "\n", c->moved_out);
    fprintf(out, "HttpMovedIn %" PRIu64 "\n", c->moved_in);
    fprintf(out, "HttpMovesRefused %" PRIu64 "\n", c->moves_refused);
}
