/* Stateful fuzz target: the input is a program run against one stack on the
 * in-memory port, the other end of which is this script (it answers ARP and
 * injects whatever the program says). Operations: inject a TCP segment
 * (flags, sequence and acknowledgment numbers relative to what either side
 * sent or absolute, window, options, payload, optionally a corrupted byte),
 * app calls (listen, unlisten, connect, send, recv, shutdown, close, abort,
 * nodelay) and time (small steps, hours, the next timer). After every step:
 *  - every frame the stack emitted parses with valid checksums, is ARP or TCP
 *    from our addresses, has a legal flag mix, carries at most the MSS the
 *    script offered, and its data ends inside the window the script
 *    advertised (plus one byte for a zero-window probe);
 *  - nothing but a SYN follows a RST on a tuple until the script speaks there
 *    again;
 *  - every connection has SND.UNA <= SND.NXT, a valid state, buffers within
 *    their capacity, a retransmission, probe or persist timer while it owes
 *    data, a FIN or a SYN (tcp_conn_timer_missing); flows <= max_flows; pool pages in use <= what the live
 *    buffers can hold and <= max_flows x (largest send + receive buffer);
 * and at the end, with every handle aborted and hours of virtual time, no
 * flow and no page may remain; then the stack is destroyed (LSan checks the
 * rest). The first input byte picks the configuration (options, CC, ...). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <toe/port_mem.h>
#include <toe/toe.h>

#include "sockmem/pool.h"
#include "tests/fuzz/fuzz.h"
#include "toe/stack_internal.h"
#include "toe/tcp/tcp_conn.h"
#include "toe/wire/wire.h"

#define STACK_IP 0x0a000001u
#define PEER_IP0 0x0a000002u
#define PEER_IP1 0x0a000003u
#define MAX_FLOWS 8
#define BUF_BYTES 16384
#define MAX_HANDLES 8
#define MAX_TUPLES 32
#define MAX_OPS 400
#define FRAME_CAP 2048

static const uint8_t mac_stack[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t mac_peer[6] = {0x02, 0, 0, 0, 0, 0x0b};

/* What the script knows about one 4-tuple (one incarnation at a time). */
struct tup {
    uint32_t peer_ip;
    uint16_t peer_port, stack_port;
    /* The stack's side, from what it sent. */
    bool have_isn;
    uint32_t stack_isn, stack_max; /* ISN, highest sequence sent + 1 */
    bool have_ack;
    uint32_t stack_ack;            /* latest ACK the stack sent */
    uint32_t stack_tsval;
    bool after_rst;                /* the stack's last segment here was a RST */
    /* The script's side. */
    uint32_t peer_isn, peer_nxt, isn_next;
    uint8_t ws_max;                /* largest window scale offered (clamped 14) */
    uint16_t mss_max;              /* largest MSS offered, 0 = none */
    bool have_edge;
    uint32_t edge;                 /* largest ACK + scaled window advertised */
    uint32_t syn_wnd;              /* largest window of a SYN without ACK */
    bool have_syn_wnd;
    /* How far the script's sequence space reaches, relative to the IRS of
     * the stack's connection (the stack may not acknowledge beyond it). */
    uint32_t last_end;             /* end of the segment injected last */
    bool have_last_end;
    uint32_t rel_irs, max_rel;     /* max (end - IRS) seen for this IRS */
    bool have_rel;
};

struct handle {
    struct toe_conn *c;
    bool live;
    uint64_t sent, rcvd; /* stream offsets written / read by the app */
};

/* Content of the streams, a pure function of the position, so every
 * retransmission, overlap and reassembly can be checked byte for byte. The
 * stack's stream: by offset from its ISN + 1 (what the app wrote). The
 * script's: by sequence number. */
static uint8_t app_byte(uint64_t off)
{
    return (uint8_t)(off * 131 + (off >> 8) + 7);
}

static uint8_t peer_byte(uint32_t seq)
{
    return (uint8_t)(seq * 7 + (seq >> 9) + 1);
}

struct fz {
    struct port *pa, *pb;
    struct toe_stack *s;
    uint64_t now;
    struct tup tup[MAX_TUPLES];
    uint32_t ntup;
    struct handle h[MAX_HANDLES];
    bool auto_read;
    uint32_t frames_checked;
    uint8_t frame[FRAME_CAP];
    uint8_t payload[FRAME_CAP];
    uint8_t io[65536];
};

static struct fz *g; /* the callbacks find the world here */
static int g_verbose;  /* TOE_FUZZ_TRACE=1: print every step (reproducing) */

static void trace_seg(const char *dir, uint32_t peer_ip, uint16_t peer_port, uint16_t stack_port,
                      uint8_t f, uint32_t seq, uint32_t ack, uint16_t wnd, uint32_t len,
                      const struct tcp_options *o)
{
    if (!g_verbose)
        return;
    fprintf(stderr, "%10.6f %s %u.%u:%u stack:%u [%s%s%s%s%s] seq %u ack %u win %u len %u",
            (double)g->now / 1e6, dir, (peer_ip >> 8) & 255, peer_ip & 255, peer_port,
            stack_port, (f & TCP_FLAG_SYN) ? "S" : "", (f & TCP_FLAG_FIN) ? "F" : "",
            (f & TCP_FLAG_RST) ? "R" : "", (f & TCP_FLAG_PSH) ? "P" : "",
            (f & TCP_FLAG_ACK) ? "." : "", seq, ack, wnd, len);
    if (o->present & TCP_OPTF_MSS)
        fprintf(stderr, " mss %u", o->mss);
    if (o->present & TCP_OPTF_WSCALE)
        fprintf(stderr, " ws %u", o->wscale);
    if (o->present & TCP_OPTF_SACK_PERM)
        fprintf(stderr, " sackok");
    if (o->present & TCP_OPTF_TS)
        fprintf(stderr, " ts %u/%u", o->ts_val, o->ts_ecr);
    for (unsigned i = 0; i < o->sack_count; i++)
        fprintf(stderr, " sack %u-%u", o->sack[i].start, o->sack[i].end);
    fputc('\n', stderr);
}

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_tcp_stateful: invariant failed: %s\n  ", #cond); \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n  (virtual time %llu us)\n", (unsigned long long)g->now); \
            if (g->s)                                                          \
                toe_stack_conns_print(g->s, stderr);                           \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* ---- input reader ---- */

