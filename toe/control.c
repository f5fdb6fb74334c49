/* The control thread's rounds: figures in, bucket moves out (control.h). */
#include "toe/control.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "toe/core_msg.h"
#include "toe/dispatch/balance.h"
#include "toe/dispatch/filter.h"
#include "toe/dispatch/schedule.h"
#include "toe/stack_internal.h"

/* EWMA weight of the newest interval: about the last 4 intervals count,
 * so one burst does not move buckets but a lasting skew does within a
 * second at the default 100 ms interval. */
#define CONTROL_EWMA_ALPHA 0.5
/* The historic figure of flow schedules (schedule.h): about the last 20
 * intervals. */
#define CONTROL_EWMA_HIST_ALPHA 0.1

struct control_core {
    uint64_t prev_busy_ns, prev_events, prev_drops;
    struct ewma busy;
    struct ewma busy_hist;    /* slow: the schedule's historic figure */
    struct control_core_view view;
};

struct toe_control {
    pthread_mutex_t lock;     /* guards view/cores[].view for readers */
    uint64_t interval_us;
    uint64_t next_us;         /* deterministic mode */
    struct balance_config bcfg;
    struct control_core *cores;
    uint16_t *owner;          /* snapshot of the bucket table */
    uint32_t *load;           /* events per bucket this interval */
    uint32_t *prev_load;      /* n_cores * n_buckets: last readings */
    struct balance_move *moves;
    struct balance_core_figures *fig;
    struct schedule_config scfg;
    struct schedule_core_figures *sfig; /* the data class's cores, in order */
    struct flow_schedule sched[SCHED_MAX]; /* computed here, then published */
    uint16_t *ctrl_owner;               /* owner[] as positions among control cores */
    struct balance_core_figures *ctrl_fig;
    struct control_view view;
};

int control_create(struct toe_stack *stack)
{
    struct toe_control *ctl = calloc(1, sizeof(*ctl));
    uint32_t nb = stack->n_buckets, nc = stack->n_cores;

    if (!ctl)
        return -ENOMEM;
    stack->control = ctl;
    pthread_mutex_init(&ctl->lock, NULL);
    ctl->interval_us = (uint64_t)stack->cfg.balance_interval_ms * 1000;
    ctl->next_us = ctl->interval_us;
    balance_config_default(&ctl->bcfg);
    ctl->cores = calloc(nc, sizeof(*ctl->cores));
    ctl->owner = calloc(nb, sizeof(*ctl->owner));
    ctl->load = calloc(nb, sizeof(*ctl->load));
    ctl->prev_load = calloc((size_t)nc * nb, sizeof(*ctl->prev_load));
    ctl->moves = calloc(ctl->bcfg.max_moves_per_round, sizeof(*ctl->moves));
    ctl->fig = calloc(nc, sizeof(*ctl->fig));
    ctl->sfig = calloc(nc, sizeof(*ctl->sfig));
    ctl->ctrl_owner = calloc(nb, sizeof(*ctl->ctrl_owner));
    ctl->ctrl_fig = calloc(nc, sizeof(*ctl->ctrl_fig));
    if (!ctl->cores || !ctl->owner || !ctl->load || !ctl->prev_load || !ctl->moves ||
        !ctl->fig || !ctl->sfig || !ctl->ctrl_owner || !ctl->ctrl_fig)
        return -ENOMEM;
    schedule_config_default(&ctl->scfg);
    memcpy(ctl->sched, stack->sched, sizeof(ctl->sched));
    return 0;
}

void control_destroy(struct toe_stack *stack)
{
    struct toe_control *ctl = stack->control;

    if (!ctl)
        return;
    pthread_mutex_destroy(&ctl->lock);
    free(ctl->cores);
    free(ctl->owner);
    free(ctl->load);
    free(ctl->prev_load);
    free(ctl->moves);
    free(ctl->fig);
    free(ctl->sfig);
    free(ctl->ctrl_owner);
    free(ctl->ctrl_fig);
    free(ctl);
    stack->control = NULL;
}

static uint32_t permille(uint64_t part, uint64_t whole)
{
    if (!whole)
        return 0;
    uint64_t p = part * 1000 / whole;
    return p > 1000 ? 1000 : (uint32_t)p;
}

