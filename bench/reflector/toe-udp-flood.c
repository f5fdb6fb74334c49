/* toe-udp-flood: a small UDP load generator for the reflector (or any UDP
 * echo). Keeps up to --window datagrams in flight on one connected socket,
 * sending with sendmmsg and receiving with recvmmsg, for a bounded time, and
 * reports round trips per second. Kernel-stack client side of the reflector
 * ceiling measurement. With --rtt it also reports round-trip percentiles,
 * matching each reply to its send time by the sequence number in its first
 * eight bytes (send times kept in a ring indexed by sequence number). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FLOOD_MAX_BATCH 64
#define FLOOD_MAX_SIZE  1472
#define FLOOD_RING      (1u << 21) /* send-time slots; > the largest window */
#define FLOOD_HIST_US   100000     /* 1 us buckets up to 100 ms, then overflow */

/* Send times by sequence number, and a histogram of round trips. */
struct flood_rtt {
    uint64_t seq[FLOOD_RING];
    uint64_t sent_ns[FLOOD_RING];
    uint64_t hist[FLOOD_HIST_US + 1];
    uint64_t samples, unmatched;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void rtt_sent(struct flood_rtt *r, uint64_t seq, uint64_t t_ns)
{
    r->seq[seq & (FLOOD_RING - 1)] = seq;
    r->sent_ns[seq & (FLOOD_RING - 1)] = t_ns;
}

/* A reply: its sequence number must still own its slot (not overwritten by
 * a later send, not already matched: a duplicate). */
static void rtt_received(struct flood_rtt *r, const uint8_t *buf, size_t len, uint64_t t_ns)
{
    uint64_t seq, us;
    uint32_t slot;

    if (len < sizeof(seq)) {
        r->unmatched++;
        return;
    }
    memcpy(&seq, buf, sizeof(seq));
    slot = (uint32_t)(seq & (FLOOD_RING - 1));
    if (r->seq[slot] != seq || r->sent_ns[slot] == 0 || t_ns < r->sent_ns[slot]) {
        r->unmatched++;
        return;
    }
    us = (t_ns - r->sent_ns[slot]) / 1000;
    r->sent_ns[slot] = 0;
    r->hist[us < FLOOD_HIST_US ? us : FLOOD_HIST_US]++;
    r->samples++;
}

/* The smallest bucket with at least p of the samples at or below it. */
static uint64_t rtt_percentile_us(const struct flood_rtt *r, double p)
{
    uint64_t want = (uint64_t)((double)r->samples * p), acc = 0;

    if (want == 0)
        want = 1;
    for (uint32_t us = 0; us <= FLOOD_HIST_US; us++) {
        acc += r->hist[us];
        if (acc >= want)
            return us;
    }
    return FLOOD_HIST_US;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: toe-udp-flood --dst A.B.C.D [--port P] [--size B] [--duration S]\n"
                 "                     [--window N] [--batch N] [--rtt]\n"
                 "Sends UDP datagrams to DST:PORT (default 9) keeping at most N (256) in\n"
                 "flight, for S seconds (default 2, at most 60), and counts the replies.\n"
                 "Size 18..1472 bytes (default 64); batch 1..64 (default 32).\n"
                 "--rtt also prints round-trip p50/p99/p99.9 in microseconds (1 us\n"
                 "resolution, 100000 = 100 ms or more), matched by the sequence number\n"
                 "each datagram carries in its first 8 bytes; replies that match no\n"
                 "outstanding send (late, duplicate, mangled) count as unmatched.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dst", required_argument, NULL, 'd'},    {"port", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 's'},   {"duration", required_argument, NULL, 't'},
        {"window", required_argument, NULL, 'w'}, {"batch", required_argument, NULL, 'b'},
        {"rtt", no_argument, NULL, 'r'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static uint8_t tx[FLOOD_MAX_BATCH][FLOOD_MAX_SIZE], rx[FLOOD_MAX_BATCH][2048];
    struct mmsghdr tmsg[FLOOD_MAX_BATCH], rmsg[FLOOD_MAX_BATCH];
    struct iovec tiov[FLOOD_MAX_BATCH], riov[FLOOD_MAX_BATCH];
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9)};
    uint64_t sent = 0, received = 0, written_off = 0, stalls = 0, send_errors = 0;
    uint32_t size = 64, window = 256, batch = 32;
    double duration = 2, t0, t_end, t_last;
    int c, fd, have_dst = 0, rcvbuf = 8 << 20;
    struct flood_rtt *rtt = NULL;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            have_dst = inet_pton(AF_INET, optarg, &dst.sin_addr) == 1;
            break;
        case 'p':
            dst.sin_port = htons((uint16_t)strtoul(optarg, NULL, 0));
            break;
        case 's':
            size = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case 't':
            duration = strtod(optarg, NULL);
            break;
        case 'w':
            window = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case 'b':
            batch = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case 'r':
            if (!rtt)
                rtt = calloc(1, sizeof(*rtt));
            if (!rtt) {
                perror("toe-udp-flood: --rtt");
                return 1;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!have_dst || size < 18 || size > FLOOD_MAX_SIZE || duration <= 0 || duration > 60 ||
        window < 1 || window > 1u << 20 || batch < 1 || batch > FLOOD_MAX_BATCH) {
        usage(stderr);
        return 2;
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
        perror("toe-udp-flood: socket/connect");
        return 1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    memset(tmsg, 0, sizeof(tmsg));
    memset(rmsg, 0, sizeof(rmsg));
    for (uint32_t i = 0; i < FLOOD_MAX_BATCH; i++) {
        memset(tx[i], 'f', sizeof(tx[i]));
        tiov[i] = (struct iovec){.iov_base = tx[i], .iov_len = size};
        tmsg[i].msg_hdr.msg_iov = &tiov[i];
        tmsg[i].msg_hdr.msg_iovlen = 1;
        riov[i] = (struct iovec){.iov_base = rx[i], .iov_len = sizeof(rx[i])};
        rmsg[i].msg_hdr.msg_iov = &riov[i];
        rmsg[i].msg_hdr.msg_iovlen = 1;
    }

    t0 = now_s();
    t_end = t0 + duration;
    t_last = t0;
    for (;;) {
        double t = now_s();
        uint64_t inflight = sent - received - written_off;
        int n;

        if (t >= t_end + 0.5 || (t >= t_end && inflight == 0))
            break;
        if (t < t_end && inflight < window) {
            uint32_t k = window - inflight < batch ? (uint32_t)(window - inflight) : batch;

            uint64_t t_ns = rtt ? now_ns() : 0;

            for (uint32_t i = 0; i < k; i++) {
                uint64_t seq = sent + i; /* a sequence number, for captures and --rtt */

                memcpy(tx[i], &seq, sizeof(seq));
            }
            n = sendmmsg(fd, tmsg, k, MSG_DONTWAIT);
            if (n > 0 && rtt) {
                for (uint64_t i = 0; i < (uint64_t)n; i++)
                    rtt_sent(rtt, sent + i, t_ns);
            }
            if (n > 0) {
                sent += (uint64_t)n;
            } else if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED) {
                send_errors++;
            }
        }
        n = recvmmsg(fd, rmsg, FLOOD_MAX_BATCH, MSG_DONTWAIT, NULL);
        if (n > 0 && rtt) {
            uint64_t t_ns = now_ns();

            for (int i = 0; i < n; i++)
                rtt_received(rtt, rx[i], rmsg[i].msg_len, t_ns);
        }
        if (n > 0) {
            received += (uint64_t)n;
            t_last = t;
        } else if (inflight >= window || t >= t_end) {
            struct pollfd p = {.fd = fd, .events = POLLIN};

            /* Window full: wait a little; after 50 ms without replies,
             * write the window off as lost (a stall) and go on. */
            if (poll(&p, 1, 1) == 0 && now_s() - t_last > 0.05 && t < t_end) {
                written_off = sent - received;
                t_last = now_s();
                stalls++;
            }
        }
    }
    {
        double secs = (t_end < now_s() ? duration : now_s() - t0);

        printf("toe-udp-flood: sent %" PRIu64 " received %" PRIu64 " stalls %" PRIu64
               " send_errors %" PRIu64 " in %.3f s: %.0f round trips/s (%u-byte datagrams,"
               " window %u)\n",
               sent, received, stalls, send_errors, secs, (double)received / secs, size, window);
        if (rtt && rtt->samples)
            printf("toe-udp-flood: rtt_us p50 %" PRIu64 " p99 %" PRIu64 " p99.9 %" PRIu64
                   " (%" PRIu64 " samples, %" PRIu64 " unmatched)\n",
                   rtt_percentile_us(rtt, 0.50), rtt_percentile_us(rtt, 0.99),
                   rtt_percentile_us(rtt, 0.999), rtt->samples, rtt->unmatched);
        else if (rtt)
            printf("toe-udp-flood: rtt_us none (0 samples, %" PRIu64 " unmatched)\n",
                   rtt->unmatched);
    }
    free(rtt);
    close(fd);
    return received ? 0 : 1;
}