struct rd {
    const uint8_t *p;
    size_t n, i;
};

static uint8_t u8(struct rd *r)
{
    return r->i < r->n ? r->p[r->i++] : 0;
}

static uint16_t u16(struct rd *r)
{
    uint16_t hi = u8(r);
    return (uint16_t)(hi << 8 | u8(r));
}

static uint32_t u32(struct rd *r)
{
    uint32_t hi = u16(r);
    return hi << 16 | u16(r);
}

/* ---- tuples ---- */

static struct tup *tup_find(uint32_t peer_ip, uint16_t peer_port, uint16_t stack_port,
                            bool create)
{
    for (uint32_t i = 0; i < g->ntup; i++) {
        struct tup *t = &g->tup[i];
        if (t->peer_ip == peer_ip && t->peer_port == peer_port && t->stack_port == stack_port)
            return t;
    }
    if (!create || g->ntup == MAX_TUPLES)
        return NULL;
    struct tup *t = &g->tup[g->ntup++];
    memset(t, 0, sizeof(*t));
    t->peer_ip = peer_ip;
    t->peer_port = peer_port;
    t->stack_port = stack_port;
    t->isn_next = 0x10000000u * (g->ntup & 7) + 1000;
    return t;
}

/* The right edge (exclusive) the stack may send up to on t. */
static bool tup_allowed_end(const struct tup *t, uint32_t *end)
{
    bool have = false;
    uint32_t e = 0;
    if (t->have_edge) {
        e = t->edge;
        have = true;
    }
    if (t->have_syn_wnd && t->have_isn) {
        uint32_t se = t->stack_isn + 1 + t->syn_wnd;
        if (!have || seq_gt(se, e))
            e = se;
        have = true;
    }
    *end = e;
    return have;
}

/* ---- frames from the stack ---- */

static void answer_arp(const struct arp_view *a)
{
    if (a->op != WIRE_ARP_OP_REQUEST || (a->tpa != PEER_IP0 && a->tpa != PEER_IP1))
        return;
    struct arp_emit e = {.op = WIRE_ARP_OP_REPLY, .spa = a->tpa, .tpa = a->spa};
    memcpy(e.eth_src, mac_peer, 6);
    memcpy(e.eth_dst, a->sha, 6);
    memcpy(e.sha, mac_peer, 6);
    memcpy(e.tha, a->sha, 6);
    int n = wire_emit_arp(g->frame, sizeof(g->frame), &e);
    FUZZ_CHECK(n > 0);
    port_mem_send_raw(g->pb, g->frame, (uint32_t)n);
}

/* The engine's connection on t, if it has one with a known IRS. */
static struct tcp_conn *tup_conn(const struct tup *t)
{
    struct toe_core *core = g->s->cores[0];
    struct flow_key key = {.laddr = STACK_IP, .raddr = t->peer_ip, .lport = t->stack_port,
                           .rport = t->peer_port};
    uint32_t id = flow_table_lookup(&core->flows, &key);
    if (id == FLOW_ID_NONE)
        return NULL;
    struct toe_conn *c = flow_table_data(&core->flows, id);
    if (!c->tcp_live)
        return NULL;
    struct tcp_conn *tc = toe_conn_tcp(c);
    enum tcp_state st = tcp_conn_state(tc);
    if (st == TCP_CLOSED || st == TCP_LISTEN || st == TCP_SYN_SENT)
        return NULL;
    return tc;
}

/* After an injected segment was processed: remember how far it reached. */
static void tup_note_reach(struct tup *t)
{
    struct tcp_conn *tc = t->have_last_end ? tup_conn(t) : NULL;
    if (!tc)
        return;
    uint32_t rel = t->last_end - tc->irs;
    if (rel >= 0x80000000u)
        return;
    if (!t->have_rel || t->rel_irs != tc->irs) {
        t->have_rel = true;
        t->rel_irs = tc->irs;
        t->max_rel = rel;
    } else if (rel > t->max_rel) {
        t->max_rel = rel;
    }
}

