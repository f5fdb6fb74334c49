/* SACK scoreboard (RFC 6675) and receiver SACK-block selection (RFC 2018,
 * RFC 2883). See sack.h for the contracts. */
#include <string.h>

#include "toe/tcp/sack.h"
#include "toe/tcp/seq.h"

/* ------------------------------------------------------------ scoreboard */

void sack_board_init(struct sack_board *sb)
{
    memset(sb, 0, sizeof(*sb));
}

void sack_board_clear(struct sack_board *sb)
{
    sb->n = 0;
    sb->lost_end_set = false;
}

void sack_board_mark_lost(struct sack_board *sb, uint32_t end)
{
    sb->lost_end_set = true;
    sb->lost_end = end;
}

static uint32_t ranges_bytes(const struct tcp_sack_block *r, uint32_t n)
{
    uint32_t sum = 0;

    for (uint32_t i = 0; i < n; i++)
        sum += r[i].end - r[i].start;
    return sum;
}

uint32_t sack_board_sacked_bytes(const struct sack_board *sb)
{
    return ranges_bytes(sb->r, sb->n);
}

bool sack_board_highest_sacked(const struct sack_board *sb, uint32_t *end)
{
    if (sb->n == 0)
        return false;
    *end = sb->r[sb->n - 1].end;
    return true;
}

uint32_t sack_board_unsacked_end(const struct sack_board *sb, uint32_t lo, uint32_t hi)
{
    /* Ranges are sorted: walk down from the top, stepping over each range
     * that holds the byte below hi. */
    for (uint32_t i = sb->n; i-- > 0 && seq_lt(lo, hi);) {
        if (seq_lt(sb->r[i].start, hi) && seq_geq(hi, sb->r[i].start) &&
            seq_leq(hi, sb->r[i].end))
            hi = sb->r[i].start;
    }
    return seq_gt(hi, lo) ? hi : lo;
}

bool sack_board_is_sacked(const struct sack_board *sb, uint32_t seq)
{
    for (uint32_t i = 0; i < sb->n; i++)
        if (seq_in_window(seq, sb->r[i].start, sb->r[i].end))
            return true;
    return false;
}

/* Merge [s, e) into the sorted list; adjacent ranges coalesce. Returns the
 * bytes newly covered. When the list overflows the highest range goes. */
static uint32_t board_insert(struct sack_board *sb, uint32_t s, uint32_t e)
{
    struct tcp_sack_block tmp[SACK_BOARD_MAX_RANGES + 1];
    uint32_t k = 0, before = sack_board_sacked_bytes(sb), after;
    bool placed = false;

    for (uint32_t i = 0; i < sb->n; i++) {
        const struct tcp_sack_block *r = &sb->r[i];

        if (seq_lt(r->end, s)) {
            tmp[k++] = *r;
        } else if (seq_lt(e, r->start)) {
            if (!placed) {
                tmp[k++] = (struct tcp_sack_block){s, e};
                placed = true;
            }
            tmp[k++] = *r;
        } else {
            s = seq_min(s, r->start);
            e = seq_max(e, r->end);
        }
    }
    if (!placed)
        tmp[k++] = (struct tcp_sack_block){s, e};
    after = ranges_bytes(tmp, k);
    if (k > SACK_BOARD_MAX_RANGES)
        k = SACK_BOARD_MAX_RANGES;
    memcpy(sb->r, tmp, k * sizeof(tmp[0]));
    sb->n = k;
    return after - before;
}

static bool block_valid(struct tcp_sack_block b, uint32_t snd_una, uint32_t snd_nxt)
{
    return seq_lt(b.start, b.end) && seq_geq(b.start, snd_una) && seq_leq(b.end, snd_nxt);
}

/* RFC 2883 section 4: the first block reports a duplicate when it lies
 * wholly below the cumulative ACK of its segment (end checked too: a block
 * straddling it is no D-SACK but an invalid block), or when it lies inside
 * the second block, itself a valid block above SND.UNA (section 4.1.3). */
