/* toe-load's engine: connection slots on one core of a toe stack driving a
 * server in one of four modes, closed loop (a slot issues its next request
 * when the last one completes) or open loop at a fixed rate (every slot has
 * its own schedule; latency counts from the intended send time, so a stall
 * shows up in the figures instead of slowing the client down: wrk2's
 * answer to coordinated omission). No I/O of its own: the app frame
 * (apps/common/app.c) polls the stack and calls load_core_poll(). */
#ifndef TOE_APPS_TOE_LOAD_LOAD_H
#define TOE_APPS_TOE_LOAD_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <toe/toe.h>

#include "hist.h"

#define LOAD_MAX_PATHS  16
#define LOAD_MAX_DEPTH  64
#define LOAD_MAX_CONNS  65536
#define LOAD_REQ_MAX    512  /* bytes of one HTTP request */

enum load_mode { LOAD_RR, LOAD_HTTP, LOAD_BULK, LOAD_CONNECT };
enum load_bulk_dir { LOAD_BULK_BOTH, LOAD_BULK_SEND, LOAD_BULK_RECV };

struct load_config {
    enum load_mode mode;
    uint32_t raddr;          /* server, host order */
    uint16_t rport;
    uint32_t conns;          /* connection slots in all (shared out over cores) */
    uint64_t size_bytes;     /* rr/connect: message; bulk: bytes per transfer */
    uint32_t depth;          /* rr/http: requests in flight per connection */
    uint64_t duration_us;    /* measured time, after the warm-up */
    uint64_t warmup_us;
    double rate;             /* requests/s in all; 0 = closed loop */
    uint64_t max_requests;   /* issue no more than this many (0 = no bound) */
    uint32_t timeout_ms;     /* connect, response, and the final drain */
    const char *paths[LOAD_MAX_PATHS];
    uint32_t n_paths;
    bool http_close;         /* Connection: close, a connection per request */
    const char *host;        /* HTTP Host field */
    enum load_bulk_dir bulk_dir;
    uint64_t seed;           /* the byte streams (tests/tools/pattern.h) */
};

/* Failures by reason; every one is also an error in the last line. */
struct load_errors {
    uint64_t refused;          /* on_connect -ECONNREFUSED */
    uint64_t connect_timeout;  /* no handshake within timeout_ms */
    uint64_t unreachable;      /* -ENETUNREACH, -EHOSTUNREACH */
    uint64_t no_port;          /* toe_connect -EADDRNOTAVAIL: ports exhausted */
    uint64_t connect_other;    /* any other connect failure */
    uint64_t response_timeout; /* requests outstanding, nothing came for timeout_ms */
    uint64_t reset;            /* on_close -ECONNRESET or toe_recv reset */
    uint64_t closed;           /* the server closed with requests outstanding */
    uint64_t verify;           /* a byte differed from what was sent, or extra bytes */
    uint64_t http_parse;       /* malformed response, chunked, too large a head */
    uint64_t http_status;      /* a response that is not 2xx */
    uint64_t send;             /* toe_send failed for good */
    uint64_t unfinished;       /* requests still outstanding when the drain ended */
};

struct load_counters {
    uint64_t requests;        /* completed inside the measured window */
    uint64_t requests_total;  /* completed, warm-up and drain included */
    uint64_t issued;          /* requests issued (bulk/connect: transfers started) */
    uint64_t bytes_sent;      /* payload taken by toe_send, whole run */
    uint64_t bytes_received;  /* payload returned by toe_recv, whole run */
    uint64_t bytes_measured;  /* received inside the measured window */
    uint64_t connects;        /* toe_connect calls */
    uint64_t established;     /* on_connect 0 */
    uint64_t late;            /* open loop: requests issued after their time */
    struct load_errors err;
};

struct load_conn;

/* PRIME: one connection first, so the server's address is resolved (ARP
 * holds only a few frames per unresolved peer: hundreds of SYNs at once
 * would mostly be dropped and wait a retransmission timeout). */
enum load_phase { LOAD_PRIME, LOAD_RUN, LOAD_DRAIN, LOAD_LINGER, LOAD_DONE };

/* One core's share of the run. */
struct load_core {
    const struct load_config *cfg;
    struct toe_stack *stack;
    uint32_t core;
    struct load_conn *slots;
    uint32_t n_slots, first_slot; /* global index of slots[0] (pattern keys) */
    double rate;                  /* this core's requests/s, 0 = closed loop */
    uint64_t max_requests;        /* this core's share, 0 = no bound */
    enum load_phase phase;
    bool started;
    uint64_t t0_ns, t_measure_ns, t_end_ns, t_phase_end_ns;
    uint64_t next_scan_ns;        /* timeouts and retries */
    uint64_t sched_seq, sched_next_ns; /* open loop: next global schedule entry */
    uint64_t win_end_ns;          /* end of the measured window (for the rate) */
    uint64_t last_complete_ns;
    bool by_time;
    bool reported_done;           /* the app frame counted this core as done */                 /* the run ended at its time, not a request bound */
    uint64_t progress_done;       /* requests_total, read by the progress printer */
    struct load_counters c;
    struct hist *hist;            /* latency of measured requests, ns */
    uint8_t *scratch;             /* receive and compare buffers */
    uint8_t *expect;
};

/* 0 or -ENOMEM. share: this core's slots, rate, request bound. */
int load_core_init(struct load_core *lc, const struct load_config *cfg, struct toe_stack *stack,
                   uint32_t core, uint32_t n_cores);
void load_core_release(struct load_core *lc);
/* Starts (first call), issues due requests, checks timeouts, moves through
 * the phases. Returns work done. */
int load_core_poll(struct load_core *lc);
/* Measured window of a finished core, ns. */
static inline uint64_t load_core_window_ns(const struct load_core *lc)
{
    return lc->win_end_ns > lc->t_measure_ns ? lc->win_end_ns - lc->t_measure_ns : 0;
}
/* When the core next needs a poll (CLOCK_MONOTONIC us), UINT64_MAX none. */
uint64_t load_core_next_us(const struct load_core *lc);
bool load_core_done(const struct load_core *lc);

uint64_t load_now_ns(void);
/* The GET of path into buf (LOAD_REQ_MAX bytes): its length, or -EINVAL if
 * it does not fit. */
int load_http_request(const struct load_config *cfg, const char *path, char *buf);
uint64_t load_errors_sum(const struct load_errors *e);
void load_counters_add(struct load_counters *a, const struct load_counters *b);

#endif
