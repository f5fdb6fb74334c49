/* toe-reflector: bounces every frame addressed to --ip straight back on the
 * AF_XDP port. Ethernet and IPv4 addresses and TCP/UDP ports are swapped (a
 * swap keeps the IPv4 and TCP/UDP checksums valid: the sums are commutative),
 * ICMP echo requests become echo replies (checksum updated incrementally, RFC
 * 1624) and ARP requests for --ip are answered so kernel peers can resolve
 * us. A test vehicle for the port, and the host's packet-rate ceiling in the
 * benchmarks. One thread per queue. SIGINT/SIGTERM: clean exit with counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xsk/afxdp.h"

#define REFL_MAX_BATCH 256
#define ETH_HLEN_BYTES 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP  0x0806

struct refl_counters {
    uint64_t reflected, udp, tcp, icmp_echo, arp_replies;
    uint64_t drop_not_ours, drop_malformed, drop_no_tx_frame, drop_tx_full;
};

struct refl_thread {
    pthread_t tid;
    struct afxdp *x;
    uint32_t index;
    uint32_t batch;
    uint32_t ipv4_be;
    uint8_t mac[6];
    struct refl_counters c;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    stop_flag = 1;
}

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void swap_bytes(uint8_t *a, uint8_t *b, size_t n)
{
    uint8_t t[8];

    memcpy(t, a, n);
    memcpy(a, b, n);
    memcpy(b, t, n);
}

/* ARP request for our address -> reply in place (RFC 826). */
static int reflect_arp(struct refl_thread *t, uint8_t *f, uint32_t len)
{
    uint8_t *arp = f + ETH_HLEN_BYTES;

    if (len < ETH_HLEN_BYTES + 28 || rd16(arp) != 1 || rd16(arp + 2) != ETHERTYPE_IPV4 ||
        arp[4] != 6 || arp[5] != 4)
        return -1;
    if (rd16(arp + 6) != 1 || memcmp(arp + 24, &t->ipv4_be, 4) != 0)
        return -2;         /* not a request for us */
    memcpy(f, arp + 8, 6); /* to the asker */
    memcpy(f + 6, t->mac, 6);
    arp[7] = 2;                    /* reply */
    memcpy(arp + 18, arp + 8, 10); /* target = old sender (mac + ip) */
    memcpy(arp + 8, t->mac, 6);
    memcpy(arp + 14, &t->ipv4_be, 4);
    t->c.arp_replies++;
    return 0;
}

static int reflect_ipv4(struct refl_thread *t, uint8_t *f, uint32_t len)
{
    uint8_t *ip = f + ETH_HLEN_BYTES;
    uint32_t ihl, tot;
    uint8_t *l4;

    if (len < ETH_HLEN_BYTES + 20 || (ip[0] >> 4) != 4)
        return -1;
    ihl = (uint32_t)(ip[0] & 0xf) * 4;
    tot = rd16(ip + 2);
    if (ihl < 20 || tot < ihl || ETH_HLEN_BYTES + tot > len)
        return -1;
    if (memcmp(ip + 16, &t->ipv4_be, 4) != 0)
        return -2;
    l4 = ip + ihl;
    switch (ip[9]) {
    case 17: /* UDP */
    case 6:  /* TCP */
        if (tot < ihl + (ip[9] == 6 ? 20u : 8u))
            return -1;
        swap_bytes(l4, l4 + 2, 2);
        if (ip[9] == 6)
            t->c.tcp++;
        else
            t->c.udp++;
        break;
    case 1: /* ICMP: only echo request, answered as echo reply */
        if (tot < ihl + 8 || l4[0] != 8 || l4[1] != 0)
            return -2;
        {
            /* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), m = 0x0800, m' = 0. */
            uint32_t sum = (uint16_t)~rd16(l4 + 2);

            sum += (uint16_t)~0x0800u;
            sum = (sum & 0xffff) + (sum >> 16);
            sum = (sum & 0xffff) + (sum >> 16);
            sum = (uint16_t)~sum;
            l4[0] = 0;
            l4[2] = (uint8_t)(sum >> 8);
            l4[3] = (uint8_t)sum;
        }
        t->c.icmp_echo++;
        break;
    default:
        return -2;
    }
    swap_bytes(ip + 12, ip + 16, 4);
    memcpy(f, f + 6, 6);
    memcpy(f + 6, t->mac, 6);
    return 0;
}

/* Rewrites frame f (a copy) into its reflection; <0: not to be sent. */
static int reflect(struct refl_thread *t, uint8_t *f, uint32_t len)
{
    int rc;

    if (len < ETH_HLEN_BYTES)
        rc = -1;
    else if (rd16(f + 12) == ETHERTYPE_ARP)
        rc = reflect_arp(t, f, len);
    else if (rd16(f + 12) == ETHERTYPE_IPV4)
        rc = reflect_ipv4(t, f, len);
    else
        rc = -2;
    if (rc == -1)
        t->c.drop_malformed++;
    else if (rc == -2)
        t->c.drop_not_ours++;
    return rc;
}