static void check_tcp(const struct frame_view *v)
{
    const struct tcp_view *h = &v->tcp;
    uint8_t f = h->flags;

    CHECK(v->ip.src == STACK_IP, "source %08x", v->ip.src);
    CHECK(v->ip.dst == PEER_IP0 || v->ip.dst == PEER_IP1, "destination %08x", v->ip.dst);
    CHECK(memcmp(v->eth.src, mac_stack, 6) == 0 && memcmp(v->eth.dst, mac_peer, 6) == 0,
          "MAC addresses");
    CHECK(h->sport && h->dport, "port zero");
    CHECK(!((f & TCP_FLAG_SYN) && (f & (TCP_FLAG_FIN | TCP_FLAG_RST))), "flags %02x", f);
    CHECK(!((f & TCP_FLAG_RST) && h->payload_len), "RST with %u bytes of data", h->payload_len);
    CHECK((f & TCP_FLAG_ACK) || (f & (TCP_FLAG_SYN | TCP_FLAG_RST)),
          "segment without ACK: flags %02x", f);
    CHECK(!(f & TCP_FLAG_SYN) || h->payload_len == 0, "data on a SYN");

    trace_seg("stack>", v->ip.dst, h->dport, h->sport, f, h->seq, h->ack, h->window,
              h->payload_len, &h->opts);
    struct tup *t = tup_find(v->ip.dst, h->dport, h->sport, true);
    if (!t)
        return; /* table full: no window tracking for this one */
    if (t->after_rst)
        CHECK(f & (TCP_FLAG_SYN | TCP_FLAG_RST),
              "segment (flags %02x seq %u len %u) after a RST on %u->%u", f, h->seq,
              h->payload_len, h->sport, h->dport);
    t->after_rst = (f & TCP_FLAG_RST) != 0;

    if (f & TCP_FLAG_SYN) {
        if (!t->have_isn || t->stack_isn != h->seq) {
            /* A new incarnation: the old window no longer applies. */
            t->have_isn = true;
            t->stack_isn = h->seq;
            t->stack_max = h->seq + 1;
            t->have_edge = false;
            t->have_ack = false;
            if (!(f & TCP_FLAG_ACK)) /* our active open: a SYN from us */
                t->have_syn_wnd = false;
        }
        if (h->opts.present & TCP_OPTF_MSS)
            CHECK(h->opts.mss >= 64, "MSS option %u", h->opts.mss);
    }
    if (f & TCP_FLAG_ACK) {
        t->have_ack = true;
        t->stack_ack = h->ack;
        /* Never acknowledge sequence space the script did not send. */
        struct tcp_conn *tc = tup_conn(t);
        if (tc && !(f & TCP_FLAG_SYN)) {
            uint32_t reach = 0, rel_ack = h->ack - tc->irs;
            bool known = false;
            if (t->have_rel && t->rel_irs == tc->irs) {
                reach = t->max_rel;
                known = true;
            }
            if (t->have_last_end && t->last_end - tc->irs < 0x80000000u &&
                (!known || t->last_end - tc->irs > reach)) {
                reach = t->last_end - tc->irs;
                known = true;
            }
            CHECK(known && rel_ack <= reach,
                  "ACK %u is IRS + %u, the script's segments reach IRS + %u%s", h->ack, rel_ack,
                  reach, known ? "" : " (nothing known)");
        }
    }
    if (h->opts.present & TCP_OPTF_TS)
        t->stack_tsval = h->opts.ts_val;
    if (h->payload_len) {
        /* Deliberate floors: the engine raises an offered MSS below 64 to 64
         * (tcp_input.c, like Linux's tcp_min_snd_mss) and a SYN cookie
         * encodes at least the table's smallest entry, 536 (as Linux). */
        uint32_t mss = t->mss_max > 536 ? t->mss_max : 536;
        CHECK(h->payload_len <= mss, "%u bytes of data, peer MSS %u", h->payload_len, mss);
        uint32_t end = h->seq + h->payload_len, allowed;
        CHECK(tup_allowed_end(t, &allowed), "data (seq %u len %u) before any window",
              h->seq, h->payload_len);
        CHECK(seq_leq(end, allowed + 1),
              "data [%u, %u) beyond the advertised right edge %u (ISN %u)", h->seq, end,
              allowed, t->stack_isn);
        if (t->have_isn) {
            CHECK(seq_gt(h->seq, t->stack_isn), "data at seq %u <= ISN %u", h->seq,
                  t->stack_isn);
            uint32_t off = h->seq - t->stack_isn - 1;
            for (uint32_t k = 0; k < h->payload_len; k++)
                CHECK(h->payload[k] == app_byte((uint64_t)off + k),
                      "byte at stream offset %u (seq %u) is %u, the app wrote %u", off + k,
                      h->seq + k, h->payload[k], app_byte((uint64_t)off + k));
        }
    }
    uint32_t end = h->seq + h->payload_len + ((f & TCP_FLAG_FIN) ? 1 : 0);
    if (t->have_isn && !(f & TCP_FLAG_RST) && seq_gt(end, t->stack_max))
        t->stack_max = end;
}

static uint32_t drain_frames(void)
{
    struct frame_view v;
    uint32_t n = 0;
    for (;;) {
        int len = port_mem_recv_raw(g->pb, g->frame, sizeof(g->frame));
        if (len == 0)
            break;
        CHECK(len > 0, "frame larger than %d bytes", FRAME_CAP);
        n++;
        g->frames_checked++;
        enum wire_err err = wire_parse_frame(g->frame, (uint32_t)len, 0, &v);
        CHECK(err == WIRE_OK, "emitted frame does not parse: error %d, %d bytes", (int)err, len);
        switch (v.kind) {
        case WIRE_FRAME_ARP:
            CHECK(v.arp.spa == STACK_IP, "ARP from %08x", v.arp.spa);
            answer_arp(&v.arp);
            break;
        case WIRE_FRAME_TCP:
            check_tcp(&v);
            break;
        default:
            CHECK(0, "unexpected frame kind %d", (int)v.kind);
        }
    }
    return n;
}

/* ---- invariants over the whole stack ---- */

