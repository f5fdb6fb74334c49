/* Snapshots (toe/snapshot.h): the stat socket's text form written and
 * parsed back exactly, the printers' exact output (core table with busy %,
 * JSON), the parser's refusals, and a snapshot of a two-core stack on the
 * in-memory port that equals the live counters -- published by the cores'
 * own rounds (at most once a millisecond), without an explicit
 * toe_stack_publish. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <toe/port_mem.h>
#include <toe/toe.h>

#include "stack_pair.h"
#include "toe/snapshot.h"

/* Two cores, two counters, every field set to a distinct value. */
static struct toe_snap *snap_sample(void)
{
    struct toe_snap *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    snprintf(s->app, sizeof(s->app), "toe-echo");
    s->pid = 4242;
    s->uptime_us = 2000000;
    s->n_cores = 2;
    uint64_t v = 1;
    for (uint32_t i = 0; i < 2; i++) {
#define SET_(f) s->core[i].f = v++;
        TOE_SNAP_CORE_FIELDS(SET_)
#undef SET_
    }
    s->core[0].busy_ns = 500000000; /* 25 % of 2 s */
    s->core[1].busy_ns = 100000000; /* 5 % */
    snprintf(s->counter[0].name, TOE_SNAP_NAME_MAX, "TcpPassiveOpens");
    s->counter[0].value = 24;
    snprintf(s->counter[1].name, TOE_SNAP_NAME_MAX, "ToeDrop_eth_not_for_us");
    s->counter[1].value = 0;
    s->n_counters = 2;
    return s;
}

static const char sample_text[] =
    "toe-stat 1\n"
    "app toe-echo\n"
    "pid 4242\n"
    "uptime_us 2000000\n"
    "cores 2\n"
    "core 0 busy_ns 500000000 events 2 ev_control 3 ev_data 4 ev_net 5 buckets 6 flows 7 "
    "queue_depth 8 moves_in 9 moves_out 10 fwd_out 11 fwd_in 12 parked 13 park_overflow 14 "
    "drops 15 busy_permille 16\n"
    "core 1 busy_ns 100000000 events 18 ev_control 19 ev_data 20 ev_net 21 buckets 22 flows 23 "
    "queue_depth 24 moves_in 25 moves_out 26 fwd_out 27 fwd_in 28 parked 29 park_overflow 30 "
    "drops 31 busy_permille 32\n"
    "TcpPassiveOpens 24\n"
    "ToeDrop_eth_not_for_us 0\n"
    "end\n";

/* Runs fn into a string; the caller frees it. */
#define CAPTURE(buf, call)                                  \
    do {                                                    \
        size_t len_;                                        \
        FILE *f_ = open_memstream(&(buf), &len_);           \
        assert_non_null(f_);                                \
        FILE *out = f_;                                     \
        assert_int_equal((call), 0);                        \
        fclose(f_);                                         \
    } while (0)

static void test_write_parse_exact(void **state)
{
    (void)state;
    struct toe_snap *s = snap_sample(), *back = malloc(sizeof(*back));
    char *text = NULL;

    CAPTURE(text, toe_snap_write(s, out));
    assert_string_equal(text, sample_text);
    assert_int_equal(toe_snap_parse(text, back), 0);
    assert_memory_equal(s, back, sizeof(*s));
    uint64_t v = 0;
    assert_int_equal(toe_snap_counter(back, "TcpPassiveOpens", &v), 0);
    assert_int_equal(v, 24);
    assert_int_equal(toe_snap_counter(back, "NoSuch", &v), -ENOENT);
    free(text);
    free(s);
    free(back);
}

static void test_print_cores_exact(void **state)
{
    (void)state;
    struct toe_snap *s = snap_sample(), *prev = snap_sample();
    char *text = NULL;

    CAPTURE(text, toe_snap_print_cores(s, NULL, out));
    assert_string_equal(
        text,
        "core buckets   flows    ev_ctrl    ev_data     ev_net  busy%   busy_ms waiting   bkt_in"
        "  bkt_out    fwd_out     fwd_in   parked overflow  dropped\n"
        "0          6       7          3          4          5   25.0     500.0       8        9"
        "       10         11         12       13       14       15\n"
        "1         22      23         19         20         21    5.0     100.0      24       25"
        "       26         27         28       29       30       31\n"
        "all       28      30         22         24         26      -     600.0      32       34"
        "       36         38         40       42       44       46\n");
    free(text);
    /* Since prev: core 0 worked 0.1 s of 0.5 s, core 1 nothing. */
    prev->uptime_us = 1500000;
    prev->core[0].busy_ns = 400000000;
    CAPTURE(text, toe_snap_print_cores(s, prev, out));
    assert_non_null(strstr(text, "\n0          6       7          3          4          5   20.0 "));
    assert_non_null(strstr(text, "\n1         22      23         19         20         21    0.0 "));
    free(text);
    /* Time unknown: "-". */
    s->uptime_us = 0;
    CAPTURE(text, toe_snap_print_cores(s, NULL, out));
    assert_non_null(strstr(text, "\n0          6       7          3          4          5      - "));
    free(text);
    free(s);
    free(prev);
}

