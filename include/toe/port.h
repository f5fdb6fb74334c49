/* The port interface: how the engine gets bursts of frames from the network
 * and gives bursts back, without knowing what is behind it. Two
 * implementations: the AF_XDP port (xsk/) and the in-memory port
 * (toe/port_mem.h), a wire with a virtual clock and fault injection.
 *
 * Ownership: frames handed out by rx_burst stay owned by the port until the
 * caller gives them back with rx_release (so the engine may parse in place).
 * tx_alloc hands out empty frames of frame_cap_bytes capacity; the caller
 * fills data[0..len) and passes them to tx_submit, which takes the first k
 * (returns k); the rest remain the caller's, to retry or tx_free.
 *
 * A port is used by one thread at a time (one port per RX/TX queue pair). */
#ifndef TOE_PORT_H
#define TOE_PORT_H

#include <stdint.h>

struct port_frame {
    uint8_t *data;   /* frame bytes, starting at the Ethernet header */
    uint32_t len;    /* bytes in the frame (no FCS) */
    uint64_t handle; /* the port's own reference (UMEM address, buffer...) */
};

struct port_stats {
    uint64_t rx_frames, rx_bytes;   /* handed out by rx_burst */
    uint64_t tx_frames, tx_bytes;   /* accepted by tx_submit */
    uint64_t rx_empty;              /* rx_burst calls that found nothing */
    uint64_t tx_ring_full;          /* tx_submit calls that took fewer than offered */
    uint64_t tx_alloc_fail;         /* tx_alloc calls that gave fewer than asked */
    uint64_t drops;                 /* frames the port itself dropped (bad length...) */
};

/* Port capabilities (struct port.caps). */
#define PORT_CAP_RX_IP_CSUM 0x1u /* rx frames have a verified IPv4 header checksum */
#define PORT_CAP_RX_L4_CSUM 0x2u /* rx frames have a verified TCP/ICMP checksum */

struct port;

struct port_ops {
    uint32_t (*rx_burst)(struct port *p, struct port_frame *frames, uint32_t max);
    void (*rx_release)(struct port *p, const struct port_frame *frames, uint32_t n);
    uint32_t (*tx_alloc)(struct port *p, struct port_frame *frames, uint32_t n);
    uint32_t (*tx_submit)(struct port *p, const struct port_frame *frames, uint32_t n);
    void (*tx_free)(struct port *p, const struct port_frame *frames, uint32_t n);
    /* Optional (NULL: none). A descriptor that polls readable when frames
     * arrive, for a thread that wants to sleep; and a kick that finishes
     * pending TX (AF_XDP copy mode sends inside sendto()) and refills RX,
     * called before sleeping. */
    int (*fd)(struct port *p);
    void (*kick)(struct port *p);
};

/* Implementations embed this as their first member. */
struct port {
    const struct port_ops *ops;
    const char *name;
    uint8_t mac[6];
    uint32_t mtu_bytes;        /* IPv4 MTU (1500 on plain Ethernet) */
    uint32_t frame_cap_bytes;  /* capacity of a tx frame */
    uint32_t caps;             /* PORT_CAP_* */
    struct port_stats stats;   /* maintained by the implementation */
};

/* Up to max received frames; returns how many (0: nothing now). */
static inline uint32_t port_rx_burst(struct port *p, struct port_frame *frames, uint32_t max)
{
    return p->ops->rx_burst(p, frames, max);
}

/* Gives received frames back to the port. */
static inline void port_rx_release(struct port *p, const struct port_frame *frames, uint32_t n)
{
    p->ops->rx_release(p, frames, n);
}

/* Up to n empty tx frames (len 0, frame_cap_bytes of room); returns how many. */
static inline uint32_t port_tx_alloc(struct port *p, struct port_frame *frames, uint32_t n)
{
    return p->ops->tx_alloc(p, frames, n);
}

/* Queues filled frames for transmission; returns how many were taken (a prefix). */
static inline uint32_t port_tx_submit(struct port *p, const struct port_frame *frames, uint32_t n)
{
    return p->ops->tx_submit(p, frames, n);
}

/* Returns tx frames that will not be sent. */
static inline void port_tx_free(struct port *p, const struct port_frame *frames, uint32_t n)
{
    p->ops->tx_free(p, frames, n);
}

/* The port's wakeup descriptor, or -1. */
static inline int port_fd(struct port *p)
{
    return p->ops->fd ? p->ops->fd(p) : -1;
}

/* Finishes pending TX before the caller sleeps (no-op if not needed). */
static inline void port_kick(struct port *p)
{
    if (p->ops->kick)
        p->ops->kick(p);
}

static inline const uint8_t *port_mac(const struct port *p)
{
    return p->mac;
}

static inline uint32_t port_mtu(const struct port *p)
{
    return p->mtu_bytes;
}

static inline uint32_t port_frame_cap(const struct port *p)
{
    return p->frame_cap_bytes;
}

static inline const struct port_stats *port_stats(const struct port *p)
{
    return &p->stats;
}

#endif
