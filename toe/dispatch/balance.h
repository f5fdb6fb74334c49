/* toe/dispatch/balance.h: which core owns which hash bucket, and which buckets
 * to move so that the cores' load evens out (seeds 001/002).
 *
 * Model
 *   Flows hash (4-tuple, one stack-wide key) into n_buckets buckets, a power of
 *   two; many flows share a bucket and a flow never leaves its bucket (seed 001
 *   claims 1-3). Each bucket is owned by one core, owner[bucket] = core. The
 *   control thread measures every core once per interval and calls
 *   balance_plan(), which says which buckets to hand over; the caller moves them
 *   (flow state included, DESIGN.md "Threads and ownership") and then applies
 *   the moves to its owner table (balance_apply()). This module only computes:
 *   no threads, no clock, no I/O, no allocation, no globals.
 *
 * Capacity use (seed 001 claim 5: "identifying statistically a percentage of
 * capacity usage for each processor"), u in permille, 0..1000:
 *
 *     u = min(1000, busy_permille
 *                   + queue_penalty_permille * min(queue_depth, queue_full_depth)
 *                                             / queue_full_depth
 *                   + (drops > 0 ? drop_penalty_permille : 0))
 *
 *   Why the penalties: busy time saturates at 1000 once a core cannot keep up,
 *   so busy alone cannot tell a core that just copes from one falling behind. A
 *   standing queue and drops are the excess demand busy time cannot show; they
 *   push u up (linearly up to queue_full_depth, then flat), clamped to a full
 *   core. queue_full_depth = 0 turns the queue penalty off.
 *
 * Imbalance index (claim 5: "obtaining an imbalance distribution index for each
 * processor from the identified percentage of capacity usage"), permille:
 *
 *     idx_i = max(idx_floor_permille, 1000 - u_i)       the core's spare capacity
 *
 *   The floor keeps a saturated core from being starved to zero buckets (it
 *   keeps a trickle and so keeps being measured); idx_floor_permille = 0 and
 *   min_buckets = 0 allow zero. If every idx is 0, all count as equal.
 *
 * Targets (claim 5: "distributing the hash buckets in proportion to the
 * imbalance distribution index and in reverse proportion to a total imbalance
 * index, wherein the total imbalance index is a summation of all obtained
 * imbalance distribution indexes"; claim 7: "a ratio of an imbalance index of
 * the processor and a total imbalance index"):
 *
 *     total = sum idx_i,   target_i = n_buckets * idx_i / total
 *
 *   made integer exactly by balance_apportion(): every core first gets at least
 *   min_buckets (a core whose share is below that is pinned there and the rest
 *   re-shared among the others), then floors, then the leftover buckets one each
 *   to the largest remainders, ties to the lower core index. The targets sum to
 *   n_buckets exactly.
 *
 * Moves (balance_plan())
 *   - Hysteresis: nothing moves while the spread of capacity use, max u - min u,
 *     is <= spread_trigger_permille (with no queue and no drops u is
 *     busy_permille). A steady, balanced load plans nothing.
 *   - A core's "size" is its bucket count, or, when bucket_load is given, its
 *     load expressed in average buckets: n_buckets * load_i / total_load. With
 *     skewed buckets (a few heavy ones) counts say nothing about load: a core
 *     with three heavy buckets is under its count target yet the busiest.
 *   - Each move goes from the core most over its target (size - target largest,
 *     ties to the lower index) to the core most under it among those strictly
 *     less busy, and only if one of the two is off by more than slack_buckets.
 *     The donor keeps at least min_buckets buckets.
 *   - The bucket moved carries work x (its share of the donor's u: its load over
 *     the donor's total load, times the donor's u; without bucket_load, the
 *     donor's mean u per bucket). Only buckets with 2x <= u_from - u_to move:
 *     after the move the donor is still at least as busy as the receiver, so a
 *     move never reverses the pair's order and the next round cannot send the
 *     bucket back (no ping-pong). Each such move (x > 0) strictly lowers
 *     sum(u^2), so a fixed load converges and then stops moving. Of the
 *     buckets allowed, the heaviest (best closes the gap) moves, ties to the
 *     lower bucket index; without bucket_load, the lowest-indexed bucket of the
 *     donor. Buckets without measured load do not move when bucket_load is
 *     given: they change nothing.
 *   - Without bucket_load every bucket is taken to carry the donor's mean load,
 *     true while each bucket holds many flows. With a few heavy buckets that
 *     guess is wrong and a heavy bucket can go back and forth between rounds:
 *     count work per bucket on the owning core (one counter per bucket) and
 *     pass it.
 *   - After each move the donor's and receiver's u, load and count are projected
 *     (u_from -= x, u_to += x) and the next move of the round is chosen from
 *     those; a bucket moves at most once per round; at most
 *     min(max_moves, max_moves_per_round) moves per round. Spreading moves over
 *     rounds bounds the handover work per interval and lets the measurements
 *     confirm the projection.
 *   Same inputs give the same moves (no randomness, fixed tie rules).
 *
 * Errors: -EINVAL for NULL pointers, n_cores 0 or > BALANCE_MAX_CORES,
 * n_buckets 0, not a power of two or > BALANCE_MAX_BUCKETS, an owner entry
 * >= n_cores, n_cores * min_buckets > n_buckets, idx_floor_permille > 1000.
 */
