/* toe/dispatch/filter.h: exponentially weighted moving average, the filter the
 * control thread runs over the cores' figures before the dispatcher uses them.
 *
 * Seed 000 (claims 10, 23, 31) filters the "intrinsic data" (CPU use, memory,
 * loss, queue length) before a schedule is computed from it, and claims 35-37
 * want both present and historic figures: one EWMA with a large alpha gives the
 * present figure (noise removed, still quick), one with a small alpha the
 * historic one. The first sample primes the filter, so a fresh core does not
 * start from a made-up zero.
 *
 * alpha is in (0, 1]: value += alpha * (sample - value). alpha = 1 follows the
 * samples exactly; alpha outside (0, 1] is the caller's bug (not checked: this
 * is called once per core per interval with a constant).
 */
#ifndef TOE_DISPATCH_FILTER_H
#define TOE_DISPATCH_FILTER_H

#include <stdbool.h>

struct ewma {
    double value;
    bool primed; /* false until the first sample */
};

static inline void ewma_init(struct ewma *f)
{
    f->value = 0.0;
    f->primed = false;
}

/* Feed one sample (integer figures convert exactly up to 2^53); returns the new value. */
static inline double ewma_update(struct ewma *f, double sample, double alpha)
{
    if (!f->primed) {
        f->value = sample;
        f->primed = true;
    } else {
        f->value += alpha * (sample - f->value);
    }
    return f->value;
}

#endif /* TOE_DISPATCH_FILTER_H */
