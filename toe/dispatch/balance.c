/* toe/dispatch/balance.c: bucket targets from the imbalance index and the
 * per-round bucket moves that even out the cores' load (seeds 001/002). The
 * formulas and the reasons are in balance.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "toe/dispatch/balance.h"
#include "toe/dispatch/load.h"

void balance_config_default(struct balance_config *cfg)
{
    *cfg = (struct balance_config){
        .min_buckets = 1,
        .idx_floor_permille = 10,
        .spread_trigger_permille = 150,
        .slack_buckets = 2,
        .max_moves_per_round = 16,
        .queue_full_depth = 256,
        .queue_penalty_permille = 100,
        .drop_penalty_permille = 100,
    };
}

uint32_t balance_use_permille(const struct balance_config *cfg,
                              const struct balance_core_figures *fig)
{
    return load_permille(fig->busy_permille, fig->queue_depth, cfg->queue_full_depth,
                         cfg->queue_penalty_permille, fig->drops, cfg->drop_penalty_permille);
}

uint32_t balance_index_permille(const struct balance_config *cfg,
                                const struct balance_core_figures *fig)
{
    uint32_t spare = 1000 - balance_use_permille(cfg, fig);

    return spare > cfg->idx_floor_permille ? spare : cfg->idx_floor_permille;
}

static bool is_pow2(uint32_t x)
{
    return x && !(x & (x - 1));
}

int balance_apportion(uint32_t total, const uint32_t *weights, uint32_t n, uint32_t min_each,
                      uint32_t *out)
{
    bool pinned[BALANCE_MAX_CORES] = {false};
    bool all_zero = true;
    uint64_t rest = total; /* units not yet given to pinned parties */
    uint64_t wsum;         /* weight of the parties not pinned */
    uint64_t given = 0;
    uint32_t i;

    if (!weights || !out || n == 0 || n > BALANCE_MAX_CORES || (uint64_t)n * min_each > total)
        return -EINVAL;
    for (i = 0; i < n; i++)
        all_zero &= weights[i] == 0;
#define W(i) ((uint64_t)(all_zero ? 1 : weights[i]))

    /* Pin to min_each every party whose share is below it and re-share the
     * rest; pinning gives more than the share, so the others' shares fall and
     * may fall below min_each in turn. Not everyone can be pinned (the shares
     * sum to `rest` >= min_each per party), so at most n rounds. floor(q) <
     * min_each <=> q < min_each, as min_each is an integer. */
    for (;;) {
        bool changed = false;

        wsum = 0;
        for (i = 0; i < n; i++)
            if (!pinned[i])
                wsum += W(i);
        for (i = 0; i < n; i++) {
            if (!pinned[i] && rest * W(i) / wsum < min_each) {
                pinned[i] = true;
                out[i] = min_each;
                changed = true;
            }
        }
        if (!changed)
            break;
        rest = total;
        for (i = 0; i < n; i++)
            if (pinned[i])
                rest -= min_each;
    }

    /* rest * W fits: rest < 2^32, W < 2^32. */
    for (i = 0; i < n; i++) {
        if (!pinned[i]) {
            out[i] = (uint32_t)(rest * W(i) / wsum);
            given += out[i];
        }
    }
    /* Fewer leftover units than unpinned parties (each remainder < 1 unit):
     * one each to the largest remainders, same denominator, ties low index. */
    for (; given < rest; given++) {
        uint32_t best = n;
        uint64_t best_rem = 0;

        for (i = 0; i < n; i++) {
            uint64_t rem;

            if (pinned[i])
                continue;
            rem = rest * W(i) % wsum;
            if (best == n || rem > best_rem) {
                best = i;
                best_rem = rem;
            }
        }
        out[best]++;
        pinned[best] = true; /* at most one extra unit each */
    }
#undef W
    return 0;
}

