/* toe public API: stack lifecycle and configuration, the callback-based app
 * API, and counters.
 *
 * Threading model. A stack has n_cores cores; a core owns a partition of the
 * flows (the hash buckets the dispatcher gives it), its timer wheel, page
 * pool, TX batch and counters. Two ways to run it:
 *  - Deterministic: one thread calls toe_stack_poll(), which drives every
 *    core in a fixed order (and carries the messages between them) until
 *    nothing moves. Tests and the Tcl harness use this with a virtual clock.
 *  - Threaded: toe_stack_start() runs one pinned thread per core (and a
 *    control thread that rebalances buckets); toe_stack_stop() joins them.
 * Either way every app callback of a connection runs on the core that owns
 * it, from inside that core's poll, AFTER its input burst (never from deep
 * inside protocol processing), and the toe_* calls on a connection must be
 * made from that core's thread (a callback, or a core hook): once the
 * threads run, toe_send/recv/shutdown/close/abort and toe_conn_set_* from
 * another thread return -EPERM and change nothing. Calls before
 * toe_stack_start() (or in deterministic mode) may be made from the creating
 * thread.
 *
 * Conventions: every function returns 0 (or a byte count) on success and a
 * negative errno on failure. IPv4 addresses and ports in this header are in
 * HOST byte order (10.0.0.1 is 0x0a000001); toe_ipv4_parse() converts text. */
#ifndef TOE_TOE_H
#define TOE_TOE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A frame port: the AF_XDP port or the in-memory port. Created and destroyed by
 * the port implementation's own constructor/destructor; a stack borrows it. */
struct port;

struct toe_stack; /* one stack: its cores, flow tables, listeners, counters */
struct toe_conn;  /* one TCP connection as the app sees it */

#define TOE_CC_NAME_MAX 16
#define TOE_MAX_GROUPS 8      /* app groups besides the default one */
#define TOE_GROUP_PORTS 8     /* listening ports per app group */

/* An app group (seed flow-schedules): listening ports whose new connections
 * start on the group's own cores, placed by the group's flow schedule (a
 * weighted vector stepped in order, recomputed every balance interval from
 * the cores' figures) or, with hash, by the flow's hash over those cores.
 * Ports no group names belong to the default group (the control class's
 * cores; placed by bucket, or by schedule with schedule_new_flows). */
struct toe_app_group {
    uint16_t ports[TOE_GROUP_PORTS]; /* 0 = unused */
    uint64_t cores;                  /* core index bits, within the control class */
    bool hash;
};

#define TOE_MAX_CORES 64
#define TOE_DEFAULT_MAX_FLOWS (1u << 20) /* per core; see max_flows */

/* Stack configuration. Always start from toe_stack_config_init(): new fields
 * are added at the end with defaults, so old callers keep working. */
struct toe_stack_config {
    /* Addressing: one IPv4 subnet. The MAC address is taken from the port. */
    uint32_t ipv4_addr;        /* our address, host byte order; required */
    uint8_t ipv4_prefix_len;   /* subnet prefix length (default 24) */
    uint32_t ipv4_gateway;     /* off-subnet next hop, host order; 0 = none */

    /* Capacity. */
    uint32_t max_flows;        /* connections incl. TIME_WAIT per core (default
                                  TOE_DEFAULT_MAX_FLOWS); memory is taken as
                                  connections come, not reserved. A SYN beyond
                                  it gets a SYN cookie or a RST, counted */
    uint32_t n_cores;          /* processing cores (1); see "Many cores" below */
    uint32_t rx_burst_frames;  /* frames taken from the port per poll (64) */
    uint64_t seed;             /* keys for the flow hash and ISNs; 0 = random */

    /* ARP (RFC 826). */
    uint32_t arp_cache_entries;  /* bounded neighbour cache (default 256) */
    uint32_t arp_timeout_ms;     /* age of a resolved entry (default 60000) */
    uint32_t arp_retry_ms;       /* re-send an unanswered request (1000) */
    uint32_t arp_max_retries;    /* then give up and drop held frames (3) */
    uint32_t arp_pending_frames; /* frames held per unresolved peer (4) */
    bool arp_gratuitous;         /* announce our address at start (true) */

