/* toe-impair: the lab's impairing bridge. Runs in the middle namespace and
 * forwards Ethernet frames between two interfaces through AF_PACKET sockets
 * (PACKET_IGNORE_OUTGOING, so it never re-reads what it sent), applying the
 * impairment engine (impair.c) to each direction: seeded random and
 * Gilbert-Elliott loss, duplication, reordering, corruption, a rate limit and
 * a fixed delay. Queues are bounded. SIGTERM/SIGINT: prints its counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "impair.h"

#define SLOT_BYTES    2048 /* MTU 1500 frames; larger ones are counted and dropped */
#define RX_BATCH      64   /* frames read per direction per round */
#define SCRATCH_BYTES 65536

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

struct dir {
    const char *name;
    int in_fd, out_fd;
    bool impaired;
    struct impair im;
    uint8_t *slots;       /* cap * SLOT_BYTES */
    uint32_t *free_slots; /* stack */
    uint32_t n_free;
    uint64_t rx, tx, tx_errors, oversize;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    stop_flag = 1;
}

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int open_if(const char *ifname)
{
    struct sockaddr_ll sll;
    struct packet_mreq mr;
    int one = 1, rcvbuf = 8 << 20, fd, idx = (int)if_nametoindex(ifname);

    if (!idx) {
        fprintf(stderr, "toe-impair: interface %s not found\n", ifname);
        return -1;
    }
    /* Protocol 0 until bound: nothing from other interfaces slips in. */
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "toe-impair: AF_PACKET socket: %s%s\n", strerror(errno),
                errno == EPERM ? " (run as root)" : "");
        return -1;
    }
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = idx;
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
        fprintf(stderr, "toe-impair: %s: %s\n", ifname, strerror(errno));
        close(fd);
        return -1;
    }
    /* Room for bursts while we are descheduled on a busy machine: losses
     * should come from the engine, not from a full socket. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    memset(&mr, 0, sizeof(mr));
    mr.mr_ifindex = idx;
    mr.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
        fprintf(stderr, "toe-impair: %s: promiscuous mode: %s\n", ifname, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int dir_init(struct dir *d, const char *name, int in_fd, int out_fd, bool impaired,
                    const struct impair_config *cfg)
{
    struct impair_config plain;
    int rc;

    memset(d, 0, sizeof(*d));
    d->name = name;
    d->in_fd = in_fd;
    d->out_fd = out_fd;
    d->impaired = impaired;
    if (!impaired) {
        impair_config_init(&plain);
        plain.queue_frames = cfg->queue_frames;
        cfg = &plain;
    }
    rc = impair_init(&d->im, cfg);
    if (rc < 0)
        return rc;
    d->slots = malloc((size_t)cfg->queue_frames * SLOT_BYTES);
    d->free_slots = malloc((size_t)cfg->queue_frames * sizeof(*d->free_slots));
    if (!d->slots || !d->free_slots)
        return -ENOMEM;
    for (uint32_t i = 0; i < cfg->queue_frames; i++)
        d->free_slots[d->n_free++] = cfg->queue_frames - 1 - i;
    return 0;
}

static void dir_free(struct dir *d)
{
    impair_free(&d->im);
    free(d->slots);
    free(d->free_slots);
}

static void dir_receive(struct dir *d, uint8_t *scratch, uint64_t now)
{
    for (int n = 0; n < RX_BATCH; n++) {
        struct impair_verdict v;
        ssize_t len = recv(d->in_fd, scratch, SCRATCH_BYTES, MSG_TRUNC);

        if (len < 0)
            return; /* EAGAIN, or an error we only retry */
        d->rx++;
        if (len > SLOT_BYTES) {
            d->oversize++;
            continue;
        }
        impair_decide(&d->im, now, (uint32_t)len, &v);
        for (uint32_t c = 0; c < v.copies && d->n_free; c++) {
            uint32_t slot = d->free_slots[--d->n_free];
            uint8_t *buf = d->slots + (size_t)slot * SLOT_BYTES;

            memcpy(buf, scratch, (size_t)len);
            if (v.corrupt_bit[c] >= 0)
                buf[v.corrupt_bit[c] / 8] ^= (uint8_t)(1u << (v.corrupt_bit[c] % 8));
            if (impair_push(&d->im, v.due_us[c], slot, (uint32_t)len) < 0)
                d->free_slots[d->n_free++] = slot;
        }
    }
}

