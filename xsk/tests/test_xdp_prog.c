/* Unit test of the XDP program toe_redirect.bpf.o, run in the kernel with
 * BPF_PROG_TEST_RUN on hand-made frames: what belongs to the stack (ARP for
 * its address, ICMP/TCP to it, UDP only when asked) is redirected, the rest
 * passes. Which way a frame went is read from the program's toe_stats
 * counters (with no socket in xsks_map, a redirect falls back to XDP_PASS).
 * Needs root (loading BPF); skipped otherwise. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "xsk/bpf/toe_redirect.h"

#ifndef TOE_XDP_OBJ_BUILD_PATH
#error "TOE_XDP_OBJ_BUILD_PATH must point at toe_redirect.bpf.o"
#endif

#define OUR_IP   0x0a4d0102u /* 10.77.1.2 */
#define OTHER_IP 0x0a4d0103u

struct fixture {
    struct bpf_object *obj;
    int prog_fd, cfg_fd, stats_fd;
    int ncpus;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct bpf_program *prog;

    if (geteuid() != 0) {
        free(f);
        *state = NULL;
        return 0;
    }
    f->obj = bpf_object__open_file(TOE_XDP_OBJ_BUILD_PATH, NULL);
    assert_non_null(f->obj);
    assert_int_equal(libbpf_get_error(f->obj), 0);
    assert_int_equal(bpf_object__load(f->obj), 0);
    prog = bpf_object__find_program_by_name(f->obj, "toe_redirect");
    assert_non_null(prog);
    f->prog_fd = bpf_program__fd(prog);
    f->cfg_fd = bpf_object__find_map_fd_by_name(f->obj, "toe_cfg");
    f->stats_fd = bpf_object__find_map_fd_by_name(f->obj, "toe_stats");
    assert_true(f->prog_fd >= 0 && f->cfg_fd >= 0 && f->stats_fd >= 0);
    f->ncpus = libbpf_num_possible_cpus();
    assert_true(f->ncpus > 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (f) {
        bpf_object__close(f->obj);
        free(f);
    }
    return 0;
}

static void set_cfg(struct fixture *f, uint32_t ip, uint32_t mask)
{
    struct toe_redirect_cfg c;
    uint32_t key = 0;

    memset(&c, 0, sizeof(c));
    c.ipv4_be = htonl(ip);
    c.proto_mask = mask;
    assert_int_equal(bpf_map_update_elem(f->cfg_fd, &key, &c, BPF_ANY), 0);
}

static uint64_t stat_sum(struct fixture *f, uint32_t which)
{
    uint64_t vals[1024], sum = 0;

    assert_true(f->ncpus <= 1024);
    assert_int_equal(bpf_map_lookup_elem(f->stats_fd, &which, vals), 0);
    for (int i = 0; i < f->ncpus; i++)
        sum += vals[i];
    return sum;
}

/* Runs one frame; returns 1 if redirected, 0 if passed. */
static int run(struct fixture *f, const uint8_t *frame, uint32_t len)
{
    uint8_t out[256];
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len, .data_out = out,
                .data_size_out = sizeof(out), .repeat = 1);
    uint64_t r0 = stat_sum(f, TOE_REDIRECT_STAT_REDIRECT), p0 = stat_sum(f, TOE_REDIRECT_STAT_PASS);
    uint64_t r1, p1;

    assert_int_equal(bpf_prog_test_run_opts(f->prog_fd, &opts), 0);
    assert_int_equal(opts.retval, 2); /* XDP_PASS either way (no socket bound) */
    r1 = stat_sum(f, TOE_REDIRECT_STAT_REDIRECT);
    p1 = stat_sum(f, TOE_REDIRECT_STAT_PASS);
    assert_int_equal((r1 - r0) + (p1 - p0), 1);
    return r1 > r0;
}

static uint32_t eth(uint8_t *b, uint16_t type)
{
    memset(b, 0, 14);
    memset(b, 0xff, 6);
    b[6] = 0x02;
    b[11] = 0x01;
    b[12] = (uint8_t)(type >> 8);
    b[13] = (uint8_t)type;
    return 14;
}