static void check_stack(void)
{
    struct toe_core *core = g->s->cores[0];
    const struct tcp_config *cfg = &core->eng.cfg;
    size_t page = sockmem_pool_page_bytes(core->pool), pages_bound = 0;
    uint32_t live = 0;

    CHECK(toe_stack_flow_count(g->s) <= MAX_FLOWS, "%u flows", toe_stack_flow_count(g->s));
    CHECK(core->eng.nconns <= MAX_FLOWS, "%u engine connections", core->eng.nconns);
    for (uint32_t id = 0; id < flow_table_id_end(&core->flows); id++) {
        if (!flow_table_valid(&core->flows, id))
            continue;
        struct toe_conn *c = flow_table_data(&core->flows, id);
        if (!c->tcp_live)
            continue;
        struct tcp_conn *tc = toe_conn_tcp(c);
        struct tcp_conn_info ti;
        tcp_conn_info(tc, &ti);
        live++;
        CHECK(ti.state < TCP_STATE_COUNT && ti.state != TCP_LISTEN, "state %d", (int)ti.state);
        CHECK(seq_leq(ti.snd_una, ti.snd_nxt), "flow %u (%s): SND.UNA %u > SND.NXT %u", id,
              tcp_state_name(ti.state), ti.snd_una, ti.snd_nxt);
        CHECK(seq_leq(ti.snd_nxt, tc->snd_max), "flow %u: SND.NXT %u > SND.MAX %u", id,
              ti.snd_nxt, tc->snd_max);
        if (ti.state != TCP_CLOSED)
            CHECK(ti.ooo_ranges <= cfg->ooo_max_ranges, "flow %u: %u out-of-order ranges", id,
                  ti.ooo_ranges);
        const char *owed = tcp_conn_timer_missing(tc);
        CHECK(!owed, "flow %u (%s): %s owed and no retransmission or persist timer", id,
              tcp_state_name(ti.state), owed);
        if (tc->bufs_ready) {
            size_t scap = sndbuf_capacity_bytes(&tc->snd), rcap = rcvbuf_capacity_bytes(&tc->rcv);
            CHECK(scap <= cfg->sndbuf_max_bytes && rcap <= cfg->rcvbuf_max_bytes,
                  "flow %u: buffers %zu/%zu over the configured maximum", id, scap, rcap);
            CHECK(sndbuf_len_bytes(&tc->snd) <= scap, "flow %u: %zu bytes in a %zu send buffer",
                  id, sndbuf_len_bytes(&tc->snd), scap);
            CHECK(rcvbuf_held_bytes(&tc->rcv) <= rcap,
                  "flow %u: %zu bytes held in a %zu receive buffer", id,
                  rcvbuf_held_bytes(&tc->rcv), rcap);
            pages_bound += scap / page + rcap / page + 4;
        }
    }
    CHECK(live <= MAX_FLOWS, "%u live connections", live);
    const struct sockmem_pool_stats *ps = sockmem_pool_stats(core->pool);
    size_t limit = (size_t)MAX_FLOWS *
                   ((cfg->sndbuf_max_bytes + cfg->rcvbuf_max_bytes) / page + 4);
    CHECK(ps->pages_in_use <= limit, "%llu pages in use, limit %zu",
          (unsigned long long)ps->pages_in_use, limit);
    CHECK(ps->pages_in_use <= pages_bound,
          "%llu pages in use, the %u live connections' buffers hold at most %zu",
          (unsigned long long)ps->pages_in_use, live, pages_bound);
}

/* Polls until the stack and the script are both quiet (bounded), checking
 * every frame, then the stack. */
static void settle(void)
{
    for (int i = 0; i < 32; i++) {
        port_mem_set_now(g->pa, g->now);
        int work = toe_stack_poll(g->s, g->now);
        CHECK(work >= 0, "poll returned %d", work);
        uint32_t frames = drain_frames();
        if (work == 0 && frames == 0 && port_mem_pending(g->pa) == 0)
            break;
    }
    check_stack();
}

/* ---- app callbacks ---- */

static struct handle *handle_of(struct toe_conn *c)
{
    for (int i = 0; i < MAX_HANDLES; i++)
        if (g->h[i].live && g->h[i].c == c)
            return &g->h[i];
    return NULL;
}

static struct handle *handle_new(struct toe_conn *c)
{
    for (int i = 0; i < MAX_HANDLES; i++)
        if (!g->h[i].live) {
            memset(&g->h[i], 0, sizeof(g->h[i]));
            g->h[i].c = c;
            g->h[i].live = true;
            return &g->h[i];
        }
    return NULL;
}

/* Bytes the app read: they must be the script's stream from IRS + 1 on. */
static void check_read(struct handle *h, ssize_t n)
{
    if (n <= 0)
        return;
    struct tcp_conn *tc = toe_conn_tcp(h->c);
    uint32_t base = tc->irs + 1 + (uint32_t)h->rcvd;
    for (ssize_t k = 0; k < n; k++)
        CHECK(g->io[k] == peer_byte(base + (uint32_t)k),
              "read byte %llu (seq %u) is %u, the peer sent %u",
              (unsigned long long)h->rcvd + (unsigned long long)k, base + (uint32_t)k, g->io[k],
              peer_byte(base + (uint32_t)k));
    h->rcvd += (uint64_t)n;
}

static void read_all(struct handle *h)
{
    for (int i = 0; i < 64; i++) {
        ssize_t n = toe_recv(h->c, g->io, sizeof(g->io));
        if (n <= 0)
            break;
        check_read(h, n);
    }
}

static int cb_accept(struct toe_conn *c, void *ctx)
{
    (void)ctx;
    return handle_new(c) ? 0 : -1;
}

static void cb_connect(struct toe_conn *c, int status, void *ctx)
{
    (void)ctx;
    struct handle *h = handle_of(c);
    CHECK(h != NULL, "on_connect for a handle the app does not hold");
    CHECK(status <= 0, "on_connect status %d", status);
    if (status != 0)
        h->live = false;
}

static void cb_recv(struct toe_conn *c, void *ctx)
{
    (void)ctx;
    struct handle *h = handle_of(c);
    CHECK(h != NULL, "on_recv for a handle the app does not hold");
    if (g->auto_read)
        read_all(h);
}

static void cb_sent(struct toe_conn *c, size_t acked, void *ctx)
{
    (void)ctx, (void)acked;
    CHECK(handle_of(c) != NULL, "on_sent for a handle the app does not hold");
}

static void cb_close(struct toe_conn *c, int status, void *ctx)
{
    (void)ctx;
    struct handle *h = handle_of(c);
    CHECK(h != NULL, "on_close for a handle the app does not hold");
    CHECK(status <= 0, "on_close status %d", status);
    h->live = false;
}

static const struct toe_app_ops app_ops = {
    .on_accept = cb_accept,
    .on_connect = cb_connect,
    .on_recv = cb_recv,
    .on_sent = cb_sent,
    .on_close = cb_close,
};

/* ---- operations ---- */