int balance_targets(const struct balance_config *cfg, const struct balance_core_figures *fig,
                    uint32_t n_cores, uint32_t n_buckets, uint32_t *targets)
{
    uint32_t idx[BALANCE_MAX_CORES];
    uint32_t i;

    if (!cfg || !fig || !targets || n_cores == 0 || n_cores > BALANCE_MAX_CORES ||
        !is_pow2(n_buckets) || n_buckets > BALANCE_MAX_BUCKETS || cfg->idx_floor_permille > 1000)
        return -EINVAL;
    for (i = 0; i < n_cores; i++)
        idx[i] = balance_index_permille(cfg, &fig[i]);
    return balance_apportion(n_buckets, idx, n_cores, cfg->min_buckets, targets);
}

int balance_initial(uint16_t *owner, uint32_t n_buckets, uint32_t n_cores)
{
    uint32_t b;

    if (!owner || n_cores == 0 || n_cores > BALANCE_MAX_CORES || !is_pow2(n_buckets) ||
        n_buckets > BALANCE_MAX_BUCKETS)
        return -EINVAL;
    for (b = 0; b < n_buckets; b++)
        owner[b] = (uint16_t)(b % n_cores);
    return 0;
}

int balance_counts(const uint16_t *owner, uint32_t n_buckets, uint32_t n_cores, uint32_t *counts)
{
    uint32_t b;

    if (!owner || !counts || n_cores == 0 || n_cores > BALANCE_MAX_CORES)
        return -EINVAL;
    for (b = 0; b < n_cores; b++)
        counts[b] = 0;
    for (b = 0; b < n_buckets; b++) {
        if (owner[b] >= n_cores)
            return -EINVAL;
        counts[owner[b]]++;
    }
    return 0;
}

int balance_apply(uint16_t *owner, uint32_t n_buckets, const struct balance_move *moves,
                  uint32_t n_moves)
{
    uint32_t i;

    if (!owner || (n_moves && !moves))
        return -EINVAL;
    for (i = 0; i < n_moves; i++) {
        if (moves[i].bucket >= n_buckets || owner[moves[i].bucket] != moves[i].from)
            goto undo;
        owner[moves[i].bucket] = moves[i].to;
    }
    return 0;
undo:
    while (i--)
        owner[moves[i].bucket] = moves[i].from;
    return -EINVAL;
}

/* What balance_plan() projects while it picks one round's moves. */
struct plan_state {
    const struct balance_config *cfg;
    const uint16_t *owner;
    const uint32_t *bucket_load; /* NULL: judge by counts */
    uint32_t n_buckets, n_cores;
    uint64_t total_load;
    uint32_t targets[BALANCE_MAX_CORES];
    uint32_t counts[BALANCE_MAX_CORES];
    int64_t use_ppm[BALANCE_MAX_CORES]; /* u in parts per million: projections keep precision */
    uint64_t load[BALANCE_MAX_CORES];
    double excess[BALANCE_MAX_CORES]; /* size - target, in buckets */
    struct balance_move *moves;
    uint32_t n_moves;
};

static bool moved_already(const struct plan_state *s, uint32_t bucket)
{
    for (uint32_t m = 0; m < s->n_moves; m++)
        if (s->moves[m].bucket == bucket)
            return true;
    return false;
}

/* The donor's bucket to hand to a receiver `gap_ppm` less busy, and the u it
 * carries; false if no bucket keeps 2x <= gap. */
static bool pick_bucket(const struct plan_state *s, uint32_t from, int64_t gap_ppm,
                        uint32_t *bucket, int64_t *x_ppm)
{
    uint32_t b, best = s->n_buckets;
    uint32_t best_load = 0;

    if (!s->bucket_load) {
        int64_t x = s->use_ppm[from] / s->counts[from];

        if (2 * x > gap_ppm)
            return false;
        for (b = 0; b < s->n_buckets; b++) {
            if (s->owner[b] == from && !moved_already(s, b)) {
                *bucket = b;
                *x_ppm = x;
                return true;
            }
        }
        return false;
    }
    if (!s->load[from])
        return false;
    for (b = 0; b < s->n_buckets; b++) {
        uint32_t l = s->bucket_load[b];
        int64_t x;

        if (s->owner[b] != from || l <= best_load || moved_already(s, b))
            continue; /* not the donor's, weightless, no better (ties keep the lower index) */
        /* l <= load[from]: the donor still holds this bucket's load. */
        x = (int64_t)((uint64_t)l * (uint64_t)s->use_ppm[from] / s->load[from]);
        if (2 * x > gap_ppm)
            continue;
        best = b;
        best_load = l;
        *x_ppm = x;
    }
    if (best == s->n_buckets)
        return false;
    *bucket = best;
    return true;
}

