/* Randomized differential test of the receive buffer against a plain byte
 * array with a per-byte "held" map: random in-order appends, out-of-order
 * inserts (overlapping, duplicate, out of window, sometimes with different
 * bytes to check first arrival wins), reads, peeks, consumes, capacity
 * changes, resets and a shared limit that comes and goes (ENOMEM must change
 * nothing). The range limit (-ENOBUFS) is predicted by the model. After every
 * op the pool's pages in use must equal the pages the held bytes touch; the
 * range list is compared with the held map every 256 ops. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sockmem/rcvbuf.h"
#include "sm_test.h"

#define OPS       250000
#define REF_BYTES (1u << 17) /* > 2 * the largest capacity used */
#define CAP_MAX   24000
#define SRC_BYTES (1u << 16)
#define LEN_MAX   (3 * 4096 + 2)

static uint8_t stream[SRC_BYTES]; /* the peer's bytes: offset o is stream[o % SRC_BYTES] */
static uint8_t garbage[SRC_BYTES + LEN_MAX];
static uint8_t seg[LEN_MAX];
static uint8_t ref[REF_BYTES];  /* stored byte at stream offset o: ref[o % REF_BYTES] */
static uint8_t held[REF_BYTES]; /* 1 if the buffer holds that byte */

struct model {
    uint64_t head, edge, ooo_bytes, top; /* top: above every byte ever held */
};

#define R(o) ((o) % REF_BYTES)

static uint64_t pages_of(const struct rcvbuf *rb, unsigned shift)
{
    uint64_t pages = 0, last = UINT64_MAX; /* last page counted */
    uint64_t s = rcvbuf_head_off(rb), e = rcvbuf_edge_off(rb);

    for (uint32_t i = 0;; i++) {
        if (e > s) {
            uint64_t first = s >> shift, end = ((e - 1) >> shift) + 1;

            if (first == last)
                first++;
            pages += end - first;
            last = end - 1;
        }
        if (i == rcvbuf_nranges(rb))
            break;
        s = rcvbuf_range(rb, i)->start;
        e = rcvbuf_range(rb, i)->end;
    }
    return pages;
}

/* The range list must be exactly the runs of held bytes above the edge. */
static void check_ranges(const struct rcvbuf *rb, const struct model *m)
{
    uint32_t i = 0;
    uint64_t o = m->edge;

    assert_false(held[R(m->edge)]);
    while (o < m->top) {
        if (!held[R(o)]) {
            o++;
            continue;
        }
        uint64_t start = o;
        while (o < m->top && held[R(o)])
            o++;
        assert_true(i < rcvbuf_nranges(rb));
        assert_int_equal(rcvbuf_range(rb, i)->start, start);
        assert_int_equal(rcvbuf_range(rb, i)->end, o);
        i++;
    }
    assert_int_equal(i, rcvbuf_nranges(rb));
}

static void check_bytes(const uint8_t *p, uint64_t off, size_t len)
{
    while (len) {
        size_t at = R(off), n = REF_BYTES - at < len ? REF_BYTES - at : len;

        if (memcmp(p, ref + at, n))
            fail_msg("bytes at stream offset %llu differ", (unsigned long long)off);
        p += n;
        off += n;
        len -= n;
    }
}

static void unhold(uint64_t off, uint64_t len)
{
    while (len) {
        size_t at = R(off), n = REF_BYTES - at < len ? REF_BYTES - at : len;

        memset(held + at, 0, n);
        off += n;
        len -= n;
    }
}

static void take(struct model *m, uint64_t n)
{
    unhold(m->head, n);
    m->head += n;
}

/* The peer's bytes for [off, off + len), as a segment. */
static void fill_seg(uint64_t off, size_t len)
{
    for (size_t done = 0; done < len;) {
        size_t at = (off + done) % SRC_BYTES, n = SRC_BYTES - at;

        if (n > len - done)
            n = len - done;
        memcpy(seg + done, stream + at, n);
        done += n;
    }
}