enum {
    OP_INJECT,
    OP_LISTEN,
    OP_UNLISTEN,
    OP_CONNECT,
    OP_SEND,
    OP_RECV,
    OP_SHUTDOWN,
    OP_CLOSE,
    OP_ABORT,
    OP_TIME_SMALL,
    OP_TIME_HUGE,
    OP_TIME_NEXT,
    OP_NODELAY,
    OP_AUTOREAD,
    OP_COUNT
};

/* Inject flags (kind byte, low 3 bits). */
static const uint8_t kind_flags[7] = {
    TCP_FLAG_SYN,
    TCP_FLAG_SYN | TCP_FLAG_ACK,
    TCP_FLAG_ACK,
    TCP_FLAG_ACK | TCP_FLAG_PSH,
    TCP_FLAG_FIN | TCP_FLAG_ACK,
    TCP_FLAG_RST,
    TCP_FLAG_RST | TCP_FLAG_ACK,
};
#define KIND_CORRUPT 0x08u

/* Options byte. */
#define OPT_MSS 0x01u
#define OPT_WS 0x02u
#define OPT_SACKP 0x04u
#define OPT_TS 0x08u
#define OPT_SACK 0x10u

static void op_inject(struct rd *r)
{
    uint8_t sel = u8(r), kind = u8(r), mode = u8(r);
    struct tup *t;

    if ((sel & 0x80) && g->ntup) {
        t = &g->tup[(sel & 0x7f) % g->ntup];
    } else {
        t = tup_find((sel & 1) ? PEER_IP1 : PEER_IP0, (uint16_t)(40000 + ((sel >> 1) & 3)),
                     (sel & 8) ? 81 : 80, true);
        if (!t)
            return;
    }
    uint8_t flags = (kind & 7) == 7 ? u8(r) : kind_flags[kind & 7];
    bool syn = flags & TCP_FLAG_SYN;

    uint32_t seq;
    switch (mode & 3) {
    case 0: /* what the stack expects (or, for a SYN, a fresh ISN) */
        if (syn) {
            seq = t->isn_next;
            t->isn_next += 0x01000000u;
        } else {
            seq = t->have_ack ? t->stack_ack : t->peer_nxt;
        }
        break;
    case 1: /* near our own next sequence number (a SYN: its retransmission) */
        seq = syn ? t->peer_isn : t->peer_nxt + (uint32_t)(int32_t)(int16_t)u16(r);
        break;
    case 2:
        seq = t->peer_isn + u16(r);
        break;
    default:
        seq = u32(r);
        break;
    }
    uint32_t ack;
    switch ((mode >> 2) & 3) {
    case 0:
        ack = t->stack_max;
        break;
    case 1:
        ack = t->stack_max + (uint32_t)(int32_t)(int16_t)u16(r);
        break;
    case 2:
        ack = t->stack_isn + 1 + u16(r);
        break;
    default:
        ack = u32(r);
        break;
    }
    uint16_t wnd;
    switch ((mode >> 4) & 3) {
    case 0:
        wnd = 65535;
        break;
    case 1:
        wnd = 0;
        break;
    case 2:
        wnd = u16(r);
        break;
    default:
        wnd = u8(r);
        break;
    }
    uint32_t len;
    switch (mode >> 6) {
    case 0:
        len = 0;
        break;
    case 1:
        len = 1 + (u8(r) & 63);
        break;
    case 2:
        len = 1460;
        break;
    default:
        len = u16(r) % 1600;
        break;
    }

    uint8_t ob = u8(r);
    struct tcp_options o;
    memset(&o, 0, sizeof(o));
    if (ob & OPT_MSS) {
        o.present |= TCP_OPTF_MSS;
        o.mss = u16(r);
    }
    if (ob & OPT_WS) {
        o.present |= TCP_OPTF_WSCALE;
        o.wscale = u8(r);
    }
    if (ob & OPT_SACKP)
        o.present |= TCP_OPTF_SACK_PERM;
    if (ob & OPT_TS) {
        o.present |= TCP_OPTF_TS;
        o.ts_val = (uint32_t)(g->now / 1000) + 7;
        o.ts_ecr = (ob & 0x20) ? u32(r) : t->stack_tsval;
    }
    if (ob & OPT_SACK) {
        o.present |= TCP_OPTF_SACK;
        o.sack_count = (uint8_t)(1 + (u8(r) & 3));
        for (unsigned i = 0; i < o.sack_count; i++) {
            uint32_t base = t->have_isn ? t->stack_isn + 1 : 0;
            o.sack[i].start = base + u16(r);
            o.sack[i].end = o.sack[i].start + u16(r);
        }
    }

    uint32_t data_seq = seq + (syn ? 1 : 0);
    for (uint32_t i = 0; i < len; i++)
        g->payload[i] = peer_byte(data_seq + i);
    struct iovec iov = {.iov_base = g->payload, .iov_len = len};
    struct tcp_emit e = {
        .src_ip = t->peer_ip, .dst_ip = STACK_IP, .sport = t->peer_port,
        .dport = t->stack_port, .seq = seq, .ack = ack, .flags = flags, .window = wnd,
        .df = true, .opts = &o, .iov = len ? &iov : NULL, .iovcnt = len ? 1 : 0,
    };
    memcpy(e.src_mac, mac_peer, 6);
    memcpy(e.dst_mac, mac_stack, 6);
    int n = wire_emit_tcp(g->frame, sizeof(g->frame), &e);
    if (n <= 0)
        return;
    if (kind & KIND_CORRUPT) {
        uint32_t at = 14 + u16(r) % ((uint32_t)n - 14);
        g->frame[at] ^= (uint8_t)(u8(r) | 1);
    }

    /* What the script told the stack (upper bounds: a corrupted or refused
     * segment only widens them, which cannot cause a false alarm). */
    if (syn) {
        t->peer_isn = seq;
        if (o.present & TCP_OPTF_WSCALE) {
            uint8_t ws = o.wscale > 14 ? 14 : o.wscale;
            if (ws > t->ws_max)
                t->ws_max = ws;
        }
        if ((o.present & TCP_OPTF_MSS) && o.mss > t->mss_max)
            t->mss_max = o.mss;
        if (!(flags & TCP_FLAG_ACK) && (!t->have_syn_wnd || wnd > t->syn_wnd)) {
            t->syn_wnd = wnd;
            t->have_syn_wnd = true;
        }
    }
    if ((flags & TCP_FLAG_ACK) && t->have_isn && seq_geq(ack, t->stack_isn) &&
        seq_leq(ack, t->stack_max)) {
        uint32_t edge = ack + ((uint32_t)wnd << (syn ? 0 : t->ws_max));
        if (!t->have_edge || seq_gt(edge, t->edge))
            t->edge = edge;
        t->have_edge = true;
    }
    uint32_t end = seq + len + (syn ? 1 : 0) + ((flags & TCP_FLAG_FIN) ? 1 : 0);
    if (syn || (mode & 3) == 0 || seq_gt(end, t->peer_nxt))
        t->peer_nxt = end;
    tup_note_reach(t); /* under the previous segments' reach */
    t->last_end = end;
    t->have_last_end = true;
    t->after_rst = false;
    trace_seg((kind & KIND_CORRUPT) ? "<inj*" : "<inj ", t->peer_ip, t->peer_port, t->stack_port,
              flags, seq, ack, wnd, len, &o);
    port_mem_send_raw(g->pb, g->frame, (uint32_t)n);
}

