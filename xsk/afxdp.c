/* The AF_XDP port's lifecycle: config defaults, the attach fallback chain
 * (native zero-copy -> native copy -> generic), one socket per queue, close,
 * and the accessors, wait and statistics around the per-queue ports. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xsk/afxdp_int.h"
#include "xsk/bpf/toe_redirect.h"

int afxdp_err(char *err, size_t err_len, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err && err_len) {
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void afxdp_config_init(struct afxdp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->proto_mask = AFXDP_PROTO_STACK;
    cfg->n_queues = 1;
    cfg->mode = AFXDP_MODE_AUTO;
    cfg->frame_size_bytes = 0; /* auto, see afxdp.h */
    cfg->frames = 16384;
    cfg->ring_size = 2048;
    cfg->rx_ring_size = 0; /* auto: frames / 2 */
    cfg->need_wakeup = true;
    cfg->busy_poll_us = 20;
    cfg->busy_poll_budget = 64;
}

int afxdp_mode_parse(const char *s, enum afxdp_mode *mode)
{
    if (!strcmp(s, "auto"))
        *mode = AFXDP_MODE_AUTO;
    else if (!strcmp(s, "native") || !strcmp(s, "drv"))
        *mode = AFXDP_MODE_NATIVE;
    else if (!strcmp(s, "generic") || !strcmp(s, "skb"))
        *mode = AFXDP_MODE_GENERIC;
    else
        return -EINVAL;
    return 0;
}

const char *afxdp_bound_name(enum afxdp_bound b)
{
    switch (b) {
    case AFXDP_BOUND_NATIVE_ZC:
        return "native zero-copy";
    case AFXDP_BOUND_NATIVE_COPY:
        return "native copy";
    case AFXDP_BOUND_GENERIC:
        return "generic copy";
    default:
        return "none";
    }
}

static bool pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

static int check_config(const struct afxdp_config *c, char *err, size_t err_len)
{
    if (!c->ipv4_addr)
        return afxdp_err(err, err_len, -EINVAL, "no IPv4 address given");
    if (!c->n_queues || c->n_queues > AFXDP_MAX_QUEUES ||
        c->first_queue + c->n_queues > TOE_REDIRECT_MAX_QUEUES)
        return afxdp_err(err, err_len, -EINVAL, "queues %u..%u out of range (max %d)",
                         c->first_queue, c->first_queue + c->n_queues - 1, TOE_REDIRECT_MAX_QUEUES);
    if (c->frame_size_bytes && c->frame_size_bytes != 2048 && c->frame_size_bytes != 4096)
        return afxdp_err(err, err_len, -EINVAL, "frame size must be 2048 or 4096");
    if (!pow2(c->ring_size) || c->ring_size < 64)
        return afxdp_err(err, err_len, -EINVAL, "ring size must be a power of two >= 64");
    if (c->rx_ring_size && (!pow2(c->rx_ring_size) || c->rx_ring_size < c->ring_size))
        return afxdp_err(err, err_len, -EINVAL,
                         "RX ring size must be a power of two >= the TX ring size");
    if (c->frames < 2 * c->ring_size || c->frames > (1u << 24))
        return afxdp_err(err, err_len, -EINVAL, "need 2 x ring size .. 16777216 frames per queue");
    if (c->rx_ring_size > c->frames / 2)
        return afxdp_err(err, err_len, -EINVAL, "need at least 2 x RX ring size frames per queue");
    return 0;
}

static int read_link(struct afxdp *x, uint8_t mac[6], uint32_t *mtu)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rc = 0;

    if (fd < 0)
        return -errno;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", x->cfg.ifname);
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
        rc = -errno;
        goto out;
    }
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) {
        rc = -errno;
        goto out;
    }
    *mtu = (uint32_t)ifr.ifr_mtu;
out:
    close(fd);
    return rc;
}

/* Resolves the automatic frame and RX ring sizes (afxdp.h): 2048-byte frames
 * when a full-sized frame fits after copy mode's XDP headroom. (A bigger MTU,
 * e.g. lo's, is not refused: frames larger than a chunk are the kernel's
 * XdpRxDropped.) */
static int size_frames(struct afxdp *x, uint32_t mtu)
{
    struct afxdp_config *c = &x->cfg;
    uint32_t need = mtu + AFXDP_L2_BYTES + AFXDP_RX_HEADROOM;

    if (!c->frame_size_bytes)
        c->frame_size_bytes = need <= 2048 ? 2048 : 4096;
    if (!c->rx_ring_size) {
        c->rx_ring_size = c->ring_size;
        while (c->rx_ring_size * 2 <= c->frames / 2)
            c->rx_ring_size *= 2;
    }
    return 0;
}

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    return 0;
}

static int quiet_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
    return 0;
}

static void close_queues(struct afxdp *x)
{
    for (uint32_t i = 0; i < AFXDP_MAX_QUEUES; i++) {
        afxdp_queue_close(x->q[i]);
        x->q[i] = NULL;
    }
    x->n_queues = 0;
}