static bool is_dsack(const struct tcp_sack_block *blocks, size_t n, uint32_t seg_ack,
                     uint32_t snd_una, uint32_t snd_nxt)
{
    struct tcp_sack_block b = blocks[0];

    if (!seq_lt(b.start, b.end))
        return false;
    if (seq_lt(b.start, seg_ack))
        return seq_leq(b.end, seg_ack);
    return n > 1 && block_valid(blocks[1], snd_una, snd_nxt) &&
           seq_geq(b.start, blocks[1].start) && seq_leq(b.end, blocks[1].end);
}

struct sack_update_result sack_board_update(struct sack_board *sb, uint32_t seg_ack,
                                            uint32_t snd_una, uint32_t snd_nxt,
                                            const struct tcp_sack_block *blocks, size_t n)
{
    struct sack_update_result res = {0};
    uint32_t high_before = 0, high_after, new_end;
    bool had = sack_board_highest_sacked(sb, &high_before);

    for (size_t i = 0; i < n; i++) {
        struct tcp_sack_block b = blocks[i];

        if (i == 0 && is_dsack(blocks, n, seg_ack, snd_una, snd_nxt)) {
            res.dsack = true;
            res.dsack_block = b;
            continue;
        }
        /* RFC 2018 section 3 / RFC 6675 section 5: only blocks within what
         * was sent and not yet cumulatively acknowledged mean anything. */
        if (!block_valid(b, snd_una, snd_nxt)) {
            /* Wholly acknowledged since a reordered (older) ACK was sent:
             * stale, not invalid (as Linux, not counted). */
            if (seg_ack != snd_una && seq_lt(b.start, b.end) && seq_leq(b.end, snd_una) &&
                seq_geq(b.start, seg_ack))
                res.stale_blocks++;
            else
                res.invalid_blocks++;
            continue;
        }
        res.valid_blocks++;
        new_end = sack_board_unsacked_end(sb, b.start, b.end);
        if (seq_gt(new_end, b.start)) {
            if (!res.newly_sacked_bytes || seq_gt(new_end, res.newly_sacked_end))
                res.newly_sacked_end = new_end;
            if (!res.newly_sacked_bytes || seq_lt(b.start, res.newly_sacked_first))
                res.newly_sacked_first = b.start;
        }
        res.newly_sacked_bytes += board_insert(sb, b.start, b.end);
    }
    if (sack_board_highest_sacked(sb, &high_after))
        res.highest_advanced = !had || seq_gt(high_after, high_before);
    return res;
}

void sack_board_ack(struct sack_board *sb, uint32_t snd_una)
{
    uint32_t k = 0;

    for (uint32_t i = 0; i < sb->n; i++) {
        struct tcp_sack_block r = sb->r[i];

        if (seq_leq(r.end, snd_una))
            continue;
        r.start = seq_max(r.start, snd_una);
        sb->r[k++] = r;
    }
    sb->n = k;
}

bool sack_board_is_lost(const struct sack_board *sb, uint32_t seq, uint32_t smss)
{
    uint32_t above = seq + 1, bytes = 0, ranges = 0;

    for (uint32_t i = 0; i < sb->n; i++) {
        const struct tcp_sack_block *r = &sb->r[i];

        if (!seq_gt(r->end, above))
            continue; /* no byte of this range is above seq */
        bytes += r->end - seq_max(r->start, above);
        ranges++;
    }
    return bytes > (SACK_DUPTHRESH - 1) * smss || ranges >= SACK_DUPTHRESH;
}

/* Holes are the unSACKed spans of [snd_una, snd_nxt): hole i (0 <= i <= n)
 * ends where range i starts (or at snd_nxt for i == n). */
struct hole {
    uint32_t start, end;
    bool lost;     /* IsLost (or below lost_end) for every byte of the hole */
    bool eligible; /* below HighSACK, or below lost_end: rules 1 and 3 */
};

#define HOLES_MAX (SACK_BOARD_MAX_RANGES + 2)

/* Fill the holes between SND.UNA, the SACKed ranges and SND.NXT, lowest
 * first, from the top down so that the "SACKed above" totals are running
 * sums; the hole holding lost_end is split there. Returns the count. */
