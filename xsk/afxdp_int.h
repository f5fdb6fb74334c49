/* Internals of the AF_XDP port shared by its files: the device and per-queue
 * structures, the XDP attach step (afxdp_attach.c), the queue/ring step
 * (afxdp_queue.c) and the pcap tap (afxdp_pcap.c). Not for the engine. */
#ifndef TOE_XSK_AFXDP_INT_H
#define TOE_XSK_AFXDP_INT_H

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "xsk/afxdp.h"
#include "xsk/afxdp_pcap.h"

/* One RX/TX queue: its socket, UMEM, rings and the frames it owns. */
#define AFXDP_L2_BYTES    14  /* Ethernet header on top of the MTU */
#define AFXDP_RX_HEADROOM 256 /* XDP_PACKET_HEADROOM: where copy mode writes a frame */

struct afxdp_queue {
    struct port port; /* first member: struct port * casts to us */
    struct afxdp *owner;
    uint32_t queue_id;
    char name[IF_NAMESIZE + 16];

    void *umem_area;
    size_t umem_bytes;
    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    struct xsk_ring_prod fill;
    struct xsk_ring_cons comp;
    struct xsk_ring_cons rx;
    struct xsk_ring_prod tx;
    int fd;

    uint64_t frame_mask;   /* ~(frame_size - 1): chunk base of an address */
    uint32_t ring_size;    /* TX and completion rings */
    uint32_t rx_ring_size; /* RX and fill rings */
    uint32_t tx_reserve;   /* free frames kept back from the fill ring for TX */
    uint64_t *free_addrs;  /* stack of free chunk addresses */
    uint32_t n_free;
    uint32_t n_frames;
    uint32_t tx_outstanding; /* submitted, not yet completed */
    bool zero_copy;
    bool need_wakeup;
    bool busy_poll;

    uint64_t fill_ring_empty;
    uint64_t rx_kicks, tx_kicks, tx_kick_errors, tx_completed;
};

struct afxdp {
    struct afxdp_config cfg;
    int ifindex;
    bool is_veth;
    char driver[32];
    enum afxdp_bound bound;
    char reason[160];
    char obj_path[PATH_MAX];

    struct xdp_program *prog;
    enum xdp_attach_mode attach_mode;
    int cfg_map_fd;
    int xsks_map_fd;
    int stats_map_fd;

    struct afxdp_pcap *pcap;
    uint32_t n_queues;
    struct afxdp_queue *q[AFXDP_MAX_QUEUES];
    struct afxdp_mq *mq; /* cfg.one_port with several queues, else NULL */
};

/* Formats a message into err (may be NULL) and returns rc (a -errno). */
int afxdp_err(char *err, size_t err_len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* afxdp_attach.c */
/* Resolves the interface, its driver (veth?) and the XDP object path. */
int afxdp_probe(struct afxdp *x, char *err, size_t err_len);
/* Removes a toe_redirect left by a dead owner; -EBUSY if its owner lives. */
int afxdp_recover_stale(struct afxdp *x, char *err, size_t err_len);
/* Opens and attaches the program in mode (XDP_MODE_NATIVE/XDP_MODE_SKB). */
int afxdp_prog_attach(struct afxdp *x, enum xdp_attach_mode mode, char *err, size_t err_len);
/* Writes the address/protocols/owner into toe_cfg: starts redirection. */
int afxdp_prog_enable(struct afxdp *x, char *err, size_t err_len);
/* Clears the address (stops redirection), detaches and closes the program. */
void afxdp_prog_detach(struct afxdp *x);

/* afxdp_queue.c */
/* Creates queue i's UMEM and socket (zero_copy or copy bind) and puts the
 * socket into xsks_map. */
int afxdp_queue_open(struct afxdp *x, uint32_t i, bool zero_copy, char *err, size_t err_len);
void afxdp_queue_close(struct afxdp_queue *q);
void afxdp_queue_read_stats(struct afxdp_queue *q, struct afxdp_queue_stats *st);

/* afxdp_mq.c: every queue behind one struct port (cfg.one_port). */
struct afxdp_mq;
int afxdp_mq_open(struct afxdp *x, char *err, size_t err_len);
void afxdp_mq_close(struct afxdp *x);
struct port *afxdp_mq_port(const struct afxdp *x);
int afxdp_mq_fd(const struct afxdp *x);
/* True if p is the one-port wrapper; afxdp_port_flush then flushes all. */
bool afxdp_is_mq_port(const struct port *p);
void afxdp_mq_flush(struct port *p);
/* The per-queue flush (afxdp_queue.c). */
void afxdp_queue_flush(struct afxdp_queue *q);

#endif