/* Choose one move from the projected state and project it; false if none. */
static bool plan_one(struct plan_state *s)
{
    const double slack = s->cfg->slack_buckets;
    bool tried[BALANCE_MAX_CORES] = {false};
    uint32_t i;

    for (i = 0; i < s->n_cores; i++) {
        double size = s->bucket_load
                          ? (double)s->n_buckets * (double)s->load[i] / (double)s->total_load
                          : (double)s->counts[i];
        s->excess[i] = size - (double)s->targets[i];
    }
    for (;;) {
        uint32_t from = s->n_cores, to = s->n_cores, bucket;
        int64_t x_ppm = 0;

        /* Donor: the untried core most over its target. */
        for (i = 0; i < s->n_cores; i++)
            if (!tried[i] && s->excess[i] > 0 && s->counts[i] > s->cfg->min_buckets &&
                (from == s->n_cores || s->excess[i] > s->excess[from]))
                from = i;
        if (from == s->n_cores)
            return false;
        tried[from] = true;
        /* Receiver: the core most under its target among the less busy. */
        for (i = 0; i < s->n_cores; i++)
            if (s->excess[i] < 0 && s->use_ppm[i] < s->use_ppm[from] &&
                (to == s->n_cores || s->excess[i] < s->excess[to]))
                to = i;
        if (to == s->n_cores || (s->excess[from] <= slack && -s->excess[to] <= slack))
            continue;
        if (!pick_bucket(s, from, s->use_ppm[from] - s->use_ppm[to], &bucket, &x_ppm))
            continue;
        s->moves[s->n_moves++] =
            (struct balance_move){.bucket = bucket, .from = (uint16_t)from, .to = (uint16_t)to};
        s->use_ppm[from] -= x_ppm;
        s->use_ppm[to] += x_ppm;
        s->counts[from]--;
        s->counts[to]++;
        if (s->bucket_load) {
            s->load[from] -= s->bucket_load[bucket];
            s->load[to] += s->bucket_load[bucket];
        }
        return true;
    }
}

int balance_plan(const struct balance_config *cfg, const uint16_t *owner, uint32_t n_buckets,
                 const uint32_t *bucket_load, const struct balance_core_figures *fig,
                 uint32_t n_cores, struct balance_move *moves, uint32_t max_moves)
{
    struct plan_state s = {
        .cfg = cfg,
        .owner = owner,
        .bucket_load = bucket_load,
        .n_buckets = n_buckets,
        .n_cores = n_cores,
        .moves = moves,
    };
    uint32_t u_min = 1000, u_max = 0, limit, i;
    int rc;

    if (!cfg || !owner || !fig || (max_moves && !moves))
        return -EINVAL;
    rc = balance_targets(cfg, fig, n_cores, n_buckets, s.targets);
    if (rc)
        return rc;
    rc = balance_counts(owner, n_buckets, n_cores, s.counts);
    if (rc)
        return rc;
    for (i = 0; i < n_cores; i++) {
        uint32_t u = balance_use_permille(cfg, &fig[i]);

        u_min = u < u_min ? u : u_min;
        u_max = u > u_max ? u : u_max;
        s.use_ppm[i] = (int64_t)u * 1000;
    }
    if (u_max - u_min <= cfg->spread_trigger_permille)
        return 0;
    if (bucket_load) {
        for (i = 0; i < n_buckets; i++) {
            s.load[owner[i]] += bucket_load[i];
            s.total_load += bucket_load[i];
        }
        if (!s.total_load)
            s.bucket_load = NULL; /* nothing measured: judge by counts */
    }
    limit = max_moves < cfg->max_moves_per_round ? max_moves : cfg->max_moves_per_round;
    while (s.n_moves < limit && plan_one(&s))
        ;
    return (int)s.n_moves;
}