    /* TCP, mirrored into the engine's tcp_config. */
    uint16_t mss_bytes;          /* our MSS, 0 = derived from MTU 1500 (1460) */
    uint32_t sndbuf_bytes;       /* per-connection send buffer bound */
    uint32_t rcvbuf_bytes;       /* per-connection receive buffer bound */
    bool nagle;                  /* RFC 9293 section 3.7.4 (default true) */
    bool delack;                 /* RFC 1122 4.2.3.2 delayed ACK (true) */
    uint32_t delack_ms;          /* delayed ACK timeout (40) */
    uint32_t time_wait_ms;       /* 2*MSL (default 60000) */
    char cc[TOE_CC_NAME_MAX];    /* "newreno" (default) or "cubic" */
    bool syncookies;             /* RFC 4987 when the backlog is full (true) */
    bool keepalive;              /* RFC 1122 4.2.3.6 (default false) */
    uint32_t keepalive_idle_ms;  /* (7200000) */
    uint32_t keepalive_intvl_ms; /* (75000) */
    uint32_t keepalive_probes;   /* (9) */
    bool sack;                   /* RFC 2018 (true) */
    bool timestamps;             /* RFC 7323 (true) */
    bool window_scale;           /* RFC 7323 (true) */

    /* IPv4 TTL of TCP segments (RFC 9293 MUST-49; default 64, 0 = 64);
     * toe_conn_set_ttl() overrides it per connection. */
    uint8_t ttl;

    /* Many cores (n_cores above, 1..TOE_MAX_CORES). */
    int16_t cpus[TOE_MAX_CORES]; /* CPU of core thread i; -1 = not pinned (default) */
    uint32_t n_buckets;          /* dispatcher hash buckets, power of two (256) */
    uint32_t balance_interval_ms; /* control period: figures, rebalancing (100);
                                     0 = buckets never move */
    uint32_t ring_slots;         /* messages per core-to-core ring, power of two (1024) */
    uint32_t park_max_events;    /* events parked per core during bucket moves (1024) */
    /* Deterministic mode (toe_stack_poll on a virtual clock): a core's busy
     * figure is its events per interval over this capacity (events/s). */
    uint32_t sim_core_events_per_s; /* (100000) */
    bool busy_poll;              /* core threads spin instead of sleeping */
    /* Processing classes (DESIGN.md "Processing classes and workspaces"):
     * the cores of the control class (handshake, SYN cookies, teardown,
     * TIME_WAIT) and of the data class (established data and ACKs, app
     * sends), as bit masks of core indices; 0 = every core (default).
     * Equal sets run every class to completion on the same cores. Else a
     * connection starts on a control core (the owner of its bucket: buckets
     * belong to control cores only), is handed over to a data core (by the
     * data class's flow schedule) when it reaches ESTABLISHED and back to a
     * control core when it leaves it (FIN, close). Apps that hold
     * connections need on_move_out/on_move_in for them to move. An active
     * open from a core without buckets (a data core) is memorized in every
     * dispatcher (an association) and stays on that core. */
    uint64_t control_cores;
    uint64_t data_cores;
    /* Placement of new connections (seed flow-schedules): false (default)
     * by hash bucket; true by the control class's flow schedule, a
     * weighted vector of cores stepped in order and recomputed every
     * balance interval from the cores' filtered figures (spare capacity).
     * A scheduled connection is memorized in every dispatcher's association
     * table (key -> core) and forgotten when it ends. */
    bool schedule_new_flows;
    /* App groups 1..n_groups (ports listed in one group only). */
    struct toe_app_group groups[TOE_MAX_GROUPS];
    uint32_t n_groups;
};

/* Fills *cfg with defaults (ipv4_addr stays 0: the caller must set it). */
void toe_stack_config_init(struct toe_stack_config *cfg);

/* Creates a stack on a port (borrowed: it must outlive the stack). */
int toe_stack_create(const struct toe_stack_config *cfg, struct port *port,
                     struct toe_stack **out);
