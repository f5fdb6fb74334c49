/* The AF_XDP port: one network interface driven through AF_XDP sockets, one
 * socket (with its own UMEM and four rings) per RX queue, each exposed as a
 * struct port (toe/port.h), or with cfg.one_port all of them behind one port
 * for a single stack (afxdp_mq.c). The XDP program (xsk/bpf/toe_redirect.bpf.c) is
 * loaded through libxdp and redirects only the stack's own ARP/ICMP/TCP to the
 * sockets; everything else still reaches the kernel.
 *
 *     struct afxdp_config cfg;
 *     afxdp_config_init(&cfg);
 *     snprintf(cfg.ifname, sizeof(cfg.ifname), "veth0");
 *     cfg.ipv4_addr = 0x0a4d0102;             // 10.77.1.2, host order
 *     struct afxdp *x; char err[256];
 *     if (afxdp_open(&cfg, &x, err, sizeof(err)) < 0) { puts(err); ... }
 *     struct port *p = afxdp_port(x, 0);      // queue 0; one thread per port
 *     ...
 *     afxdp_close(x);                         // detaches the program
 */
#ifndef TOE_XSK_AFXDP_H
#define TOE_XSK_AFXDP_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <toe/port.h>

/* What the caller asks for. */
enum afxdp_mode {
    AFXDP_MODE_AUTO,    /* native zero-copy -> native copy -> generic; on veth
                           native copy (see attach_chain in afxdp.c) */
    AFXDP_MODE_NATIVE,  /* driver XDP only: zero-copy, else copy */
    AFXDP_MODE_GENERIC, /* skb (generic) XDP, copy mode */
};

/* What it got. */
enum afxdp_bound {
    AFXDP_BOUND_NONE,
    AFXDP_BOUND_NATIVE_ZC,
    AFXDP_BOUND_NATIVE_COPY,
    AFXDP_BOUND_GENERIC,
};

/* Protocols the XDP program redirects to the sockets (others pass). */
#define AFXDP_PROTO_ARP   0x1u
#define AFXDP_PROTO_ICMP  0x2u
#define AFXDP_PROTO_TCP   0x4u
#define AFXDP_PROTO_UDP   0x8u
#define AFXDP_PROTO_STACK (AFXDP_PROTO_ARP | AFXDP_PROTO_ICMP | AFXDP_PROTO_TCP)

#define AFXDP_MAX_QUEUES 64

/* Environment variable that overrides where the XDP object is looked for. */
#define AFXDP_OBJ_ENV "TOE_XDP_OBJ"

/* Always start from afxdp_config_init(); fields are added at the end. */
struct afxdp_config {
    char ifname[IF_NAMESIZE];
    uint32_t ipv4_addr;        /* the stack's address, host byte order; required */
    uint32_t proto_mask;       /* AFXDP_PROTO_* redirected (default AFXDP_PROTO_STACK) */
    uint32_t first_queue;      /* first RX queue used (default 0) */
    uint32_t n_queues;         /* sockets/ports, queues first_queue.. (default 1) */
    enum afxdp_mode mode;      /* default AFXDP_MODE_AUTO */
    uint32_t frame_size_bytes; /* UMEM chunk, 2048 or 4096; default 0 = auto: 2048
                                  if the MTU fits in it (copy mode puts 256 bytes
                                  of XDP headroom first), else 4096 */
    uint32_t frames;           /* UMEM chunks per queue (default 16384: 32 MiB at
                                  2048 bytes) */
    uint32_t ring_size;        /* TX and completion rings (default 2048, power of 2) */
    bool need_wakeup;          /* XDP_USE_NEED_WAKEUP (default true) */
    bool busy_poll;            /* SO_PREFER_BUSY_POLL + SO_BUSY_POLL (default false) */
    uint32_t busy_poll_us;     /* SO_BUSY_POLL time (default 20) */
    uint32_t busy_poll_budget; /* SO_BUSY_POLL_BUDGET (default 64) */
    const char *pcap_path;     /* write every frame in and out here; NULL = off */
    const char *bpf_obj_path;  /* NULL: $TOE_XDP_OBJ, next to the executable,
                                  the build tree, the install dir */
    bool verbose;              /* let libxdp/libbpf print their diagnostics */
    /* RX and fill rings (power of 2 >= ring_size); default 0 = auto: the
     * largest power of two <= frames / 2 (8192 by default). A deep RX ring
     * absorbs the time the polling thread is not running: with the defaults
     * ~12 MB, ~100 ms at 1 Gbit/s. See afxdp_queue.c. */
    uint32_t rx_ring_size;
    /* All queues behind one struct port (afxdp_n_ports() == 1): one thread
     * and one stack poll every queue, so ARP replies and flows may arrive on
     * any queue (afxdp_mq.c). Default false: one port per queue. */
    bool one_port;
};

