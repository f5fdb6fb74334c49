/* Unit tests of the SACK scoreboard (RFC 6675 IsLost, SetPipe, NextSeg,
 * RFC 2883 D-SACK detection) and of the receiver's SACK-block choice (RFC
 * 2018 section 4/5 examples, RFC 2883 D-SACK), written as traces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "toe/tcp/sack.h"

#define B(s, e) ((struct tcp_sack_block){(uint32_t)(s), (uint32_t)(e)})
#define NB(a) (sizeof(a) / sizeof((a)[0]))

static void assert_board(const struct sack_board *sb, const struct tcp_sack_block *want,
                         size_t n)
{
    assert_int_equal(sb->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sb->r[i].start, want[i].start);
        assert_int_equal(sb->r[i].end, want[i].end);
    }
}

static struct sack_update_result upd1(struct sack_board *sb, uint32_t una, uint32_t nxt,
                                      struct tcp_sack_block b)
{
    return sack_board_update(sb, una, una, nxt, &b, 1);
}

/* ---------------------------------------------------------------- sender */

/* Ten 100-byte segments 1000..2000 in flight, the first lost. Each later
 * segment's arrival SACKs more; the third makes 1000 lost (RFC 6675
 * DupThresh = 3: more than 2 * SMSS SACKed above). */
static void test_board_fast_retransmit_trace(void **state)
{
    struct sack_board sb;
    struct sack_update_result r;
    uint32_t seq, len, hi;
    const uint32_t una = 1000, nxt = 2000, smss = 100;

    sack_board_init(&sb);
    assert_false(sack_board_highest_sacked(&sb, &hi));
    r = upd1(&sb, una, nxt, B(1100, 1200));
    assert_int_equal(r.newly_sacked_bytes, 100);
    assert_true(r.highest_advanced);
    assert_false(r.dsack);
    assert_false(sack_board_is_lost(&sb, 1000, smss));
    r = upd1(&sb, una, nxt, B(1100, 1300));
    assert_int_equal(r.newly_sacked_bytes, 100);
    assert_false(sack_board_is_lost(&sb, 1000, smss));
    r = upd1(&sb, una, nxt, B(1100, 1400));
    assert_true(sack_board_is_lost(&sb, 1000, smss));
    assert_false(sack_board_is_lost(&sb, 1400, smss)); /* nothing SACKed above */
    assert_int_equal(sack_board_sacked_bytes(&sb), 300);
    assert_true(sack_board_highest_sacked(&sb, &hi));
    assert_int_equal(hi, 1400);
    assert_true(sack_board_is_sacked(&sb, 1100));
    assert_true(sack_board_is_sacked(&sb, 1399));
    assert_false(sack_board_is_sacked(&sb, 1400));
    assert_false(sack_board_is_sacked(&sb, 1099));

    /* SetPipe: the lost 1000-1100 does not count, 1400-2000 does. */
    assert_int_equal(sack_board_pipe(&sb, una, nxt, una, smss), 600);
    /* NextSeg rule 1: retransmit 1000. */
    assert_int_equal(sack_board_next_seg(&sb, una, nxt, una, smss, true, &seq, &len),
                     SACK_NEXT_LOST);
    assert_int_equal(seq, 1000);
    assert_int_equal(len, 100);
    /* After the retransmission (HighRxt + 1 = 1100) it is in the pipe again. */
    assert_int_equal(sack_board_pipe(&sb, una, nxt, 1100, smss), 700);
    assert_int_equal(sack_board_next_seg(&sb, una, nxt, 1100, smss, true, &seq, &len),
                     SACK_NEXT_NEW);
    assert_int_equal(seq, 2000);
    assert_int_equal(sack_board_next_seg(&sb, una, nxt, 1100, smss, false, &seq, &len),
                     SACK_NEXT_NONE);

    /* The retransmission arrives: cumulative ACK to 1400 empties the board. */
    sack_board_ack(&sb, 1400);
    assert_int_equal(sb.n, 0);
    assert_int_equal(sack_board_pipe(&sb, 1400, nxt, 1400, smss), 600);
}

/* IsLost by count: three discontiguous SACKed ranges above, even if fewer
 * than 2 * SMSS bytes. */