static uint32_t board_holes(const struct sack_board *sb, uint32_t snd_una, uint32_t snd_nxt,
                            uint32_t smss, struct hole *holes)
{
    struct hole tmp[SACK_BOARD_MAX_RANGES + 1];
    uint32_t bytes_above = 0, ranges_above = 0, k = 0;

    for (uint32_t i = sb->n + 1; i-- > 0;) {
        struct hole *h = &tmp[i];

        h->start = i == 0 ? snd_una : seq_max(sb->r[i - 1].end, snd_una);
        h->end = i == sb->n ? snd_nxt : sb->r[i].start;
        if (seq_lt(h->end, h->start))
            h->end = h->start;
        h->lost = bytes_above > (SACK_DUPTHRESH - 1) * smss || ranges_above >= SACK_DUPTHRESH;
        h->eligible = i < sb->n;
        if (i > 0) {
            bytes_above += sb->r[i - 1].end - sb->r[i - 1].start;
            ranges_above++;
        }
    }
    for (uint32_t i = 0; i <= sb->n; i++) {
        struct hole h = tmp[i];

        if (sb->lost_end_set && seq_lt(h.start, sb->lost_end)) {
            if (seq_gt(h.end, sb->lost_end)) {
                struct hole lo = h;

                lo.end = sb->lost_end;
                lo.lost = lo.eligible = true;
                holes[k++] = lo;
                h.start = sb->lost_end;
            } else {
                h.lost = h.eligible = true;
            }
        }
        holes[k++] = h;
    }
    return k;
}

uint32_t sack_board_pipe(const struct sack_board *sb, uint32_t snd_una, uint32_t snd_nxt,
                         uint32_t high_rxt, uint32_t smss)
{
    struct hole holes[HOLES_MAX];
    uint32_t pipe = 0, nh;

    nh = board_holes(sb, snd_una, snd_nxt, smss, holes);
    for (uint32_t i = 0; i < nh; i++) {
        const struct hole *h = &holes[i];

        if (!h->lost)
            pipe += h->end - h->start; /* RFC 6675 SetPipe (a) */
        if (seq_lt(h->start, high_rxt))
            pipe += seq_min(h->end, high_rxt) - h->start; /* (b) retransmitted */
    }
    return pipe;
}

enum sack_next_kind sack_board_next_seg(const struct sack_board *sb, uint32_t snd_una,
                                        uint32_t snd_nxt, uint32_t high_rxt, uint32_t smss,
                                        bool new_data_ok, uint32_t *seq, uint32_t *len)
{
    struct hole holes[HOLES_MAX];
    int rescue = -1;
    uint32_t nh;

    nh = board_holes(sb, snd_una, snd_nxt, smss, holes);
    /* Only holes below HighSACK (or below lost_end) qualify for rules 1
     * and 3. */
    for (uint32_t i = 0; i < nh; i++) {
        const struct hole *h = &holes[i];
        uint32_t s = seq_max(h->start, high_rxt);

        if (!h->eligible || !seq_lt(s, h->end))
            continue; /* above HighSACK, empty or already retransmitted */
        if (h->lost) {
            *seq = s;
            *len = seq_min(h->end, s + smss) - s;
            return SACK_NEXT_LOST;
        }
        if (rescue < 0)
            rescue = (int)i;
    }
    if (new_data_ok) {
        *seq = snd_nxt;
        *len = 0;
        return SACK_NEXT_NEW;
    }
    if (rescue >= 0) {
        uint32_t s = seq_max(holes[rescue].start, high_rxt);

        *seq = s;
        *len = seq_min(holes[rescue].end, s + smss) - s;
        return SACK_NEXT_RESCUE;
    }
    return SACK_NEXT_NONE;
}

/* -------------------------------------------------------------- receiver */

void sack_rx_init(struct sack_rx_history *h)
{
    memset(h, 0, sizeof(*h));
}

static bool ranges_touch(struct tcp_sack_block a, struct tcp_sack_block b)
{
    return seq_leq(a.start, b.end) && seq_leq(b.start, a.end);
}

static bool ranges_overlap(struct tcp_sack_block a, struct tcp_sack_block b)
{
    return seq_lt(a.start, b.end) && seq_lt(b.start, a.end);
}

