/* toe-udp-flood: a small UDP load generator for the reflector (or any UDP
 * echo). Keeps up to --window datagrams in flight on one connected socket,
 * sending with sendmmsg and receiving with recvmmsg, for a bounded time, and
 * reports round trips per second. Kernel-stack client side of the reflector
 * ceiling measurement. */
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

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: toe-udp-flood --dst A.B.C.D [--port P] [--size B] [--duration S]\n"
                 "                     [--window N] [--batch N]\n"
                 "Sends UDP datagrams to DST:PORT (default 9) keeping at most N (256) in\n"
                 "flight, for S seconds (default 2, at most 60), and counts the replies.\n"
                 "Size 18..1472 bytes (default 64); batch 1..64 (default 32).\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dst", required_argument, NULL, 'd'},    {"port", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 's'},   {"duration", required_argument, NULL, 't'},
        {"window", required_argument, NULL, 'w'}, {"batch", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    static uint8_t tx[FLOOD_MAX_BATCH][FLOOD_MAX_SIZE], rx[FLOOD_MAX_BATCH][2048];
    struct mmsghdr tmsg[FLOOD_MAX_BATCH], rmsg[FLOOD_MAX_BATCH];
    struct iovec tiov[FLOOD_MAX_BATCH], riov[FLOOD_MAX_BATCH];
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9)};
    uint64_t sent = 0, received = 0, written_off = 0, stalls = 0, send_errors = 0;
    uint32_t size = 64, window = 256, batch = 32;
    double duration = 2, t0, t_end, t_last;
    int c, fd, have_dst = 0, rcvbuf = 8 << 20;

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

            for (uint32_t i = 0; i < k; i++)
                memcpy(tx[i], &sent, sizeof(sent)); /* a sequence number, for captures */
            n = sendmmsg(fd, tmsg, k, MSG_DONTWAIT);
            if (n > 0) {
                sent += (uint64_t)n;
            } else if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED) {
                send_errors++;
            }
        }
        n = recvmmsg(fd, rmsg, FLOOD_MAX_BATCH, MSG_DONTWAIT, NULL);
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
    }
    close(fd);
    return received ? 0 : 1;
}