static void dir_transmit(struct dir *d, uint64_t now)
{
    struct impair_entry e;

    while (impair_pop_due(&d->im, now, &e)) {
        if (send(d->out_fd, d->slots + (size_t)e.slot * SLOT_BYTES, e.len_bytes, 0) < 0)
            d->tx_errors++;
        else
            d->tx++;
        d->free_slots[d->n_free++] = e.slot;
    }
}

static void dir_print(const struct dir *d)
{
    const struct impair_stats *s = &d->im.st;

    printf("%s: rx %" PRIu64 " tx %" PRIu64 " tx_errors %" PRIu64 " oversize %" PRIu64
           " queued %u\n",
           d->name, d->rx, d->tx, d->tx_errors, d->oversize, impair_queued(&d->im));
    printf("%s: lost_random %" PRIu64 " lost_burst %" PRIu64 " queue_drops %" PRIu64
           " duplicated %" PRIu64 " reordered %" PRIu64 " corrupted %" PRIu64 "\n",
           d->name, s->lost_random, s->lost_burst, s->queue_drops, s->duplicated, s->reordered,
           s->corrupted);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: toe-impair --a IF --b IF [impairments]\n"
            "Forwards every frame between interfaces A and B (AF_PACKET), impairing it.\n"
            "  --a IF, --b IF            the two interfaces (required)\n"
            "  --direction D             both | a2b | b2a: where impairments apply (both)\n"
            "  --seed N                  PRNG seed (1); same seed, same decisions\n"
            "  --loss P                  independent loss probability\n"
            "  --ge P,R,LG,LB            Gilbert-Elliott loss: P(good->bad), P(bad->good),\n"
            "                            loss in good, loss in bad (e.g. 0.01,0.25,0,1)\n"
            "  --dup P                   duplication probability\n"
            "  --reorder P               probability a frame is held back ...\n"
            "  --reorder-delay-us N      ... by N microseconds more (default 1000)\n"
            "  --corrupt P               probability one bit is flipped past byte 34\n"
            "  --rate-kbit N             link rate limit in kbit/s (0: none)\n"
            "  --delay-us N              fixed one-way delay\n"
            "  --queue N                 frames held per direction (default %d)\n"
            "  --duration S              stop after S seconds (default: until SIGTERM)\n"
            "  --help                    this text\n"
            "SIGTERM/SIGINT: prints per-direction counters and exits.\n",
            IMPAIR_DEFAULT_QUEUE_FRAMES);
}

