/* The HTTP service of toe-httpd: app callbacks that drive one apps/http
 * session per connection on the userspace stack, file reads through io_uring
 * (liburing, IORING_OP_READ) completed in the same poll loop as the stack,
 * a small-file cache, and timeouts (header, idle, linger) on the loop's clock.
 * One service per worker thread (stack); knows nothing of AF_XDP.
 *
 * Memory per connection is fixed: the session, HTTPD_IN_BYTES of input and
 * HTTPD_OUT_BYTES of output, plus the stack's own send and receive buffers.
 * While a response cannot be written (output full) the connection is not read
 * (backpressure): a peer that stops reading sees our window close, and grows
 * nothing here. */
#ifndef TOE_APPS_HTTPD_H
#define TOE_APPS_HTTPD_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <toe/toe.h>

#include "apps/http/cache.h"
#include "apps/http/server.h"
#include "apps/http/session.h"

#define HTTPD_IN_BYTES  (16u << 10)
#define HTTPD_OUT_BYTES (64u << 10)

struct httpd_config {
    const char *root;           /* document root; NULL: only /tiny and /bytes/N */
    uint32_t header_timeout_ms; /* a started request must be complete by then (10000) */
    uint32_t idle_timeout_ms;   /* no progress that long: close (60000); 0 = never.
                                   Progress: input, or 4 KiB (or a whole response)
                                   of output taken by the stack */
    uint32_t linger_ms;         /* after our FIN, drain the peer this long (2000) */
    uint32_t max_conns;         /* per worker; more are refused with RST (10000) */
    uint32_t cache_entries;     /* small-file cache slots per worker (64); 0 = off */
    uint32_t cache_max_bytes;   /* largest file cached (65536) */
    uint32_t uring_entries;     /* submission queue entries per worker (256) */
    int64_t fixed_date_s;       /* tests: Date is this Unix time; -1 = the clock */
};

void httpd_config_init(struct httpd_config *cfg);

/* Shared by every worker, read-only once made. */
struct httpd_global {
    struct httpd_config cfg;
    struct http_service http;
    struct http_root root; /* fd -1 without --root */
};

/* 0, or -errno after a message on stderr naming prog (e.g. a bad root). */
int httpd_global_init(struct httpd_global *g, const struct httpd_config *cfg, const char *prog);
void httpd_global_fini(struct httpd_global *g);

struct httpd_counters {
    uint64_t accepted;         /* connections taken by on_accept */
    uint64_t refused;          /* over max_conns or no memory: RST */
    uint64_t open;             /* held right now */
    uint64_t requests;         /* responses started, errors included */
    uint64_t errors;           /* 4xx/5xx responses */
    uint64_t bytes_in;         /* request bytes received */
    uint64_t bytes_out;        /* response bytes taken by toe_send */
    uint64_t output_stalls;    /* toe_send took less than offered: reading paused */
    uint64_t file_reads;       /* IORING_OP_READ completions */
    uint64_t file_read_errors; /* reads that failed or came short: connection cut */
    uint64_t closed_by_peer;   /* peer FIN, then our FIN */
    uint64_t closed_orderly;   /* we ended it (Connection: close, error) */
    uint64_t closed_reset;     /* on_close with -ECONNRESET */
    uint64_t closed_other;     /* on_close with another status */
    uint64_t header_timeouts;  /* request incomplete after header_timeout_ms */
    uint64_t idle_timeouts;    /* no progress for idle_timeout_ms */
    uint64_t linger_timeouts;  /* peer did not close within linger_ms after our FIN */
    uint64_t send_errors;      /* toe_send failed other than -EAGAIN: aborted */
    uint64_t moved_out;        /* connections that left for another core */
    uint64_t moved_in;         /* connections that came from another core */
    uint64_t moves_refused;    /* kept here: a file read, file or cache entry in use */
};

struct httpd_conn;

/* One per worker: the listener's ctx. */
struct httpd_service {
    const struct httpd_global *g;
    struct io_uring ring;
    bool ring_ok;
    bool sq_pending; /* SQEs prepared, not yet submitted */
    uint32_t reads_in_flight;
    struct http_cache cache;
    struct httpd_conn *conns; /* every connection held */
    struct httpd_conn *runq;  /* connections that used their turn */
    uint32_t nconns;
    uint64_t now_ms;
    uint64_t sweep_ms;
    int64_t date_s;
    char date[HTTP_DATE_LEN + 1];
    struct httpd_counters c;
    uint8_t discard[HTTPD_IN_BYTES]; /* lingering input goes here */
};

/* The callbacks to pass to toe_listen() with ctx = the service. */
extern const struct toe_app_ops httpd_ops;

/* 0 or -errno (no io_uring: -ENOSYS etc., with a message). */
int httpd_service_init(struct httpd_service *svc, const struct httpd_global *g);
/* Waits (bounded) for file reads still in flight, so their buffers can go. */
void httpd_service_quiesce(struct httpd_service *svc);
/* Frees what is left; call after toe_stack_destroy(). */
void httpd_service_fini(struct httpd_service *svc);

/* Each loop round, on the worker's thread: submits file reads, handles their
 * completions, ticks the clock and the Date, runs timeouts. Returns work done. */
int httpd_service_poll(struct httpd_service *svc, uint64_t now_us);
/* The ring's fd (readable when reads completed), and the next timeout check. */
int httpd_service_fd(const struct httpd_service *svc);
uint64_t httpd_service_next_us(const struct httpd_service *svc);

void httpd_counters_add(struct httpd_counters *a, const struct httpd_counters *b);
void httpd_counters_print(const struct httpd_counters *c, FILE *out);

#endif