static void test_print_json_and_counters(void **state)
{
    (void)state;
    struct toe_snap *s = snap_sample();
    char *text = NULL;

    s->n_cores = 1;
    snprintf(s->app, sizeof(s->app), "a\"b");
    CAPTURE(text, toe_snap_print_json(s, NULL, out));
    assert_string_equal(
        text, "{\"app\":\"a\\\"b\",\"pid\":4242,\"uptime_us\":2000000,\"cores\":[{\"core\":0,"
              "\"busy_pct\":25.0,\"busy_ns\":500000000,\"events\":2,\"ev_control\":3,"
              "\"ev_data\":4,\"ev_net\":5,\"buckets\":6,\"flows\":7,\"queue_depth\":8,"
              "\"moves_in\":9,\"moves_out\":10,\"fwd_out\":11,\"fwd_in\":12,\"parked\":13,"
              "\"park_overflow\":14,\"drops\":15,\"busy_permille\":16}],\"counters\":{"
              "\"TcpPassiveOpens\":24,\"ToeDrop_eth_not_for_us\":0}}\n");
    free(text);
    CAPTURE(text, toe_snap_print_counters(s, false, out));
    assert_string_equal(text, "TcpPassiveOpens                  24\n"
                              "ToeDrop_eth_not_for_us           0\n");
    free(text);
    CAPTURE(text, toe_snap_print_counters(s, true, out));
    assert_string_equal(text, "TcpPassiveOpens                  24\n");
    free(text);
    free(s);
}