static int parse_prob(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end || v < 0 || v > 1)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"a", required_argument, NULL, 'a'},
        {"b", required_argument, NULL, 'b'},
        {"direction", required_argument, NULL, 'D'},
        {"seed", required_argument, NULL, 's'},
        {"loss", required_argument, NULL, 'l'},
        {"ge", required_argument, NULL, 'g'},
        {"dup", required_argument, NULL, 'u'},
        {"reorder", required_argument, NULL, 'r'},
        {"reorder-delay-us", required_argument, NULL, 'R'},
        {"corrupt", required_argument, NULL, 'c'},
        {"rate-kbit", required_argument, NULL, 'k'},
        {"delay-us", required_argument, NULL, 'd'},
        {"queue", required_argument, NULL, 'q'},
        {"duration", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *if_a = NULL, *if_b = NULL, *direction = "both";
    struct impair_config cfg;
    struct dir ab, ba;
    struct sigaction sa;
    uint8_t *scratch;
    double duration = 0;
    uint64_t t0;
    int c, fa, fb, rc = 0;

    impair_config_init(&cfg);
    cfg.reorder_delay_us = 1000;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int bad = 0;

        switch (c) {
        case 'a':
            if_a = optarg;
            break;
        case 'b':
            if_b = optarg;
            break;
        case 'D':
            direction = optarg;
            bad = strcmp(direction, "both") && strcmp(direction, "a2b") && strcmp(direction, "b2a");
            break;
        case 's':
            cfg.seed = strtoull(optarg, NULL, 0);
            break;
        case 'l':
            bad = parse_prob(optarg, &cfg.loss);
            break;
        case 'g':
            bad = sscanf(optarg, "%lf,%lf,%lf,%lf", &cfg.ge_p, &cfg.ge_r, &cfg.ge_loss_good,
                         &cfg.ge_loss_bad) != 4;
            break;
        case 'u':
            bad = parse_prob(optarg, &cfg.dup);
            break;
        case 'r':
            bad = parse_prob(optarg, &cfg.reorder);
            break;
        case 'R':
            cfg.reorder_delay_us = strtoull(optarg, NULL, 0);
            break;
        case 'c':
            bad = parse_prob(optarg, &cfg.corrupt);
            break;
        case 'k':
            cfg.rate_bps = strtoull(optarg, NULL, 0) * 1000u;
            break;
        case 'd':
            cfg.delay_us = strtoull(optarg, NULL, 0);
            break;
        case 'q':
            cfg.queue_frames = (uint32_t)strtoul(optarg, NULL, 0);
            bad = cfg.queue_frames < 1 || cfg.queue_frames > 65536;
            break;
        case 't':
            duration = strtod(optarg, NULL);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "toe-impair: bad value for an option\n");
            usage(stderr);
            return 2;
        }
    }
    if (!if_a || !if_b) {
        usage(stderr);
        return 2;
    }
    fa = open_if(if_a);
    fb = fa >= 0 ? open_if(if_b) : -1;
    if (fa < 0 || fb < 0)
        return 1;
    scratch = malloc(SCRATCH_BYTES);
    if (!scratch || dir_init(&ab, "a2b", fa, fb, strcmp(direction, "b2a") != 0, &cfg) < 0 ||
        dir_init(&ba, "b2a", fb, fa, strcmp(direction, "a2b") != 0, &cfg) < 0) {
        fprintf(stderr, "toe-impair: bad impairment config or out of memory\n");
        return 1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("toe-impair: ready %s <-> %s, impairing %s, seed %" PRIu64 "\n", if_a, if_b, direction,
           cfg.seed);
    fflush(stdout);

    t0 = now_us();
    while (!stop_flag) {
        struct pollfd pfd[2] = {{.fd = fa, .events = POLLIN}, {.fd = fb, .events = POLLIN}};
        uint64_t now = now_us(), next = impair_next_due(&ab.im);
        uint64_t wait_us = 100000; /* at most 100 ms: signals and --duration */
        struct timespec ts;

        if (impair_next_due(&ba.im) < next)
            next = impair_next_due(&ba.im);
        if (next != UINT64_MAX)
            wait_us = next > now ? (next - now < wait_us ? next - now : wait_us) : 0;
        ts.tv_sec = (time_t)(wait_us / 1000000u);
        ts.tv_nsec = (long)(wait_us % 1000000u) * 1000;
        if (ppoll(pfd, 2, &ts, NULL) < 0 && errno != EINTR) {
            perror("toe-impair: ppoll");
            rc = 1;
            break;
        }
        now = now_us();
        dir_receive(&ab, scratch, now);
        dir_receive(&ba, scratch, now);
        dir_transmit(&ab, now);
        dir_transmit(&ba, now);
        if (duration > 0 && (double)(now - t0) >= duration * 1e6)
            break;
    }
    printf("toe-impair: %.3f s\n", (double)(now_us() - t0) / 1e6);
    dir_print(&ab);
    dir_print(&ba);
    fflush(stdout);
    dir_free(&ab);
    dir_free(&ba);
    free(scratch);
    close(fa);
    close(fb);
    return rc;
}