/* The same on several ports (AF_XDP queue sockets): core i receives from and
 * transmits on ports[i] for i < n_ports (1 <= n_ports <= n_cores); a core
 * without a port hands its frames to the core of port (i % n_ports). */
int toe_stack_create_ports(const struct toe_stack_config *cfg, struct port *const *ports,
                           uint32_t n_ports, struct toe_stack **out);
/* Frees everything; open connections vanish without sending anything.
 * Stops the threads first if toe_stack_start() ran. */
void toe_stack_destroy(struct toe_stack *stack);

uint32_t toe_stack_cores(const struct toe_stack *stack);

/* Per-core hooks of the threaded mode, all called on the core's thread:
 * init before its first poll (listen there with toe_listen_core()), poll at
 * every round (returns work done), fd: one more descriptor to wait on while
 * idle (-1 none), next_us: an app deadline (UINT64_MAX none), fini after the
 * last poll. Any may be NULL. */
struct toe_core_hooks {
    int (*init)(struct toe_stack *stack, uint32_t core, void *arg);
    int (*poll)(struct toe_stack *stack, uint32_t core, uint64_t now_us, void *arg);
    int (*fd)(struct toe_stack *stack, uint32_t core, void *arg);
    uint64_t (*next_us)(struct toe_stack *stack, uint32_t core, void *arg);
    void (*fini)(struct toe_stack *stack, uint32_t core, void *arg);
};
/* Starts one thread per core (pinned to cfg.cpus[i] when >= 0) and the
 * control thread; returns once every init hook has run: 0, or the first
 * hook's or pthread's negative errno (then nothing runs). -EALREADY if
 * started. toe_stack_poll() returns -EBUSY from then on. */
int toe_stack_start(struct toe_stack *stack, const struct toe_core_hooks *hooks, void *arg);
/* Asks every thread to stop and joins them (fini hooks run). Idempotent. */
void toe_stack_stop(struct toe_stack *stack);
/* Index of the core whose thread calls this (or whose poll is running in
 * deterministic mode); -1 from any other thread. */
int toe_stack_current_core(const struct toe_stack *stack);

/* One round: take a burst of frames from the port and run them through the input
 * unit and the engine, fire due timers, flush TX, then deliver app callbacks.
 * now_us is the caller's clock (monotonic or virtual); it must not go backwards.
 * Returns the amount of work done (frames + events + callbacks), 0 when idle;
 * -EBUSY when called from a callback (toe_stack_destroy must not be either). */
int toe_stack_poll(struct toe_stack *stack, uint64_t now_us);

/* Absolute time (us, same clock as poll) of the next timer, UINT64_MAX if none. */
uint64_t toe_stack_next_timer_us(const struct toe_stack *stack);

/* Our addresses. */
uint32_t toe_stack_ipv4(const struct toe_stack *stack);
void toe_stack_mac(const struct toe_stack *stack, uint8_t mac[6]);

/* App callbacks. ctx is the connection's context (toe_conn_get_ctx()). */
struct toe_app_ops {
    /* A passive open completed (ESTABLISHED) on a listener. conn starts with
     * the listener's ops and ctx; the app may call toe_conn_set_ctx(). Return
     * 0 to keep the connection, a negative value to abort it (RST). */
    int (*on_accept)(struct toe_conn *conn, void *listen_ctx);
    /* An active open finished: status 0 (ESTABLISHED) or -ECONNREFUSED,
     * -ETIMEDOUT, -ENETUNREACH, ... On failure the handle is dead after the
     * callback returns and on_close is not called. */
    void (*on_connect)(struct toe_conn *conn, int status, void *ctx);
    /* Data (or the peer's FIN) is readable: call toe_recv() until it returns
     * -EAGAIN; it returns 0 at end of stream. */
    void (*on_recv)(struct toe_conn *conn, void *ctx);
    /* Send space became available after toe_send() returned less than asked
     * or -EAGAIN; acked_bytes is how much of our data the peer acknowledged. */
    void (*on_sent)(struct toe_conn *conn, size_t acked_bytes, void *ctx);
    /* The connection ended while the app still held it: status 0 (orderly:
     * both FINs exchanged), -ECONNRESET, -ETIMEDOUT, -ECONNABORTED. The handle
     * is dead after the callback returns. Not called after toe_close() or
     * toe_abort(): those give the handle back. */
    void (*on_close)(struct toe_conn *conn, int status, void *ctx);
    /* A flow moves to another core (bucket rebalancing). on_move_out runs
     * on the old core: the app lets go of its per-core bookkeeping of conn
     * (or returns a negative value to keep the flow where it is). Then
     * on_move_in runs on the new core with the NEW handle (the old one is
     * dead) and the new core's listener ctx for the local port (NULL if
     * none). Flows the app holds are moved only if both are set; the others
     * keep their bucket on its core. */
    int (*on_move_out)(struct toe_conn *conn, void *ctx);
    void (*on_move_in)(struct toe_conn *conn, void *ctx, void *core_ctx);
};