static struct handle *pick(struct rd *r)
{
    struct handle *h = &g->h[u8(r) % MAX_HANDLES];
    return h->live ? h : NULL;
}

static void run_op(struct rd *r)
{
    static const char *const names[OP_COUNT] = {
        "inject", "listen", "unlisten", "connect", "send", "recv", "shutdown",
        "close", "abort", "time-small", "time-huge", "time-next", "nodelay", "autoread"};
    uint8_t op = u8(r) % OP_COUNT;
    struct handle *h;

    if (g_verbose && op != OP_INJECT)
        fprintf(stderr, "%10.6f app %s (next byte %u)\n", (double)g->now / 1e6, names[op],
                r->i < r->n ? r->p[r->i] : 0);
    switch (op) {
    case OP_INJECT:
        op_inject(r);
        break;
    case OP_LISTEN: {
        uint8_t b = u8(r);
        toe_listen(g->s, (b & 1) ? 81 : 80, (b >> 1) & 3, &app_ops, NULL);
        break;
    }
    case OP_UNLISTEN:
        toe_unlisten(g->s, (u8(r) & 1) ? 81 : 80);
        break;
    case OP_CONNECT: {
        uint8_t b = u8(r);
        struct toe_conn *c;
        struct handle *slot = handle_new(NULL);
        if (!slot)
            break;
        slot->live = false; /* until toe_connect succeeds */
        uint32_t ip = (b & 1) ? PEER_IP1 : PEER_IP0;
        if (toe_connect(g->s, ip, (uint16_t)(40000 + ((b >> 1) & 3)), &app_ops, NULL, &c) == 0) {
            slot->c = c;
            slot->live = true;
            struct toe_conn_info ci;
            if (toe_conn_info(c, &ci) == 0) {
                struct tup *t = tup_find(ip, ci.remote_port, ci.local_port, true);
                if (t)
                    t->after_rst = false;
            }
        }
        break;
    }
    case OP_SEND: {
        h = pick(r);
        uint32_t len = u16(r) % 40000;
        if (!h)
            break;
        for (uint32_t i = 0; i < len; i++)
            g->io[i] = app_byte(h->sent + i);
        ssize_t n = toe_send(h->c, g->io, len);
        CHECK(n <= (ssize_t)len, "toe_send took %zd of %u", n, len);
        if (n > 0)
            h->sent += (uint64_t)n;
        break;
    }
    case OP_RECV: {
        h = pick(r);
        uint32_t len = u16(r) % sizeof(g->io);
        if (!h)
            break;
        ssize_t n = toe_recv(h->c, g->io, len);
        CHECK(n <= (ssize_t)len, "toe_recv gave %zd of %u", n, len);
        check_read(h, n);
        break;
    }
    case OP_SHUTDOWN:
        if ((h = pick(r)))
            toe_shutdown(h->c);
        break;
    case OP_CLOSE:
        if ((h = pick(r))) {
            h->live = false;
            toe_close(h->c);
        }
        break;
    case OP_ABORT:
        if ((h = pick(r))) {
            h->live = false;
            toe_abort(h->c);
        }
        break;
    case OP_TIME_SMALL:
        g->now += (uint64_t)(u8(r) + 1) * ((u8(r) & 1) ? 10000 : 1000);
        break;
    case OP_TIME_HUGE:
        g->now += (uint64_t)(u8(r) + 1) * 60 * 1000000ull;
        break;
    case OP_TIME_NEXT: {
        uint64_t next = toe_stack_next_timer_us(g->s);
        if (next != UINT64_MAX && next > g->now)
            g->now = next;
        break;
    }
    case OP_NODELAY: {
        uint8_t b = u8(r);
        h = &g->h[b % MAX_HANDLES];
        if (h->live)
            toe_conn_set_nodelay(h->c, (b & 0x80) != 0);
        break;
    }
    case OP_AUTOREAD:
        g->auto_read = !g->auto_read;
        break;
    }
}

/* ---- one input ---- */