static int open_queues(struct afxdp *x, bool zero_copy, char *err, size_t err_len)
{
    for (uint32_t i = 0; i < x->cfg.n_queues; i++) {
        int rc = afxdp_queue_open(x, i, zero_copy, err, err_len);

        if (rc < 0) {
            close_queues(x);
            return rc;
        }
    }
    x->n_queues = x->cfg.n_queues;
    return 0;
}

struct attempt {
    enum xdp_attach_mode mode;
    bool zero_copy;
    enum afxdp_bound bound;
};

/* Errors after which no other mode can do better. */
static bool fatal(int rc)
{
    return rc == -EPERM || rc == -EBUSY || rc == -ENOMEM || rc == -ENODEV;
}

static int attach_chain(struct afxdp *x, char *err, size_t err_len)
{
    static const struct attempt chain[] = {
        {XDP_MODE_NATIVE, true, AFXDP_BOUND_NATIVE_ZC},
        {XDP_MODE_NATIVE, false, AFXDP_BOUND_NATIVE_COPY},
        {XDP_MODE_SKB, false, AFXDP_BOUND_GENERIC},
    };
    size_t first = 0, last = 2;
    int rc = -EOPNOTSUPP;

    if (x->cfg.mode == AFXDP_MODE_NATIVE)
        last = 1;
    if (x->cfg.mode == AFXDP_MODE_GENERIC)
        first = 2;
    /* veth: start at native copy. veth has no AF_XDP zero-copy. Generic (skb)
     * XDP on veth runs on whatever skbs the kernel peer built: with GSO/TSO on
     * there, TCP arrives as super-packets bigger than a UMEM frame (dropped)
     * and cloned skbs must be copied first; DESIGN.md records TCP as
     * unreliable in generic mode on veth. Native XDP on veth sees plain
     * frames and is faster: in the lab (kernel 6.18, peer offloads off) the
     * reflector did ~395k UDP round trips/s native vs ~275k generic. */
    if (x->is_veth && first == 0)
        first = 1;
    for (size_t i = first; i <= last; i++) {
        const struct attempt *a = &chain[i];

        if (!x->prog || x->attach_mode != a->mode) {
            afxdp_prog_detach(x);
            rc = afxdp_prog_attach(x, a->mode, err, err_len);
            if (rc < 0) {
                if (fatal(rc))
                    return rc;
                continue;
            }
        }
        rc = open_queues(x, a->zero_copy, err, err_len);
        if (rc == 0) {
            x->bound = a->bound;
            if (x->is_veth && x->cfg.mode == AFXDP_MODE_AUTO)
                snprintf(x->reason, sizeof(x->reason),
                         "veth: native copy (veth has no zero-copy; generic XDP is slower "
                         "and unreliable for TCP)");
            else if (i > first)
                snprintf(x->reason, sizeof(x->reason), "fell back from %s",
                         afxdp_bound_name(chain[first].bound));
            else
                snprintf(x->reason, sizeof(x->reason), "first choice of mode %s",
                         x->cfg.mode == AFXDP_MODE_AUTO     ? "auto"
                         : x->cfg.mode == AFXDP_MODE_NATIVE ? "native"
                                                            : "generic");
            return 0;
        }
        if (fatal(rc))
            return rc;
    }
    afxdp_prog_detach(x);
    if (rc == -EOPNOTSUPP)
        return afxdp_err(err, err_len, rc, "%s: XDP/AF_XDP not supported in mode %s (driver %s)",
                         x->cfg.ifname,
                         x->cfg.mode == AFXDP_MODE_NATIVE ? "native" : "auto/generic",
                         x->driver[0] ? x->driver : "unknown");
    return rc;
}

