/* Seeded random segments, app calls and time steps thrown at one engine
 * connection (and its listener): nothing may crash, trip the sanitizers,
 * break the sequence-space invariants or leak a connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static uint64_t rng;
static uint8_t junk[8192];

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void check_invariants(struct harness *h)
{
    struct tcp_conn *c = h->conn;

    if (!c)
        return;
    assert_true(seq_leq(c->snd_una, c->snd_nxt));
    assert_true(seq_leq(c->snd_nxt, c->snd_max));
    assert_true(c->state < TCP_STATE_COUNT);
    if (c->bufs_ready && tcp_synchronized(c)) {
        assert_true(seq_leq(c->snd_buf_seq - 1, c->snd_una) ||
                    c->snd_buf_seq == c->snd_una);
        assert_true(seq_leq(c->rcv_nxt, c->rcv_adv) || c->rcv_adv == c->rcv_nxt);
    }
}

static void random_opts(struct tcp_options *o, uint32_t base)
{
    memset(o, 0, sizeof(*o));
    if (rnd() % 2) {
        o->present |= TCP_OPTF_TS;
        o->ts_val = 1000 + rnd() % 5000;
        o->ts_ecr = rnd() % 3 ? 0 : rnd();
    }
    if (rnd() % 3 == 0) {
        o->present |= TCP_OPTF_SACK;
        o->sack_count = 1 + rnd() % 4;
        for (unsigned i = 0; i < o->sack_count; i++) {
            o->sack[i].start = base + rnd() % 20000 - 5000;
            o->sack[i].end = o->sack[i].start + rnd() % 4000 - 500;
        }
    }
    if (rnd() % 4 == 0) {
        o->present |= TCP_OPTF_MSS | TCP_OPTF_WSCALE | TCP_OPTF_SACK_PERM;
        o->mss = (uint16_t)(rnd() % 2000);
        o->wscale = (uint8_t)(rnd() % 20);
    }
}

static void one_run(uint64_t seed)
{
    struct harness *h = calloc(1, sizeof(*h));
    struct tcp_config cfg;
    uint32_t irs = 5000;
    static const char *const fl[] = { "S", "SA", "A", "PA", "FA", "R", "RA", "F", "", "SF",
                                      "SR", "FPA", "A", "A", "PA", "A" };
    uint8_t buf[3000];

    rng = seed * 0x9E3779B97F4A7C15ull + 7;
    tcp_config_default(&cfg);
    cfg.sack = rnd() % 2;
    cfg.timestamps = rnd() % 2;
    cfg.syncookies = (enum tcp_syncookies_mode)(rnd() % 3);
    cfg.keepalive = rnd() % 2;
    cfg.keepalive_idle_us = 2000000;
    cfg.rcvbuf_default_bytes = 4096 + rnd() % 70000;
    h_init(h, &cfg);
    h_listen(h, 1 + rnd() % 3);
    for (int step = 0; step < 3000; step++) {
        uint32_t r = rnd() % 100;

        if (r < 60) {
            struct tcp_conn *c = h->conn;
            uint32_t rcv = c ? c->rcv_nxt : irs + 1;
            uint32_t una = c ? c->snd_una - h->iss : 1;
            uint32_t nxt = c ? c->snd_max - h->iss : 1;
            uint32_t seq, ack, len = rnd() % 4 ? 0 : 1 + rnd() % 1460;
            const char *f;
            struct tcp_options o;

            if (!c)
                h->iss_known = false;
            if (rnd() % 3) {
                /* plausible: in order, acking something we sent */
                static const char *const good[] = { "A", "PA", "A", "FA", "PA", "S", "SA" };

                f = good[rnd() % 7];
                if (!c && rnd() % 2)
                    f = h->nout ? "A" : "S";
                seq = rnd() % 4 ? rcv : rcv + (rnd() % 2 ? 1 : -1) * (rnd() % 3000);
                if (f[0] == 'S')
                    seq = rnd() % 2 ? irs : irs + rnd() % 100000;
                ack = una + rnd() % (nxt - una + 1);
                if (!c)
                    ack = 1;
                if (f[0] == 'S' && !f[1])
                    len = 0;
            } else {
                f = fl[rnd() % 16];
                seq = rcv + (rnd() % 8 ? rnd() % 3000 - 500 : rnd());
                ack = una + (rnd() % 8 ? rnd() % 4000 - 1000 : rnd());
            }
            if (rnd() % 10 == 0)
                seq = irs + rnd() % 4;
            random_opts(&o, h->iss + una);
            if (rnd() % 2) {
                o.present &= (uint8_t)~TCP_OPTF_TS; /* keep PAWS from eating everything */
                if (c && c->ts_ok && rnd() % 2) {
                    o.present |= TCP_OPTF_TS;
                    o.ts_val = c->ts_recent + rnd() % 100;
                    o.ts_ecr = 0;
                }
            }
            h_inject(h, f, seq, ack, (uint16_t)(rnd() % 8 ? 65535 : rnd()), &o, junk, len);
            if (!h->conn && rnd() % 20 == 0)
                irs += 100000 + rnd() % 100000;
        } else if (r < 70 && h->app) {
            tcp_send(&h->eng, h->app, junk, rnd() % 5000, h->now_us);
        } else if (r < 80 && h->app) {
            tcp_recv(&h->eng, h->app, buf, rnd() % sizeof(buf), h->now_us);
        } else if (r < 82 && h->app) {
            if (rnd() % 2)
                tcp_close(&h->eng, h->app, h->now_us);
            else
                tcp_abort(&h->eng, h->app, h->now_us);
            h->app = NULL;
        } else if (r < 84 && h->app) {
            tcp_shutdown(&h->eng, h->app, h->now_us);
        } else if (r < 86 && !h->app) {
            h->app = tcp_accept(&h->eng, &h->lst);
            if (!h->app && !h->conn && rnd() % 4 == 0) {
                h->iss_known = false;
                h_connect(h);
            }
        } else if (r < 88) {
            tcp_engine_tx_ready(&h->eng, h->now_us);
        } else if (r < 90) {
            h->emit_fail = (int)(rnd() % 3);
        } else {
            h_advance_ms(h, rnd() % 3 ? rnd() % 300 : rnd() % 100000);
        }
        if (h->app && tcp_conn_state(h->app) == TCP_CLOSED && rnd() % 2) {
            tcp_close(&h->eng, h->app, h->now_us);
            h->app = NULL;
        }
        check_invariants(h);
        h->rd = h->nout = 0;
    }
    h->emit_fail = 0;
    tcp_engine_tx_ready(&h->eng, h->now_us); /* the stack does this every poll */
    if (h->app) {
        tcp_abort(&h->eng, h->app, h->now_us);
        h->app = NULL;
    }
    /* orphans may retransmit for R2 (minutes) before giving up */
    h_advance_ms(h, 3 * 3600 * 1000);
    if (h->nalloc != h->nfree && h->conn && !h->conn->in_accept_queue)
        fprintf(stderr, "seed %llu: stuck conn state %s rtx %d ka %d delack %d flight %u "
                "unsent %d fin_q %d\n", (unsigned long long)seed,
                tcp_state_name(tcp_conn_state(h->conn)), h->conn->rtx_mode, h->conn->ka_mode,
                timer_pending(&h->conn->delack_timer), tcp_flight_bytes(h->conn),
                (int)(tcp_sndbuf_tail_seq(h->conn) - h->conn->snd_nxt), h->conn->fin_queued);
    if (getenv("FUZZ_STATS"))
        fprintf(stderr, "seed %llu: opens %llu/%llu estab-resets %llu in %llu data-in %llu "
                "out %llu rtx %llu chall %llu cookies %llu/%llu tw %llu ofo %llu\n",
                (unsigned long long)seed, (unsigned long long)h->eng.stats.passive_opens,
                (unsigned long long)h->eng.stats.active_opens,
                (unsigned long long)h->eng.stats.estab_resets,
                (unsigned long long)h->eng.stats.in_segs,
                (unsigned long long)h->eng.stats.data_segs_in,
                (unsigned long long)h->eng.stats.out_segs,
                (unsigned long long)h->eng.stats.retrans_segs,
                (unsigned long long)h->eng.stats.challenge_acks,
                (unsigned long long)h->eng.stats.syncookies_sent,
                (unsigned long long)h->eng.stats.syncookies_recv,
                (unsigned long long)h->eng.stats.time_waits,
                (unsigned long long)h->eng.stats.ofo_queue);
    h_fini(h);
    free(h);
}

static void test_fuzz(void **state)
{
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)i;
    for (uint64_t seed = 1; seed <= (getenv("FUZZ_SEEDS") ? strtoull(getenv("FUZZ_SEEDS"), NULL, 0) : 200); seed++)
        one_run(seed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
