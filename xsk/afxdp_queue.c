/* One queue of the AF_XDP port: its UMEM, the four rings (through libxdp's
 * <xdp/xsk.h> ring helpers, never a copy of them) and the struct port ops.
 *
 * Frame life cycle (addresses are UMEM chunk bases):
 *   free stack --refill--> fill ring --kernel--> rx ring --rx_burst--> engine
 *   engine --rx_release--> fill ring (or the free stack if the fill ring is full)
 *   free stack --tx_alloc--> engine --tx_submit--> tx ring --kernel--> completion
 *   ring --reap--> free stack;  engine --tx_free--> free stack
 * refill keeps tx_reserve frames back so that RX can never starve TX.
 *
 * Ring sizes: the RX ring is the only buffer between the kernel and a thread
 * that the scheduler may not run for tens of milliseconds; when it is full the
 * kernel drops (XdpRxRingFull) and TCP pays with retransmissions and, when a
 * flow's last segments or ACKs go, timeouts. So RX and fill rings are deep
 * (rx_ring_size, 8192 by default) and TX/completion stay at ring_size: the
 * engine refills TX every poll. */
#include <errno.h>
#include <linux/if_xdp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xsk/afxdp_int.h"

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

static inline struct afxdp_queue *to_queue(struct port *p)
{
    return (struct afxdp_queue *)p;
}

static inline bool addr_ok(const struct afxdp_queue *q, uint64_t addr)
{
    return addr < q->umem_bytes;
}

static inline void free_push(struct afxdp_queue *q, uint64_t addr)
{
    if (q->n_free < q->n_frames)
        q->free_addrs[q->n_free++] = addr & q->frame_mask;
}

/* Completed TX frames go back to the free stack. */
static void reap_completions(struct afxdp_queue *q)
{
    uint32_t idx, n;

    if (!q->tx_outstanding)
        return;
    n = xsk_ring_cons__peek(&q->comp, q->ring_size, &idx);
    if (!n)
        return;
    for (uint32_t i = 0; i < n; i++)
        free_push(q, *xsk_ring_cons__comp_addr(&q->comp, idx + i));
    xsk_ring_cons__release(&q->comp, n);
    q->tx_outstanding -= n < q->tx_outstanding ? n : q->tx_outstanding;
    q->tx_completed += n;
}

/* Tops the fill ring up from the free stack, leaving tx_reserve frames. */
static void refill(struct afxdp_queue *q)
{
    uint32_t room = xsk_prod_nb_free(&q->fill, q->rx_ring_size);
    uint32_t movable = q->n_free > q->tx_reserve ? q->n_free - q->tx_reserve : 0;
    uint32_t k = room < movable ? room : movable;
    uint32_t idx;

    if (room == q->rx_ring_size)
        q->fill_ring_empty++; /* the kernel had no buffer to receive into */
    if (!k)
        return;
    k = xsk_ring_prod__reserve(&q->fill, k, &idx);
    for (uint32_t i = 0; i < k; i++)
        *xsk_ring_prod__fill_addr(&q->fill, idx + i) = q->free_addrs[--q->n_free];
    xsk_ring_prod__submit(&q->fill, k);
}

/* In copy mode the kernel transmits inside sendto(), at most 32 frames per
 * call (TX_BATCH_SIZE), so keep calling while the TX ring holds descriptors;
 * bounded by the ring size. Zero-copy drivers need one wakeup at most. */
static void kick_tx(struct afxdp_queue *q)
{
    uint32_t rounds = q->ring_size / 32 + 2;

    while (rounds--) {
        uint32_t pending = q->ring_size - xsk_prod_nb_free(&q->tx, q->ring_size);

        if (!pending)
            return;
        if (q->need_wakeup && !q->busy_poll && !xsk_ring_prod__needs_wakeup(&q->tx))
            return;
        q->tx_kicks++;
        if (sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0) {
            if (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != ENETDOWN)
                q->tx_kick_errors++;
            if (errno != EAGAIN)
                return;
        }
        if (q->zero_copy)
            return;
    }
}

