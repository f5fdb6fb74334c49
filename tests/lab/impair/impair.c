/* The impairment engine (see impair.h): seeded decisions per frame and a
 * bounded min-heap of departures keyed by (due time, arrival order). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "impair.h"

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* xoshiro256** (Blackman & Vigna). */
static uint64_t next_u64(struct impair *im)
{
    uint64_t *s = im->rng;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double impair_uniform(struct impair *im)
{
    return (double)(next_u64(im) >> 11) * 0x1.0p-53;
}

uint64_t impair_below(struct impair *im, uint64_t n)
{
    /* Lemire's multiply-shift; the tiny bias is irrelevant here. */
    return n ? (uint64_t)(((unsigned __int128)next_u64(im) * n) >> 64) : 0;
}

/* A Bernoulli draw. p == 0 and p == 1 draw nothing, so an impairment that is
 * off costs no randomness; a given config and seed still replay exactly. */
static bool chance(struct impair *im, double p)
{
    if (p <= 0.0)
        return false;
    if (p >= 1.0)
        return true;
    return impair_uniform(im) < p;
}

void impair_config_init(struct impair_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->seed = 1;
    cfg->corrupt_offset_bytes = IMPAIR_DEFAULT_CORRUPT_OFFSET_BYTES;
    cfg->queue_frames = IMPAIR_DEFAULT_QUEUE_FRAMES;
}

static bool prob_ok(double p)
{
    return p >= 0.0 && p <= 1.0;
}

int impair_init(struct impair *im, const struct impair_config *cfg)
{
    uint64_t s;

    memset(im, 0, sizeof(*im));
    if (!prob_ok(cfg->loss) || !prob_ok(cfg->ge_p) || !prob_ok(cfg->ge_r) ||
        !prob_ok(cfg->ge_loss_good) || !prob_ok(cfg->ge_loss_bad) || !prob_ok(cfg->dup) ||
        !prob_ok(cfg->reorder) || !prob_ok(cfg->corrupt) || cfg->queue_frames == 0 ||
        (cfg->ge_p > 0 && cfg->ge_r <= 0))
        return -EINVAL;
    im->cfg = *cfg;
    im->cap = cfg->queue_frames;
    im->heap = calloc(im->cap, sizeof(*im->heap));
    if (!im->heap)
        return -ENOMEM;
    s = cfg->seed;
    for (int i = 0; i < 4; i++)
        im->rng[i] = splitmix64(&s);
    return 0;
}

void impair_free(struct impair *im)
{
    free(im->heap);
    im->heap = NULL;
    im->n = im->cap = 0;
}

/* Serialization time of len bytes at rate_bps, rounded up. */
static uint64_t tx_time_us(uint64_t rate_bps, uint32_t len)
{
    return ((uint64_t)len * 8u * 1000000u + rate_bps - 1) / rate_bps;
}

void impair_decide(struct impair *im, uint64_t now_us, uint32_t len_bytes, struct impair_verdict *v)
{
    const struct impair_config *c = &im->cfg;
    uint32_t room = im->cap - im->n;
    uint64_t due;
    bool lost;

    memset(v, 0, sizeof(*v));
    v->corrupt_bit[0] = v->corrupt_bit[1] = -1;
    im->st.frames_in++;
    im->st.bytes_in += len_bytes;

    /* Loss: the Gilbert-Elliott chain moves on every frame. */
    if (c->ge_p > 0)
        im->ge_bad = im->ge_bad ? !chance(im, c->ge_r) : chance(im, c->ge_p);
    if (chance(im, c->loss)) {
        im->st.lost_random++;
        return;
    }
    lost = c->ge_p > 0 && chance(im, im->ge_bad ? c->ge_loss_bad : c->ge_loss_good);
    if (lost) {
        im->st.lost_burst++;
        return;
    }
    if (!room) {
        im->st.queue_drops++;
        return;
    }

    /* Departure: behind earlier frames on a rate-limited link, then delay. */
    if (c->rate_bps) {
        uint64_t start = now_us > im->link_free_us ? now_us : im->link_free_us;

        im->link_free_us = start + tx_time_us(c->rate_bps, len_bytes);
        due = im->link_free_us + c->delay_us;
    } else {
        due = now_us + c->delay_us;
    }
    if (chance(im, c->reorder)) {
        due += c->reorder_delay_us;
        im->st.reordered++;
    }
    v->copies = 1;
    v->due_us[0] = due;
    if (chance(im, c->dup)) {
        if (room >= 2) {
            v->copies = 2;
            v->due_us[1] = due;
            im->st.duplicated++;
        } else {
            im->st.queue_drops++;
        }
    }
    for (uint32_t i = 0; i < v->copies; i++) {
        uint64_t first_bit = (uint64_t)c->corrupt_offset_bytes * 8;
        uint64_t bits = (uint64_t)len_bytes * 8;

        if (chance(im, c->corrupt) && bits > first_bit) {
            v->corrupt_bit[i] = (int64_t)(first_bit + impair_below(im, bits - first_bit));
            im->st.corrupted++;
        }
    }
}

static bool before(const struct impair_entry *a, const struct impair_entry *b)
{
    return a->due_us < b->due_us || (a->due_us == b->due_us && a->seq < b->seq);
}

int impair_push(struct impair *im, uint64_t due_us, uint32_t slot, uint32_t len_bytes)
{
    uint32_t i;

    if (im->n == im->cap) {
        im->st.queue_drops++;
        return -ENOSPC;
    }
    i = im->n++;
    im->heap[i] = (struct impair_entry){
        .due_us = due_us, .seq = im->seq++, .slot = slot, .len_bytes = len_bytes};
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        struct impair_entry t;

        if (!before(&im->heap[i], &im->heap[parent]))
            break;
        t = im->heap[i];
        im->heap[i] = im->heap[parent];
        im->heap[parent] = t;
        i = parent;
    }
    return 0;
}

int impair_pop_due(struct impair *im, uint64_t now_us, struct impair_entry *e)
{
    uint32_t i = 0;

    if (!im->n || im->heap[0].due_us > now_us)
        return 0;
    *e = im->heap[0];
    im->heap[0] = im->heap[--im->n];
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        struct impair_entry t;

        if (l < im->n && before(&im->heap[l], &im->heap[m]))
            m = l;
        if (r < im->n && before(&im->heap[r], &im->heap[m]))
            m = r;
        if (m == i)
            break;
        t = im->heap[i];
        im->heap[i] = im->heap[m];
        im->heap[m] = t;
        i = m;
    }
    im->st.frames_out++;
    im->st.bytes_out += e->len_bytes;
    return 1;
}

uint64_t impair_next_due(const struct impair *im)
{
    return im->n ? im->heap[0].due_us : UINT64_MAX;
}

uint32_t impair_queued(const struct impair *im)
{
    return im->n;
}