static void test_board_islost_ranges(void **state)
{
    struct sack_board sb;
    const struct tcp_sack_block blk[] = {B(1300, 1350), B(1200, 1250), B(1100, 1150)};
    struct sack_update_result r;

    sack_board_init(&sb);
    r = sack_board_update(&sb, 1000, 1000, 2000, blk, NB(blk));
    assert_int_equal(r.valid_blocks, 3);
    assert_int_equal(r.newly_sacked_bytes, 150);
    assert_true(sack_board_is_lost(&sb, 1000, 100));
    assert_true(sack_board_is_lost(&sb, 1099, 100));
    assert_false(sack_board_is_lost(&sb, 1150, 100)); /* 2 ranges, 100 bytes above */
    /* A byte inside a range counts only the part above it: the last byte
     * of 1100-1150 has 2 ranges and 100 bytes above, the first 3 ranges. */
    assert_false(sack_board_is_lost(&sb, 1149, 100));
    assert_true(sack_board_is_lost(&sb, 1100, 100));
    /* Byte threshold: "more than" 2 * SMSS: 100 bytes above 1150. */
    assert_false(sack_board_is_lost(&sb, 1150, 50));
    assert_true(sack_board_is_lost(&sb, 1150, 49));
}

/* Blocks arrive in any order; overlapping and adjacent ones coalesce. */
static void test_board_merge(void **state)
{
    struct sack_board sb;
    struct sack_update_result r;

    sack_board_init(&sb);
    upd1(&sb, 0, 10000, B(5000, 6000));
    upd1(&sb, 0, 10000, B(1000, 2000));
    upd1(&sb, 0, 10000, B(3000, 4000));
    {
        const struct tcp_sack_block want[] = {B(1000, 2000), B(3000, 4000), B(5000, 6000)};
        assert_board(&sb, want, NB(want));
    }
    r = upd1(&sb, 0, 10000, B(2000, 3000)); /* adjacent on both sides */
    assert_int_equal(r.newly_sacked_bytes, 1000);
    assert_false(r.highest_advanced);
    {
        const struct tcp_sack_block want[] = {B(1000, 4000), B(5000, 6000)};
        assert_board(&sb, want, NB(want));
    }
    r = upd1(&sb, 0, 10000, B(3500, 7000)); /* overlaps two */
    assert_int_equal(r.newly_sacked_bytes, 2000);
    assert_true(r.highest_advanced);
    {
        const struct tcp_sack_block want[] = {B(1000, 7000)};
        assert_board(&sb, want, NB(want));
    }
    r = upd1(&sb, 0, 10000, B(1500, 2500)); /* old news */
    assert_int_equal(r.newly_sacked_bytes, 0);
    assert_int_equal(r.valid_blocks, 1);
}

/* Blocks outside [SND.UNA, SND.NXT] or empty are ignored. */
static void test_board_validation(void **state)
{
    struct sack_board sb;
    const struct tcp_sack_block blk[] = {
        B(3000, 3100),   /* fine */
        B(4900, 5100),   /* beyond SND.NXT */
        B(2500, 2500),   /* empty */
        B(3300, 3200),   /* reversed */
        B(900, 1100),    /* starts below SND.UNA, not first: not a D-SACK */
    };
    struct sack_update_result r;

    sack_board_init(&sb);
    r = sack_board_update(&sb, 1000, 1000, 5000, blk, NB(blk));
    assert_false(r.dsack);
    assert_int_equal(r.valid_blocks, 1);
    assert_int_equal(r.invalid_blocks, 4);
    assert_int_equal(sack_board_sacked_bytes(&sb), 100);
    r = upd1(&sb, 1000, 5000, B(4000, 5000)); /* up to SND.NXT is fine */
    assert_int_equal(r.valid_blocks, 1);
}

/* RFC 2883 section 4: D-SACK as the first block, below the cumulative ACK
 * or inside the second block. */