static void *refl_run(void *arg)
{
    struct refl_thread *t = arg;
    struct port *p = afxdp_port(t->x, t->index);
    struct port_frame rx[REFL_MAX_BATCH], tx[REFL_MAX_BATCH];
    uint32_t idle = 0;

    memcpy(t->mac, port_mac(p), 6);
    while (!stop_flag) {
        uint32_t n = port_rx_burst(p, rx, t->batch), got, k = 0, sent;

        if (!n) {
            /* Spin a little, then sleep in poll() so shared cores stay usable. */
            if (++idle > 64)
                afxdp_port_wait(t->x, t->index, 100);
            else
                afxdp_port_flush(p);
            continue;
        }
        idle = 0;
        got = port_tx_alloc(p, tx, n);
        for (uint32_t i = 0; i < n; i++) {
            if (k == got) {
                t->c.drop_no_tx_frame += n - i;
                break;
            }
            if (rx[i].len > port_frame_cap(p)) {
                t->c.drop_malformed++;
                continue;
            }
            memcpy(tx[k].data, rx[i].data, rx[i].len);
            if (reflect(t, tx[k].data, rx[i].len) == 0)
                tx[k++].len = rx[i].len;
        }
        port_rx_release(p, rx, n);
        sent = k ? port_tx_submit(p, tx, k) : 0;
        if (sent < k) {
            t->c.drop_tx_full += k - sent;
            port_tx_free(p, tx + sent, k - sent);
        }
        if (got > k)
            port_tx_free(p, tx + k, got - k);
        t->c.reflected += sent;
    }
    afxdp_port_flush(p);
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: toe-reflector --iface IF --ip A.B.C.D [options]\n"
            "Reflects every frame sent to IP back to its sender over AF_XDP\n"
            "(Ethernet/IPv4 addresses and TCP/UDP ports swapped, ICMP echo answered,\n"
            "ARP for IP answered). Other traffic still reaches the kernel.\n"
            "  --iface IF          interface to attach to (required)\n"
            "  --ip A.B.C.D        address to reflect for (required)\n"
            "  --queues N          RX queues / sockets / threads, from queue 0 (default 1)\n"
            "  --xdp-mode MODE     auto | native | generic (default auto)\n"
            "  --pcap FILE         write every frame in and out to FILE\n"
            "  --busy-poll         SO_PREFER_BUSY_POLL + SO_BUSY_POLL on the sockets\n"
            "  --batch N           frames per burst, 1..%d (default 64)\n"
            "  --duration S        stop after S seconds (default: until SIGINT/SIGTERM)\n"
            "  --verbose           let libxdp/libbpf print diagnostics\n"
            "  --help              this text\n"
            "Environment: %s=PATH overrides where toe_redirect.bpf.o is found.\n",
            REFL_MAX_BATCH, AFXDP_OBJ_ENV);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_counters(struct afxdp *x, struct refl_thread *th, uint32_t n, double secs)
{
    struct refl_counters sum;
    struct afxdp_queue_stats st;
    uint64_t redirected, passed;

    memset(&sum, 0, sizeof(sum));
    for (uint32_t i = 0; i < n; i++) {
        sum.reflected += th[i].c.reflected;
        sum.udp += th[i].c.udp;
        sum.tcp += th[i].c.tcp;
        sum.icmp_echo += th[i].c.icmp_echo;
        sum.arp_replies += th[i].c.arp_replies;
        sum.drop_not_ours += th[i].c.drop_not_ours;
        sum.drop_malformed += th[i].c.drop_malformed;
        sum.drop_no_tx_frame += th[i].c.drop_no_tx_frame;
        sum.drop_tx_full += th[i].c.drop_tx_full;
    }
    if (n > 1) {
        for (uint32_t i = 0; i < n; i++) {
            afxdp_queue_stats(x, i, &st);
            printf("  queue %u: rx_frames %" PRIu64 " tx_frames %" PRIu64 " reflected %" PRIu64
                   "\n",
                   i, st.port.rx_frames, st.port.tx_frames, th[i].c.reflected);
        }
    }
    afxdp_total_stats(x, &st);
    if (afxdp_prog_stats(x, &redirected, &passed) < 0)
        redirected = passed = 0;
    if (afxdp_prog_stats(x, &redirected, &passed) < 0)
        redirected = passed = 0;
    printf("toe-reflector: %.3f s, reflected %" PRIu64 " (%.0f frames/s)\n", secs, sum.reflected,
           secs > 0 ? (double)sum.reflected / secs : 0.0);
    printf("  reflected: udp %" PRIu64 " tcp %" PRIu64 " icmp_echo %" PRIu64 " arp_replies %" PRIu64
           "\n",
           sum.udp, sum.tcp, sum.icmp_echo, sum.arp_replies);
    printf("  dropped: not_ours %" PRIu64 " malformed %" PRIu64 " no_tx_frame %" PRIu64
           " tx_full %" PRIu64 "\n",
           sum.drop_not_ours, sum.drop_malformed, sum.drop_no_tx_frame, sum.drop_tx_full);
    printf("  port: rx_frames %" PRIu64 " rx_bytes %" PRIu64 " tx_frames %" PRIu64
           " tx_bytes %" PRIu64 " tx_completed %" PRIu64 "\n",
           st.port.rx_frames, st.port.rx_bytes, st.port.tx_frames, st.port.tx_bytes,
           st.tx_completed);
    printf("  port: rx_empty %" PRIu64 " tx_ring_full %" PRIu64 " tx_alloc_fail %" PRIu64
           " drops %" PRIu64 " fill_ring_empty %" PRIu64 " rx_kicks %" PRIu64 " tx_kicks %" PRIu64
           " tx_kick_errors %" PRIu64 "\n",
           st.port.rx_empty, st.port.tx_ring_full, st.port.tx_alloc_fail, st.port.drops,
           st.fill_ring_empty, st.rx_kicks, st.tx_kicks, st.tx_kick_errors);
    printf("  xdp: rx_dropped %" PRIu64 " rx_invalid_descs %" PRIu64 " tx_invalid_descs %" PRIu64
           " rx_ring_full %" PRIu64 " rx_fill_ring_empty_descs %" PRIu64
           " tx_ring_empty_descs %" PRIu64 "\n",
           st.xdp_rx_dropped, st.xdp_rx_invalid_descs, st.xdp_tx_invalid_descs, st.xdp_rx_ring_full,
           st.xdp_rx_fill_ring_empty_descs, st.xdp_tx_ring_empty_descs);
    printf("  xdp program: redirected %" PRIu64 " passed_to_kernel %" PRIu64 "\n", redirected,
           passed);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"iface", required_argument, NULL, 'i'},
        {"ip", required_argument, NULL, 'a'},
        {"queues", required_argument, NULL, 'q'},
        {"xdp-mode", required_argument, NULL, 'm'},
        {"pcap", required_argument, NULL, 'p'},
        {"busy-poll", no_argument, NULL, 'b'},
        {"batch", required_argument, NULL, 'B'},
        {"duration", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct afxdp_config cfg;
    struct refl_thread *th;
    struct sigaction sa;
    struct afxdp *x;
    struct in_addr a;
    char err[256];
    double duration = 0, t0;
    uint32_t batch = 64;
    int c, rc;

    afxdp_config_init(&cfg);
    cfg.proto_mask = AFXDP_PROTO_STACK | AFXDP_PROTO_UDP;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            snprintf(cfg.ifname, sizeof(cfg.ifname), "%s", optarg);
            break;
        case 'a':
            if (inet_pton(AF_INET, optarg, &a) != 1) {
                fprintf(stderr, "toe-reflector: bad --ip %s\n", optarg);
                return 2;
            }
            cfg.ipv4_addr = ntohl(a.s_addr);
            break;
        case 'q':
            cfg.n_queues = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case 'm':
            if (afxdp_mode_parse(optarg, &cfg.mode) < 0) {
                fprintf(stderr, "toe-reflector: --xdp-mode must be auto, native or generic\n");
                return 2;
            }
            break;
        case 'p':
            cfg.pcap_path = optarg;
            break;
        case 'b':
            cfg.busy_poll = true;
            break;
        case 'B':
            batch = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case 'd':
            duration = strtod(optarg, NULL);
            break;
        case 'v':
            cfg.verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!cfg.ifname[0] || !cfg.ipv4_addr || batch < 1 || batch > REFL_MAX_BATCH) {
        usage(stderr);
        return 2;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rc = afxdp_open(&cfg, &x, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "toe-reflector: %s\n", err);
        return 1;
    }
    printf("toe-reflector: ready on %s, %u queue(s), mode %s (%s), xdp object %s\n", cfg.ifname,
           afxdp_n_ports(x), afxdp_bound_name(afxdp_bound_mode(x)), afxdp_mode_reason(x),
           afxdp_obj_path(x));
    fflush(stdout);

    th = calloc(afxdp_n_ports(x), sizeof(*th));
    if (!th) {
        afxdp_close(x);
        return 1;
    }
    t0 = now_s();
    for (uint32_t i = 0; i < afxdp_n_ports(x); i++) {
        th[i].x = x;
        th[i].index = i;
        th[i].batch = batch;
        th[i].ipv4_be = htonl(cfg.ipv4_addr);
        rc = pthread_create(&th[i].tid, NULL, refl_run, &th[i]);
        if (rc) {
            fprintf(stderr, "toe-reflector: pthread_create: %s\n", strerror(rc));
            stop_flag = 1;
            for (uint32_t j = 0; j < i; j++)
                pthread_join(th[j].tid, NULL);
            afxdp_close(x);
            free(th);
            return 1;
        }
    }
    while (!stop_flag) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};

        nanosleep(&ts, NULL);
        if (duration > 0 && now_s() - t0 >= duration)
            stop_flag = 1;
    }
    for (uint32_t i = 0; i < afxdp_n_ports(x); i++)
        pthread_join(th[i].tid, NULL);
    print_counters(x, th, afxdp_n_ports(x), now_s() - t0);
    fflush(stdout);
    afxdp_close(x);
    free(th);
    return 0;
}
