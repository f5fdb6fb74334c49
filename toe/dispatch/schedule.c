/* toe/dispatch/schedule.c: flow schedule vectors for app groups, weighted by
 * the cores' spare capacity and interleaved by smooth weighted round robin,
 * and the port -> group table (seed 000). Formulas and reasons: schedule.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "toe/dispatch/balance.h"
#include "toe/dispatch/load.h"
#include "toe/dispatch/schedule.h"

void schedule_config_default(struct schedule_config *cfg)
{
    *cfg = (struct schedule_config){
        .hist_weight_permille = 300,
        .floor_weight_permille = 20,
        .queue_full_len = 256,
        .queue_penalty_permille = 100,
        .drop_penalty_permille = 100,
    };
}

uint32_t schedule_sample_load_permille(const struct schedule_config *cfg,
                                       const struct schedule_sample *s)
{
    uint32_t busy =
        s->cpu_busy_permille > s->mem_used_permille ? s->cpu_busy_permille : s->mem_used_permille;

    return load_permille(busy, s->queue_len, cfg->queue_full_len, cfg->queue_penalty_permille,
                         s->drops, cfg->drop_penalty_permille);
}

uint32_t schedule_core_weight(const struct schedule_config *cfg,
                              const struct schedule_core_figures *fig)
{
    uint64_t hist_w = cfg->hist_weight_permille > 1000 ? 1000 : cfg->hist_weight_permille;
    uint64_t load = ((1000 - hist_w) * schedule_sample_load_permille(cfg, &fig->now) +
                     hist_w * schedule_sample_load_permille(cfg, &fig->hist)) /
                    1000;
    uint32_t spare = 1000 - (uint32_t)load;

    return spare > cfg->floor_weight_permille ? spare : cfg->floor_weight_permille;
}

int schedule_fill(struct flow_schedule *s, const uint32_t *weights)
{
    int32_t current[SCHEDULE_MAX_CORES] = {0};
    uint32_t i, k;
    int rc;

    if (!s || !weights || s->n_cores == 0 || s->n_cores > SCHEDULE_MAX_CORES ||
        s->vec_len < s->n_cores || s->vec_len > SCHEDULE_MAX_VEC)
        return -EINVAL;
    rc = balance_apportion(s->vec_len, weights, s->n_cores, 1, s->slots);
    if (rc)
        return rc;
    /* Smooth WRR over the slot counts: after vec_len steps every current
     * value is back to 0 and core i has won exactly slots[i] times. */
    for (k = 0; k < s->vec_len; k++) {
        uint32_t best = 0;

        for (i = 0; i < s->n_cores; i++) {
            current[i] += (int32_t)s->slots[i];
            if (current[i] > current[best])
                best = i;
        }
        current[best] -= (int32_t)s->vec_len;
        s->vec[k] = s->cores[best];
    }
    s->cursor %= s->vec_len;
    return 0;
}

int schedule_init(struct flow_schedule *s, const uint16_t *cores, uint32_t n_cores,
                  uint32_t vec_len)
{
    uint32_t ones[SCHEDULE_MAX_CORES];
    uint32_t i, j;

    if (!s || !cores || n_cores == 0 || n_cores > SCHEDULE_MAX_CORES || vec_len < n_cores ||
        vec_len > SCHEDULE_MAX_VEC)
        return -EINVAL;
    for (i = 0; i < n_cores; i++)
        for (j = 0; j < i; j++)
            if (cores[i] == cores[j])
                return -EINVAL;
    memset(s, 0, sizeof(*s));
    s->n_cores = n_cores;
    s->vec_len = vec_len;
    for (i = 0; i < n_cores; i++) {
        s->cores[i] = cores[i];
        ones[i] = 1;
    }
    return schedule_fill(s, ones);
}

int schedule_compute(struct flow_schedule *s, const struct schedule_config *cfg,
                     const struct schedule_core_figures *fig, uint32_t n_fig)
{
    uint32_t w[SCHEDULE_MAX_CORES];
    uint32_t i;

    if (!s || !cfg || !fig || n_fig != s->n_cores || n_fig > SCHEDULE_MAX_CORES)
        return -EINVAL;
    for (i = 0; i < n_fig; i++)
        w[i] = schedule_core_weight(cfg, &fig[i]);
    return schedule_fill(s, w);
}

void schedule_groups_init(struct schedule_groups *g)
{
    memset(g->group_of_port, 0, sizeof(g->group_of_port));
}

int schedule_groups_set(struct schedule_groups *g, uint16_t port, uint8_t group)
{
    if (!g || port == 0)
        return -EINVAL; /* port 0 is never a listening port */
    g->group_of_port[port] = group;
    return 0;
}
