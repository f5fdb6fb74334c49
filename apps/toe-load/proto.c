/* toe-load's modes on the wire (see load.h): the stack callbacks of a
 * connection slot, what each mode sends when a request is issued, and what
 * received bytes mean: rr, connect and bulk check the echo byte for byte
 * against the seeded stream they sent (tests/tools/pattern.h); http reads
 * response heads (status, Content-Length, Connection: close) and skips the
 * body, one response per request in order (RFC 9112 section 6). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "load_internal.h"

int load_proto_slot_init(struct load_conn *s)
{
    const struct load_config *cfg = s->lc->cfg;

    if (cfg->mode != LOAD_HTTP)
        return 0;
    s->obuf = malloc((size_t)cfg->depth * LOAD_REQ_MAX);
    s->head = malloc(LOAD_HEAD_MAX);
    return s->obuf && s->head ? 0 : -ENOMEM;
}

void load_proto_slot_release(struct load_conn *s)
{
    free(s->obuf);
    free(s->head);
    s->obuf = s->head = NULL;
}

void load_proto_reset(struct load_conn *s)
{
    s->head_len = 0;
    s->in_body = s->resp_close = false;
    s->body_left = 0;
    s->status = 0;
}

/* "GET PATH HTTP/1.1" with Host (and Connection: close): -EINVAL if it does
 * not fit LOAD_REQ_MAX. */
int load_http_request(const struct load_config *cfg, const char *path, char *buf)
{
    int n = snprintf(buf, LOAD_REQ_MAX, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path, cfg->host,
                     cfg->http_close ? "Connection: close\r\n" : "");

    return n > 0 && n < LOAD_REQ_MAX ? n : -EINVAL;
}

void load_proto_request(struct load_conn *s)
{
    const struct load_config *cfg = s->lc->cfg;
    uint32_t path;
    int n;

    if (cfg->mode != LOAD_HTTP) {
        s->tx_target += cfg->size_bytes;
        return;
    }
    if (s->ooff) { /* keep what is unsent at the front: room for depth requests */
        memmove(s->obuf, s->obuf + s->ooff, s->olen - s->ooff);
        s->olen -= s->ooff;
        s->ooff = 0;
    }
    path = (uint32_t)((s->gen + s->sent - 1 + (uint64_t)(s - s->lc->slots)) % cfg->n_paths);
    n = load_http_request(cfg, cfg->paths[path], s->obuf + s->olen); /* checked at start */
    s->olen += (uint32_t)n;
}

/* rr, connect, bulk both: the echo must be the stream we sent. Returns -1
 * when the slot's connection is gone (done or failed). */
static int consume_echo(struct load_conn *s, const uint8_t *buf, size_t n, uint64_t now)
{
    struct load_core *lc = s->lc;
    uint64_t size = lc->cfg->size_bytes;

    if (s->rx_off + n > s->tx_off || pattern_check(s->key, s->rx_off, buf, n, lc->expect) >= 0) {
        load_slot_fail(s, &lc->c.err.verify, now);
        return -1;
    }
    s->rx_off += n;
    if (lc->cfg->mode == LOAD_BULK) {
        if (s->rx_off < size)
            return 0;
        load_slot_complete(s, now);
        load_slot_finish(s);
        return -1;
    }
    while (s->done < s->sent && s->rx_off >= (s->done + 1) * size)
        load_slot_complete(s, now);
    if (lc->cfg->mode == LOAD_CONNECT && s->done == s->sent) {
        load_slot_finish(s);
        return -1;
    }
    return 0;
}

/* A response head: status line and the fields we need. 0 or -1. */
static int parse_head(struct load_conn *s)
{
    char *p = s->head, *end = s->head + s->head_len, *eol;
    bool have_len = false;

    if (s->head_len < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
        !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
        !isdigit((unsigned char)p[11]))
        return -1;
    s->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    s->resp_close = p[7] == '0'; /* HTTP/1.0: close unless keep-alive (not asked) */
    for (p = memchr(p, '\n', (size_t)(end - p)) + 1; p < end; p = eol + 1) {
        char *colon, *v;

        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol || eol - p <= 1)
            break; /* the blank line */
        *eol = '\0';
        colon = strchr(p, ':');
        if (!colon)
            return -1;
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            ;
        if (strcasecmp(p, "content-length") == 0) {
            char *e;
            s->body_left = strtoull(v, &e, 10);
            if (e == v || (*e != '\r' && *e != '\0'))
                return -1;
            have_len = true;
        } else if (strcasecmp(p, "transfer-encoding") == 0) {
            return -1; /* chunked: not supported, and a server we test never sends it */
        } else if (strcasecmp(p, "connection") == 0 && strncasecmp(v, "close", 5) == 0) {
            s->resp_close = true;
        }
    }
    if (!have_len) {
        if (s->status == 204 || s->status == 304 || s->status / 100 == 1)
            s->body_left = 0;
        else
            return -1; /* close-delimited body: cannot tell a cut from the end */
    }
    return 0;
}