static void test_board_dsack(void **state)
{
    struct sack_board sb;
    struct sack_update_result r;

    sack_board_init(&sb);
    /* 4.1.1: ACK lost, retransmission duplicates 3000-3500 under ACK 4000. */
    r = upd1(&sb, 4000, 6000, B(3000, 3500));
    assert_true(r.dsack);
    assert_int_equal(r.dsack_block.start, 3000);
    assert_int_equal(r.dsack_block.end, 3500);
    assert_int_equal(r.valid_blocks, 0);
    assert_int_equal(r.invalid_blocks, 0);
    assert_int_equal(sb.n, 0);

    /* 4.1.3-like: duplicate of SACKed data above the cumulative ACK. */
    {
        const struct tcp_sack_block blk[] = {B(4500, 5000), B(4500, 5500), B(5800, 5900)};

        r = sack_board_update(&sb, 4000, 4000, 6000, blk, NB(blk));
        assert_true(r.dsack);
        assert_int_equal(r.dsack_block.start, 4500);
        assert_int_equal(r.valid_blocks, 2);
        assert_int_equal(r.newly_sacked_bytes, 1100);
    }
    /* Not a D-SACK: first block only overlaps the second. */
    {
        const struct tcp_sack_block blk[] = {B(5400, 5700), B(4500, 5500)};

        r = sack_board_update(&sb, 4000, 4000, 6000, blk, NB(blk));
        assert_false(r.dsack);
        assert_int_equal(r.newly_sacked_bytes, 200);
    }
    /* Not a D-SACK: starts below SND.UNA but ends above it (its end is
     * checked); invalid, ignored. */
    r = upd1(&sb, 4000, 6000, B(3500, 4500));
    assert_false(r.dsack);
    assert_int_equal(r.invalid_blocks, 1);
    assert_int_equal(r.newly_sacked_bytes, 0);
    /* Not a D-SACK: inside a second block that is itself invalid (beyond
     * SND.NXT); both ignored. */
    {
        const struct tcp_sack_block blk[] = {B(6100, 6200), B(6000, 7000)};

        r = sack_board_update(&sb, 4000, 4000, 6000, blk, NB(blk));
        assert_false(r.dsack);
        assert_int_equal(r.invalid_blocks, 2);
    }
}

/* A reordered older ACK (SEG.ACK 1000 after SND.UNA reached 3000): its
 * blocks now below SND.UNA are stale, not invalid; a first block below its
 * own SEG.ACK is its D-SACK. */
static void test_board_stale(void **state)
{
    struct sack_board sb;
    const struct tcp_sack_block blk[] = {B(500, 800), B(1500, 2000), B(2500, 3500)};
    struct sack_update_result r;

    sack_board_init(&sb);
    r = sack_board_update(&sb, 1000, 3000, 6000, blk, NB(blk));
    assert_true(r.dsack);
    assert_int_equal(r.stale_blocks, 1);
    assert_int_equal(r.invalid_blocks, 1); /* straddles SND.UNA */
    assert_int_equal(r.valid_blocks, 0);
}

static void test_board_ack_trims(void **state)
{
    struct sack_board sb;
    const struct tcp_sack_block blk[] = {B(1100, 1200), B(1300, 1500), B(1700, 1800)};

    sack_board_init(&sb);
    sack_board_update(&sb, 1000, 1000, 2000, blk, NB(blk));
    sack_board_ack(&sb, 1400); /* receiver got 1000..1400 */
    {
        const struct tcp_sack_block want[] = {B(1400, 1500), B(1700, 1800)};
        assert_board(&sb, want, NB(want));
    }
    sack_board_ack(&sb, 1500);
    {
        const struct tcp_sack_block want[] = {B(1700, 1800)};
        assert_board(&sb, want, NB(want));
    }
    sack_board_clear(&sb);
    assert_int_equal(sb.n, 0);
}

/* Full board: the highest range is the one forgotten. */
static void test_board_overflow(void **state)
{
    struct sack_board sb;
    uint32_t hi;

    sack_board_init(&sb);
    for (uint32_t i = 0; i < SACK_BOARD_MAX_RANGES + 2; i++)
        upd1(&sb, 0, 100000, B(1000 + i * 200, 1100 + i * 200));
    assert_int_equal(sb.n, SACK_BOARD_MAX_RANGES);
    assert_true(sack_board_highest_sacked(&sb, &hi));
    assert_int_equal(hi, 1100 + (SACK_BOARD_MAX_RANGES - 1) * 200);
    /* A low block arriving to a full board pushes the top one out. */
    upd1(&sb, 0, 100000, B(100, 200));
    assert_int_equal(sb.n, SACK_BOARD_MAX_RANGES);
    assert_int_equal(sb.r[0].start, 100);
    assert_true(sack_board_highest_sacked(&sb, &hi));
    assert_int_equal(hi, 1100 + (SACK_BOARD_MAX_RANGES - 2) * 200);
    /* Merging frees a slot. */
    upd1(&sb, 0, 100000, B(1100, 1200));
    assert_int_equal(sb.n, SACK_BOARD_MAX_RANGES - 1);
}