/* Reads core i's figures for the interval that just ended. */
static void gather_core(struct toe_stack *stack, struct toe_control *ctl, uint32_t i)
{
    struct toe_core *core = stack->cores[i];
    struct control_core *cc = &ctl->cores[i];
    uint64_t busy_ns = atomic_load_explicit(&core->fig.busy_ns, memory_order_relaxed);
    uint64_t events = atomic_load_explicit(&core->fig.events, memory_order_relaxed);
    uint64_t drops = atomic_load_explicit(&core->fig.drops, memory_order_relaxed);
    uint64_t d_events = events - cc->prev_events;
    uint32_t raw;

    if (stack->started)
        raw = permille(busy_ns - cc->prev_busy_ns, ctl->interval_us * 1000);
    else
        raw = permille(d_events * 1000000 / ctl->interval_us,
                       stack->cfg.sim_core_events_per_s ? stack->cfg.sim_core_events_per_s
                                                        : 100000);
    ewma_update(&cc->busy, raw, CONTROL_EWMA_ALPHA);
    ewma_update(&cc->busy_hist, raw, CONTROL_EWMA_HIST_ALPHA);
    cc->view.busy_raw_permille = raw;
    cc->view.busy_permille = (uint32_t)(cc->busy.value + 0.5);
    cc->view.queue_depth =
        (uint32_t)atomic_load_explicit(&core->fig.queue_depth, memory_order_relaxed);
    cc->view.drops = (uint32_t)(drops - cc->prev_drops);
    cc->view.buckets =
        (uint32_t)atomic_load_explicit(&core->fig.buckets_owned, memory_order_relaxed);
    cc->view.events = d_events;
    cc->prev_busy_ns = busy_ns;
    cc->prev_events = events;
    cc->prev_drops = drops;

    ctl->fig[i].busy_permille = cc->view.busy_permille;
    ctl->fig[i].queue_depth = cc->view.queue_depth;
    ctl->fig[i].drops = cc->view.drops;

    /* Events per bucket: the core's counters only grow; the difference is
     * this interval's. A bucket that moved shows on both cores. */
    uint32_t *prev = &ctl->prev_load[(size_t)i * stack->n_buckets];
    for (uint32_t b = 0; b < stack->n_buckets; b++) {
        uint32_t now = atomic_load_explicit(&core->bucket_load[b], memory_order_relaxed);
        ctl->load[b] += now - prev[b];
        prev[b] = now;
    }
}

/* Buckets belong to the control class's cores: the plan is made over
 * them alone (positions in stack->ctrl_cores), then mapped back. */
static void plan_bucket_moves(struct toe_stack *stack, struct toe_control *ctl)
{
    uint32_t nb = stack->n_buckets, n = stack->n_ctrl;
    uint16_t pos_of[TOE_MAX_CORES];

    if (n < 2)
        return;
    for (uint32_t k = 0; k < n; k++) {
        pos_of[stack->ctrl_cores[k]] = (uint16_t)k;
        ctl->ctrl_fig[k] = ctl->fig[stack->ctrl_cores[k]];
    }
    for (uint32_t b = 0; b < nb; b++)
        ctl->ctrl_owner[b] =
            pos_of[atomic_load_explicit(&stack->bucket_owner[b], memory_order_acquire)];
    int moves = balance_plan(&ctl->bcfg, ctl->ctrl_owner, nb, ctl->load, ctl->ctrl_fig, n,
                             ctl->moves, ctl->bcfg.max_moves_per_round);
    for (int i = 0; i < moves; i++) {
        int rc = control_move_bucket(stack, ctl->moves[i].bucket,
                                     stack->ctrl_cores[ctl->moves[i].to]);
        pthread_mutex_lock(&ctl->lock);
        if (rc == 0)
            ctl->view.moves_asked++;
        else if (rc == -EBUSY)
            ctl->view.moves_skipped_busy++;
        pthread_mutex_unlock(&ctl->lock);
    }
}

/* Class k's flow schedule from its cores' filtered figures, present (fast
 * EWMA) and historic (slow EWMA), published for the cores that place flows
 * with it: handovers (the data class, handover.c), new connections (the
 * control class, dispatcher.c). */
static void publish_schedule(struct toe_stack *stack, struct toe_control *ctl, unsigned k)
{
    struct flow_schedule *s = &ctl->sched[k];

    for (uint32_t j = 0; j < s->n_cores; j++) {
        const struct control_core *cc = &ctl->cores[s->cores[j]];
        struct schedule_core_figures *f = &ctl->sfig[j];
        f->now.cpu_busy_permille = cc->view.busy_permille;
        f->now.queue_len = cc->view.queue_depth;
        f->now.drops = cc->view.drops;
        f->hist = f->now;
        f->hist.cpu_busy_permille = (uint32_t)(cc->busy_hist.value + 0.5);
        f->hist.drops = 0;
    }
    if (schedule_compute(s, &ctl->scfg, ctl->sfig, s->n_cores) != 0)
        return;
    pthread_mutex_lock(&stack->sched_lock);
    stack->sched[k] = *s;
    atomic_fetch_add_explicit(&stack->sched_version, 1, memory_order_release);
    pthread_mutex_unlock(&stack->sched_lock);
}

