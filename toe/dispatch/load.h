/* toe/dispatch/load.h: a core's capacity use in permille from its busy
 * figure plus the excess demand busy time cannot show (a standing queue,
 * drops), shared by the bucket balancer (balance.h) and the flow schedules
 * (schedule.h), which give the reasons. */
#ifndef TOE_DISPATCH_LOAD_H
#define TOE_DISPATCH_LOAD_H

#include <stdint.h>

/* min(1000, busy + queue_penalty * min(queue, queue_full) / queue_full
 *              + (drops ? drop_penalty : 0)); queue_full 0 = no queue penalty. */
static inline uint32_t load_permille(uint64_t busy_permille, uint32_t queue, uint32_t queue_full,
                                     uint32_t queue_penalty_permille, uint32_t drops,
                                     uint32_t drop_penalty_permille)
{
    uint64_t u = busy_permille;

    if (queue_full) {
        uint64_t q = queue < queue_full ? queue : queue_full;
        u += (uint64_t)queue_penalty_permille * q / queue_full;
    }
    if (drops)
        u += drop_penalty_permille;
    return u > 1000 ? 1000 : (uint32_t)u;
}

#endif