/* Several holes: NextSeg walks them lowest first, segment by segment,
 * never crossing into SACKed data; SetPipe counts per hole. */
static void test_board_holes_trace(void **state)
{
    struct sack_board sb;
    /* 0..1000 in flight, smss 100: SACKed 150-300, 400-500, 600-700, 800-900. */
    const struct tcp_sack_block blk[] = {B(800, 900), B(600, 700), B(400, 500), B(150, 300)};
    uint32_t seq, len, hr = 0;
    const uint32_t una = 0, nxt = 1000, smss = 100;

    sack_board_init(&sb);
    sack_board_update(&sb, una, una, nxt, blk, NB(blk));
    /* Holes: [0,150) lost (4 ranges above), [300,400) lost (3 ranges),
     * [500,600) not (2 ranges, 200 bytes), [700,800) not, [900,1000) not. */
    assert_int_equal(sack_board_pipe(&sb, una, nxt, hr, smss), 300);
    assert_int_equal(sack_board_next_seg(&sb, una, nxt, hr, smss, false, &seq, &len),
                     SACK_NEXT_LOST);
    assert_int_equal(seq, 0);
    assert_int_equal(len, 100);
    hr = 100;
    assert_int_equal(sack_board_next_seg(&sb, una, nxt, hr, smss, false, &seq, &len),
                     SACK_NEXT_LOST);
    assert_int_equal(seq, 100);
    assert_int_equal(len, 50); /* stops at the SACKed 150 */
    hr = 150;
    assert_int_equal(sack_board_next_seg(&sb, una, nxt, hr, smss, false, &seq, &len),
                     SACK_NEXT_LOST);
    assert_int_equal(seq, 300);
    assert_int_equal(len, 100);
    hr = 400;
    assert_int_equal(sack_board_pipe(&sb, una, nxt, hr, smss), 300 + 250);
    /* Rule 1 exhausted; with new data allowed, rule 2 wins over rule 3. */
    assert_int_equal(sack_board_next_seg(&sb, una, nxt, hr, smss, true, &seq, &len),
                     SACK_NEXT_NEW);
    assert_int_equal(sack_board_next_seg(&sb, una, nxt, hr, smss, false, &seq, &len),
                     SACK_NEXT_RESCUE);
    assert_int_equal(seq, 500);
    assert_int_equal(len, 100);
    hr = 600;
    assert_int_equal(sack_board_next_seg(&sb, una, nxt, hr, smss, false, &seq, &len),
                     SACK_NEXT_RESCUE);
    assert_int_equal(seq, 700);
    hr = 800;
    /* [900,1000) is above HighSACK: never a rule 1/3 candidate. */
    assert_int_equal(sack_board_next_seg(&sb, una, nxt, hr, smss, false, &seq, &len),
                     SACK_NEXT_NONE);
}

/* Sequence space wrap-around. */
static void test_board_wrap(void **state)
{
    struct sack_board sb;
    const uint32_t una = 0xffffff00u, nxt = 0x00000200u, smss = 100;
    uint32_t seq, len, hi;

    sack_board_init(&sb);
    upd1(&sb, una, nxt, B(0xffffffc0u, 0x00000040u)); /* spans the wrap */
    upd1(&sb, una, nxt, B(0x00000080u, 0x00000100u));
    upd1(&sb, una, nxt, B(0x00000040u, 0x00000080u)); /* joins them */
    assert_int_equal(sb.n, 1);
    assert_int_equal(sack_board_sacked_bytes(&sb), 0x140);
    assert_true(sack_board_highest_sacked(&sb, &hi));
    assert_int_equal(hi, 0x100);
    assert_true(sack_board_is_lost(&sb, una, smss));
    assert_int_equal(sack_board_next_seg(&sb, una, nxt, una, smss, false, &seq, &len),
                     SACK_NEXT_LOST);
    assert_int_equal(seq, una);
    assert_int_equal(len, 100);
    /* Block beyond SND.NXT across the wrap is refused. */
    assert_int_equal(upd1(&sb, una, nxt, B(0x180u, 0x280u)).invalid_blocks, 1);
    sack_board_ack(&sb, 0x20);
    assert_int_equal(sb.r[0].start, 0x20);
    assert_int_equal(sack_board_sacked_bytes(&sb), 0xe0);
}