/* Passive open on a local port. ops is copied. backlog bounds connections in
 * SYN_RCVD plus established-not-yet-accepted (0 = engine default), shared
 * out over the cores (each core's replica gets ceil(backlog / n_cores)).
 * Replicated on every core with the same ctx. -EADDRINUSE if the port
 * already listens. */
int toe_listen(struct toe_stack *stack, uint16_t port, int backlog,
               const struct toe_app_ops *ops, void *ctx);
/* Listens on one core only, with that core's own ctx (per-core app
 * contexts): before toe_stack_start() or from that core's thread. backlog
 * is the stack-wide one, as for toe_listen(): this replica gets its share. */
int toe_listen_core(struct toe_stack *stack, uint32_t core, uint16_t port, int backlog,
                    const struct toe_app_ops *ops, void *ctx);
/* Stops listening; established connections are not affected. */
int toe_unlisten(struct toe_stack *stack, uint16_t port);

/* Active open to raddr:rport (host order) from an ephemeral port chosen (RFC
 * 6056 algorithm 3) so that the flow's bucket belongs to the calling core
 * (toe_stack_current_core(), core 0 outside any core). *conn is
 * valid at once (it may be used with toe_send() to queue data before the
 * handshake completes); completion is reported by on_connect. */
int toe_connect(struct toe_stack *stack, uint32_t raddr, uint16_t rport,
                const struct toe_app_ops *ops, void *ctx,
                struct toe_conn **conn);

/* Queues up to len bytes; returns bytes taken (possibly fewer), -EAGAIN when
 * the send buffer is full, -EPIPE after shutdown/close, -ENOTCONN when dead. */
ssize_t toe_send(struct toe_conn *conn, const void *buf, size_t len);
/* Copies up to len received bytes out; 0 = end of stream (peer FIN),
 * -EAGAIN = nothing yet, -ECONNRESET after a reset. */
ssize_t toe_recv(struct toe_conn *conn, void *buf, size_t len);
/* Half close: send FIN after queued data; receiving continues. */
int toe_shutdown(struct toe_conn *conn);
/* Full close (FIN after queued data); the handle is given back at once and no
 * more callbacks come; the stack finishes the close in the background. */
int toe_close(struct toe_conn *conn);
/* Reset (RST) and give the handle back at once. */
int toe_abort(struct toe_conn *conn);

void toe_conn_set_ctx(struct toe_conn *conn, void *ctx);
/* The core that owns the connection now. */
uint32_t toe_conn_core(const struct toe_conn *conn);
void *toe_conn_get_ctx(const struct toe_conn *conn);