static void kick_rx(struct afxdp_queue *q)
{
    q->rx_kicks++;
    recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

static uint32_t afxdp_rx_burst(struct port *p, struct port_frame *frames, uint32_t max)
{
    struct afxdp_queue *q = to_queue(p);
    struct afxdp_pcap *pc = q->owner->pcap;
    uint64_t bytes = 0;
    uint32_t idx, n;

    reap_completions(q);
    refill(q);
    if (q->busy_poll)
        kick_rx(q);
    n = xsk_ring_cons__peek(&q->rx, max, &idx);
    if (!n) {
        p->stats.rx_empty++;
        if (!q->busy_poll && q->need_wakeup && xsk_ring_prod__needs_wakeup(&q->fill))
            kick_rx(q);
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);
        uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);

        frames[i].data = xsk_umem__get_data(q->umem_area, addr);
        frames[i].len = d->len;
        frames[i].handle = addr & q->frame_mask;
        bytes += d->len;
        if (pc)
            afxdp_pcap_write(pc, frames[i].data, d->len);
    }
    xsk_ring_cons__release(&q->rx, n);
    p->stats.rx_frames += n;
    p->stats.rx_bytes += bytes;
    return n;
}

static void afxdp_rx_release(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct afxdp_queue *q = to_queue(p);
    uint32_t idx = 0, want = 0, k, j = 0;

    for (uint32_t i = 0; i < n; i++)
        want += addr_ok(q, frames[i].handle);
    k = want ? xsk_ring_prod__reserve(&q->fill, want, &idx) : 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!addr_ok(q, frames[i].handle)) {
            p->stats.drops++; /* not ours: never put it anywhere */
            continue;
        }
        if (j < k)
            *xsk_ring_prod__fill_addr(&q->fill, idx + j++) = frames[i].handle & q->frame_mask;
        else
            free_push(q, frames[i].handle); /* fill ring full */
    }
    if (k)
        xsk_ring_prod__submit(&q->fill, k);
}

static uint32_t afxdp_tx_alloc(struct port *p, struct port_frame *frames, uint32_t n)
{
    struct afxdp_queue *q = to_queue(p);
    uint32_t k;

    if (q->n_free < n && q->tx_outstanding) {
        /* Copy mode completes only inside sendto(): push, then reap. */
        reap_completions(q);
        if (q->n_free < n) {
            kick_tx(q);
            reap_completions(q);
        }
    }
    k = n < q->n_free ? n : q->n_free;
    for (uint32_t i = 0; i < k; i++) {
        uint64_t addr = q->free_addrs[--q->n_free];

        frames[i].data = xsk_umem__get_data(q->umem_area, addr);
        frames[i].len = 0;
        frames[i].handle = addr;
    }
    if (k < n)
        p->stats.tx_alloc_fail++;
    return k;
}

static inline bool tx_frame_ok(const struct afxdp_queue *q, const struct port_frame *f)
{
    return addr_ok(q, f->handle) && f->len > 0 && f->len <= q->port.frame_cap_bytes;
}

static uint32_t afxdp_tx_submit(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct afxdp_queue *q = to_queue(p);
    struct afxdp_pcap *pc = q->owner->pcap;
    uint64_t bytes = 0;
    uint32_t idx = 0, want = 0, r, i, j = 0;

    for (i = 0; i < n; i++)
        want += tx_frame_ok(q, &frames[i]);
    r = want ? xsk_ring_prod__reserve(&q->tx, want, &idx) : 0;
    if (r < want) {
        /* Let the kernel drain the ring, then try once more. */
        kick_tx(q);
        reap_completions(q);
        if (!r)
            r = xsk_ring_prod__reserve(&q->tx, want, &idx);
    }
    /* Take frames in order while slots remain; a bad frame is taken and
     * dropped (counted) without using a slot. */
    for (i = 0; i < n; i++) {
        struct xdp_desc *d;

        if (!tx_frame_ok(q, &frames[i])) {
            p->stats.drops++;
            if (addr_ok(q, frames[i].handle))
                free_push(q, frames[i].handle);
            continue;
        }
        if (j == r)
            break;
        d = xsk_ring_prod__tx_desc(&q->tx, idx + j++);
        d->addr = frames[i].handle & q->frame_mask;
        d->len = frames[i].len;
        d->options = 0;
        bytes += frames[i].len;
        if (pc)
            afxdp_pcap_write(pc, frames[i].data, frames[i].len);
    }
    if (j)
        xsk_ring_prod__submit(&q->tx, j);
    q->tx_outstanding += j;
    p->stats.tx_frames += j;
    p->stats.tx_bytes += bytes;
    if (i < n)
        p->stats.tx_ring_full++;
    if (j)
        kick_tx(q);
    return i;
}

