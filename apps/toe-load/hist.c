/* The log-bucketed histogram of hist.h. Index of v >= 2^SUB_BITS: with
 * shift = msb(v) - (SUB_BITS - 1), v >> shift lies in [HALF, 2*HALF) and the
 * index is shift * HALF + (v >> shift); below 2^SUB_BITS the index is v. The
 * two ranges meet without a gap (shift 1 starts at index 2^SUB_BITS). */
#include <math.h>
#include <string.h>

#include "hist.h"

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

uint32_t hist_index(uint64_t v)
{
    uint32_t shift;

    if (v < (1u << HIST_SUB_BITS))
        return (uint32_t)v;
    shift = (uint32_t)(63 - __builtin_clzll(v)) - (HIST_SUB_BITS - 1);
    return shift * HIST_HALF + (uint32_t)(v >> shift);
}

uint64_t hist_bucket_low(uint32_t i)
{
    uint32_t shift;

    if (i < (1u << HIST_SUB_BITS))
        return i;
    shift = i / HIST_HALF - 1;
    return (uint64_t)(i - shift * HIST_HALF) << shift;
}

uint64_t hist_bucket_high(uint32_t i)
{
    uint32_t shift;

    if (i < (1u << HIST_SUB_BITS))
        return i;
    shift = i / HIST_HALF - 1;
    return (((uint64_t)(i - shift * HIST_HALF) + 1) << shift) - 1;
}

void hist_merge(struct hist *a, const struct hist *b)
{
    if (!b->count)
        return;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++)
        a->bucket[i] += b->bucket[i];
    a->count += b->count;
    a->sum += b->sum;
    if (b->min < a->min)
        a->min = b->min;
    if (b->max > a->max)
        a->max = b->max;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    uint64_t rank, pm, seen = 0;

    if (!h->count)
        return 0;
    /* p in millionths of a percent, so 99.9 % of 1000 is rank 999 exactly
     * (floating point would round it up to 1000). */
    pm = (uint64_t)llround(p * 10000.0);
    rank = (pm * h->count + 999999) / 1000000;
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t high = hist_bucket_high(i);
            return high < h->max ? high : h->max;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
