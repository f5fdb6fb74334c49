/* What the programs on the userspace stack over AF_XDP (the servers
 * toe-echo and toe-httpd, the client toe-load) share: the command line of
 * the port and the stack, one worker thread and one stack over every RX
 * queue (--queues N, cfg.one_port), the poll loop (CLOCK_MONOTONIC, ppoll()
 * until the next stack timer or app deadline, at most 100 ms so signals are
 * noticed; or spinning with --busy-poll), SIGUSR1 dumps, the stat socket
 * toe-stat reads (stat_server.h), and the counters printed at exit. A server
 * describes itself with a struct app_def: its listener callbacks, its
 * per-worker service and its extra options; a client (app_def.client) has
 * no listener and ends the run itself. */
#ifndef TOE_APPS_COMMON_APP_H
#define TOE_APPS_COMMON_APP_H

#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <toe/toe.h>

#include "xsk/afxdp.h"

#define APP_EXIT_USAGE 2
#define APP_OPT_EXTRA  512 /* first getopt code of an app's own options */

struct app_opts {
    struct afxdp_config xdp;
    struct toe_stack_config stack;
    uint16_t port;
    int backlog;
    double stats_interval_s;
    bool busy_poll;
    bool cores_given;   /* --cores: one stack, one pinned thread per core */
    bool no_counters;   /* no stack and port counters at exit (a client's choice) */
    const char *stat_socket; /* --stat-socket: NULL = /run/toe/<pid>.sock */
    bool stat_off;           /* --stat-socket none */
    uint32_t spin_us;   /* keep spinning this long after work, and rather than
                           sleep for a deadline this close (0: IDLE_SPINS only) */
};

struct app_def;

/* The worker: its thread, port (every RX queue behind it), stack and the
 * app's service. There is one (afxdp_n_ports() with cfg.one_port). */
struct app_worker {
    pthread_t tid;
    uint32_t index;
    const struct app_opts *o;
    const struct app_def *def;
    struct afxdp *x;
    struct toe_stack *stack;
    void *svc; /* the app's per-worker state, also the listener's ctx */
};

struct app_def {
    const char *name;        /* "toe-echo": messages, startup line */
    const char *usage_head;  /* "usage: ...\n" and what the server does */
    const char *usage_extra; /* help lines of the app's own options, or NULL */
    /* The app's own long options (val >= APP_OPT_EXTRA), {0}-terminated, and
     * their parser: 0, or -EINVAL after a message (app_bad). */
    const struct option *extra_opts;
    int (*parse_extra)(const struct app_def *def, int code, const char *arg);
    /* Checks after parsing (e.g. a required option); 0 or -EINVAL. */
    int (*check_extra)(const struct app_def *def);

    const struct toe_app_ops *ops;             /* the listener's callbacks, ctx = w->svc */
    int (*svc_create)(struct app_worker *w);   /* sets w->svc; 0 or -errno */
    void (*svc_destroy)(struct app_worker *w); /* after toe_stack_destroy */
    /* Optional, on the worker's thread: */
    int (*svc_poll)(struct app_worker *w, uint64_t now_us); /* each round; work done */
    int (*svc_fd)(const struct app_worker *w);              /* also wait on it (POLLIN) */
    uint64_t (*svc_next_us)(const struct app_worker *w);    /* app deadline, UINT64_MAX */
    void (*svc_stop)(struct app_worker *w);                 /* the loop ended */
    /* Optional: a --stats-interval line; and the app's counters at exit,
     * summed over workers ("# name counters" and "Name value" lines). */
    void (*summary)(const struct app_worker *w, double t_s);
    void (*counters_print)(const struct app_worker *ws, uint32_t n, FILE *out);

    /* A client (toe-load) instead of a server: --port is optional and
     * nothing listens; positional arguments go to parse_arg (0 or -EINVAL);
     * defaults() may change the option defaults before parsing; the stack
     * and port counters at exit go to stderr and report() prints last on
     * stdout and returns the exit status. The app ends the run itself with
     * app_stop() (a signal ends it too). */
    bool client;
    int (*parse_arg)(const struct app_def *def, const char *arg);
    void (*defaults)(struct app_opts *o);
    int (*report)(const struct app_worker *ws, uint32_t n, FILE *out);
};

/* Parses argv into *o (defaults first). --help prints the usage and exits 0.
 * Returns 0, or -EINVAL after a message on stderr (exit APP_EXIT_USAGE). */
int app_parse_opts(const struct app_def *def, int argc, char **argv, struct app_opts *o);
/* Opens the port, runs the worker until SIGINT/SIGTERM (or app_stop()),
 * prints the counters. Returns the exit status: 0 after a signal (a client:
 * its report()'s), 1 on setup failure. */
int app_run(const struct app_def *def, const struct app_opts *o);

/* "NAME: OPT VAL: WANT" on stderr; returns -EINVAL. */
int app_bad(const struct app_def *def, const char *opt, const char *val, const char *want);
/* Ends app_run's loop (any thread, async-signal-safe). */
void app_stop(void);
/* Decimal/hex number in [min, max]; 0 or -EINVAL. */
int app_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* CLOCK_MONOTONIC in microseconds. */
uint64_t app_mono_us(void);

#endif
