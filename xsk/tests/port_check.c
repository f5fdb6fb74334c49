/* port_check: exercises the AF_XDP port through the generic port interface
 * (toe/port.h) on a real interface, as the engine will use it. Run by
 * tests/lab/test_xsk_port.sh inside the lab's server namespace:
 *   - tx_alloc hands out frames until the free list runs dry (counted), and
 *     tx_free gives them back;
 *   - tx_submit takes a bad frame (len 0) as dropped without sending it;
 *   - N UDP datagrams built in UMEM frames reach the peer (the script's
 *     listener counts them) and all complete;
 *   - after printing "ready", frames sent by the peer arrive through rx_burst
 *     and go back with rx_release; a foreign handle is refused and counted.
 * usage: port_check IFACE OUR_IP PEER_IP PEER_MAC N_TX N_RX */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xsk/afxdp.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "port_check: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define TX_PORT_SRC 7001
#define TX_PORT_DST 7001
#define RX_PORT     7000

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    return sum;
}

/* Ethernet + IPv4 + UDP with a text payload; returns the frame length. */
static uint32_t build_udp(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t sip,
                          uint32_t dip, uint32_t seq)
{
    char payload[32];
    uint32_t plen = (uint32_t)snprintf(payload, sizeof(payload), "port-check-%u", seq);
    uint8_t *ip = f + 14, *udp = ip + 20;
    uint32_t s = htonl(sip), d = htonl(dip), sum;
    uint16_t v;

    memcpy(f, dmac, 6);
    memcpy(f + 6, smac, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    v = htons((uint16_t)(20 + 8 + plen));
    memcpy(ip + 2, &v, 2);
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, &s, 4);
    memcpy(ip + 16, &d, 4);
    v = htons(csum_fold(csum_add(0, ip, 20)));
    memcpy(ip + 10, &v, 2);
    v = htons(TX_PORT_SRC);
    memcpy(udp, &v, 2);
    v = htons(TX_PORT_DST);
    memcpy(udp + 2, &v, 2);
    v = htons((uint16_t)(8 + plen));
    memcpy(udp + 4, &v, 2);
    memset(udp + 6, 0, 2);
    memcpy(udp + 8, payload, plen);
    /* Pseudo-header (RFC 768) + UDP header and data. */
    sum = csum_add(0, ip + 12, 8);
    sum += 17 + 8 + plen;
    sum = csum_add(sum, udp, 8 + plen);
    v = htons(csum_fold(sum));
    if (!v)
        v = 0xffff;
    memcpy(udp + 6, &v, 2);
    return 14 + 20 + 8 + plen;
}

static bool is_udp_to(const struct port_frame *fr, uint16_t port)
{
    const uint8_t *f = fr->data;

    return fr->len >= 42 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17 &&
           (uint16_t)(f[36] << 8 | f[37]) == port;
}