static void afxdp_tx_free(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct afxdp_queue *q = to_queue(p);

    for (uint32_t i = 0; i < n; i++) {
        if (addr_ok(q, frames[i].handle))
            free_push(q, frames[i].handle);
        else
            p->stats.drops++;
    }
}

static int afxdp_port_fd_op(struct port *p)
{
    return to_queue(p)->fd;
}

static void afxdp_port_kick(struct port *p)
{
    afxdp_queue_flush(to_queue(p));
}

static const struct port_ops afxdp_port_ops = {
    .rx_burst = afxdp_rx_burst,
    .rx_release = afxdp_rx_release,
    .tx_alloc = afxdp_tx_alloc,
    .tx_submit = afxdp_tx_submit,
    .tx_free = afxdp_tx_free,
    .fd = afxdp_port_fd_op,
    .kick = afxdp_port_kick,
};

void afxdp_port_flush(struct port *p)
{
    if (afxdp_is_mq_port(p))
        afxdp_mq_flush(p);
    else
        afxdp_queue_flush(to_queue(p));
}

void afxdp_queue_flush(struct afxdp_queue *q)
{
    if (q->tx_outstanding)
        kick_tx(q);
    reap_completions(q);
    refill(q);
}

static int set_busy_poll(struct afxdp_queue *q, const struct afxdp_config *cfg)
{
    int one = 1, us = (int)cfg->busy_poll_us, budget = (int)cfg->busy_poll_budget;

    if (setsockopt(q->fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) < 0 ||
        setsockopt(q->fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us)) < 0 ||
        setsockopt(q->fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget)) < 0)
        return -errno;
    return 0;
}

