/* The relay port of a core without an AF_XDP queue of its own: it receives
 * nothing (its flows' frames come from the RX cores as messages) and sends
 * by handing each frame, as a TX message, to the core that owns the port
 * (toe_stack_create_ports: core i % n_ports). The core's TX code does not
 * know the difference. A full ring is a full TX ring: tx_submit takes fewer
 * frames and the engine retries (tcp_engine_tx_ready). */
#include "toe/relay_port.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "toe/core_msg.h"
#include "toe/stack_internal.h"

struct relay_port {
    struct port port;
    struct toe_core *core;  /* the sender */
    uint32_t dst;           /* the core that owns the real port */
    uint8_t *bufs;          /* RELAY_FRAMES * frame_cap_bytes */
    uint32_t free_idx[RELAY_FRAMES];
    uint32_t n_free;
};

static struct relay_port *relay_of(struct port *p)
{
    return (struct relay_port *)p;
}

static uint32_t relay_rx_burst(struct port *p, struct port_frame *frames, uint32_t max)
{
    (void)p;
    (void)frames;
    (void)max;
    return 0;
}

static void relay_rx_release(struct port *p, const struct port_frame *frames, uint32_t n)
{
    (void)p;
    (void)frames;
    (void)n;
}

static uint32_t relay_tx_alloc(struct port *p, struct port_frame *frames, uint32_t n)
{
    struct relay_port *r = relay_of(p);
    uint32_t i;

    for (i = 0; i < n && r->n_free; i++) {
        uint32_t idx = r->free_idx[--r->n_free];
        frames[i].data = r->bufs + (size_t)idx * p->frame_cap_bytes;
        frames[i].len = 0;
        frames[i].handle = idx;
    }
    if (i < n)
        p->stats.tx_alloc_fail++;
    return i;
}

static void relay_tx_free(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct relay_port *r = relay_of(p);

    for (uint32_t i = 0; i < n; i++)
        r->free_idx[r->n_free++] = (uint32_t)frames[i].handle;
}

static uint32_t relay_tx_submit(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct relay_port *r = relay_of(p);
    uint32_t i;

    for (i = 0; i < n; i++) {
        struct core_msg *m = core_msg_reserve(r->core, r->dst, CORE_MSG_TX);
        if (!m)
            break;
        memcpy(m->data, frames[i].data, frames[i].len);
        m->len = frames[i].len;
        p->stats.tx_frames++;
        p->stats.tx_bytes += frames[i].len;
    }
    if (i) {
        core_msg_commit(r->core, r->dst);
        relay_tx_free(p, frames, i);
    }
    if (i < n)
        p->stats.tx_ring_full++;
    return i;
}

static const struct port_ops relay_ops = {
    .rx_burst = relay_rx_burst,
    .rx_release = relay_rx_release,
    .tx_alloc = relay_tx_alloc,
    .tx_submit = relay_tx_submit,
    .tx_free = relay_tx_free,
};

int relay_port_create(struct toe_core *core, const struct port *real, uint32_t dst,
                      struct port **out)
{
    struct relay_port *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->port.ops = &relay_ops;
    r->port.name = "relay";
    memcpy(r->port.mac, real->mac, sizeof(r->port.mac));
    r->port.mtu_bytes = real->mtu_bytes;
    r->port.frame_cap_bytes = real->frame_cap_bytes;
    r->port.caps = real->caps;
    r->core = core;
    r->dst = dst;
    r->bufs = malloc((size_t)RELAY_FRAMES * real->frame_cap_bytes);
    if (!r->bufs) {
        free(r);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < RELAY_FRAMES; i++)
        r->free_idx[i] = RELAY_FRAMES - 1 - i;
    r->n_free = RELAY_FRAMES;
    *out = &r->port;
    return 0;
}

void relay_port_destroy(struct port *p)
{
    if (!p)
        return;
    free(relay_of(p)->bufs);
    free(p);
}
