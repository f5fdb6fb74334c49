/* Kernel twins of toe-echo and toe-httpd: the same application logic on the
 * kernel TCP stack, driven by epoll or by io_uring (liburing), for side-by-side
 * benchmarks. A protocol (echo, http) only moves bytes between a connection's
 * input and output buffers and asks for file reads; an engine (epoll, uring)
 * moves bytes between the buffers and the sockets. Four executables combine
 * them: twin-{echo,httpd}-{epoll,uring}. Per connection memory is fixed
 * (struct + protocol state + in_cap + out_cap): a peer that stops reading
 * stops being read (backpressure), whatever it sends. */
#ifndef TOE_BENCH_TWIN_H
#define TOE_BENCH_TWIN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct twin_opts {
    const char *prog;           /* executable name, for messages */
    char ip[64];                /* listen address (IPv4 dotted quad) */
    int port;                   /* 0: ephemeral, the one chosen is printed */
    const char *root;           /* httpd: document root; NULL: generated only */
    unsigned threads;           /* workers, each with its own SO_REUSEPORT socket */
    int64_t fixed_date_s;       /* hidden (tests): Date is this time; -1 = clock */
    uint32_t idle_timeout_ms;   /* close connections idle that long; 0 = never */
    uint32_t linger_ms;         /* after our FIN, drain the peer this long */
    uint32_t header_timeout_ms; /* a started request must be complete by then */
    uint32_t max_conns;         /* per worker; more are accepted and closed */
    uint32_t cache_entries;     /* httpd: small-file cache slots per worker */
    uint32_t cache_max_bytes;   /* httpd: largest file cached */
    unsigned uring_entries;     /* submission queue size */
    bool quiet;                 /* no startup lines on stderr */
};

struct twin_counters {
    uint64_t conns;    /* accepted */
    uint64_t refused;  /* accepted over max_conns and closed at once */
    uint64_t requests; /* http: responses started; echo: batches echoed */
    uint64_t errors;   /* http: 4xx/5xx responses */
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t resets; /* connections that ended with a socket error */
};

enum twin_want {
    TWIN_WANT_INPUT = 0, /* consumed everything: read more */
    TWIN_WANT_OUTPUT,    /* blocked on output space: do not read */
    TWIN_WANT_READ,      /* read c->rd_len bytes of c->rd_fd at c->rd_off into
                            c->rd_dst, then proto->read_done() */
    TWIN_WANT_CLOSE,     /* send what is buffered, FIN, drain, close */
};

enum twin_phase {
    TWIN_OPEN = 0,
    TWIN_FLUSHING, /* protocol done: sending the rest */
    TWIN_LINGER,   /* FIN sent: reading and discarding until EOF or deadline */
    TWIN_DEAD,     /* waiting for in-flight operations, then freed */
};

struct twin_conn {
    struct twin_conn *prev, *next; /* the worker's list */
    struct twin_conn *runq_next;   /* epoll: more work pending */
    int fd;
    uint8_t phase;
    uint8_t want;
    bool peer_eof;
    bool can_read, can_write, in_runq;    /* epoll */
    bool recv_busy, send_busy, read_busy; /* uring: in flight */
    uint8_t *in;
    uint32_t in_off, in_len, in_cap;
    uint8_t *out;
    uint32_t out_off, out_len, out_cap;
    int rd_fd; /* TWIN_WANT_READ request */
    uint64_t rd_off;
    uint32_t rd_len;
    uint8_t *rd_dst;       /* in out (after out_len) or protocol memory */
    uint64_t req_start_ms; /* a request is arriving since then; 0: none */
    uint64_t active_ms;    /* last progress */
    uint64_t deadline_ms;  /* TWIN_LINGER */
    void *state;           /* protocol's per-connection state */
};

struct twin_worker;

struct twin_proto {
    const char *name;
    uint32_t in_cap, out_cap;
    size_t state_size;
    int (*global_init)(const struct twin_opts *o, void **global);
    void (*global_fini)(void *global);
    int (*worker_init)(struct twin_worker *w);  /* optional */
    void (*worker_fini)(struct twin_worker *w); /* optional */
    void (*conn_init)(struct twin_worker *w, struct twin_conn *c);
    enum twin_want (*step)(struct twin_worker *w, struct twin_conn *c);
    void (*read_done)(struct twin_worker *w, struct twin_conn *c, ssize_t res);
    void (*eof)(struct twin_worker *w, struct twin_conn *c);
    void (*conn_fini)(struct twin_worker *w, struct twin_conn *c);
    /* optional: a request started and is incomplete (header timeout) */
    bool (*mid_request)(struct twin_worker *w, struct twin_conn *c);
    /* optional: the header timeout fired; true if a last answer was
     * appended to c->out (http: 408), to be sent before FIN */
    bool (*timeout)(struct twin_worker *w, struct twin_conn *c);
};

struct twin_engine {
    const char *name;
    /* Runs until twin_stop; returns 0 or -errno. */
    int (*run)(struct twin_worker *w);
};

struct twin_worker {
    const struct twin_opts *opts;
    const struct twin_proto *proto;
    const struct twin_engine *engine;
    void *global; /* protocol's shared state (read-only) */
    void *wstate; /* protocol's per-worker state */
    unsigned id;
    int lfd;
    struct twin_counters cnt;
    struct twin_conn conns; /* list head */
    uint32_t nconns;
    int64_t date_s;
    char date[32]; /* current IMF-fixdate */
    uint64_t now_ms;
    uint64_t sweep_ms;
    int rc;
};

extern volatile sig_atomic_t twin_stop;

extern const struct twin_proto twin_proto_echo;
extern const struct twin_proto twin_proto_http;
extern const struct twin_engine twin_engine_epoll;
extern const struct twin_engine twin_engine_uring;

/* Parses argv, runs the workers, prints counters; the whole program. */
int twin_main(int argc, char **argv, const struct twin_proto *proto,
              const struct twin_engine *engine, const char *name);

/* Shared engine helpers. */
struct twin_conn *twin_conn_new(struct twin_worker *w, int fd);
void twin_conn_free(struct twin_worker *w, struct twin_conn *c);
/* Compacts buffers when no operation is in flight, then runs the protocol. */
enum twin_want twin_conn_step(struct twin_worker *w, struct twin_conn *c);
/* Moves unconsumed input to the front (call only with no recv in flight). */
void twin_conn_compact_in(struct twin_conn *c);
/* Refreshes now_ms and the Date string. */
void twin_worker_tick(struct twin_worker *w);
/* True every ~250 ms: time to look for idle and lingering connections. */
bool twin_worker_sweep_due(struct twin_worker *w);
/* Whether c should be ended now (idle or header timeout, linger deadline). */
bool twin_conn_expired(const struct twin_worker *w, const struct twin_conn *c);
/* For an expired c: if it was the header timeout and the protocol queued a
 * last answer (http: 408), c is now TWIN_FLUSHING and true is returned: the
 * engine sends it, FIN, lingers (best effort). False: end c now. */
bool twin_conn_timeout_answer(struct twin_worker *w, struct twin_conn *c);
/* TCP_NODELAY etc. on an accepted socket. */
void twin_sock_setup(int fd);
void twin_log(const struct twin_worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
