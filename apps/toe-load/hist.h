/* A log-bucketed latency histogram (HdrHistogram's layout): values below
 * 2^HIST_SUB_BITS are counted exactly; above, every power of two is cut into
 * 2^(HIST_SUB_BITS-1) equal buckets, so a bucket is never wider than 1/128
 * of its values (0.8 %). Fixed size, no allocation, merged by adding. Values
 * are in any unit (toe-load records nanoseconds); values above HIST_MAX are
 * counted in the top bucket. */
#ifndef TOE_APPS_TOE_LOAD_HIST_H
#define TOE_APPS_TOE_LOAD_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 8
#define HIST_HALF     (1u << (HIST_SUB_BITS - 1)) /* buckets per power of two */
#define HIST_MAX_BITS 40                          /* 2^40 ns: 18 minutes */
#define HIST_MAX      ((1ull << HIST_MAX_BITS) - 1)
#define HIST_BUCKETS  ((HIST_MAX_BITS - HIST_SUB_BITS + 2) * HIST_HALF)

struct hist {
    uint64_t count;
    uint64_t sum;
    uint64_t min, max; /* exact; min is UINT64_MAX when empty */
    uint64_t bucket[HIST_BUCKETS];
};

void hist_init(struct hist *h);
/* The bucket of v (v <= HIST_MAX) and the lowest and highest value it holds. */
uint32_t hist_index(uint64_t v);
uint64_t hist_bucket_low(uint32_t i);
uint64_t hist_bucket_high(uint32_t i);

static inline void hist_record(struct hist *h, uint64_t v)
{
    if (v > HIST_MAX)
        v = HIST_MAX;
    h->bucket[hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

/* a += b. */
void hist_merge(struct hist *a, const struct hist *b);
/* The value at percentile p (0 < p <= 100): the highest value of the bucket
 * holding the ceil(p/100 * count)-th smallest value, but never above the
 * exact maximum; 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double p);
/* Mean, 0 when empty. */
double hist_mean(const struct hist *h);

#endif
