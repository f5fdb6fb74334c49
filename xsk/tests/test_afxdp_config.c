/* Unit test of the AF_XDP port's setup checks that need no network or root:
 * config validation and the clear error for a missing interface, mode
 * parsing and names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "xsk/afxdp.h"

static void test_defaults(void **state)
{
    struct afxdp_config c;

    afxdp_config_init(&c);
    assert_int_equal(c.n_queues, 1);
    assert_int_equal(c.mode, AFXDP_MODE_AUTO);
    assert_int_equal(c.proto_mask, AFXDP_PROTO_STACK);
    assert_int_equal(c.frame_size_bytes, 0); /* auto */
    assert_int_equal(c.rx_ring_size, 0);     /* auto */
    assert_false(c.one_port);
    assert_true(c.need_wakeup);
    assert_false(c.busy_poll);
    assert_null(c.pcap_path);
}

static void test_mode_parse_and_names(void **state)
{
    enum afxdp_mode m;

    assert_int_equal(afxdp_mode_parse("auto", &m), 0);
    assert_int_equal(m, AFXDP_MODE_AUTO);
    assert_int_equal(afxdp_mode_parse("native", &m), 0);
    assert_int_equal(m, AFXDP_MODE_NATIVE);
    assert_int_equal(afxdp_mode_parse("generic", &m), 0);
    assert_int_equal(m, AFXDP_MODE_GENERIC);
    assert_int_equal(afxdp_mode_parse("zerocopy", &m), -EINVAL);
    assert_string_equal(afxdp_bound_name(AFXDP_BOUND_NATIVE_ZC), "native zero-copy");
    assert_string_equal(afxdp_bound_name(AFXDP_BOUND_NATIVE_COPY), "native copy");
    assert_string_equal(afxdp_bound_name(AFXDP_BOUND_GENERIC), "generic copy");
}

static int open_err(struct afxdp_config *c, char *err, size_t len)
{
    struct afxdp *x = NULL;
    int rc = afxdp_open(c, &x, err, len);

    assert_null(x);
    return rc;
}

static void test_bad_configs(void **state)
{
    struct afxdp_config c;
    char err[256];

    afxdp_config_init(&c);
    snprintf(c.ifname, sizeof(c.ifname), "lo");
    assert_int_equal(open_err(&c, err, sizeof(err)), -EINVAL); /* no address */
    assert_non_null(strstr(err, "address"));

    c.ipv4_addr = 0x0a4d0102;
    c.n_queues = 0;
    assert_int_equal(open_err(&c, err, sizeof(err)), -EINVAL);
    c.n_queues = 65;
    assert_int_equal(open_err(&c, err, sizeof(err)), -EINVAL);
    c.n_queues = 1;
    c.frame_size_bytes = 3000;
    assert_int_equal(open_err(&c, err, sizeof(err)), -EINVAL);
    c.frame_size_bytes = 2048;
    c.ring_size = 1000;
    assert_int_equal(open_err(&c, err, sizeof(err)), -EINVAL);
    c.ring_size = 2048;
    c.frames = 1024;
    assert_int_equal(open_err(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "frames"));
}

static void test_missing_interface(void **state)
{
    struct afxdp_config c;
    char err[256];

    afxdp_config_init(&c);
    snprintf(c.ifname, sizeof(c.ifname), "toe-nosuch9");
    c.ipv4_addr = 0x0a4d0102;
    assert_int_equal(open_err(&c, err, sizeof(err)), -ENODEV);
    assert_string_equal(err, "interface toe-nosuch9 not found");
    /* A NULL error buffer is allowed. */
    assert_int_equal(open_err(&c, NULL, 0), -ENODEV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_mode_parse_and_names),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_missing_interface),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