static void test_parse_refuses(void **state)
{
    (void)state;
    struct toe_snap *s = malloc(sizeof(*s));
    static const char *const bad[] = {
        "",                                         /* nothing */
        "toe-stat 2\nend\n",                        /* another version */
        "HTTP/1.1 200 OK\r\n\r\n",                  /* not a stat socket */
        "toe-stat 1\ncores 1\nTcpInSegs 5\n",       /* cut short: no end */
        "toe-stat 1\nTcpInSegs 5",                  /* cut inside a line */
        "toe-stat 1\nTcpInSegs -5\nend\n",          /* not a count */
        "toe-stat 1\nTcpInSegs 5 6\nend\n",         /* extra token */
        "toe-stat 1\ncores 1\ncore 1 events 3\nend\n", /* core out of range */
        "toe-stat 1\ncores 1\ncore 0 events\nend\n",   /* field without value */
        "toe-stat 1\ncores 65\nend\n",              /* more than TOE_MAX_CORES */
        "toe-stat 1\nend\nTcpInSegs 5\n",           /* past the end */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(toe_snap_parse(bad[i], s), -EPROTO);

    /* A newer server's core field is ignored, its counters kept. */
    assert_int_equal(toe_snap_parse("toe-stat 1\ncores 1\ncore 0 events 3 future_field 9\n"
                                    "FutureCounter 7\nend\n",
                                    s),
                     0);
    assert_int_equal(s->core[0].events, 3);
    assert_int_equal(s->n_counters, 1);
    assert_string_equal(s->counter[0].name, "FutureCounter");

    /* Past TOE_SNAP_COUNTERS_MAX: -E2BIG. */
    size_t cap = (TOE_SNAP_COUNTERS_MAX + 1) * 16 + 32, off = 0;
    char *big = malloc(cap);
    off += (size_t)snprintf(big + off, cap - off, "toe-stat 1\n");
    for (int i = 0; i <= TOE_SNAP_COUNTERS_MAX; i++)
        off += (size_t)snprintf(big + off, cap - off, "C%d 1\n", i);
    snprintf(big + off, cap - off, "end\n");
    assert_int_equal(toe_snap_parse(big, s), -E2BIG);
    free(big);
    free(s);
}

/* ---- a live stack: two simulated cores on the in-memory port ---- */

#define N_CONNS 16

struct live {
    uint32_t connected, accepted;
};

static int srv_accept(struct toe_conn *c, void *ctx)
{
    (void)c;
    ((struct live *)ctx)->accepted++;
    return 0;
}

static void srv_recv(struct toe_conn *c, void *ctx)
{
    char buf[256];
    (void)ctx;
    while (toe_recv(c, buf, sizeof(buf)) > 0)
        ;
}

static void cli_connect(struct toe_conn *c, int status, void *ctx)
{
    assert_int_equal(status, 0);
    assert_int_equal(toe_send(c, "hello", 5), 5);
    ((struct live *)ctx)->connected++;
}

static bool all_up(void *ctx)
{
    struct live *l = ctx;
    return l->connected == N_CONNS && l->accepted == N_CONNS;
}

static void test_stack_snapshot_matches_counters(void **state)
{
    (void)state;
    struct port *pa, *pb;
    struct toe_stack *srv, *cli;
    struct toe_stack_config cfg;
    struct live live = {0};
    const struct toe_app_ops srv_ops = {.on_accept = srv_accept, .on_recv = srv_recv};
    const struct toe_app_ops cli_ops = {.on_connect = cli_connect, .on_recv = srv_recv};
    uint64_t now = 1000;

    struct port_mem_config pcfg = {.seed = 7};
    assert_int_equal(port_mem_pair_create(&pcfg, &pa, &pb), 0);
    toe_stack_config_init(&cfg);
    cfg.seed = 7;
    cfg.n_cores = 2;
    assert_int_equal(stack_pair_create(&cfg, pa, pb, 0x0a000001, 0x0a000002, &srv, &cli), 0);
    assert_int_equal(toe_listen(srv, 80, 0, &srv_ops, &live), 0);
    struct toe_conn *first = NULL;
    for (int i = 0; i < N_CONNS; i++) {
        struct toe_conn *c;
        assert_int_equal(toe_connect(cli, 0x0a000001, 80, &cli_ops, &live, &c), 0);
        if (!first)
            first = c;
    }
    stack_pair_run(srv, cli, pa, pb, &now, all_up, &live, 10000000);
    assert_true(all_up(&live));
    /* Let the data arrive, then one round with nothing to do: each core
     * publishes on going idle. */
    for (int i = 0; i < 100; i++) {
        port_mem_set_now(pa, now);
        if (stack_pair_step(srv, cli, pa, pb, &now) < 0)
            break;
        if (now > 2000000)
            break;
    }
    /* Quiet: a round well past the last publish publishes. */
    now += 2000;
    port_mem_set_now(pa, now);
    toe_stack_poll(srv, now);
    /* 50 us later a segment arrives: that round works but is too soon to
     * publish; an idle round a millisecond on publishes it. */
    now += 50;
    port_mem_set_now(pa, now);
    assert_int_equal(toe_send(first, "x", 1), 1);
    toe_stack_poll(cli, now); /* toe_send sent it already */
    assert_true(toe_stack_poll(srv, now) > 0);
    now += 1000;
    port_mem_set_now(pa, now);
    assert_int_equal(toe_stack_poll(srv, now), 0);

    struct toe_snap *s = malloc(sizeof(*s));
    toe_stack_snapshot(srv, s);
    assert_int_equal(s->n_cores, 2);
    uint64_t buckets = 0, flows = 0, events = 0, v;
    for (uint32_t i = 0; i < 2; i++) {
        const struct toe_snap_core *c = &s->core[i];
        assert_int_equal(c->events, c->ev_control + c->ev_data + c->ev_net);
        buckets += c->buckets;
        flows += c->flows;
        events += c->events;
    }
    assert_int_equal(buckets, 256);
    assert_int_equal(flows, toe_stack_flow_count(srv));
    assert_int_equal(flows, N_CONNS);
    assert_true(events > 0);
    /* Every counter, as toe_stack_counter reads it live. */
    assert_true(s->n_counters > 150);
    for (uint32_t i = 0; i < s->n_counters; i++) {
        if (strncmp(s->counter[i].name, "Control", 7) == 0)
            continue; /* the control thread's view: not a core counter */
        assert_int_equal(toe_stack_counter(srv, s->counter[i].name, &v), 0);
        if (v != s->counter[i].value)
            fail_msg("%s: snapshot %llu, live %llu", s->counter[i].name,
                     (unsigned long long)s->counter[i].value, (unsigned long long)v);
    }
    assert_int_equal(toe_snap_counter(s, "TcpPassiveOpens", &v), 0);
    assert_int_equal(v, N_CONNS);
    assert_int_equal(toe_snap_counter(s, "ControlRounds", &v), 0);

    /* The text form carries it whole. */
    char *text = NULL;
    struct toe_snap *back = malloc(sizeof(*back));
    CAPTURE(text, toe_snap_write(s, out));
    assert_int_equal(toe_snap_parse(text, back), 0);
    assert_memory_equal(s, back, sizeof(*s));
    free(text);
    free(back);
    free(s);
    stack_pair_destroy(srv, cli, pa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_parse_exact),
        cmocka_unit_test(test_print_cores_exact),
        cmocka_unit_test(test_print_json_and_counters),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_stack_snapshot_matches_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