void sack_rx_note_segment(struct sack_rx_history *h, uint32_t start, uint32_t end)
{
    struct tcp_sack_block seg = {start, end};
    struct tcp_sack_block keep[SACK_RX_HISTORY_MAX];
    uint32_t k = 0;

    if (!seq_lt(start, end))
        return;
    /* Entries the segment touches will be one queue block with it. */
    for (uint32_t i = 0; i < h->n; i++) {
        if (ranges_touch(h->blk[i], seg)) {
            seg.start = seq_min(seg.start, h->blk[i].start);
            seg.end = seq_max(seg.end, h->blk[i].end);
        } else {
            keep[k++] = h->blk[i];
        }
    }
    h->blk[0] = seg;
    if (k > SACK_RX_HISTORY_MAX - 1)
        k = SACK_RX_HISTORY_MAX - 1; /* the oldest is forgotten */
    memcpy(&h->blk[1], keep, k * sizeof(keep[0]));
    h->n = k + 1;
}

void sack_rx_note_duplicate(struct sack_rx_history *h, uint32_t start, uint32_t end)
{
    if (!seq_lt(start, end))
        return;
    h->dsack_pending = true;
    h->dsack = (struct tcp_sack_block){start, end};
}

static bool block_listed(const struct tcp_sack_block *list, unsigned n, struct tcp_sack_block b)
{
    for (unsigned i = 0; i < n; i++)
        if (list[i].start == b.start && list[i].end == b.end)
            return true;
    return false;
}

/* The queued block overlapping r, or false. */
static bool ooo_find(const struct tcp_sack_block *ooo, size_t n_ooo, uint32_t rcv_nxt,
                     struct tcp_sack_block r, struct tcp_sack_block *found)
{
    for (size_t i = 0; i < n_ooo; i++) {
        if (!seq_lt(ooo[i].start, ooo[i].end) || seq_leq(ooo[i].end, rcv_nxt))
            continue;
        if (ranges_overlap(ooo[i], r)) {
            *found = ooo[i];
            return true;
        }
    }
    return false;
}

unsigned sack_rx_build(struct sack_rx_history *h, const struct tcp_sack_block *ooo,
                       size_t n_ooo, uint32_t rcv_nxt, unsigned max_blocks,
                       struct tcp_sack_block *out)
{
    struct tcp_sack_block nh[SACK_RX_HISTORY_MAX], b;
    unsigned cnt = 0, nn = 0, sack_from = 0;

    if (max_blocks > TCP_MAX_SACK_BLOCKS)
        max_blocks = TCP_MAX_SACK_BLOCKS;
    if (h->dsack_pending && max_blocks > 0) {
        /* RFC 2883 section 4: the duplicate first, then the queued block it
         * falls in (section 4.1.3), which counts as reported now. */
        out[cnt++] = h->dsack;
        sack_from = cnt;
        if (cnt < max_blocks && ooo_find(ooo, n_ooo, rcv_nxt, h->dsack, &b)) {
            out[cnt++] = b;
            nh[nn++] = b;
        }
    }
    h->dsack_pending = false;

    /* RFC 2018 section 4: the latest segment's block, then the most
     * recently reported ones, each at most once. */
    for (uint32_t i = 0; i < h->n; i++) {
        if (!ooo_find(ooo, n_ooo, rcv_nxt, h->blk[i], &b))
            continue; /* delivered in order since: forget it */
        if (block_listed(nh, nn, b))
            continue;
        if (cnt < max_blocks)
            out[cnt++] = b;
        if (nn < SACK_RX_HISTORY_MAX)
            nh[nn++] = b;
    }
    /* Room left: queued blocks never reported, lowest first. */
    while (cnt < max_blocks) {
        bool any = false;
        struct tcp_sack_block best = {0, 0};

        for (size_t i = 0; i < n_ooo; i++) {
            if (!seq_lt(ooo[i].start, ooo[i].end) || seq_leq(ooo[i].end, rcv_nxt))
                continue;
            if (block_listed(out + sack_from, cnt - sack_from, ooo[i]))
                continue;
            if (!any || seq_lt(ooo[i].start, best.start)) {
                best = ooo[i];
                any = true;
            }
        }
        if (!any)
            break;
        out[cnt++] = best;
        if (nn < SACK_RX_HISTORY_MAX)
            nh[nn++] = best;
    }
    memcpy(h->blk, nh, nn * sizeof(nh[0]));
    h->n = nn;
    return cnt;
}
