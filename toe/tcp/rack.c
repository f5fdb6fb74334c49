/* RACK loss detection (RFC 8985 section 6) over per-burst send times. See
 * rack.h for the model and the contracts. */
#include <string.h>

#include "toe/tcp/rack.h"
#include "toe/tcp/seq.h"

void rack_init(struct rack *r)
{
    memset(r, 0, sizeof(*r));
    r->reo_wnd_mult = 1;
}

static struct rack_tx *rec(struct rack *r, uint32_t i)
{
    return &r->tx[(r->head + i) % RACK_TX_MAX];
}

/* Signed difference of two 32-bit send times: a - b. */
static int32_t tdiff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

void rack_sent(struct rack *r, uint32_t seq, uint32_t end, uint64_t now_us)
{
    uint32_t t = (uint32_t)now_us;
    struct rack_tx *last;

    if (!seq_lt(seq, end))
        return;
    if (r->n == 0) {
        r->start = seq;
    } else {
        last = rec(r, r->n - 1);
        if (last->xmit_us == t && !last->rtx && seq_leq(seq, last->end)) {
            last->end = seq_max(last->end, end);
            return; /* the same burst */
        }
        seq = seq_max(seq, last->end);
    }
    if (r->n == RACK_TX_MAX) {
        /* Merge the two oldest under the later time (rack.h). */
        struct rack_tx *a = rec(r, 0), *b = rec(r, 1);

        b->rtx = b->rtx || a->rtx;
        b->merged = true;
        r->head = (r->head + 1) % RACK_TX_MAX;
        r->n--;
    }
    last = rec(r, r->n++);
    last->end = end;
    last->xmit_us = t;
    last->rtx = false;
    last->merged = false;
}

/* Splits record i at seq (inside it): i keeps [start, seq), a new i + 1
 * gets [seq, end) with the same time. False when the ring is full. */
static bool split(struct rack *r, uint32_t i, uint32_t seq)
{
    if (r->n == RACK_TX_MAX)
        return false;
    for (uint32_t k = r->n; k > i + 1; k--)
        *rec(r, k) = *rec(r, k - 1);
    *rec(r, i + 1) = *rec(r, i);
    rec(r, i)->end = seq;
    r->n++;
    return true;
}

void rack_retransmitted(struct rack *r, uint32_t seq, uint32_t end)
{
    uint32_t s = r->start;

    for (uint32_t i = 0; i < r->n; i++) {
        struct rack_tx *x = rec(r, i);

        if (seq_lt(seq, x->end) && seq_lt(s, end) && !x->rtx) {
            /* Only the part sent again: the rest of the burst still
             * gives samples (when the ring has room to say so). */
            if (seq_gt(seq, s) && split(r, i, seq)) {
                s = seq;
                continue; /* record i + 1 is the part from seq */
            }
            if (seq_lt(end, x->end))
                split(r, i, end);
            rec(r, i)->rtx = true;
        }
        s = rec(r, i)->end;
    }
}

void rack_acked(struct rack *r, uint32_t snd_una)
{
    while (r->n > 0 && seq_leq(rec(r, 0)->end, snd_una)) {
        r->start = rec(r, 0)->end;
        r->head = (r->head + 1) % RACK_TX_MAX;
        r->n--;
    }
}

/* The record holding byte seq, or NULL. */
static const struct rack_tx *find(struct rack *r, uint32_t seq)
{
    uint32_t s = r->start;

    for (uint32_t i = 0; i < r->n; i++) {
        const struct rack_tx *x = rec(r, i);

        if (seq_geq(seq, s) && seq_lt(seq, x->end))
            return x;
        s = x->end;
    }
    return NULL;
}

void rack_update(struct rack *r, uint32_t delivered_end, uint64_t now_us)
{
    const struct rack_tx *x = find(r, delivered_end - 1);

    /* Step 2: a retransmitted segment's delivery is ambiguous (which
     * transmission arrived?): no sample. */
    if (!x || x->rtx)
        return;
    /* Step 3 (reordering): a first transmission delivered below the
     * highest sequence already delivered arrived out of order. */
    if (r->fack_set && seq_lt(delivered_end, r->fack))
        r->reordering_seen = true;
    if (!r->fack_set || seq_gt(delivered_end, r->fack)) {
        r->fack = delivered_end;
        r->fack_set = true;
    }
    rack_update_time(r, x->xmit_us, delivered_end, now_us);
}