int afxdp_open(const struct afxdp_config *cfg, struct afxdp **out, char *err, size_t err_len)
{
    struct afxdp *x;
    uint8_t mac[6];
    uint32_t mtu = 1500;
    int rc;

    *out = NULL;
    rc = check_config(cfg, err, err_len);
    if (rc < 0)
        return rc;
    x = calloc(1, sizeof(*x));
    if (!x)
        return afxdp_err(err, err_len, -ENOMEM, "out of memory");
    x->cfg = *cfg;
    x->cfg.ifname[sizeof(x->cfg.ifname) - 1] = '\0';
    x->cfg.pcap_path = NULL; /* not owned; only used below */
    x->cfg.bpf_obj_path = cfg->bpf_obj_path;
    x->cfg_map_fd = -1;
    x->xsks_map_fd = -1;
    x->stats_map_fd = -1;
    if (!cfg->verbose) {
        libbpf_set_print(quiet_libbpf);
        libxdp_set_print(quiet_libxdp);
    }

    rc = afxdp_probe(x, err, err_len);
    if (rc < 0)
        goto fail;
    x->cfg.bpf_obj_path = NULL;
    rc = read_link(x, mac, &mtu);
    if (rc < 0) {
        rc = afxdp_err(err, err_len, rc, "%s: cannot read MAC/MTU: %s", x->cfg.ifname,
                       strerror(-rc));
        goto fail;
    }
    rc = size_frames(x, mtu);
    if (rc < 0)
        goto fail;
    rc = afxdp_recover_stale(x, err, err_len);
    if (rc < 0)
        goto fail;
    if (cfg->pcap_path) {
        rc = afxdp_pcap_open(cfg->pcap_path, &x->pcap, err, err_len);
        if (rc < 0)
            goto fail;
    }
    rc = attach_chain(x, err, err_len);
    if (rc < 0)
        goto fail;
    for (uint32_t i = 0; i < x->n_queues; i++) {
        memcpy(x->q[i]->port.mac, mac, 6);
        x->q[i]->port.mtu_bytes = mtu;
    }
    if (x->cfg.one_port && x->n_queues > 1) {
        rc = afxdp_mq_open(x, err, err_len);
        if (rc < 0)
            goto fail;
    }
    /* Sockets are in xsks_map: now let the program redirect. */
    rc = afxdp_prog_enable(x, err, err_len);
    if (rc < 0)
        goto fail;
    *out = x;
    return 0;
fail:
    afxdp_close(x);
    return rc;
}

void afxdp_close(struct afxdp *x)
{
    if (!x)
        return;
    afxdp_prog_detach(x);
    afxdp_mq_close(x);
    close_queues(x);
    afxdp_pcap_close(x->pcap);
    free(x);
}

uint32_t afxdp_n_ports(const struct afxdp *x)
{
    return x->mq ? 1 : x->n_queues;
}

uint32_t afxdp_n_queues(const struct afxdp *x)
{
    return x->n_queues;
}

struct port *afxdp_port(struct afxdp *x, uint32_t i)
{
    if (x->mq)
        return i == 0 ? afxdp_mq_port(x) : NULL;
    return i < x->n_queues ? &x->q[i]->port : NULL;
}

enum afxdp_bound afxdp_bound_mode(const struct afxdp *x)
{
    return x->bound;
}

const char *afxdp_mode_reason(const struct afxdp *x)
{
    return x->reason;
}

const char *afxdp_obj_path(const struct afxdp *x)
{
    return x->obj_path;
}

int afxdp_port_fd(const struct afxdp *x, uint32_t i)
{
    if (x->mq)
        return i == 0 ? afxdp_mq_fd(x) : -EINVAL;
    return i < x->n_queues ? x->q[i]->fd : -EINVAL;
}

int afxdp_port_wait(struct afxdp *x, uint32_t i, int timeout_ms)
{
    struct pollfd pfd;
    int rc;

    if (i >= afxdp_n_ports(x))
        return -EINVAL;
    afxdp_port_flush(afxdp_port(x, i));
    pfd.fd = afxdp_port_fd(x, i);
    pfd.events = POLLIN;
    pfd.revents = 0;
    rc = poll(&pfd, 1, timeout_ms);
    return rc < 0 ? -errno : rc;
}

int afxdp_queue_stats(struct afxdp *x, uint32_t i, struct afxdp_queue_stats *st)
{
    if (i >= x->n_queues)
        return -EINVAL;
    afxdp_queue_read_stats(x->q[i], st);
    return 0;
}

int afxdp_total_stats(struct afxdp *x, struct afxdp_queue_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (uint32_t i = 0; i < x->n_queues; i++) {
        struct afxdp_queue_stats s;

        afxdp_queue_read_stats(x->q[i], &s);
        st->port.rx_frames += s.port.rx_frames;
        st->port.rx_bytes += s.port.rx_bytes;
        st->port.tx_frames += s.port.tx_frames;
        st->port.tx_bytes += s.port.tx_bytes;
        st->port.rx_empty += s.port.rx_empty;
        st->port.tx_ring_full += s.port.tx_ring_full;
        st->port.tx_alloc_fail += s.port.tx_alloc_fail;
        st->port.drops += s.port.drops;
        st->fill_ring_empty += s.fill_ring_empty;
        st->rx_kicks += s.rx_kicks;
        st->tx_kicks += s.tx_kicks;
        st->tx_kick_errors += s.tx_kick_errors;
        st->tx_completed += s.tx_completed;
        st->xdp_rx_dropped += s.xdp_rx_dropped;
        st->xdp_rx_invalid_descs += s.xdp_rx_invalid_descs;
        st->xdp_tx_invalid_descs += s.xdp_tx_invalid_descs;
        st->xdp_rx_ring_full += s.xdp_rx_ring_full;
        st->xdp_rx_fill_ring_empty_descs += s.xdp_rx_fill_ring_empty_descs;
        st->xdp_tx_ring_empty_descs += s.xdp_tx_ring_empty_descs;
    }
    return 0;
}