int afxdp_queue_open(struct afxdp *x, uint32_t i, bool zero_copy, char *err, size_t err_len)
{
    const struct afxdp_config *cfg = &x->cfg;
    struct xsk_umem_config ucfg = {
        .fill_size = cfg->rx_ring_size,
        .comp_size = cfg->ring_size,
        .frame_size = cfg->frame_size_bytes,
        .frame_headroom = 0,
        .flags = 0,
    };
    struct xsk_socket_config scfg = {
        .rx_size = cfg->rx_ring_size,
        .tx_size = cfg->ring_size,
        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD, /* our program, not libxdp's */
        .xdp_flags = 0,
        .bind_flags = (uint16_t)((zero_copy ? XDP_ZEROCOPY : XDP_COPY) |
                                 (cfg->need_wakeup ? XDP_USE_NEED_WAKEUP : 0)),
    };
    struct afxdp_queue *q = calloc(1, sizeof(*q));
    int rc;

    if (!q)
        return afxdp_err(err, err_len, -ENOMEM, "out of memory");
    q->owner = x;
    q->fd = -1;
    q->queue_id = cfg->first_queue + i;
    q->n_frames = cfg->frames;
    q->ring_size = cfg->ring_size;
    q->rx_ring_size = cfg->rx_ring_size;
    q->frame_mask = ~((uint64_t)cfg->frame_size_bytes - 1);
    q->tx_reserve = cfg->frames / 4;
    q->zero_copy = zero_copy;
    q->need_wakeup = cfg->need_wakeup;
    q->busy_poll = cfg->busy_poll;
    q->umem_bytes = (size_t)cfg->frames * cfg->frame_size_bytes;
    snprintf(q->name, sizeof(q->name), "afxdp:%s:q%u", cfg->ifname, q->queue_id);
    x->q[i] = q;

    q->free_addrs = calloc(q->n_frames, sizeof(*q->free_addrs));
    if (!q->free_addrs)
        return afxdp_err(err, err_len, -ENOMEM, "out of memory");
    q->umem_area = mmap(NULL, q->umem_bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (q->umem_area == MAP_FAILED) {
        q->umem_area = NULL;
        return afxdp_err(err, err_len, -errno, "cannot map %zu bytes of UMEM: %s", q->umem_bytes,
                         strerror(errno));
    }
    rc = xsk_umem__create(&q->umem, q->umem_area, q->umem_bytes, &q->fill, &q->comp, &ucfg);
    if (rc < 0) {
        q->umem = NULL;
        if (rc == -EPERM)
            return afxdp_err(err, err_len, rc, "AF_XDP UMEM: permission denied (run as root)");
        return afxdp_err(err, err_len, rc, "AF_XDP UMEM create failed: %s", strerror(-rc));
    }
    rc = xsk_socket__create(&q->xsk, cfg->ifname, q->queue_id, q->umem, &q->rx, &q->tx, &scfg);
    if (rc < 0) {
        q->xsk = NULL;
        if (rc == -EPERM)
            return afxdp_err(err, err_len, rc, "AF_XDP socket: permission denied (run as root)");
        if (rc == -EBUSY)
            return afxdp_err(err, err_len, rc, "%s queue %u is already used by an AF_XDP socket",
                             cfg->ifname, q->queue_id);
        if (rc == -EINVAL && !zero_copy)
            return afxdp_err(err, err_len, rc, "%s has no queue %u (bind: %s)", cfg->ifname,
                             q->queue_id, strerror(-rc));
        return afxdp_err(err, err_len, rc, "%s queue %u: %s bind failed: %s", cfg->ifname,
                         q->queue_id, zero_copy ? "zero-copy" : "copy", strerror(-rc));
    }
    q->fd = xsk_socket__fd(q->xsk);
    if (cfg->busy_poll) {
        rc = set_busy_poll(q, cfg);
        if (rc < 0)
            return afxdp_err(err, err_len, rc, "busy poll setsockopt failed: %s", strerror(-rc));
    }
    rc = xsk_socket__update_xskmap(q->xsk, x->xsks_map_fd);
    if (rc < 0)
        return afxdp_err(err, err_len, rc, "cannot insert socket into xsks_map: %s", strerror(-rc));

    for (uint32_t f = 0; f < q->n_frames; f++)
        q->free_addrs[q->n_free++] = (uint64_t)(q->n_frames - 1 - f) * cfg->frame_size_bytes;
    refill(q);
    q->fill_ring_empty = 0;

    q->port.ops = &afxdp_port_ops;
    q->port.name = q->name;
    q->port.frame_cap_bytes = cfg->frame_size_bytes;
    q->port.caps = 0; /* copy mode brings no checksum verdicts */
    return 0;
}

void afxdp_queue_close(struct afxdp_queue *q)
{
    if (!q)
        return;
    if (q->xsk)
        xsk_socket__delete(q->xsk);
    if (q->umem)
        xsk_umem__delete(q->umem);
    if (q->umem_area)
        munmap(q->umem_area, q->umem_bytes);
    free(q->free_addrs);
    free(q);
}

void afxdp_queue_read_stats(struct afxdp_queue *q, struct afxdp_queue_stats *st)
{
    struct xdp_statistics xs;
    socklen_t len = sizeof(xs);

    memset(st, 0, sizeof(*st));
    st->port = q->port.stats;
    st->fill_ring_empty = q->fill_ring_empty;
    st->rx_kicks = q->rx_kicks;
    st->tx_kicks = q->tx_kicks;
    st->tx_kick_errors = q->tx_kick_errors;
    st->tx_completed = q->tx_completed;
    memset(&xs, 0, sizeof(xs));
    if (q->fd >= 0 && getsockopt(q->fd, SOL_XDP, XDP_STATISTICS, &xs, &len) == 0) {
        st->xdp_rx_dropped = xs.rx_dropped;
        st->xdp_rx_invalid_descs = xs.rx_invalid_descs;
        st->xdp_tx_invalid_descs = xs.tx_invalid_descs;
        st->xdp_rx_ring_full = xs.rx_ring_full;
        st->xdp_rx_fill_ring_empty_descs = xs.rx_fill_ring_empty_descs;
        st->xdp_tx_ring_empty_descs = xs.tx_ring_empty_descs;
    }
}
