/* Internet checksum: known vectors, a naive RFC 1071 reference on random data
 * of random lengths and alignments, partial sums, incremental updates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "toe/wire/csum.h"

static uint64_t rng_state = 0x1234567887654321ull;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* RFC 1071 done the obvious way: big-endian 16-bit words, odd byte padded. */
static uint16_t ref_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint32_t)p[i] << 8 | p[i + 1];
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

static void test_rfc1071_example(void **state)
{
    /* RFC 1071 section 3: these words sum to ddf2 (ones' complement). */
    const uint8_t b[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(ntohs(wire_csum(b, 8)), 0x220d);
    assert_int_equal(ref_csum(b, 8), 0x220d);
    assert_int_equal(ntohs(wire_csum(b, 0)), 0xffff);
    const uint8_t one = 0xab;
    assert_int_equal(ntohs(wire_csum(&one, 1)), (uint16_t)~0xab00);
}

static void test_random_vs_reference(void **state)
{
    static uint8_t buf[4096 + 16];
    for (int iter = 0; iter < 20000; iter++) {
        size_t off = rnd() % 8;
        size_t len = iter < 200 ? (size_t)iter : rnd() % 4097;
        if (iter % 97 == 0)
            memset(buf, 0xff, sizeof(buf)); /* carry stress */
        else
            for (size_t i = 0; i < len + off; i++)
                buf[i] = (uint8_t)rnd();
        uint16_t ours = ntohs(wire_csum(buf + off, len));
        uint16_t ref = ref_csum(buf + off, len);
        /* 0x0000 and 0xffff are the same number in ones' complement, but the
         * final complement of a nonzero sum is unique, so demand equality. */
        assert_int_equal(ours, ref);
    }
}

static void test_big_all_ones(void **state)
{
    static uint8_t buf[65535];
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(ntohs(wire_csum(buf, sizeof(buf))), ref_csum(buf, sizeof(buf)));
    assert_int_equal(ntohs(wire_csum(buf, sizeof(buf) - 1)), ref_csum(buf, sizeof(buf) - 1));
}

static void test_partial_chaining(void **state)
{
    static uint8_t buf[3000];
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = rnd() % sizeof(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rnd();
        size_t split = len ? (rnd() % (len + 1)) & ~(size_t)1 : 0;
        uint32_t s = wire_csum_partial(buf, split, 0);
        s = wire_csum_partial(buf + split, len - split, s);
        assert_int_equal(wire_csum_fold(s), wire_csum(buf, len));
    }
}

static void test_pseudo_header(void **state)
{
    uint8_t ph[12] = {10, 0, 0, 1, 192, 168, 1, 2, 0, 6, 0x05, 0xdc};
    uint32_t s = wire_csum_pseudo_ipv4(0x0a000001, 0xc0a80102, 6, 1500);
    assert_int_equal(ntohs(wire_csum_fold(s)), ref_csum(ph, 12));
}

static void test_incremental(void **state)
{
    uint8_t buf[64];
    for (int iter = 0; iter < 5000; iter++) {
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = (uint8_t)rnd();
        uint16_t c = wire_csum(buf, sizeof(buf));
        size_t at = (rnd() % 30) * 2;
        if (iter & 1) {
            uint16_t o, n = (uint16_t)rnd();
            memcpy(&o, buf + at, 2);
            memcpy(buf + at, &n, 2);
            uint16_t upd = wire_csum_update16(c, o, n);
            uint16_t full = wire_csum(buf, sizeof(buf));
            /* RFC 1624: the update may yield -0 where recomputation gives +0 only
             * if the data is all zero; random data never is. */
            assert_int_equal(upd, full);
        } else {
            uint32_t o, n = (uint32_t)rnd();
            memcpy(&o, buf + at, 4);
            memcpy(buf + at, &n, 4);
            assert_int_equal(wire_csum_update32(c, o, n), wire_csum(buf, sizeof(buf)));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1071_example),  cmocka_unit_test(test_random_vs_reference),
        cmocka_unit_test(test_big_all_ones),     cmocka_unit_test(test_partial_chaining),
        cmocka_unit_test(test_pseudo_header),    cmocka_unit_test(test_incremental),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
