/* The input unit: frame validation, filtering, event derivation and the flow
 * key -> flow ID proxy (see input.h). */
#include "toe/input.h"

#include <string.h>

#include "toe/stack_internal.h"

static const uint8_t bcast_mac[WIRE_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* MIB counters that go with each parse error (RFC 1213 ip/icmp/tcp groups). */
static void count_parse_error(struct toe_core *core, enum wire_err e)
{
    struct toe_stats *st = &core->stats;

    toe_stats_wire_drop(st, e);
    switch (e) {
    case WIRE_IP_SHORT:
    case WIRE_IP_VERSION:
    case WIRE_IP_HLEN:
    case WIRE_IP_TOTLEN:
    case WIRE_IP_CSUM:
        st->ip_in_receives++;
        st->ip_in_hdr_errors++;
        break;
    case WIRE_IP_FRAGMENT:
        st->ip_in_receives++;
        st->ip_reasm_fails++;
        break;
    case WIRE_IP_SRC_ADDR:
        st->ip_in_receives++;
        st->ip_in_addr_errors++;
        break;
    case WIRE_IP_PROTO:
        st->ip_in_receives++;
        st->ip_in_unknown_protos++;
        break;
    case WIRE_ICMP_CSUM:
        st->icmp_in_csum_errors++;
        /* fall through */
    case WIRE_ICMP_SHORT:
        st->ip_in_receives++;
        st->icmp_in_msgs++;
        st->icmp_in_errors++;
        break;
    case WIRE_TCP_CSUM:
        st->tcp_in_csum_errors++;
        /* fall through */
    case WIRE_TCP_SHORT:
    case WIRE_TCP_DOFF:
    case WIRE_TCP_OPT_LEN:
    case WIRE_TCP_OPT_SIZE:
        st->ip_in_receives++;
        core->eng.stats.in_errs++; /* TcpInErrs, as Linux counts them */
        break;
    default:
        break;
    }
}

static int drop(struct toe_core *core, enum input_drop d)
{
    toe_stats_input_drop(&core->stats, d);
    return -(int)(WIRE_ERR_COUNT + d + 1);
}

/* A unicast source on our subnet or beyond: not 0, not us, not loopback, not
 * our subnet's broadcast (multicast and 255.255.255.255 the parser refused). */
static bool ip_src_ok(const struct toe_core *core, uint32_t src)
{
    if (src == 0 || src == core->ip || (src >> 24) == 127)
        return false;
    if (core->netmask != 0xffffffffu && core->netmask != 0xfffffffeu &&
        ((src ^ core->ip) & core->netmask) == 0 && (src | core->netmask) == 0xffffffffu)
        return false;
    return true;
}

static int input_arp(struct toe_core *core, const struct frame_view *fv, struct toe_event *ev)
{
    const struct arp_view *a = &fv->arp;

    if (a->sha[0] & 1)
        return drop(core, INPUT_DROP_ARP_BAD_SENDER);
    if (a->spa != 0 && (a->spa == core->ip || ((a->spa ^ core->ip) & core->netmask) != 0))
        return drop(core, INPUT_DROP_ARP_BAD_SENDER);
    /* Not for us, unless it is a sender announcing itself (gratuitous ARP),
     * which may update an entry we have (RFC 826 merge). */
    if (a->tpa != core->ip && a->tpa != a->spa)
        return drop(core, INPUT_DROP_ARP_NOT_FOR_US);
    toe_event_set_type(ev, TOE_EV_ARP);
    ev->arp = *a;
    return 0;
}

/* The proxy for ev->key: hash once, look up once; everything after uses
 * the flow ID and the bucket. */
static void event_flow_lookup(struct toe_core *core, struct toe_event *ev)
{
    ev->hash = flow_hash(&core->flows.hash_key, &ev->key);
    ev->bucket = flow_bucket(ev->hash, core->n_buckets);
    ev->flow_id = flow_table_lookup_hashed(&core->flows, &ev->key, ev->hash);
    ev->flow_gen = ev->flow_id != FLOW_ID_NONE ? flow_table_gen(&core->flows, ev->flow_id) : 0;
}

static int input_tcp(struct toe_core *core, const struct frame_view *fv, struct toe_event *ev)
{
    const struct tcp_view *t = &fv->tcp;

    if (t->sport == 0 || t->dport == 0)
        return drop(core, INPUT_DROP_TCP_PORT_ZERO);

    ev->key.laddr = fv->ip.dst;
    ev->key.raddr = fv->ip.src;
    ev->key.lport = t->dport;
    ev->key.rport = t->sport;
    event_flow_lookup(core, ev);

    ev->seg.seq = t->seq;
    ev->seg.ack = t->ack;
    ev->seg.wnd = t->window;
    ev->seg.urg = t->urg_ptr;
    ev->seg.flags = t->flags;
    ev->seg.opts = t->opts;
    ev->seg.payload = t->payload;
    ev->seg.len = t->payload_len;
    toe_event_set_type(ev, toe_ev_of_tcp(t->flags, t->payload_len));
    return 0;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* An ICMP error (destination unreachable, source quench, time exceeded,
 * parameter problem) quoting an IPv4 header from us and at least the first
 * 8 bytes of a TCP segment (RFC 792, RFC 1122 3.2.2): a TOE_EV_ICMP_TCP
 * event of the quoted flow, so the dispatcher runs it on the core owning
 * that flow's bucket (RFC 9293 MUST-54). False: any other ICMP message. */
static bool input_icmp_tcp(struct toe_core *core, const struct frame_view *fv,
                           struct toe_event *ev)
{
    const struct icmp_view *m = &fv->icmp;
    const uint8_t *q = m->data, *th;
    uint32_t hl;

    if (m->type != 3 && m->type != 4 && m->type != 11 && m->type != 12)
        return false;
    if (m->data_len < WIRE_IPV4_HLEN + 8 || (q[0] >> 4) != 4)
        return false;
    hl = (q[0] & 15u) * 4;
    if (hl < WIRE_IPV4_HLEN || m->data_len < hl + 8 || q[9] != WIRE_IPPROTO_TCP ||
        get32(q + 12) != core->ip || (get16(q + 6) & 0x1fffu) != 0)
        return false; /* not a first fragment of a TCP segment of ours */
    th = q + hl;
    memset(&ev->seg, 0, sizeof(ev->seg)); /* len 0: nothing to copy when forwarded */
    ev->key.laddr = core->ip;
    ev->key.raddr = get32(q + 16);
    ev->key.lport = get16(th);
    ev->key.rport = get16(th + 2);
    event_flow_lookup(core, ev);
    ev->icmp_err.type = m->type;
    ev->icmp_err.code = m->code;
    ev->icmp_err.mtu_bytes = get16(m->msg + 6); /* RFC 1191 4: next-hop MTU */
    ev->icmp_err.quoted_len_bytes = get16(q + 2);
    ev->icmp_err.seq = get32(th + 4);
    toe_event_set_type(ev, TOE_EV_ICMP_TCP);
    return true;
}

int input_frame(struct toe_core *core, const uint8_t *frame, uint32_t len, struct toe_event *ev)
{
    struct frame_view fv;
    enum wire_err e;
    bool bcast;
    int rc;

    core->stats.rx_frames++;
    core->stats.rx_bytes += len;

    /* L2 filter first: cheaper than parsing, and what XDP would have done. */
    if (len >= WIRE_ETH_ALEN) {
        bcast = memcmp(frame, bcast_mac, WIRE_ETH_ALEN) == 0;
        if (!bcast && memcmp(frame, core->mac, WIRE_ETH_ALEN) != 0)
            return drop(core, INPUT_DROP_ETH_NOT_FOR_US);
    } else {
        bcast = false;
    }

    e = wire_parse_frame(frame, len, core->parse_flags, &fv);
    if (e != WIRE_OK) {
        count_parse_error(core, e);
        return -(int)e;
    }

    memset(ev, 0, offsetof(struct toe_event, seg));
    ev->flow_id = FLOW_ID_NONE;
    ev->frame_idx = UINT32_MAX;

    if (fv.kind == WIRE_FRAME_ARP) {
        rc = input_arp(core, &fv, ev);
        goto out;
    }

    core->stats.ip_in_receives++;
    if (bcast)
        return drop(core, INPUT_DROP_ETH_BCAST_IP);
    if (fv.ip.dst != core->ip) {
        core->stats.ip_in_addr_errors++;
        return drop(core, INPUT_DROP_IP_NOT_FOR_US);
    }
    if (!ip_src_ok(core, fv.ip.src)) {
        core->stats.ip_in_addr_errors++;
        return drop(core, INPUT_DROP_IP_SRC_BAD);
    }
    /* No route back (strict reverse-path check, as Linux rp_filter=1): keep
     * no state for what we could never answer. */
    if (core->gateway == 0 && ((fv.ip.src ^ core->ip) & core->netmask) != 0) {
        core->stats.ip_in_addr_errors++;
        return drop(core, INPUT_DROP_IP_SRC_NO_ROUTE);
    }

    switch (fv.kind) {
    case WIRE_FRAME_TCP:
        rc = input_tcp(core, &fv, ev);
        break;
    case WIRE_FRAME_ICMP_ECHO:
    case WIRE_FRAME_ICMP_OTHER:
        core->stats.icmp_in_msgs++;
        rc = 0;
        if (fv.kind == WIRE_FRAME_ICMP_OTHER && input_icmp_tcp(core, &fv, ev))
            break;
        toe_event_set_type(ev, fv.kind == WIRE_FRAME_ICMP_ECHO &&
                                       fv.icmp.type == WIRE_ICMP_ECHO_REQUEST
                                   ? TOE_EV_ICMP_ECHO
                                   : TOE_EV_ICMP_OTHER);
        ev->icmp = fv;
        rc = 0;
        break;
    default:
        /* The parser returns no other kind with WIRE_OK. */
        core->stats.ip_in_unknown_protos++;
        return -(int)WIRE_IP_PROTO;
    }
    if (rc == 0)
        core->stats.ip_in_delivers++;
out:
    if (rc == 0)
        core->stats.events[ev->type]++;
    return rc;
}

uint32_t input_burst(struct toe_core *core, const struct port_frame *frames, uint32_t n)
{
    uint32_t made = 0;

    for (uint32_t i = 0; i < n; i++) {
        if (core->evq_len == core->evq_cap) {
            core->stats.rx_frames++;
            core->stats.rx_bytes += frames[i].len;
            drop(core, INPUT_DROP_EVQ_FULL);
            continue;
        }
        struct toe_event *ev = &core->evq[core->evq_len];
        if (input_frame(core, frames[i].data, frames[i].len, ev) == 0) {
            ev->frame_idx = i;
            core->evq_len++;
            made++;
        }
    }
    return made;
}