/* Counters of one queue, beyond struct port_stats. The xdp_* fields come from
 * the kernel (getsockopt XDP_STATISTICS) and are read by afxdp_queue_stats. */
struct afxdp_queue_stats {
    struct port_stats port;      /* copy of the port's generic counters */
    uint64_t fill_ring_empty;    /* refills that found the kernel's fill ring empty */
    uint64_t rx_kicks, tx_kicks; /* recvfrom / sendto wakeups */
    uint64_t tx_kick_errors;     /* sendto failures other than EAGAIN/EBUSY/ENOBUFS */
    uint64_t tx_completed;       /* frames reaped from the completion ring */
    uint64_t xdp_rx_dropped;     /* dropped for other reasons (e.g. too big) */
    uint64_t xdp_rx_invalid_descs;
    uint64_t xdp_tx_invalid_descs;
    uint64_t xdp_rx_ring_full;
    uint64_t xdp_rx_fill_ring_empty_descs;
    uint64_t xdp_tx_ring_empty_descs;
};

struct afxdp;

void afxdp_config_init(struct afxdp_config *cfg);

/* Attaches the XDP program (recovering from a stale one left by a crashed
 * owner) and opens one socket per queue. Returns 0 or -errno with a message
 * in err: -ENODEV (no such interface), -EPERM (not root), -EBUSY (another live
 * toe, or a foreign non-multiprog XDP program, owns the interface),
 * -EOPNOTSUPP (no XDP in the requested mode), -ENOENT (XDP object not found),
 * -EINVAL (bad config, e.g. more queues than the interface has). */
int afxdp_open(const struct afxdp_config *cfg, struct afxdp **out, char *err, size_t err_len);
/* Detaches the program, closes the sockets, flushes the pcap, frees all. */
void afxdp_close(struct afxdp *x);

/* Ports to poll: n_queues, or 1 with cfg.one_port. */
uint32_t afxdp_n_ports(const struct afxdp *x);
/* RX queues (sockets) in use, whatever one_port says. */
uint32_t afxdp_n_queues(const struct afxdp *x);
struct port *afxdp_port(struct afxdp *x, uint32_t i);
enum afxdp_bound afxdp_bound_mode(const struct afxdp *x);
const char *afxdp_bound_name(enum afxdp_bound b);
/* Parses "auto" / "native" / "generic"; -EINVAL otherwise. */
int afxdp_mode_parse(const char *s, enum afxdp_mode *mode);
/* Why the mode was chosen (e.g. "veth: no zero-copy ..."); never NULL. */
const char *afxdp_mode_reason(const struct afxdp *x);
/* The XDP object that was loaded. */
const char *afxdp_obj_path(const struct afxdp *x);

/* The socket of port i, for poll/epoll (POLLIN: frames to receive); with
 * one_port and several queues, an epoll fd over every queue's socket. */
int afxdp_port_fd(const struct afxdp *x, uint32_t i);
/* Waits up to timeout_ms for frames on port i (poll(2)); also pushes pending
 * copy-mode TX. Returns >0 if frames may be ready, 0 on timeout, -errno. */
int afxdp_port_wait(struct afxdp *x, uint32_t i, int timeout_ms);
/* Kicks TX and reaps completions of port p without submitting anything:
 * call when idle so copy-mode transmission finishes. */
void afxdp_port_flush(struct port *p);
/* Fills *st for port i, including the kernel's XDP_STATISTICS. */
int afxdp_queue_stats(struct afxdp *x, uint32_t i, struct afxdp_queue_stats *st);
/* Sum over all ports. */
int afxdp_total_stats(struct afxdp *x, struct afxdp_queue_stats *st);

/* What the XDP program did, summed over CPUs: frames it sent towards the
 * sockets and frames it passed to the kernel. 0 or -errno. */
int afxdp_prog_stats(struct afxdp *x, uint64_t *redirected, uint64_t *passed);

#endif