static int consume_http(struct load_conn *s, const uint8_t *buf, size_t n, uint64_t now)
{
    struct load_core *lc = s->lc;

    while (n) {
        size_t take;

        if (!s->in_body) {
            bool found = false;
            while (n && !found) {
                if (s->head_len == LOAD_HEAD_MAX) {
                    load_slot_fail(s, &lc->c.err.http_parse, now);
                    return -1;
                }
                s->head[s->head_len++] = (char)*buf++;
                n--;
                found = s->head_len >= 4 && memcmp(s->head + s->head_len - 4, "\r\n\r\n", 4) == 0;
            }
            if (!found)
                return 0;
            if (s->done == s->sent || parse_head(s) < 0) {
                load_slot_fail(s, &lc->c.err.http_parse, now);
                return -1;
            }
            s->in_body = true;
        }
        take = n < s->body_left ? n : (size_t)s->body_left;
        s->body_left -= take;
        buf += take;
        n -= take;
        if (s->body_left)
            return 0;
        if (s->status / 100 != 2)
            lc->c.err.http_status++;
        load_slot_complete(s, now);
        s->in_body = false;
        s->head_len = 0;
        if (s->resp_close || lc->cfg->http_close) {
            if (n || s->done != s->sent)
                lc->c.err.closed += s->sent - s->done + (n ? 1 : 0);
            load_slot_finish(s); /* a keep-alive slot reconnects at its next kick */
            return -1;
        }
    }
    return 0;
}

/* The peer's FIN. */
static void on_fin(struct load_conn *s, uint64_t now)
{
    struct load_core *lc = s->lc;
    const struct load_config *cfg = lc->cfg;

    if (cfg->mode == LOAD_BULK && cfg->bulk_dir != LOAD_BULK_BOTH && s->tx_off == s->tx_target) {
        load_slot_complete(s, now); /* send: the server has it all; recv: all came */
        load_slot_finish(s);
    } else if (cfg->mode != LOAD_BULK && cfg->mode != LOAD_CONNECT && s->sent == s->done &&
               !s->olen && !s->head_len && s->tx_off == s->tx_target) {
        load_slot_finish(s); /* an idle keep-alive connection closed: reconnect */
    } else {
        load_slot_fail(s, &lc->c.err.closed, now);
    }
}

static void on_connect(struct toe_conn *conn, int status, void *ctx)
{
    struct load_conn *s = ctx;
    struct load_core *lc = s->lc;
    const struct load_config *cfg = lc->cfg;
    uint64_t now = load_now_ns();

    if (status < 0) {
        s->conn = NULL; /* dead after this callback */
        load_slot_fail(s,
                       status == -ECONNREFUSED ? &lc->c.err.refused
                       : status == -ETIMEDOUT  ? &lc->c.err.connect_timeout
                       : (status == -ENETUNREACH || status == -EHOSTUNREACH)
                           ? &lc->c.err.unreachable
                           : &lc->c.err.connect_other,
                       now);
        return;
    }
    s->open = true;
    s->last_progress_ns = now;
    lc->c.established++;
    if (cfg->mode != LOAD_BULK)
        toe_conn_set_nodelay(conn, true);
    if (lc->phase == LOAD_PRIME)
        return; /* the primer: the run starts at the next poll */
    switch (cfg->mode) {
    case LOAD_RR:
        load_slot_kick(s, now);
        return;
    case LOAD_HTTP:
        if (cfg->http_close)
            load_proto_request(s); /* issued when the connection was opened */
        else
            load_slot_kick(s, now);
        break;
    case LOAD_CONNECT:
        s->tx_target = cfg->size_bytes;
        break;
    case LOAD_BULK:
        s->tx_target = cfg->bulk_dir == LOAD_BULK_RECV ? 0 : cfg->size_bytes;
        s->shut_after_tx = true;
        break;
    }
    load_slot_pump(s);
}

static void on_recv(struct toe_conn *conn, void *ctx)
{
    struct load_conn *s = ctx;
    struct load_core *lc = s->lc;
    uint64_t now = load_now_ns();
    bool measured = now >= lc->t_measure_ns && now < lc->t_end_ns;

    while (s->conn == conn) {
        ssize_t n = toe_recv(conn, lc->scratch, LOAD_SCRATCH_BYTES);
        int rc = 0;

        if (n == -EAGAIN)
            break;
        if (n == 0) {
            on_fin(s, now);
            break;
        }
        if (n < 0) {
            load_slot_fail(s, &lc->c.err.reset, now);
            break;
        }
        lc->c.bytes_received += (uint64_t)n;
        if (measured)
            lc->c.bytes_measured += (uint64_t)n;
        s->last_progress_ns = now;
        if (lc->cfg->mode == LOAD_HTTP)
            rc = consume_http(s, lc->scratch, (size_t)n, now);
        else if (lc->cfg->mode != LOAD_BULK || lc->cfg->bulk_dir == LOAD_BULK_BOTH)
            rc = consume_echo(s, lc->scratch, (size_t)n, now);
        if (rc < 0)
            break;
    }
    load_slot_kick(s, now);
}

static void on_sent(struct toe_conn *conn, size_t acked_bytes, void *ctx)
{
    struct load_conn *s = ctx;

    (void)conn;
    (void)acked_bytes;
    s->last_progress_ns = load_now_ns();
    load_slot_pump(s);
}

static void on_close(struct toe_conn *conn, int status, void *ctx)
{
    struct load_conn *s = ctx;
    struct load_errors *e = &s->lc->c.err;

    (void)conn;
    s->conn = NULL; /* dead after this callback */
    load_slot_fail(s,
                   status == -ECONNRESET  ? &e->reset
                   : status == -ETIMEDOUT ? &e->response_timeout
                                          : &e->closed,
                   load_now_ns());
}

const struct toe_app_ops load_ops = {
    .on_connect = on_connect,
    .on_recv = on_recv,
    .on_sent = on_sent,
    .on_close = on_close,
};
