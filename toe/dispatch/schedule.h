/* toe/dispatch/schedule.h: flow schedule vectors that place new connections
 * on the cores of an app group, and the listen port -> group table (seed 000).
 *
 * Model
 *   Listening ports belong to app groups; a group is a set of cores running the
 *   same application (seed 000 claims 11-14) with its own flow schedule: a
 *   vector of core ids stepped through in order, back to the start after the
 *   end (claims 3-5, 29). A new connection (SYN to a listening port) goes to
 *   schedule_next(group's schedule) (claim 1: "consulting a flow schedule
 *   associated with the identified processor group, and transferring the
 *   request ... based on the associated flow schedule"). The group comes from
 *   the port table (claims 16, 17, 26, 34). Existing flows are not affected:
 *   they stay where their bucket or association puts them.
 *
 * Port table
 *   A flat array of 65536 uint8 group ids indexed by the TCP port (host byte
 *   order): one load, no hashing, no collisions, no probe bound to reason about,
 *   64 KiB that the dispatcher reads only on SYNs. Unset ports map to group 0,
 *   the default group. Up to 256 groups.
 *
 * Weights (claims 6, 7, 35-37: "computing a flow schedule based on intrinsic
 * data ... CPU utilization, memory utilization, packet loss, and queue length",
 * "historic performance data", "presently existing data"; claim 10: filtered),
 * per core, from a present and a historic sample (both already filtered by the
 * caller, e.g. two EWMAs of toe/dispatch/filter.h, a fast and a slow one):
 *
 *     load(s)  = min(1000, max(cpu_busy_permille, mem_used_permille)
 *                          + queue_penalty_permille * min(queue_len, queue_full_len)
 *                                                   / queue_full_len
 *                          + (drops > 0 ? drop_penalty_permille : 0))
 *     load     = ((1000 - hist_weight_permille) * load(now)
 *                 + hist_weight_permille * load(hist)) / 1000
 *     weight   = max(floor_weight_permille, 1000 - load)      (spare capacity)
 *
 *   Why: a core is limited by whichever of CPU and memory runs out first (a
 *   core out of socket memory shrinks windows, seed 004), hence the max; queue
 *   and loss are demand beyond what busy time shows (as in balance.h). The
 *   historic term damps a momentary spike so the schedule does not swing every
 *   interval; the present term lets it react. The floor keeps a saturated core
 *   in the vector: it still gets a trickle of new connections, so its figures
 *   stay fresh and it is back in play as soon as it has room. All integer
 *   arithmetic, floors.
 *
 * Vector (schedule_fill())
 *   Core i gets slots_i = vec_len * w_i / sum w slots, made exact by largest
 *   remainder (balance_apportion(), ties to the lower position in the group),
 *   at least one slot per core (why: the floor above; hence vec_len >=
 *   n_cores). The slots are interleaved by smooth weighted round robin (as in
 *   nginx: each step every core adds its slot count to its current value, the
 *   largest current value wins, ties to the lower position, and the winner
 *   subtracts vec_len): over vec_len steps each core is chosen exactly slots_i
 *   times, and its picks are spread out instead of coming in runs, so a burst of
 *   SYNs is spread over the group. Deterministic. schedule_init() builds the
 *   initial schedule from equal weights (claims 15, 25): plain round robin.
 *
 * Cursor: schedule_fill()/schedule_compute() keep the cursor (mod vec_len), so
 * stepping continues where it was instead of favouring the vector's head after
 * every recompute. The control thread computes into a copy and publishes it;
 * the dispatcher that steps the cursor owns it. Nothing here is thread-safe.
 *
 * Errors: -EINVAL (NULLs, n_cores 0 or > SCHEDULE_MAX_CORES, duplicate cores,
 * vec_len < n_cores or > SCHEDULE_MAX_VEC, figure count != n_cores, port 0).
 */
#ifndef TOE_DISPATCH_SCHEDULE_H
#define TOE_DISPATCH_SCHEDULE_H

#include <stdint.h>

#define SCHEDULE_MAX_CORES 64u
#define SCHEDULE_MAX_VEC   256u
#define SCHEDULE_VEC_LEN   64u /* suggested vec_len */

/* One filtered sample of a core's figures. */
struct schedule_sample {
    uint32_t cpu_busy_permille; /* 0..1000 */
    uint32_t mem_used_permille; /* socket memory in use of its limit, 0..1000 */
    uint32_t queue_len;         /* input ring occupancy, entries */
    uint32_t drops;             /* drops in the interval */
};

struct schedule_core_figures {
    struct schedule_sample now;  /* present: fast filter */
    struct schedule_sample hist; /* historic: slow filter */
};

struct schedule_config {
    uint32_t hist_weight_permille;   /* share of the historic load (default 300) */
    uint32_t floor_weight_permille;  /* least weight of a core (default 20) */
    uint32_t queue_full_len;         /* queue length giving the full penalty (256; 0: off) */
    uint32_t queue_penalty_permille; /* load added by a full queue (100) */
    uint32_t drop_penalty_permille;  /* load added if the core dropped (100) */
};

struct flow_schedule {
    uint32_t n_cores;
    uint32_t vec_len;
    uint32_t cursor;                    /* next entry of vec to hand out */
    uint16_t cores[SCHEDULE_MAX_CORES]; /* the group's cores (stack-wide ids) */
    uint32_t slots[SCHEDULE_MAX_CORES]; /* times cores[i] appears in vec */
    uint16_t vec[SCHEDULE_MAX_VEC];     /* core ids, stepped in order */
};

struct schedule_groups {
    uint8_t group_of_port[65536]; /* TCP port (host order) -> app group; 0: default */
};

void schedule_config_default(struct schedule_config *cfg);

/* Load of one sample, permille (formula above). */
uint32_t schedule_sample_load_permille(const struct schedule_config *cfg,
                                       const struct schedule_sample *s);

/* Weight of one core: max(floor, 1000 - blended load), permille. */
uint32_t schedule_core_weight(const struct schedule_config *cfg,
                              const struct schedule_core_figures *fig);

/* Set up a group over cores[0..n_cores) with the initial (equal weights)
 * schedule and the cursor at 0. */
int schedule_init(struct flow_schedule *s, const uint16_t *cores, uint32_t n_cores,
                  uint32_t vec_len);

/* Rebuild the vector from one weight per group core (any scale; all zero =
 * equal). */
int schedule_fill(struct flow_schedule *s, const uint32_t *weights);

/* Rebuild the vector from the group's figures, fig[i] for cores[i]. */
int schedule_compute(struct flow_schedule *s, const struct schedule_config *cfg,
                     const struct schedule_core_figures *fig, uint32_t n_fig);

/* The core for the next new connection; O(1). s must be initialised. */
static inline uint16_t schedule_next(struct flow_schedule *s)
{
    uint16_t core = s->vec[s->cursor];

    if (++s->cursor == s->vec_len)
        s->cursor = 0;
    return core;
}

/* All ports to group 0. */
void schedule_groups_init(struct schedule_groups *g);

/* Map a listening port to a group (0 puts it back to the default). */
int schedule_groups_set(struct schedule_groups *g, uint16_t port, uint8_t group);

static inline uint8_t schedule_groups_lookup(const struct schedule_groups *g, uint16_t port)
{
    return g->group_of_port[port];
}

#endif /* TOE_DISPATCH_SCHEDULE_H */
