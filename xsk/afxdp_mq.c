/* Every RX queue of the AF_XDP port behind one struct port (cfg.one_port), so
 * that one thread with one stack serves the whole interface. Without it,
 * N queues mean N independent stacks, and whatever the NIC (or, on veth, the
 * sender's TX queue) steers to another queue than the one a flow or an ARP
 * request started on is lost to it.
 *
 *   rx_burst    takes from the queues in turn, starting one further each call
 *               (no queue starves another); a frame's handle carries its queue
 *               in the top byte so rx_release can give it back to its UMEM;
 *   tx_*        all on queue 0: a frame's queue does not matter for TX, and
 *               one TX queue keeps the engine's frames in one UMEM;
 *   fd          an epoll set over every queue's socket, so poll(2) on it
 *               wakes for a frame on any queue;
 *   stats       the sum of the queues' port counters, refreshed on each
 *               rx_burst and tx_submit. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "xsk/afxdp_int.h"

#define MQ_SHIFT 56 /* queue index in a handle's top byte */
#define MQ_ADDR  ((1ull << MQ_SHIFT) - 1)
#define MQ_CHUNK 64 /* frames given back per sub-port call */

struct afxdp_mq {
    struct port port; /* first member */
    struct afxdp *x;
    uint32_t n;
    uint32_t next_rx; /* queue the next rx_burst starts with */
    int epfd;
    char name[IF_NAMESIZE + 16];
};

static inline struct afxdp_mq *to_mq(struct port *p)
{
    return (struct afxdp_mq *)p;
}

static inline struct port *sub(const struct afxdp_mq *m, uint32_t i)
{
    return &m->x->q[i]->port;
}

static void mq_sync_stats(struct afxdp_mq *m)
{
    struct port_stats *s = &m->port.stats;

    memset(s, 0, sizeof(*s));
    for (uint32_t i = 0; i < m->n; i++) {
        const struct port_stats *q = &sub(m, i)->stats;

        s->rx_frames += q->rx_frames;
        s->rx_bytes += q->rx_bytes;
        s->tx_frames += q->tx_frames;
        s->tx_bytes += q->tx_bytes;
        s->rx_empty += q->rx_empty;
        s->tx_ring_full += q->tx_ring_full;
        s->tx_alloc_fail += q->tx_alloc_fail;
        s->drops += q->drops;
    }
}

static uint32_t mq_rx_burst(struct port *p, struct port_frame *frames, uint32_t max)
{
    struct afxdp_mq *m = to_mq(p);
    uint32_t got = 0, first = m->next_rx;

    for (uint32_t k = 0; k < m->n && got < max; k++) {
        uint32_t qi = (first + k) % m->n;
        uint32_t n = port_rx_burst(sub(m, qi), frames + got, max - got);

        for (uint32_t i = 0; i < n; i++)
            frames[got + i].handle |= (uint64_t)qi << MQ_SHIFT;
        got += n;
    }
    m->next_rx = (first + 1) % m->n;
    mq_sync_stats(m);
    return got;
}

/* Gives frames back to the queues their handles name, in runs. */
static void mq_rx_release(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct afxdp_mq *m = to_mq(p);
    struct port_frame tmp[MQ_CHUNK];
    uint32_t i = 0;

    while (i < n) {
        uint64_t qi = frames[i].handle >> MQ_SHIFT;
        uint32_t k = 0;

        while (i < n && k < MQ_CHUNK && frames[i].handle >> MQ_SHIFT == qi) {
            tmp[k] = frames[i++];
            tmp[k++].handle &= MQ_ADDR;
        }
        if (qi < m->n)
            port_rx_release(sub(m, (uint32_t)qi), tmp, k);
        else
            m->port.stats.drops += k; /* not ours: never put it anywhere */
    }
}

static uint32_t mq_tx_alloc(struct port *p, struct port_frame *frames, uint32_t n)
{
    return port_tx_alloc(sub(to_mq(p), 0), frames, n);
}

static uint32_t mq_tx_submit(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct afxdp_mq *m = to_mq(p);
    uint32_t k = port_tx_submit(sub(m, 0), frames, n);

    mq_sync_stats(m);
    return k;
}

static void mq_tx_free(struct port *p, const struct port_frame *frames, uint32_t n)
{
    port_tx_free(sub(to_mq(p), 0), frames, n);
}

static int mq_fd_op(struct port *p);

static const struct port_ops afxdp_mq_ops = {
    .rx_burst = mq_rx_burst,
    .rx_release = mq_rx_release,
    .tx_alloc = mq_tx_alloc,
    .tx_submit = mq_tx_submit,
    .tx_free = mq_tx_free,
    .fd = mq_fd_op,
    .kick = afxdp_mq_flush,
};

bool afxdp_is_mq_port(const struct port *p)
{
    return p->ops == &afxdp_mq_ops;
}

void afxdp_mq_flush(struct port *p)
{
    struct afxdp_mq *m = to_mq(p);

    for (uint32_t i = 0; i < m->n; i++)
        afxdp_queue_flush(m->x->q[i]);
}

int afxdp_mq_open(struct afxdp *x, char *err, size_t err_len)
{
    struct afxdp_mq *m = calloc(1, sizeof(*m));
    const struct port *q0 = &x->q[0]->port;

    if (!m)
        return afxdp_err(err, err_len, -ENOMEM, "out of memory");
    m->x = x;
    m->n = x->n_queues;
    m->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (m->epfd < 0) {
        int rc = -errno;

        free(m);
        return afxdp_err(err, err_len, rc, "epoll_create1: %s", strerror(-rc));
    }
    for (uint32_t i = 0; i < m->n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};

        if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, x->q[i]->fd, &ev) < 0) {
            int rc = -errno;

            close(m->epfd);
            free(m);
            return afxdp_err(err, err_len, rc, "epoll_ctl: %s", strerror(-rc));
        }
    }
    snprintf(m->name, sizeof(m->name), "afxdp:%s:q0-%u", x->cfg.ifname, x->q[m->n - 1]->queue_id);
    m->port.ops = &afxdp_mq_ops;
    m->port.name = m->name;
    memcpy(m->port.mac, q0->mac, sizeof(m->port.mac));
    m->port.mtu_bytes = q0->mtu_bytes;
    m->port.frame_cap_bytes = q0->frame_cap_bytes;
    m->port.caps = q0->caps;
    x->mq = m;
    return 0;
}

void afxdp_mq_close(struct afxdp *x)
{
    if (!x->mq)
        return;
    close(x->mq->epfd);
    free(x->mq);
    x->mq = NULL;
}

struct port *afxdp_mq_port(const struct afxdp *x)
{
    return &x->mq->port;
}

int afxdp_mq_fd(const struct afxdp *x)
{
    return x->mq->epfd;
}

static int mq_fd_op(struct port *p)
{
    return to_mq(p)->epfd;
}
