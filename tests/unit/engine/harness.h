/* Packet-trace style harness for the TCP engine unit tests: a real timer
 * wheel and page pool, a capturing emit callback, and helpers to inject a
 * segment from the peer, expect the next segment we sent, and advance the
 * virtual clock. Sequence numbers: the peer's are absolute (the test picks
 * the peer ISN), ours are relative to our ISS (captured from our SYN or
 * SYN-ACK), like packetdrill's relative numbers. */
#ifndef TOE_TESTS_ENGINE_HARNESS_H
#define TOE_TESTS_ENGINE_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sockmem/pool.h"
#include "timers/wheel.h"
#include "toe/tcp/tcp.h"
#include "toe/tcp/tcp_conn.h"

#define H_MAX_OUT 4096
#define H_MAX_DATA 2048
#define H_MAX_CONNS 16

struct h_seg {
    struct tcp_tuple t;
    struct tcp_hdr_out h;
    uint32_t rseq;               /* h.seq - our ISS */
    uint32_t len;
    uint8_t data[H_MAX_DATA];
};

struct harness {
    struct tcp_engine eng;
    struct timer_wheel wheel;
    struct sockmem_pool pool;
    struct tcp_engine_ops ops;
    struct tcp_listener lst;
    bool listening;
    uint64_t now_us;
    struct tcp_tuple tuple;      /* the connection under test */
    struct tcp_conn *conn;       /* engine's connection for tuple, or NULL */
    struct tcp_conn *app;        /* the app's handle (connect or accept) */
    uint32_t iss;                /* our ISS */
    bool iss_known;
    struct h_seg *out;           /* captured, H_MAX_OUT */
    unsigned nout, rd;
    int emit_fail;               /* fail the next n emits with -ENOBUFS */
    unsigned nalloc, nfree;
    unsigned events;             /* union of events notified for the app conn */
    unsigned nnotify;
    struct tcp_conn *freed[H_MAX_CONNS];
};

void h_init(struct harness *h, const struct tcp_config *cfg);
void h_fini(struct harness *h);
/* cmocka setup/teardown: a calloc'd harness, h_init with the default config,
 * in *state; h_teardown undoes it. */
int h_setup(void **state);
int h_teardown(void **state);
void h_listen(struct harness *h, uint32_t backlog);
/* Active open: expects our SYN and records ISS. */
void h_connect(struct harness *h);

/* flags: letters S A F R P U E C ("." = ACK). */
uint8_t h_flags(const char *s);
int h_inject(struct harness *h, const char *flags, uint32_t seq, uint32_t rack, uint16_t win,
             const struct tcp_options *opts, const void *data, uint32_t len);
const struct h_seg *h_expect_(struct harness *h, const char *flags, uint32_t rseq, uint32_t ack,
                              const char *file, int line);
#define h_expect(h, flags, rseq, ack) h_expect_((h), (flags), (rseq), (ack), __FILE__, __LINE__)
void h_expect_none_(struct harness *h, const char *file, int line);
#define h_expect_none(h) h_expect_none_((h), __FILE__, __LINE__)
unsigned h_pending(const struct harness *h);
void h_advance_ms(struct harness *h, uint64_t ms);
void h_advance_us(struct harness *h, uint64_t us);
/* Passive open through the listener: SYN (peer ISN irs) -> SYN-ACK -> ACK,
 * with opts on the SYN (NULL: MSS 1460 only). Accepts the connection. */
void h_passive_open(struct harness *h, uint32_t irs, const struct tcp_options *syn_opts);

static inline struct tcp_options h_opts_none(void)
{
    struct tcp_options o = {0};

    return o;
}

static inline struct tcp_options h_opts_mss(uint16_t mss)
{
    struct tcp_options o = {0};

    o.present = TCP_OPTF_MSS;
    o.mss = mss;
    return o;
}

#endif