int main(int argc, char **argv)
{
    struct afxdp_config cfg;
    struct afxdp_queue_stats st;
    struct port_frame fr[512];
    struct in_addr a, b;
    uint8_t peer_mac[6];
    struct afxdp *x;
    struct port *p;
    char err[256];
    uint32_t n_tx, n_rx, rx_seen = 0;
    double deadline;

    if (argc != 7 || inet_pton(AF_INET, argv[2], &a) != 1 || inet_pton(AF_INET, argv[3], &b) != 1 ||
        sscanf(argv[4], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &peer_mac[0], &peer_mac[1], &peer_mac[2],
               &peer_mac[3], &peer_mac[4], &peer_mac[5]) != 6) {
        fprintf(stderr, "usage: port_check IFACE OUR_IP PEER_IP PEER_MAC N_TX N_RX\n");
        return 2;
    }
    n_tx = (uint32_t)strtoul(argv[5], NULL, 0);
    n_rx = (uint32_t)strtoul(argv[6], NULL, 0);
    CHECK(n_tx <= 256 && n_rx <= 100000);

    afxdp_config_init(&cfg);
    snprintf(cfg.ifname, sizeof(cfg.ifname), "%s", argv[1]);
    cfg.ipv4_addr = ntohl(a.s_addr);
    cfg.proto_mask = AFXDP_PROTO_UDP; /* ARP stays with the kernel here */
    cfg.frames = 4096;
    cfg.ring_size = 2048;
    if (afxdp_open(&cfg, &x, err, sizeof(err)) < 0) {
        fprintf(stderr, "port_check: %s\n", err);
        return 1;
    }
    p = afxdp_port(x, 0);
    CHECK(p && afxdp_n_ports(x) == 1 && afxdp_port(x, 1) == NULL);
    /* Frame size auto: 2048 fits MTU 1500 after the 256-byte XDP headroom. */
    CHECK(port_frame_cap(p) == 2048 && port_mtu(p) == 1500);
    printf("port_check: %s mode %s\n", p->name, afxdp_bound_name(afxdp_bound_mode(x)));

    /* tx_alloc until dry: frames not posted to the fill ring are lendable. */
    {
        static struct port_frame held[4096];
        uint32_t n_held = 0, k;

        CHECK(port_tx_alloc(p, fr, 64) == 64);
        for (uint32_t i = 0; i < 64; i++) {
            CHECK(fr[i].len == 0 && fr[i].data != NULL);
            fr[i].data[0] = 0xaa; /* writable */
        }
        port_tx_free(p, fr, 64);
        CHECK(port_stats(p)->tx_alloc_fail == 0);
        do {
            k = port_tx_alloc(p, held + n_held, 64);
            n_held += k;
        } while (k == 64 && n_held + 64 <= 4096);
        CHECK(port_stats(p)->tx_alloc_fail == 1);
        CHECK(n_held >= cfg.frames / 4 && n_held <= cfg.frames);
        printf("port_check: lent %u tx frames before the free list ran dry\n", n_held);
        CHECK(port_tx_alloc(p, fr, 1) == 0);
        port_tx_free(p, held, n_held);
        CHECK(port_tx_alloc(p, fr, 1) == 1);
        port_tx_free(p, fr, 1);
    }

    /* A bad frame is taken and counted, not sent. */
    CHECK(port_tx_alloc(p, fr, 1) == 1);
    fr[0].len = 0;
    CHECK(port_tx_submit(p, fr, 1) == 1);
    CHECK(port_stats(p)->drops == 1 && port_stats(p)->tx_frames == 0);

    /* n_tx datagrams to the peer. */
    CHECK(port_tx_alloc(p, fr, n_tx) == n_tx);
    for (uint32_t i = 0; i < n_tx; i++)
        fr[i].len = build_udp(fr[i].data, peer_mac, port_mac(p), cfg.ipv4_addr, ntohl(b.s_addr), i);
    CHECK(port_tx_submit(p, fr, n_tx) == n_tx);
    CHECK(port_stats(p)->tx_frames == n_tx);
    deadline = now_s() + 2;
    do {
        afxdp_port_flush(p);
        afxdp_queue_stats(x, 0, &st);
    } while (st.tx_completed < n_tx && now_s() < deadline);
    CHECK(st.tx_completed == n_tx);
    printf("port_check: sent %u datagrams, all completed\n", n_tx);

    printf("port_check: ready\n");
    fflush(stdout);
    deadline = now_s() + 5;
    while (rx_seen < n_rx && now_s() < deadline) {
        uint32_t n = port_rx_burst(p, fr, 64);

        for (uint32_t i = 0; i < n; i++) {
            CHECK(fr[i].data && fr[i].len >= 14 && fr[i].len <= 1514);
            rx_seen += is_udp_to(&fr[i], RX_PORT);
        }
        port_rx_release(p, fr, n);
        if (!n)
            afxdp_port_wait(x, 0, 10);
    }
    CHECK(rx_seen == n_rx);
    /* A handle that is not ours is refused and counted. */
    fr[0].handle = UINT64_MAX - 4095;
    port_rx_release(p, fr, 1);
    CHECK(port_stats(p)->drops == 2);
    afxdp_queue_stats(x, 0, &st);
    printf("port_check: received %u datagrams; rx_frames %" PRIu64 " tx_frames %" PRIu64
           " drops %" PRIu64 " xdp rx_dropped %" PRIu64 "\n",
           rx_seen, st.port.rx_frames, st.port.tx_frames, st.port.drops, st.xdp_rx_dropped);
    CHECK(st.port.rx_frames >= n_rx && st.xdp_rx_dropped == 0);
    afxdp_close(x);
    printf("port_check: PASS\n");
    return 0;
}