#ifndef TOE_DISPATCH_BALANCE_H
#define TOE_DISPATCH_BALANCE_H

#include <stdint.h>

#define BALANCE_MAX_CORES   256u
#define BALANCE_MAX_BUCKETS (1u << 24)

/* One core's figures for the last interval. */
struct balance_core_figures {
    uint32_t busy_permille; /* share of the interval the core was busy, 0..1000 */
    uint32_t queue_depth;   /* frames/events waiting in its input ring at the end */
    uint32_t drops;         /* frames it dropped for lack of capacity this interval */
};

struct balance_config {
    uint32_t min_buckets;             /* every core owns at least this many (default 1) */
    uint32_t idx_floor_permille;      /* least imbalance index of a core (default 10) */
    uint32_t spread_trigger_permille; /* move only if max u - min u exceeds this (150) */
    uint32_t slack_buckets;           /* tolerated distance from the target (2) */
    uint32_t max_moves_per_round;     /* handovers per call (16) */
    uint32_t queue_full_depth;        /* queue depth giving the full penalty (256; 0: off) */
    uint32_t queue_penalty_permille;  /* u added by a full queue (100) */
    uint32_t drop_penalty_permille;   /* u added if the core dropped anything (100) */
};

struct balance_move {
    uint32_t bucket;
    uint16_t from; /* owner now */
    uint16_t to;   /* owner after the move */
};

void balance_config_default(struct balance_config *cfg);

/* Capacity use u of one core, permille (formula above). */
uint32_t balance_use_permille(const struct balance_config *cfg,
                              const struct balance_core_figures *fig);

/* Imbalance index of one core, permille: max(idx_floor_permille, 1000 - u). */
uint32_t balance_index_permille(const struct balance_config *cfg,
                                const struct balance_core_figures *fig);

/* Share `total` units among n parties in proportion to weights[], exactly:
 * each gets >= min_each, the rest by largest remainder, ties to the lower
 * index; out[] sums to total. All-zero weights count as equal. n <=
 * BALANCE_MAX_CORES. 0, or -EINVAL (n == 0, n * min_each > total, NULLs). */
int balance_apportion(uint32_t total, const uint32_t *weights, uint32_t n, uint32_t min_each,
                      uint32_t *out);

/* Integer bucket targets of n_cores cores from their figures (seed 001 claim 5). */
int balance_targets(const struct balance_config *cfg, const struct balance_core_figures *fig,
                    uint32_t n_cores, uint32_t n_buckets, uint32_t *targets);

/* Initial ownership: bucket b -> core b % n_cores. */
int balance_initial(uint16_t *owner, uint32_t n_buckets, uint32_t n_cores);

/* counts[c] = number of buckets core c owns; -EINVAL if an owner is >= n_cores. */
int balance_counts(const uint16_t *owner, uint32_t n_buckets, uint32_t n_cores, uint32_t *counts);

/* Plan this round's moves into moves[] (see "Moves" above). bucket_load[b] is
 * the work measured in bucket b this interval, any unit, or NULL. Returns the
 * number of moves written (0..max_moves), or -EINVAL. owner is not changed. */
int balance_plan(const struct balance_config *cfg, const uint16_t *owner, uint32_t n_buckets,
                 const uint32_t *bucket_load, const struct balance_core_figures *fig,
                 uint32_t n_cores, struct balance_move *moves, uint32_t max_moves);

/* Apply moves to owner; -EINVAL (owner untouched) if a move's bucket is out of
 * range or its `from` is not the bucket's owner when its turn comes. */
int balance_apply(uint16_t *owner, uint32_t n_buckets, const struct balance_move *moves,
                  uint32_t n_moves);

#endif /* TOE_DISPATCH_BALANCE_H */