void stack_sched_copy(struct toe_stack *stack, unsigned k, struct core_sched *cs)
{
    uint64_t v = atomic_load_explicit(&stack->sched_version, memory_order_acquire);

    if (v == cs->version)
        return;
    uint32_t cursor = cs->s.cursor;
    pthread_mutex_lock(&stack->sched_lock);
    cs->s = stack->sched[k];
    cs->version = atomic_load_explicit(&stack->sched_version, memory_order_relaxed);
    pthread_mutex_unlock(&stack->sched_lock);
    cs->s.cursor = cursor % cs->s.vec_len;
}

/* One round: gather, filter, plan, ask the owners. */
static void control_round(struct toe_stack *stack)
{
    struct toe_control *ctl = stack->control;
    uint32_t nb = stack->n_buckets, nc = stack->n_cores;

    pthread_mutex_lock(&ctl->lock);
    memset(ctl->load, 0, nb * sizeof(*ctl->load));
    uint32_t lo = 1000, hi = 0;
    for (uint32_t i = 0; i < nc; i++) {
        gather_core(stack, ctl, i);
        uint32_t b = ctl->cores[i].view.busy_permille;
        lo = b < lo ? b : lo;
        hi = b > hi ? b : hi;
    }
    ctl->view.spread_permille = hi - lo;
    ctl->view.rounds++;
    pthread_mutex_unlock(&ctl->lock);

    if (nc == 1 || ctl->interval_us == 0)
        return;
    if (stack->classes_split)
        publish_schedule(stack, ctl, SCHED_DATA);
    if (stack->cfg.schedule_new_flows)
        publish_schedule(stack, ctl, SCHED_DEFAULT);
    for (uint32_t g = 1; g <= stack->cfg.n_groups; g++)
        if (!stack->cfg.groups[g - 1].hash)
            publish_schedule(stack, ctl, SCHED_GROUP(g));
    plan_bucket_moves(stack, ctl);
}

int control_move_bucket(struct toe_stack *stack, uint32_t bucket, uint32_t to)
{
    uint8_t idle = 0;

    if (bucket >= stack->n_buckets || to >= stack->n_cores || stack->n_cores == 1)
        return -EINVAL;
    /* One move of a bucket at a time: its new owner clears the flag. */
    if (!atomic_compare_exchange_strong(&stack->bucket_moving[bucket], &idle, 1))
        return -EBUSY;
    uint32_t from = atomic_load_explicit(&stack->bucket_owner[bucket], memory_order_acquire);
    if (from == to) {
        atomic_store(&stack->bucket_moving[bucket], 0);
        return -EINVAL;
    }
    struct core_msg *m = control_msg_reserve(stack, from, CORE_MSG_MOVE_REQ);
    if (!m) {
        atomic_store(&stack->bucket_moving[bucket], 0);
        return -ENOBUFS;
    }
    m->bucket = bucket;
    m->to = to;
    control_msg_commit(stack, from);
    return 0;
}

void control_poll(struct toe_stack *stack, uint64_t now_us)
{
    struct toe_control *ctl = stack->control;

    if (!ctl || ctl->interval_us == 0 || stack->n_cores == 1)
        return;
    while (now_us >= ctl->next_us) {
        control_round(stack);
        ctl->next_us += ctl->interval_us;
    }
}

void *control_thread_main(void *arg)
{
    struct toe_stack *stack = arg;
    struct toe_control *ctl = stack->control;
    struct timespec next;

    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&stack->stop)) {
        /* Sleep in slices of at most 50 ms so a stop is seen quickly. */
        uint64_t left_us = ctl->interval_us;
        while (left_us && !atomic_load(&stack->stop)) {
            uint64_t step = left_us < 50000 ? left_us : 50000;
            next.tv_nsec += (long)(step * 1000);
            while (next.tv_nsec >= 1000000000L) {
                next.tv_nsec -= 1000000000L;
                next.tv_sec++;
            }
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
            left_us -= step;
        }
        if (!atomic_load(&stack->stop))
            control_round(stack);
    }
    return NULL;
}

void control_view_get(struct toe_stack *stack, struct control_view *v,
                      struct control_core_view *cores, uint32_t n)
{
    struct toe_control *ctl = stack->control;

    pthread_mutex_lock(&ctl->lock);
    if (v)
        *v = ctl->view;
    for (uint32_t i = 0; cores && i < n && i < stack->n_cores; i++)
        cores[i] = ctl->cores[i].view;
    pthread_mutex_unlock(&ctl->lock);
}
