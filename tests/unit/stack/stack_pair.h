/* Two stacks joined by the in-memory port under a virtual clock: creating
 * and destroying the pair, the step that polls both and, when neither had
 * work, jumps the clock to the next timer or frame arrival, and the loop of
 * steps until a condition holds. Shared by the stack tests (test_stack_e2e.c,
 * test_stack_api.c) and tests/netsim. */
#ifndef TOE_TESTS_STACK_PAIR_H
#define TOE_TESTS_STACK_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include <toe/port_mem.h>
#include <toe/toe.h>

static inline uint64_t stack_pair_min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Stack a on port pa with address ip_a and cfg->seed, then stack b on pb
 * with ip_b and cfg->seed + 1, the rest of cfg alike. On failure nothing
 * is left created. Returns 0 or -errno. */
static inline int stack_pair_create(struct toe_stack_config *cfg, struct port *pa,
                                    struct port *pb, uint32_t ip_a, uint32_t ip_b,
                                    struct toe_stack **a, struct toe_stack **b)
{
    int rc;

    cfg->ipv4_addr = ip_a;
    rc = toe_stack_create(cfg, pa, a);
    if (rc != 0)
        return rc;
    cfg->ipv4_addr = ip_b;
    cfg->seed = cfg->seed + 1;
    rc = toe_stack_create(cfg, pb, b);
    if (rc != 0) {
        toe_stack_destroy(*a);
        *a = NULL;
    }
    return rc;
}

/* Undoes stack_pair_create and the port pair: a, b, then the ports. */
static inline void stack_pair_destroy(struct toe_stack *a, struct toe_stack *b, struct port *pa)
{
    toe_stack_destroy(a);
    toe_stack_destroy(b);
    port_mem_pair_destroy(pa);
}

/* Polls a, then b, at *now_us. Returns 1 when either did work (the clock
 * stays), 0 when neither did and *now_us moved to the next timer or frame
 * arrival on pa/pb (at least 1 us on), -1 when nothing is pending (the
 * clock stays). The caller sets the ports' clock. */
static inline int stack_pair_step(struct toe_stack *a, struct toe_stack *b, struct port *pa,
                                  struct port *pb, uint64_t *now_us)
{
    int work = toe_stack_poll(a, *now_us);

    work += toe_stack_poll(b, *now_us);
    if (work)
        return 1;
    uint64_t next =
        stack_pair_min64(stack_pair_min64(toe_stack_next_timer_us(a), toe_stack_next_timer_us(b)),
                         stack_pair_min64(port_mem_next_rx_us(pa), port_mem_next_rx_us(pb)));
    if (next == UINT64_MAX)
        return -1;
    *now_us = next > *now_us ? next : *now_us + 1;
    return 0;
}

/* Steps the pair (setting pa's clock to *now_us before each step) until
 * done(ctx), nothing is pending, or the clock passes limit_us. */
static inline void stack_pair_run(struct toe_stack *a, struct toe_stack *b, struct port *pa,
                                  struct port *pb, uint64_t *now_us, bool (*done)(void *ctx),
                                  void *ctx, uint64_t limit_us)
{
    for (uint64_t iter = 0; iter < 50000000 && !done(ctx); iter++) {
        port_mem_set_now(pa, *now_us);
        int step = stack_pair_step(a, b, pa, pb, now_us);
        if (step < 0 || (step == 0 && *now_us > limit_us))
            break;
    }
}

#endif