static void world_init(uint8_t conf)
{
    struct port_mem_config pc;
    struct toe_stack_config cfg;

    memset(g, 0, sizeof(*g));
    const char *tr = getenv("TOE_FUZZ_TRACE");
    g_verbose = tr && *tr && *tr != '0';
    memset(&pc, 0, sizeof(pc));
    pc.seed = 1;
    pc.frame_cap_bytes = FRAME_CAP;
    memcpy(pc.mac_a, mac_stack, 6);
    memcpy(pc.mac_b, mac_peer, 6);
    FUZZ_CHECK(port_mem_pair_create(&pc, &g->pa, &g->pb) == 0);

    toe_stack_config_init(&cfg);
    cfg.ipv4_addr = STACK_IP;
    cfg.max_flows = MAX_FLOWS;
    cfg.seed = 1;
    cfg.sndbuf_bytes = BUF_BYTES;
    cfg.rcvbuf_bytes = BUF_BYTES;
    cfg.time_wait_ms = 5000;
    cfg.arp_gratuitous = false;
    cfg.nagle = conf & 0x01;
    cfg.delack = conf & 0x02;
    cfg.keepalive = conf & 0x04;
    cfg.keepalive_idle_ms = 30000;
    cfg.keepalive_intvl_ms = 5000;
    cfg.keepalive_probes = 3;
    cfg.sack = !(conf & 0x08);
    cfg.timestamps = !(conf & 0x10);
    cfg.window_scale = !(conf & 0x20);
    snprintf(cfg.cc, sizeof(cfg.cc), "%s", (conf & 0x40) ? "cubic" : "newreno");
    cfg.syncookies = !(conf & 0x80);
    FUZZ_CHECK(toe_stack_create(&cfg, g->pa, &g->s) == 0);
    /* The SYN cookie key is random otherwise: make runs repeatable. */
    static const uint8_t ck[SYNCOOKIE_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                                    15, 16};
    syncookie_key_set(&g->s->cores[0]->eng.cookie_key, ck);

    /* Both peers introduce themselves, so most inputs need not answer ARP
     * before their first segment (the script answers later requests). */
    for (int i = 0; i < 2; i++) {
        struct arp_emit a = {.op = WIRE_ARP_OP_REQUEST, .spa = i ? PEER_IP1 : PEER_IP0,
                             .tpa = STACK_IP};
        memcpy(a.eth_src, mac_peer, 6);
        memset(a.eth_dst, 0xff, 6);
        memcpy(a.sha, mac_peer, 6);
        int n = wire_emit_arp(g->frame, sizeof(g->frame), &a);
        FUZZ_CHECK(n > 0);
        port_mem_send_raw(g->pb, g->frame, (uint32_t)n);
    }
    g->now = 1000000;
    settle();
}

/* Every handle aborted, then hours of virtual time: every connection must
 * end by itself (retransmission limits, TIME_WAIT, FIN_WAIT_2 and SYN-RECEIVED
 * timeouts) and give back all its pages. */
static void world_drain(void)
{
    for (int i = 0; i < MAX_HANDLES; i++)
        if (g->h[i].live) {
            g->h[i].live = false;
            toe_abort(g->h[i].c);
        }
    toe_unlisten(g->s, 80);
    toe_unlisten(g->s, 81);
    settle();
    uint64_t end = g->now + 6 * 3600 * 1000000ull;
    for (int i = 0; i < 2000 && g->now < end; i++) {
        uint64_t next = toe_stack_next_timer_us(g->s);
        if (next == UINT64_MAX)
            break;
        g->now = next > g->now ? next : g->now + 1000;
        settle();
    }
    struct toe_core *core = g->s->cores[0];
    CHECK(toe_stack_flow_count(g->s) == 0, "%u flows left after every handle was aborted and "
          "6 hours passed", toe_stack_flow_count(g->s));
    CHECK(core->eng.nconns == 0, "%u engine connections left", core->eng.nconns);
    CHECK(sockmem_pool_stats(core->pool)->pages_in_use == 0, "%llu pages in use with no flow",
          (unsigned long long)sockmem_pool_stats(core->pool)->pages_in_use);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz world;
    struct rd r = {.p = data, .n = size};

    g = &world;
    world_init(u8(&r));
    for (int ops = 0; ops < MAX_OPS && r.i < r.n; ops++) {
        run_op(&r);
        settle();
        for (uint32_t i = 0; i < g->ntup; i++)
            tup_note_reach(&g->tup[i]);
    }
    if (g_verbose) {
        fprintf(stderr, "--- end of program: %u frames checked; connections:\n",
                g->frames_checked);
        toe_stack_conns_print(g->s, stderr);
    }
    world_drain();
    toe_stack_destroy(g->s);
    g->s = NULL;
    port_mem_pair_destroy(g->pa);
    return 0;
}

/* ---- seeds: programs that reach ESTABLISHED and move data ---- */

struct prog {
    uint8_t b[512];
    size_t n;
};

static void put(struct prog *p, int count, ...)
{
    va_list ap;
    va_start(ap, count);
    for (int i = 0; i < count && p->n < sizeof(p->b); i++)
        p->b[p->n++] = (uint8_t)va_arg(ap, int);
    va_end(ap);
}

/* Inject with in-order seq and ack, window 65535: kind, payload mode bits
 * (mode byte), then options byte; the caller appends option values. */
#define SEL_NEW0 0x00  /* peer0:40000 -> stack:80 */
#define SEL_T(i) (0x80 | (i))
#define M_LEN_SMALL 0x40
#define M_LEN_MSS 0x80
#define M_WND0 0x10

static void syn_opts(struct prog *p)
{
    /* MSS 1460, wscale 7, SACK-permitted, timestamps */
    put(p, 4, OPT_MSS | OPT_WS | OPT_SACKP | OPT_TS, 0x05, 0xb4, 7);
}