static void run_seed(uint64_t seed, size_t page_bytes, uint32_t max_ranges)
{
    static uint8_t out[8192];
    struct sockmem_pool_config cfg;
    struct sockmem_limit limit;
    struct sockmem_pool pool;
    struct rcvbuf rb;
    struct model m = {0};
    struct iovec iov[160];
    uint64_t rs = seed, n_enomem = 0, n_enobufs = 0, n_absorb = 0, max_seen = 0;
    int limited = 0;

    for (size_t i = 0; i < sizeof(stream); i++)
        stream[i] = (uint8_t)sm_rand(&rs);
    for (size_t i = 0; i < sizeof(garbage); i++)
        garbage[i] = (uint8_t)sm_rand(&rs);
    memset(held, 0, sizeof(held));
    sockmem_limit_init(&limit, 0);
    sockmem_pool_config_init(&cfg);
    cfg.page_size_bytes = page_bytes;
    cfg.cache_pages = sm_below(&rs, 16);
    cfg.conn_min_bytes = 16;
    cfg.conn_max_bytes = CAP_MAX;
    cfg.conn_default_bytes = 8192;
    cfg.ooo_max_ranges = max_ranges;
    cfg.limit = &limit;
    assert_int_equal(sockmem_pool_init(&pool, &cfg), 0);
    assert_int_equal(rcvbuf_init(&rb, &pool, 2000 + sm_below(&rs, 16000)), 0);

    for (int op = 0; op < OPS; op++) {
        size_t cap = rcvbuf_capacity_bytes(&rb);
        uint64_t readable = m.edge - m.head;
        unsigned r = (unsigned)sm_below(&rs, 1000);

        if (r < 560) { /* insert anywhere near the window, or append at the edge */
            int append = r < 100;
            uint64_t limit_off = m.head + cap, win = limit_off > m.edge ? limit_off - m.edge : 0;
            uint64_t lo = m.edge > 300 ? m.edge - 300 : 0, off;
            size_t n =
                sm_below(&rs, 8) ? 1 + sm_below(&rs, 600) : 1 + sm_below(&rs, 3 * page_bytes + 1);
            unsigned where = (unsigned)sm_below(&rs, 10);

            if (append) {
                off = m.edge;
            } else if (where < 4) { /* just past the edge, as after a loss */
                off = lo + sm_below(&rs, 300 + 4 * n);
            } else if (where < 7 && rcvbuf_nranges(&rb)) { /* around a range's ends */
                const struct sockmem_range *g =
                    rcvbuf_range(&rb, sm_below(&rs, rcvbuf_nranges(&rb)));
                uint64_t at = sm_below(&rs, 2) ? g->start : g->end;

                off = at > n ? at - n + sm_below(&rs, 2 * n) : sm_below(&rs, at + n);
            } else { /* anywhere near the window */
                off = lo + sm_below(&rs, m.edge + win + 300 - lo);
            }
            const uint8_t *p = seg;

            if (sm_below(&rs, 10) == 0) { /* a liar: held bytes must not change */
                p = garbage + sm_below(&rs, SRC_BYTES);
            } else {
                fill_seg(off, n);
            }
            uint64_t s = off > m.edge ? off : m.edge, e = off + n;
            if (append && e - s > win)
                e = s + win;
            if (e > limit_off)
                e = limit_off;
            int opens = 0;
            if (s < e && s > m.edge) {
                opens = !held[R(s - 1)] && !held[R(e)];
                for (uint64_t o = s; o < e && opens; o++)
                    opens = !held[R(o)];
            }
            uint32_t nr = rcvbuf_nranges(&rb);
            uint64_t pages = sockmem_pool_pages_in_use(&pool), fails = pool.stats.fail_global_limit;
            ssize_t got = append ? rcvbuf_append(&rb, p, n) : rcvbuf_insert(&rb, off, p, n);

            if (opens && nr == max_ranges) {
                assert_int_equal(got, -ENOBUFS);
                n_enobufs++;
            } else if (got == -ENOMEM) {
                assert_true(limited && s < e && pool.stats.fail_global_limit > fails);
                n_enomem++;
            } else {
                uint64_t old_edge = m.edge;

                assert_true(got >= 0);
                for (uint64_t o = s; o < e; o++) {
                    if (!held[R(o)]) {
                        ref[R(o)] = p[o - off];
                        held[R(o)] = 1;
                        m.ooo_bytes++;
                    }
                }
                while (held[R(m.edge)])
                    m.edge++;
                m.ooo_bytes -= m.edge - old_edge;
                if (e > m.top)
                    m.top = e;
                if (append)
                    assert_int_equal(got, e > s ? e - s : 0);
                else
                    assert_int_equal(got, m.edge - old_edge);
                n_absorb += m.edge > (e > s ? e : old_edge);
            }
            if (got < 0) { /* refused: nothing changed */
                assert_int_equal(rcvbuf_nranges(&rb), nr);
                assert_int_equal(sockmem_pool_pages_in_use(&pool), pages);
            }
        } else if (r < 720) { /* read */
            size_t n =
                sm_below(&rs, 4) ? sm_below(&rs, 2 * page_bytes) : sm_below(&rs, sizeof(out));
            size_t want = n < readable ? n : readable;

            assert_int_equal(rcvbuf_read(&rb, out, n), want);
            check_bytes(out, m.head, want);
            take(&m, want);
        } else if (r < 900) { /* zero-copy peek, then maybe consume */
            size_t off = sm_below(&rs, readable + 10), n = sm_below(&rs, 4096);
            size_t want = off >= readable ? 0 : (n < readable - off ? n : readable - off);
            int cnt = rcvbuf_peek(&rb, off, n, iov, sockmem_iov_max(&pool, n));
            size_t seen = 0;

            for (int i = 0; i < cnt; i++) {
                check_bytes(iov[i].iov_base, m.head + off + seen, iov[i].iov_len);
                seen += iov[i].iov_len;
            }
            assert_int_equal(seen, want);
            if (sm_below(&rs, 2)) {
                n = sm_below(&rs, readable + 100);
                want = n < readable ? n : readable;
                assert_int_equal(rcvbuf_consume(&rb, n), want);
                take(&m, want);
            }
        } else if (r < 930) { /* ranges as a copy */
            struct sockmem_range out_r[SOCKMEM_OOO_RANGES_MAX];
            int want = (int)sm_below(&rs, max_ranges + 2);
            int cnt = rcvbuf_ranges(&rb, out_r, want);

            assert_int_equal(cnt,
                             want < (int)rcvbuf_nranges(&rb) ? want : (int)rcvbuf_nranges(&rb));
            for (int i = 0; i < cnt; i++)
                assert_memory_equal(&out_r[i], rcvbuf_range(&rb, i), sizeof(out_r[i]));
        } else if (r < 950) { /* capacity change: nothing held is dropped */
            size_t wish = sm_below(&rs, CAP_MAX + 5000);

            assert_int_equal(rcvbuf_set_capacity(&rb, wish), 0);
            assert_int_equal(rcvbuf_capacity_bytes(&rb), sockmem_pool_clamp_capacity(&pool, wish));
        } else if (r < 990) { /* the shared limit comes and goes */
            limited = sm_below(&rs, 2);
            sockmem_limit_set_max(
                &limit, limited ? sockmem_limit_pages_used(&limit) + sm_below(&rs, 4) : 0);
        } else if (r < 998) {
            sockmem_pool_trim(&pool);
        } else {
            rcvbuf_reset(&rb);
            unhold(m.head, m.top > m.head ? m.top - m.head : 0);
            memset(&m, 0, sizeof(m));
        }

        assert_int_equal(rcvbuf_head_off(&rb), m.head);
        assert_int_equal(rcvbuf_edge_off(&rb), m.edge);
        assert_int_equal(rcvbuf_ooo_bytes(&rb), m.ooo_bytes);
        assert_int_equal(rcvbuf_held_bytes(&rb), m.edge - m.head + m.ooo_bytes);
        assert_int_equal(sockmem_pool_pages_in_use(&pool), pages_of(&rb, pool.page_shift));
        assert_true(sockmem_limit_pages_used(&limit) ==
                    sockmem_pool_pages_in_use(&pool) + pool.stats.pages_cached);
        if (rcvbuf_nranges(&rb) > max_seen)
            max_seen = rcvbuf_nranges(&rb);
        if ((op & 255) == 0)
            check_ranges(&rb, &m);
    }

    print_message("seed %#llx page %zu ranges %u: %d ops, %llu ENOMEM, %llu ENOBUFS, "
                  "%llu absorbs, max ranges seen %llu, hwm %llu pages\n",
                  (unsigned long long)seed, page_bytes, max_ranges, OPS,
                  (unsigned long long)n_enomem, (unsigned long long)n_enobufs,
                  (unsigned long long)n_absorb, (unsigned long long)max_seen,
                  (unsigned long long)pool.stats.pages_in_use_hwm);
    rcvbuf_fini(&rb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
    assert_int_equal(sockmem_limit_pages_used(&limit), 0);
}

static void test_seed_1(void **state)
{
    run_seed(0x9e3779b97f4a7c15ULL, 64, 8);
}

static void test_seed_2(void **state)
{
    run_seed(42, 128, 4);
}

static void test_seed_3(void **state)
{
    run_seed(0xdeadbeefcafef00dULL, 512, 8);
}

static void test_seed_4(void **state)
{
    run_seed(7777777, 4096, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_1),
        cmocka_unit_test(test_seed_2),
        cmocka_unit_test(test_seed_3),
        cmocka_unit_test(test_seed_4),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