/* -------------------------------------------------------------- receiver */

struct rx {
    struct sack_rx_history h;
    uint32_t rcv_nxt;
    struct tcp_sack_block ooo[8];
    size_t n_ooo;
};

/* A minimal reassembly queue so that traces read as "segment in". */
static void rx_segment(struct rx *r, uint32_t s, uint32_t e)
{
    if (s == r->rcv_nxt) {
        r->rcv_nxt = e;
        /* pull queued blocks that became in order */
        for (bool moved = true; moved;) {
            moved = false;
            for (size_t i = 0; i < r->n_ooo; i++) {
                if (r->ooo[i].start == r->rcv_nxt) {
                    r->rcv_nxt = r->ooo[i].end;
                    r->ooo[i] = r->ooo[--r->n_ooo];
                    moved = true;
                    break;
                }
            }
        }
        return;
    }
    /* out of order: merge with touching blocks */
    struct tcp_sack_block b = {s, e};
    for (size_t i = 0; i < r->n_ooo;) {
        if (r->ooo[i].start <= b.end && b.start <= r->ooo[i].end) {
            b.start = b.start < r->ooo[i].start ? b.start : r->ooo[i].start;
            b.end = b.end > r->ooo[i].end ? b.end : r->ooo[i].end;
            r->ooo[i] = r->ooo[--r->n_ooo];
        } else {
            i++;
        }
    }
    r->ooo[r->n_ooo++] = b;
    sack_rx_note_segment(&r->h, s, e);
}

static void rx_expect(struct rx *r, unsigned max, const struct tcp_sack_block *want, unsigned n)
{
    struct tcp_sack_block out[TCP_MAX_SACK_BLOCKS];
    unsigned got = sack_rx_build(&r->h, r->ooo, r->n_ooo, r->rcv_nxt, max, out);

    assert_int_equal(got, n);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(out[i].start, want[i].start);
        assert_int_equal(out[i].end, want[i].end);
    }
}

#define EXPECT(r, max, ...)                                                                   \
    do {                                                                                      \
        const struct tcp_sack_block w_[] = {__VA_ARGS__};                                     \
        rx_expect((r), (max), w_, NB(w_));                                                    \
    } while (0)

static void rx_start(struct rx *r, uint32_t rcv_nxt)
{
    memset(r, 0, sizeof(*r));
    sack_rx_init(&r->h);
    r->rcv_nxt = rcv_nxt;
}

/* RFC 2018 section 5, third case: 500-byte segments from 5000, the 2nd,
 * 4th, 6th and 8th lost; later the 4th (6500) arrives. */
static void test_rx_rfc2018_example(void **state)
{
    struct rx r;

    rx_start(&r, 5000);
    rx_segment(&r, 5000, 5500);
    rx_expect(&r, 3, NULL, 0);
    rx_segment(&r, 6000, 6500);
    EXPECT(&r, 3, B(6000, 6500));
    rx_segment(&r, 7000, 7500);
    EXPECT(&r, 3, B(7000, 7500), B(6000, 6500));
    rx_segment(&r, 8000, 8500);
    EXPECT(&r, 3, B(8000, 8500), B(7000, 7500), B(6000, 6500));
    rx_segment(&r, 6500, 7000);
    EXPECT(&r, 3, B(6000, 7500), B(8000, 8500));
    /* The hole at 5500 is filled: everything up to 7500 is in order. */
    rx_segment(&r, 5500, 6000);
    assert_int_equal(r.rcv_nxt, 7500);
    EXPECT(&r, 3, B(8000, 8500));
    rx_segment(&r, 7500, 8000);
    assert_int_equal(r.rcv_nxt, 8500);
    rx_expect(&r, 3, NULL, 0);
    assert_int_equal(r.h.n, 0);
}

/* More holes than blocks fit: the least recently reported drop out; with
 * no timestamps four fit. */