/* Connection identity and state, host byte order. */
struct toe_conn_info {
    uint32_t local_addr;
    uint32_t remote_addr;
    uint16_t local_port;
    uint16_t remote_port;
    uint32_t flow_id;      /* the stack's local flow ID (the proxy) */
    const char *state;     /* RFC 9293 state name, e.g. "ESTABLISHED" */
    int last_error;        /* the latest ICMP error about this connection that
                              did not end it (RFC 1122 4.2.3.9 soft errors:
                              -EHOSTUNREACH, -ENETUNREACH, ...), 0 if none */
    uint32_t path_mtu;     /* path MTU learned from ICMP (RFC 1191), 0 = not
                              reduced */
};
int toe_conn_info(const struct toe_conn *conn, struct toe_conn_info *info);
/* "ESTABLISHED", "SYN_SENT", ... ("CLOSED" for a dead handle). */
const char *toe_conn_state_name(const struct toe_conn *conn);
/* Bytes toe_recv() would return now / toe_send() would take now. */
size_t toe_conn_readable(const struct toe_conn *conn);
size_t toe_conn_writable(const struct toe_conn *conn);
/* Disables (true) or re-enables Nagle's algorithm for this connection. */
int toe_conn_set_nodelay(struct toe_conn *conn, bool nodelay);
/* Keep-alive for this connection (RFC 9293 MUST-24), overriding the stack's
 * switch: on/off, idle time before the first probe, interval between probes
 * and unanswered probes before giving up (ETIMEDOUT); 0 keeps the current
 * value (the stack's at first). -EINVAL for a value that does not fit. */
int toe_conn_set_keepalive(struct toe_conn *conn, bool on, uint32_t idle_ms,
                           uint32_t intvl_ms, uint32_t probes);
/* R2 for this connection as a time bound (RFC 9293 MUST-21, like Linux's
 * TCP_USER_TIMEOUT): once retransmissions of the same data have gone on for
 * r2_ms the connection is given up (on_close/on_connect -ETIMEDOUT).
 * 0 restores the stack's rule (15 retransmissions and at least 100 s). */
int toe_conn_set_timeout_ms(struct toe_conn *conn, uint32_t r2_ms);
/* IPv4 TOS / DiffServ byte of every segment of this connection, RST and ACK
 * included (RFC 9293 MUST-48; default 0). */
int toe_conn_set_tos(struct toe_conn *conn, uint8_t tos);
/* IPv4 TTL of every segment of this connection (MUST-49): 1..255, -EINVAL
 * for 0. */
int toe_conn_set_ttl(struct toe_conn *conn, uint8_t ttl);

/* Flows held by the stack (connections in any state, TIME_WAIT included). */
uint32_t toe_stack_flow_count(const struct toe_stack *stack);

/* Counters, summed over cores, nstat-like ("TcpActiveOpens 3"): one
 * "name value" line per counter, every counter (zeros too), like `nstat -a`. */
int toe_stack_stats_print(const struct toe_stack *stack, FILE *out);
/* Every connection, one line each, like `ss -tin`: core, flow ID, hash
 * bucket, local and remote address, state, and the engine's view (bytes
 * unacked/unread, cwnd, ssthresh, srtt, rto, retransmits). Returns 0 or -EIO. */
int toe_stack_conns_print(const struct toe_stack *stack, FILE *out);
/* The same for one core's connections, from that core's thread (threaded
 * mode: a core hook); -EINVAL for a core that does not exist. */
int toe_stack_core_conns_print(const struct toe_stack *stack, uint32_t core, FILE *out);
/* Flows held by one core (from that core's thread, as above). */
uint32_t toe_stack_core_flow_count(const struct toe_stack *stack, uint32_t core);
/* One line per core (toe/snapshot.h's table, as toe-stat shows it):
 * buckets held, flows, events processed (by class), busy time, messages
 * waiting, buckets moved in/out, events forwarded and received, parked,
 * lost to parking overflow and dropped. Call it when the core threads are
 * stopped (or in deterministic mode). 0 or -EIO. */
int toe_stack_cores_print(const struct toe_stack *stack, FILE *out);
/* Threaded mode measures each core's busy time itself. A caller that drives
 * a one-core stack with toe_stack_poll() on a real clock reports here, from
 * that thread, how long its polls that did work took (toe-stat's busy %). */
void toe_stack_busy_add(struct toe_stack *stack, uint64_t busy_ns);
/* One counter by its name; -ENOENT if there is no such counter. */
int toe_stack_counter(const struct toe_stack *stack, const char *name,
                      uint64_t *value);

/* "10.0.0.1" -> 0x0a000001. Returns 0 or -EINVAL. */
int toe_ipv4_parse(const char *text, uint32_t *addr);

#ifdef __cplusplus
}
#endif

#endif