void rack_update_time(struct rack *r, uint64_t xmit_us, uint32_t end, uint64_t now_us)
{
    uint32_t t = (uint32_t)xmit_us, now = (uint32_t)now_us;

    /* Step 2: RACK.rtt and the most recent send time delivered. */
    r->rtt_us = tdiff(now, t) > 0 ? (uint32_t)tdiff(now, t) : 1;
    if (!r->valid || tdiff(t, r->xmit_us) > 0 || (t == r->xmit_us && seq_gt(end, r->end_seq))) {
        r->valid = true;
        r->xmit_us = t;
        r->end_seq = end;
    }
}

uint32_t rack_rtt_sample(const struct rack *r, uint32_t start, uint32_t end, uint64_t now_us)
{
    uint32_t s = r->start, first = 0;
    bool found = false;

    for (uint32_t i = 0; i < r->n && seq_lt(s, end); i++) {
        const struct rack_tx *x = &r->tx[(r->head + i) % RACK_TX_MAX];

        if (seq_gt(x->end, start)) {
            if (x->rtx || (!found && x->merged))
                return 0;
            if (!found)
                first = x->xmit_us;
            found = true;
        }
        s = x->end;
    }
    if (!found)
        return 0;
    return tdiff((uint32_t)now_us, first) > 0 ? (uint32_t)tdiff((uint32_t)now_us, first) : 1;
}

void rack_dsack(struct rack *r, uint32_t snd_una, uint32_t snd_max)
{
    if (r->dsack_round_set && seq_lt(snd_una, r->dsack_round))
        return;
    r->dsack_round_set = true;
    r->dsack_round = snd_max;
    r->reo_wnd_mult++;
    r->reo_wnd_persist = RACK_REO_WND_PERSIST;
}

void rack_recovery_done(struct rack *r)
{
    if (r->reo_wnd_persist && --r->reo_wnd_persist == 0)
        r->reo_wnd_mult = 1;
}

uint32_t rack_reo_wnd_us(const struct rack *r, bool recovering, uint32_t min_rtt_us,
                         uint32_t srtt_us)
{
    uint64_t w;

    if (!r->reordering_seen && recovering)
        return 0;
    w = (uint64_t)r->reo_wnd_mult * min_rtt_us / 4;
    return w < srtt_us ? (uint32_t)w : srtt_us;
}

uint32_t rack_detect(const struct rack *r, uint32_t snd_una, uint64_t now_us,
                     uint32_t reo_wnd_us, uint32_t *timeout_us)
{
    uint32_t lost = snd_una, s = r->start, now = (uint32_t)now_us;

    *timeout_us = 0;
    if (!r->valid)
        return lost;
    for (uint32_t i = 0; i < r->n; i++) {
        const struct rack_tx *x = &r->tx[(r->head + i) % RACK_TX_MAX];
        uint32_t end = x->end;
        int64_t remaining;

        /* Sent before the latest delivered transmission? (For the same
         * burst: only the bytes below RACK.end_seq.) */
        if (tdiff(x->xmit_us, r->xmit_us) > 0)
            break;
        if (x->xmit_us == r->xmit_us) {
            if (!seq_lt(s, r->end_seq))
                break;
            end = seq_min(end, r->end_seq);
        }
        if (seq_leq(end, snd_una)) {
            s = x->end; /* all acknowledged: nothing to decide */
            continue;
        }
        remaining = (int64_t)tdiff(x->xmit_us, now) + r->rtt_us + reo_wnd_us;
        if (remaining > 0) {
            *timeout_us = (uint32_t)remaining;
            break;
        }
        if (seq_gt(end, lost))
            lost = end;
        s = x->end;
    }
    return lost;
}
