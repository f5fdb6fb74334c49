/* The in-memory port: a wire joining two endpoints (two stacks, or a stack
 * and a test script), with a virtual clock and seeded fault injection.
 *
 * A frame submitted on one end becomes receivable on the other end once the
 * virtual time reaches its delivery time: now + serialization behind earlier
 * frames (rate limit) + one-way delay (+ reorder delay). Time only moves when
 * the caller says so (port_mem_set_now, or a shared clock the caller owns);
 * nothing here reads a real clock. All randomness comes from a PRNG seeded by
 * the config, so a run is repeatable for a given seed. */
#ifndef TOE_PORT_MEM_H
#define TOE_PORT_MEM_H

#include <stdint.h>

#include <toe/port.h>

/* Impairments of one direction. All zero: a perfect wire with no delay. */
struct port_mem_dir_config {
    uint64_t delay_us;          /* fixed one-way propagation delay */
    uint64_t rate_bps;          /* link rate in bits/s over the frame bytes (no
                                   preamble/FCS/gap); 0: infinitely fast */
    uint32_t queue_limit_frames;/* frames waiting for the link (or, with no rate
                                   limit, in flight) beyond which frames are
                                   dropped; 0: PORT_MEM_DEFAULT_QUEUE_LIMIT */
    double drop_prob;           /* independent loss */
    double burst_start_prob;    /* chance a frame starts a loss burst */
    double burst_mean_len;      /* mean frames lost per burst (geometric, >= 1) */
    double dup_prob;            /* frame delivered twice */
    double reorder_prob;        /* frame held back by reorder_delay_us extra */
    uint64_t reorder_delay_us;
    double corrupt_prob;        /* one random bit flipped past the Ethernet header
                                   (the FCS would catch L2 hits), so the IPv4/TCP/
                                   ICMP checksums must catch it */
};

#define PORT_MEM_DEFAULT_QUEUE_LIMIT 1024
#define PORT_MEM_DEFAULT_FRAME_CAP   2048
#define PORT_MEM_DEFAULT_MTU         1500
#define PORT_MEM_MAX_IN_FLIGHT       16384 /* hard bound per direction (memory) */

struct port_mem_config {
    uint64_t seed;
    uint32_t frame_cap_bytes;     /* 0: PORT_MEM_DEFAULT_FRAME_CAP */
    uint32_t mtu_bytes;           /* 0: PORT_MEM_DEFAULT_MTU */
    uint32_t tx_frames;           /* tx frames a port may lend at once; 0: 4096 */
    uint8_t mac_a[6], mac_b[6];   /* all zero: 02:00:00:00:00:0a / 02:00:00:00:00:0b */
    const uint64_t *clock_us;     /* shared virtual clock, or NULL: port_mem_set_now */
    struct port_mem_dir_config a_to_b, b_to_a;
};

/* What one direction of the wire did. */
struct port_mem_dir_stats {
    uint64_t sent;          /* frames submitted onto this direction */
    uint64_t delivered;     /* frames handed to the receiver (duplicates included) */
    uint64_t dropped;       /* independent loss */
    uint64_t burst_dropped; /* burst loss */
    uint64_t duplicated;
    uint64_t reordered;
    uint64_t corrupted;
    uint64_t queue_drops;   /* queue limit or PORT_MEM_MAX_IN_FLIGHT reached */
    uint64_t bytes_sent, bytes_delivered;
};

/* Creates both ends. Returns 0 or -ENOMEM/-EINVAL. */
int port_mem_pair_create(const struct port_mem_config *cfg, struct port **a, struct port **b);
/* Destroys the pair (either end may be passed) and the frames on the wire.
 * Give back every lent frame (rx_release / tx_submit / tx_free) first. */
void port_mem_pair_destroy(struct port *p);

/* Sets the pair's virtual time (ignored when a shared clock was configured).
 * Time must not go backwards. */
void port_mem_set_now(struct port *p, uint64_t now_us);
uint64_t port_mem_now(const struct port *p);
/* Earliest time a frame becomes receivable at p, or UINT64_MAX if none is
 * on its way: lets a driver jump the virtual clock to the next event. */
uint64_t port_mem_next_rx_us(const struct port *p);
/* Frames on their way to p (not yet received). */
uint32_t port_mem_pending(const struct port *p);

/* Stats of the direction that transmits from p (tx) or delivers to p (rx). */
const struct port_mem_dir_stats *port_mem_tx_stats(const struct port *p);
const struct port_mem_dir_stats *port_mem_rx_stats(const struct port *p);

/* Test-script helpers: send a raw frame from p (copied), and receive the next
 * deliverable frame at p into buf. send: 0 or -ENOBUFS/-EMSGSIZE; recv: the
 * frame length, 0 if none is deliverable now, -ENOSPC if buf is too small
 * (the frame is consumed anyway). */
int port_mem_send_raw(struct port *p, const void *data, uint32_t len);
int port_mem_recv_raw(struct port *p, void *buf, uint32_t cap);

#endif
