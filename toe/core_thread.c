/* Threaded mode: one pinned thread per core and the control thread
 * (toe_stack_start / toe_stack_stop), the core's loop, and the idle sleep.
 *
 * An idle core sleeps in poll() on its port's descriptor (frames), its
 * eventfd (messages from other cores, the control thread, a stop) and the
 * app's descriptor, until its next timer -- it does not spin, unless
 * cfg.busy_poll. So more core threads than CPUs still work: a sleeping core
 * costs nothing, and a producer wakes it through the eventfd.
 *
 * The sleep protocol (no lost wakeup): the core stores sleeping = true
 * (seq_cst), then looks at its rings once more and sleeps only if they are
 * empty; a producer publishes its message, then (seq_cst fence) reads
 * sleeping and writes the eventfd if set (core_wake). One of the two always
 * sees the other. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "toe/control.h"
#include "toe/core_msg.h"
#include "toe/stack_internal.h"

#define IDLE_SPINS   64  /* empty rounds before sleeping */
#define MAX_SLEEP_MS 100 /* a stop or a clock step is seen within this */

static __thread struct toe_core *tls_core;

void stack_current_set(struct toe_core *core)
{
    tls_core = core;
}

int toe_stack_current_core(const struct toe_stack *stack)
{
    return tls_core && tls_core->stack == stack ? (int)tls_core->index : -1;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Start-up handshake: every core runs its init hook, then all start or
 * none does. */
struct start_sync {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint32_t inited;
    uint32_t left;      /* threads past the wait: sync may go away after */
    int first_err;
    bool go, abort;
};

struct core_start {
    struct toe_core *core;
    struct start_sync *sync;
};

static int pin_self(int cpu)
{
    cpu_set_t set;

    if (cpu < 0)
        return 0;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static uint64_t core_next_us(struct toe_core *core)
{
    struct toe_stack *stack = core->stack;
    uint64_t next = core_next_timer_us(core);

    if (stack->hooks.next_us) {
        uint64_t a = stack->hooks.next_us(stack, core->index, stack->hooks_arg);
        if (a < next)
            next = a;
    }
    return next;
}

static void core_sleep(struct toe_core *core)
{
    struct toe_stack *stack = core->stack;
    struct pollfd pfd[3];
    nfds_t n = 0;
    uint64_t sleep_us = (uint64_t)MAX_SLEEP_MS * 1000;

    port_kick(core->port); /* copy-mode TX leaves inside sendto() */
    /* After this store, core_next_us() looks at the rings a last time. */
    atomic_store(&core->sleeping, true);
    uint64_t now_us = mono_ns() / 1000, next = core_next_us(core);
    if (next <= now_us || atomic_load(&stack->stop)) {
        atomic_store(&core->sleeping, false);
        return;
    }
    /* To the microsecond (ppoll): a timer or an app deadline (an open-loop
     * load generator's next send) is not rounded up to a millisecond. */
    if (next - now_us < sleep_us)
        sleep_us = next - now_us;
    int fd = core->own_port ? port_fd(core->port) : -1;
    if (fd >= 0)
        pfd[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    pfd[n++] = (struct pollfd){.fd = core->efd, .events = POLLIN};
    if (stack->hooks.fd) {
        int afd = stack->hooks.fd(stack, core->index, stack->hooks_arg);
        if (afd >= 0)
            pfd[n++] = (struct pollfd){.fd = afd, .events = POLLIN};
    }
    struct timespec ts = {.tv_sec = (time_t)(sleep_us / 1000000),
                          .tv_nsec = (long)(sleep_us % 1000000) * 1000};
    ppoll(pfd, n, &ts, NULL);
    atomic_store(&core->sleeping, false);
    uint64_t drain;
    while (read(core->efd, &drain, sizeof(drain)) > 0)
        ;
}

static void core_loop(struct toe_core *core)
{
    struct toe_stack *stack = core->stack;
    uint32_t idle = 0;

    while (!atomic_load_explicit(&stack->stop, memory_order_relaxed)) {
        uint64_t t0 = mono_ns();
        int work = core_poll(core, t0 / 1000);
        if (stack->hooks.poll)
            work += stack->hooks.poll(stack, core->index, t0 / 1000, stack->hooks_arg);
        if (work > 0) {
            fig_add64(&core->fig.busy_ns, mono_ns() - t0);
            idle = 0;
            continue;
        }
        if (stack->cfg.busy_poll || ++idle < IDLE_SPINS) {
            if (!stack->cfg.busy_poll)
                sched_yield(); /* share a CPU with other core threads */
            port_kick(core->port);
            continue;
        }
        core_sleep(core);
    }
}

static void *core_thread_main(void *arg)
{
    struct core_start *cs = arg;
    struct toe_core *core = cs->core;
    struct start_sync *sync = cs->sync;
    struct toe_stack *stack = core->stack;
    int rc;

    free(cs);
    tls_core = core;
    rc = pin_self(stack->cfg.cpus[core->index]);
    if (rc == 0 && stack->hooks.init)
        rc = stack->hooks.init(stack, core->index, stack->hooks_arg);
    pthread_mutex_lock(&sync->lock);
    if (rc && !sync->first_err)
        sync->first_err = rc;
    sync->inited++;
    pthread_cond_broadcast(&sync->cond);
    while (!sync->go && !sync->abort)
        pthread_cond_wait(&sync->cond, &sync->lock);
    bool run = sync->go;
    sync->left++;
    pthread_cond_broadcast(&sync->cond);
    pthread_mutex_unlock(&sync->lock);

    if (run)
        core_loop(core);
    /* Whatever the last round left in the TX batch leaves now. */
    core_tx_flush(core);
    port_kick(core->port);
    if (stack->hooks.fini)
        stack->hooks.fini(stack, core->index, stack->hooks_arg);
    core_publish(core); /* a snapshot after toe_stack_stop is exact */
    tls_core = NULL;
    return NULL;
}

static void stop_threads(struct toe_stack *stack)
{
    atomic_store(&stack->stop, true);
    for (uint32_t i = 0; i < stack->n_cores; i++) {
        struct toe_core *core = stack->cores[i];
        if (!core->thread_up)
            continue;
        uint64_t one = 1;
        if (write(core->efd, &one, sizeof(one)) < 0) {
            /* EAGAIN: already signalled; it wakes within MAX_SLEEP_MS anyway */
        }
        pthread_join(core->thread, NULL);
        core->thread_up = false;
    }
    if (stack->control_up) {
        pthread_join(stack->control_thread, NULL);
        stack->control_up = false;
    }
}

static int start_cores(struct toe_stack *stack, struct start_sync *sync, uint32_t *made)
{
    for (*made = 0; *made < stack->n_cores; (*made)++) {
        struct toe_core *core = stack->cores[*made];
        struct core_start *cs = malloc(sizeof(*cs));
        if (!cs)
            return -ENOMEM;
        cs->core = core;
        cs->sync = sync;
        int rc = pthread_create(&core->thread, NULL, core_thread_main, cs);
        if (rc) {
            free(cs);
            return -rc;
        }
        core->thread_up = true;
    }
    return 0;
}

int toe_stack_start(struct toe_stack *stack, const struct toe_core_hooks *hooks, void *arg)
{
    struct start_sync sync = {.first_err = 0};
    uint32_t made;
    int rc;

    if (!stack)
        return -EINVAL;
    if (stack->started)
        return -EALREADY;
    for (uint32_t i = 0; i < stack->n_cores; i++)
        if (stack->cores[i]->efd < 0) {
            /* One core: no rings, but the thread still wants a wakeup. */
            stack->cores[i]->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            if (stack->cores[i]->efd < 0)
                return -errno;
        }
    if (hooks)
        stack->hooks = *hooks;
    stack->hooks_arg = arg;
    atomic_store(&stack->stop, false);
    pthread_mutex_init(&sync.lock, NULL);
    pthread_cond_init(&sync.cond, NULL);
    stack->started = true;

    rc = start_cores(stack, &sync, &made);
    pthread_mutex_lock(&sync.lock);
    while (sync.inited < made)
        pthread_cond_wait(&sync.cond, &sync.lock);
    if (!rc)
        rc = sync.first_err;
    if (rc)
        sync.abort = true;
    else
        sync.go = true;
    pthread_cond_broadcast(&sync.cond);
    while (sync.left < made)
        pthread_cond_wait(&sync.cond, &sync.lock);
    pthread_mutex_unlock(&sync.lock);

    if (!rc && stack->n_cores > 1 && stack->cfg.balance_interval_ms) {
        rc = -pthread_create(&stack->control_thread, NULL, control_thread_main, stack);
        stack->control_up = rc == 0;
    }
    if (rc) {
        stop_threads(stack);
        stack->started = false;
    }
    pthread_cond_destroy(&sync.cond);
    pthread_mutex_destroy(&sync.lock);
    return rc;
}

void toe_stack_stop(struct toe_stack *stack)
{
    if (!stack || !stack->started)
        return;
    stop_threads(stack);
    stack->started = false;
}