void toe_fuzz_seeds(fuzz_seed_fn add)
{
    struct prog p;

    /* 1: passive open, data both ways, orderly close. */
    memset(&p, 0, sizeof(p));
    put(&p, 1, 0x03); /* nagle + delack, everything else on */
    put(&p, 2, OP_LISTEN, 0x02);
    put(&p, 4, OP_INJECT, SEL_NEW0, 0, 0); /* SYN, fresh ISN */
    syn_opts(&p);
    put(&p, 5, OP_INJECT, SEL_T(0), 2, 0, OPT_TS);                  /* ACK: ESTABLISHED */
    put(&p, 6, OP_INJECT, SEL_T(0), 3, M_LEN_SMALL, 40, OPT_TS);    /* 41 bytes */
    put(&p, 2, OP_AUTOREAD, OP_TIME_SMALL);
    put(&p, 2, 50, 0);
    put(&p, 4, OP_SEND, 0, 0x0b, 0xb8);                             /* 3000 bytes */
    put(&p, 5, OP_INJECT, SEL_T(0), 2, 0, OPT_TS);
    put(&p, 6, OP_INJECT, SEL_T(0), 3, M_LEN_MSS, OPT_TS, OP_TIME_NEXT);
    put(&p, 5, OP_INJECT, SEL_T(0), 4, 0, OPT_TS);                  /* FIN */
    put(&p, 2, OP_CLOSE, 0);
    put(&p, 5, OP_INJECT, SEL_T(0), 2, 0, OPT_TS);
    put(&p, 2, OP_TIME_HUGE, 1);
    add(p.b, p.n);

    /* 2: active open, send and receive, half close, peer FIN. */
    memset(&p, 0, sizeof(p));
    put(&p, 1, 0x41); /* nagle, no delack, cubic */
    put(&p, 2, OP_CONNECT, 0);
    put(&p, 4, OP_INJECT, SEL_T(0), 1, 0); /* SYN-ACK, fresh ISN, acks our SYN */
    syn_opts(&p);
    put(&p, 4, OP_SEND, 0, 0x27, 0x10);                             /* 10000 bytes */
    put(&p, 5, OP_INJECT, SEL_T(0), 2, 0, OPT_TS);
    put(&p, 5, OP_INJECT, SEL_T(0), 2, 0, OPT_TS);
    put(&p, 6, OP_INJECT, SEL_T(0), 3, M_LEN_SMALL, 63, OPT_TS);
    put(&p, 4, OP_RECV, 0, 0x10, 0x00);
    put(&p, 2, OP_SHUTDOWN, 0);
    put(&p, 5, OP_INJECT, SEL_T(0), 2, 0, OPT_TS);
    put(&p, 5, OP_INJECT, SEL_T(0), 4, 0, OPT_TS);
    put(&p, 4, OP_RECV, 0, 0x10, 0x00);
    put(&p, 3, OP_TIME_SMALL, 200, 1);
    add(p.b, p.n);

    /* 3: SYN cookies: backlog 1, two SYNs, the second gets a cookie. */
    memset(&p, 0, sizeof(p));
    put(&p, 1, 0x00);
    put(&p, 2, OP_LISTEN, 0x02);
    put(&p, 4, OP_INJECT, 0x00, 0, 0);
    syn_opts(&p);
    put(&p, 4, OP_INJECT, 0x02, 0, 0); /* peer0:40001 */
    syn_opts(&p);
    put(&p, 5, OP_INJECT, SEL_T(1), 2, 0, OPT_TS);
    put(&p, 6, OP_INJECT, SEL_T(1), 3, M_LEN_SMALL, 10, OPT_TS);
    put(&p, 5, OP_INJECT, SEL_T(0), 2, 0, OPT_TS);
    put(&p, 2, OP_AUTOREAD, OP_TIME_NEXT);
    add(p.b, p.n);

    /* 4: zero window from the peer, data queued: persist probes. */
    memset(&p, 0, sizeof(p));
    put(&p, 1, 0x02);
    put(&p, 2, OP_CONNECT, 2);
    put(&p, 4, OP_INJECT, SEL_T(0), 1, 0);
    syn_opts(&p);
    put(&p, 5, OP_INJECT, SEL_T(0), 2, M_WND0, OPT_TS);
    put(&p, 4, OP_SEND, 0, 0x10, 0x00);
    put(&p, 3, OP_TIME_NEXT, OP_TIME_NEXT, OP_TIME_NEXT);
    put(&p, 5, OP_INJECT, SEL_T(0), 2, 0, OPT_TS);
    put(&p, 3, OP_TIME_NEXT, OP_TIME_HUGE, 3);
    add(p.b, p.n);

    /* 5: established, then RST inside the window (challenge ACK), SYN in
     * ESTABLISHED, and an exact RST. */
    memset(&p, 0, sizeof(p));
    put(&p, 1, 0x03);
    put(&p, 2, OP_LISTEN, 0x00);
    put(&p, 4, OP_INJECT, SEL_NEW0, 0, 0);
    syn_opts(&p);
    put(&p, 5, OP_INJECT, SEL_T(0), 2, 0, OPT_TS);
    put(&p, 7, OP_INJECT, SEL_T(0), 5, 0x01, 0x00, 0x10, 0); /* RST at nxt+16 */
    put(&p, 5, OP_INJECT, SEL_T(0), 0, 0x01, 0);               /* SYN again */
    put(&p, 5, OP_INJECT, SEL_T(0), 5, 0, 0);                   /* RST at RCV.NXT */
    add(p.b, p.n);

    /* 6: out-of-order data with SACK, loss and retransmission timeouts. */
    memset(&p, 0, sizeof(p));
    put(&p, 1, 0x03);
    put(&p, 2, OP_CONNECT, 0);
    put(&p, 4, OP_INJECT, SEL_T(0), 1, 0);
    syn_opts(&p);
    put(&p, 4, OP_SEND, 0, 0x3f, 0xff);
    put(&p, 9, OP_INJECT, SEL_T(0), 3, 0x81, 0x05, 0xb4, OPT_TS, OP_AUTOREAD, OP_TIME_NEXT);
    put(&p, 9, OP_INJECT, SEL_T(0), 2, 0, OPT_TS | OPT_SACK, 0, 0x05, 0xb4, 0x05);
    p.b[p.n++] = 0xb4;
    put(&p, 4, OP_TIME_NEXT, OP_TIME_NEXT, OP_TIME_SMALL, 9);
    put(&p, 1, 1);
    put(&p, 5, OP_INJECT, SEL_T(0), 2, 0, OPT_TS);
    add(p.b, p.n);
}
