/* Fuzz target for toe/wire: parse any bytes as a frame (with and without
 * checksum verification), and re-emit whatever parsed; the re-emitted frame
 * must parse again, checksums included, to the same fields. */
#include <errno.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tests/unit/wire/linux_frames.h"
#include "tests/unit/wire/wire_test_util.h"

static uint8_t out[WIRE_ETH_HLEN + WIRE_IPV4_MAX_LEN];

static void check_tcp(const struct frame_view *v)
{
    struct iovec iov = {.iov_base = (void *)v->tcp.payload, .iov_len = v->tcp.payload_len};
    struct tcp_emit e = {
        .src_ip = v->ip.src, .dst_ip = v->ip.dst, .sport = v->tcp.sport, .dport = v->tcp.dport,
        .seq = v->tcp.seq, .ack = v->tcp.ack, .flags = v->tcp.flags, .window = v->tcp.window,
        .urg_ptr = v->tcp.urg_ptr, .ip_id = v->ip.id, .ttl = v->ip.ttl, .tos = v->ip.tos,
        .df = (v->ip.frag & WIRE_IPV4_DF) != 0, .opts = &v->tcp.opts, .iov = &iov, .iovcnt = 1,
    };
    memcpy(e.src_mac, v->eth.src, 6);
    memcpy(e.dst_mac, v->eth.dst, 6);
    int n = wire_emit_tcp(out, sizeof(out), &e);
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK(wire_emit_tcp(out, (uint32_t)n - 1, &e) == -ENOSPC);
    struct frame_view r;
    FUZZ_CHECK(wire_parse_frame(out, (uint32_t)n, 0, &r) == WIRE_OK);
    FUZZ_CHECK(r.kind == WIRE_FRAME_TCP);
    FUZZ_CHECK(r.tcp.sport == e.sport && r.tcp.dport == e.dport);
    FUZZ_CHECK(r.tcp.seq == e.seq && r.tcp.ack == e.ack && r.tcp.flags == e.flags);
    FUZZ_CHECK(r.tcp.window == e.window && r.tcp.urg_ptr == e.urg_ptr);
    FUZZ_CHECK(r.ip.src == e.src_ip && r.ip.dst == e.dst_ip && r.ip.id == e.ip_id);
    FUZZ_CHECK(r.tcp.payload_len == v->tcp.payload_len);
    FUZZ_CHECK(memcmp(r.tcp.payload, v->tcp.payload, v->tcp.payload_len) == 0);
    const struct tcp_options *a = &v->tcp.opts, *b = &r.tcp.opts;
    uint32_t fit = wire_tcp_opts_sack_fit(a);
    uint8_t want = a->present;
    if (!fit)
        want &= (uint8_t)~TCP_OPTF_SACK;
    FUZZ_CHECK(b->present == want && b->sack_count == fit);
    FUZZ_CHECK(!(want & TCP_OPTF_MSS) || b->mss == a->mss);
    FUZZ_CHECK(!(want & TCP_OPTF_WSCALE) || b->wscale == a->wscale);
    FUZZ_CHECK(!(want & TCP_OPTF_TS) || (b->ts_val == a->ts_val && b->ts_ecr == a->ts_ecr));
    for (uint32_t i = 0; i < fit; i++)
        FUZZ_CHECK(b->sack[i].start == a->sack[i].start && b->sack[i].end == a->sack[i].end);
    FUZZ_CHECK(r.tcp.hlen_bytes == WIRE_TCP_HLEN + wire_tcp_opts_len(a));
}

static void check_arp(const struct frame_view *v)
{
    static const uint8_t me[6] = {2, 0, 0, 0, 0, 1};
    struct frame_view r;
    int n = wire_emit_arp_reply(out, sizeof(out), me, v->arp.tpa, &v->arp);
    FUZZ_CHECK(n == WIRE_ETH_HLEN + WIRE_ARP_LEN);
    FUZZ_CHECK(wire_parse_frame(out, (uint32_t)n, 0, &r) == WIRE_OK);
    FUZZ_CHECK(r.kind == WIRE_FRAME_ARP && r.arp.op == WIRE_ARP_OP_REPLY);
    FUZZ_CHECK(r.arp.tpa == v->arp.spa && r.arp.spa == v->arp.tpa);
    FUZZ_CHECK(memcmp(r.arp.tha, v->arp.sha, 6) == 0);
}

static void check_icmp(const struct frame_view *v)
{
    struct frame_view r;
    int n = wire_emit_icmp_echo_reply(out, sizeof(out), v, 7);
    if (v->icmp.type != WIRE_ICMP_ECHO_REQUEST) {
        FUZZ_CHECK(n == -EINVAL);
        return;
    }
    FUZZ_CHECK(n > 0);
    /* The source of the reply is the request's destination, which may be a
     * multicast or broadcast address: then the parser refuses the reply. */
    enum wire_err err = wire_parse_frame(out, (uint32_t)n, 0, &r);
    if (v->ip.dst >> 28 == 0xe || v->ip.dst == 0xffffffffu) {
        FUZZ_CHECK(err == WIRE_IP_SRC_ADDR);
        return;
    }
    FUZZ_CHECK(err == WIRE_OK && r.kind == WIRE_FRAME_ICMP_ECHO);
    FUZZ_CHECK(r.icmp.type == WIRE_ICMP_ECHO_REPLY && r.icmp.id == v->icmp.id);
    FUZZ_CHECK(r.icmp.seq == v->icmp.seq && r.icmp.data_len == v->icmp.data_len);
    FUZZ_CHECK(memcmp(r.icmp.data, v->icmp.data, v->icmp.data_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct frame_view v, w;

    if (size > UINT32_MAX)
        return 0;
    enum wire_err strict = wire_parse_frame(data, (uint32_t)size, 0, &v);
    FUZZ_CHECK((unsigned)strict < WIRE_ERR_COUNT);
    FUZZ_CHECK((strict == WIRE_OK) == (v.kind != WIRE_FRAME_NONE));
    enum wire_err loose = wire_parse_frame(data, (uint32_t)size, WIRE_PARSE_NO_CSUM, &w);
    /* Skipping checksums can only accept more. */
    FUZZ_CHECK(strict != WIRE_OK || loose == WIRE_OK);
    if (loose != WIRE_OK)
        return 0;
    switch (w.kind) {
    case WIRE_FRAME_TCP:
        check_tcp(&w);
        break;
    case WIRE_FRAME_ARP:
        check_arp(&w);
        break;
    case WIRE_FRAME_ICMP_ECHO:
    case WIRE_FRAME_ICMP_OTHER:
        check_icmp(&w);
        break;
    default:
        FUZZ_CHECK(0);
    }
    /* The options parser alone on the raw bytes. */
    struct tcp_options o;
    (void)wire_parse_tcp_options(data, size < 40 ? (uint32_t)size : 40, &o);
    return 0;
}

void toe_fuzz_seeds(fuzz_seed_fn add)
{
    uint8_t f[256];
    static const uint8_t opts[12] = {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 9};
    static const uint8_t data[5] = {'h', 'e', 'l', 'l', 'o'};

    add(linux_syn, sizeof(linux_syn));
    add(linux_synack, sizeof(linux_synack));
    add(linux_ack, sizeof(linux_ack));
    add(f, build_tcp_raw(f, opts, sizeof(opts), data, sizeof(data)));
    add(f, build_arp_raw(f));
    add(f, build_icmp_raw(f, WIRE_ICMP_ECHO_REQUEST, data, sizeof(data)));
    add(f, build_icmp_raw(f, 3, NULL, 0));
}