static void test_rx_limit_order(void **state)
{
    struct rx r;

    rx_start(&r, 1000);
    rx_segment(&r, 2000, 2100);
    EXPECT(&r, 3, B(2000, 2100));
    rx_segment(&r, 3000, 3100);
    EXPECT(&r, 3, B(3000, 3100), B(2000, 2100));
    rx_segment(&r, 4000, 4100);
    EXPECT(&r, 3, B(4000, 4100), B(3000, 3100), B(2000, 2100));
    rx_segment(&r, 5000, 5100);
    EXPECT(&r, 3, B(5000, 5100), B(4000, 4100), B(3000, 3100));
    EXPECT(&r, 4, B(5000, 5100), B(4000, 4100), B(3000, 3100), B(2000, 2100));
    /* A segment extending an old block brings it to the front. */
    rx_segment(&r, 2100, 2200);
    EXPECT(&r, 3, B(2000, 2200), B(5000, 5100), B(4000, 4100));
    /* max_blocks above the option's capacity is clamped. */
    EXPECT(&r, 9, B(2000, 2200), B(5000, 5100), B(4000, 4100), B(3000, 3100));
    rx_expect(&r, 0, NULL, 0);
}

/* RFC 2883 section 4.1.1: a retransmission of data already acknowledged is
 * reported once as a D-SACK block below the cumulative ACK. */
static void test_rx_dsack_below_ack(void **state)
{
    struct rx r;

    rx_start(&r, 4000);
    sack_rx_note_duplicate(&r.h, 3000, 3500);
    EXPECT(&r, 3, B(3000, 3500));
    rx_expect(&r, 3, NULL, 0); /* once */
}

/* RFC 2883 section 4.1.3-like: a duplicate of queued out-of-order data:
 * the D-SACK block, then the block containing it, then the others. */
static void test_rx_dsack_ooo(void **state)
{
    struct rx r;

    rx_start(&r, 1000);
    rx_segment(&r, 1500, 2000);
    rx_segment(&r, 2000, 2500);
    EXPECT(&r, 3, B(1500, 2500));
    rx_segment(&r, 3000, 3500);
    EXPECT(&r, 3, B(3000, 3500), B(1500, 2500));
    /* 1500-2000 arrives again. */
    sack_rx_note_duplicate(&r.h, 1500, 2000);
    EXPECT(&r, 3, B(1500, 2000), B(1500, 2500), B(3000, 3500));
    /* Next ACK: plain SACK, the D-SACKed block now most recently reported. */
    EXPECT(&r, 3, B(1500, 2500), B(3000, 3500));
    /* With room for only two, the D-SACK and its container. */
    sack_rx_note_duplicate(&r.h, 3000, 3500);
    EXPECT(&r, 2, B(3000, 3500), B(3000, 3500));
    EXPECT(&r, 3, B(3000, 3500), B(1500, 2500));
}

/* A D-SACK for a duplicate below RCV.NXT still lets the normal blocks follow. */
static void test_rx_dsack_then_sack(void **state)
{
    struct rx r;

    rx_start(&r, 1000);
    rx_segment(&r, 1000, 1500);
    rx_segment(&r, 2000, 2500);
    sack_rx_note_duplicate(&r.h, 1000, 1500);
    EXPECT(&r, 3, B(1000, 1500), B(2000, 2500));
    EXPECT(&r, 3, B(2000, 2500));
}

/* Blocks the history never saw (e.g. history overflow) still get reported
 * when there is room, lowest first. */
static void test_rx_unreported_fill(void **state)
{
    struct rx r;

    rx_start(&r, 100);
    r.ooo[0] = B(900, 1000);
    r.ooo[1] = B(300, 400);
    r.ooo[2] = B(600, 700);
    r.n_ooo = 3;
    sack_rx_note_segment(&r.h, 600, 700);
    EXPECT(&r, 4, B(600, 700), B(300, 400), B(900, 1000));
    EXPECT(&r, 4, B(600, 700), B(300, 400), B(900, 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_board_fast_retransmit_trace),
        cmocka_unit_test(test_board_islost_ranges),
        cmocka_unit_test(test_board_merge),
        cmocka_unit_test(test_board_validation),
        cmocka_unit_test(test_board_dsack),
        cmocka_unit_test(test_board_stale),
        cmocka_unit_test(test_board_ack_trims),
        cmocka_unit_test(test_board_overflow),
        cmocka_unit_test(test_board_holes_trace),
        cmocka_unit_test(test_board_wrap),
        cmocka_unit_test(test_rx_rfc2018_example),
        cmocka_unit_test(test_rx_limit_order),
        cmocka_unit_test(test_rx_dsack_below_ack),
        cmocka_unit_test(test_rx_dsack_ooo),
        cmocka_unit_test(test_rx_dsack_then_sack),
        cmocka_unit_test(test_rx_unreported_fill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