static uint32_t arp(uint8_t *b, uint32_t target_ip)
{
    uint32_t n = eth(b, 0x0806);
    uint32_t tpa = htonl(target_ip), spa = htonl(0x0a4d0101);

    memset(b + n, 0, 28);
    b[n + 1] = 1;    /* htype Ethernet */
    b[n + 2] = 0x08; /* ptype IPv4 */
    b[n + 4] = 6;
    b[n + 5] = 4;
    b[n + 7] = 1; /* request */
    memcpy(b + n + 14, &spa, 4);
    memcpy(b + n + 24, &tpa, 4);
    return n + 28;
}

static uint32_t ipv4(uint8_t *b, uint8_t proto, uint32_t dst, uint32_t payload)
{
    uint32_t n = eth(b, 0x0800);
    uint32_t s = htonl(0x0a4d0101), d = htonl(dst);
    uint16_t tot = htons((uint16_t)(20 + payload));

    memset(b + n, 0, 20 + payload);
    b[n] = 0x45;
    memcpy(b + n + 2, &tot, 2);
    b[n + 8] = 64;
    b[n + 9] = proto;
    memcpy(b + n + 12, &s, 4);
    memcpy(b + n + 16, &d, 4);
    return n + 20 + payload;
}

static void test_stack_traffic_redirected(void **state)
{
    struct fixture *f = *state;
    uint8_t b[128];
    uint32_t n;

    if (!f)
        skip();
    set_cfg(f, OUR_IP, TOE_REDIRECT_ARP | TOE_REDIRECT_ICMP | TOE_REDIRECT_TCP);
    n = arp(b, OUR_IP);
    assert_int_equal(run(f, b, n), 1);
    n = ipv4(b, 6, OUR_IP, 20);
    assert_int_equal(run(f, b, n), 1);
    n = ipv4(b, 1, OUR_IP, 8);
    assert_int_equal(run(f, b, n), 1);
}

static void test_other_traffic_passes(void **state)
{
    struct fixture *f = *state;
    uint8_t b[128];
    uint32_t n;

    if (!f)
        skip();
    set_cfg(f, OUR_IP, TOE_REDIRECT_ARP | TOE_REDIRECT_ICMP | TOE_REDIRECT_TCP);
    n = arp(b, OTHER_IP);
    assert_int_equal(run(f, b, n), 0);
    n = ipv4(b, 6, OTHER_IP, 20);
    assert_int_equal(run(f, b, n), 0);
    n = ipv4(b, 1, OTHER_IP, 8);
    assert_int_equal(run(f, b, n), 0);
    n = ipv4(b, 17, OUR_IP, 8); /* UDP not asked for */
    assert_int_equal(run(f, b, n), 0);
    n = ipv4(b, 47, OUR_IP, 8); /* GRE */
    assert_int_equal(run(f, b, n), 0);
    n = eth(b, 0x86dd); /* IPv6 */
    memset(b + n, 0, 40);
    assert_int_equal(run(f, b, n + 40), 0);
    n = ipv4(b, 6, OUR_IP, 20); /* truncated IPv4 header */
    assert_int_equal(run(f, b, 14 + 10), 0);
    n = arp(b, OUR_IP); /* truncated ARP */
    assert_int_equal(run(f, b, 14 + 20), 0);
}

static void test_udp_on_request_and_unconfigured(void **state)
{
    struct fixture *f = *state;
    uint8_t b[128];
    uint32_t n;

    if (!f)
        skip();
    set_cfg(f, OUR_IP, TOE_REDIRECT_TCP | TOE_REDIRECT_UDP);
    n = ipv4(b, 17, OUR_IP, 8);
    assert_int_equal(run(f, b, n), 1);
    n = arp(b, OUR_IP); /* ARP not asked for */
    assert_int_equal(run(f, b, n), 0);
    set_cfg(f, 0, TOE_REDIRECT_TCP); /* no address yet: everything passes */
    n = ipv4(b, 6, OUR_IP, 20);
    assert_int_equal(run(f, b, n), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_traffic_redirected),
        cmocka_unit_test(test_other_traffic_passes),
        cmocka_unit_test(test_udp_on_request_and_unconfigured),
    };

    libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
    return cmocka_run_group_tests(tests, setup, teardown);
}
