/* toe-load's engine (see load.h): the run's phases, the connection slots,
 * issuing on the closed- or open-loop schedule, sending, timeouts. What a
 * received byte means in each mode is proto.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "load_internal.h"

uint64_t load_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool per_request_conn(const struct load_config *cfg)
{
    return cfg->mode == LOAD_CONNECT || cfg->mode == LOAD_BULK ||
           (cfg->mode == LOAD_HTTP && cfg->http_close);
}

/* Open loop: the intended time of schedule entry j of this core. Entry j
 * belongs to slot j % n_slots, so every slot has its own steady schedule. */
static uint64_t sched_time_ns(const struct load_core *lc, uint64_t j)
{
    return lc->t0_ns + (uint64_t)((double)j * 1e9 / lc->rate);
}

/* Whether slot s may issue a request now, and its latency base. */
static bool slot_due(const struct load_conn *s, uint64_t now, uint64_t *base)
{
    const struct load_core *lc = s->lc;
    uint64_t t;

    if (lc->phase != LOAD_RUN || (lc->max_requests && lc->c.issued >= lc->max_requests))
        return false;
    if (lc->rate == 0) {
        *base = now;
        return true;
    }
    t = sched_time_ns(lc, (s - lc->slots) + s->sched_k * lc->n_slots);
    if (t > now)
        return false;
    *base = t;
    return true;
}

static void slot_took(struct load_conn *s, uint64_t base, uint64_t now)
{
    struct load_core *lc = s->lc;

    if (s->sent == s->done)
        s->last_progress_ns = now; /* the response timeout starts now */
    s->base_ns[s->sent % lc->cfg->depth] = base;
    s->sent++;
    lc->c.issued++;
    if (lc->rate) {
        s->sched_k++;
        if (now - base > LOAD_LATE_NS)
            lc->c.late++;
    }
}

void load_slot_complete(struct load_conn *s, uint64_t now)
{
    struct load_core *lc = s->lc;
    uint64_t base = s->base_ns[s->done % lc->cfg->depth];

    s->done++;
    lc->c.requests_total++;
    lc->last_complete_ns = now;
    if (now >= lc->t_measure_ns && now < lc->t_end_ns) {
        lc->c.requests++;
        hist_record(lc->hist, now - base);
    }
}

/* Gives the connection back (FIN after what is queued) and forgets it. */
void load_slot_finish(struct load_conn *s)
{
    if (s->conn)
        toe_close(s->conn);
    s->conn = NULL;
    s->open = false;
}

/* A failure counted in *counter: reset the connection (if any is still
 * held), try again after LOAD_RETRY_NS. */
void load_slot_fail(struct load_conn *s, uint64_t *counter, uint64_t now)
{
    (*counter)++;
    if (s->conn)
        toe_abort(s->conn);
    s->conn = NULL;
    s->open = false;
    s->retry_ns = now + LOAD_RETRY_NS;
}

/* toe_send and its accounting: bytes taken, 0 when the buffer is full
 * (on_sent brings us back), -1 when the connection failed (counted, gone). */
static ssize_t slot_send(struct load_conn *s, const void *buf, size_t len)
{
    ssize_t n = toe_send(s->conn, buf, len);

    if (n == -EAGAIN)
        return 0;
    if (n < 0) {
        load_slot_fail(s, &s->lc->c.err.send, load_now_ns());
        return -1;
    }
    s->lc->c.bytes_sent += (uint64_t)n;
    return n;
}

/* Sends what the slot owes: the queued HTTP requests, or the pattern stream
 * up to tx_target. Half-closes a bulk transfer after its last byte. */
void load_slot_pump(struct load_conn *s)
{
    struct load_core *lc = s->lc;
    ssize_t n;

    while (s->conn && s->olen > s->ooff) {
        n = slot_send(s, s->obuf + s->ooff, s->olen - s->ooff);
        if (n <= 0)
            return;
        s->ooff += (uint32_t)n;
        if (s->ooff == s->olen)
            s->ooff = s->olen = 0;
    }
    while (s->conn && s->tx_off < s->tx_target) {
        size_t room = toe_conn_writable(s->conn);
        uint64_t len = s->tx_target - s->tx_off;

        if (len > room)
            len = room;
        if (len > LOAD_SCRATCH_BYTES)
            len = LOAD_SCRATCH_BYTES;
        if (len == 0)
            return; /* on_sent brings us back */
        pattern_fill(s->key, s->tx_off, lc->scratch, len);
        n = slot_send(s, lc->scratch, len);
        if (n <= 0)
            return;
        s->tx_off += (uint64_t)n;
    }
    if (s->conn && s->shut_after_tx && !s->shut && s->tx_off == s->tx_target) {
        toe_shutdown(s->conn);
        s->shut = true;
    }
}

static void slot_open(struct load_conn *s, uint64_t now)
{
    struct load_core *lc = s->lc;
    const struct load_config *cfg = lc->cfg;
    int rc;

    lc->c.connects++;
    rc = toe_connect(lc->stack, cfg->raddr, cfg->rport, &load_ops, s, &s->conn);
    if (rc < 0) {
        s->conn = NULL;
        load_slot_fail(s,
                       rc == -EADDRNOTAVAIL ? &lc->c.err.no_port
                       : rc == -ENETUNREACH ? &lc->c.err.unreachable
                                            : &lc->c.err.connect_other,
                       now);
        return;
    }
    s->gen++;
    s->key = pattern_key(cfg->seed, ((uint64_t)(lc->first_slot + (s - lc->slots)) << 32) | s->gen);
    s->open = s->shut = s->shut_after_tx = false;
    s->tx_off = s->tx_target = s->rx_off = 0;
    s->sent = s->done = 0;
    s->ooff = s->olen = 0;
    load_proto_reset(s);
    s->last_progress_ns = now;
}

/* Issues what is due on slot s: on a kept connection up to depth requests;
 * otherwise a new connection per request. */
void load_slot_kick(struct load_conn *s, uint64_t now)
{
    struct load_core *lc = s->lc;
    uint64_t base;

    if (lc->phase != LOAD_RUN)
        return;
    if (per_request_conn(lc->cfg)) {
        if (s->conn || now < s->retry_ns || !slot_due(s, now, &base))
            return;
        slot_open(s, now);
        if (s->conn)
            slot_took(s, base, now);
        return;
    }
    if (!s->conn) {
        if (now >= s->retry_ns)
            slot_open(s, now);
        return;
    }
    if (!s->open)
        return;
    while (s->sent - s->done < lc->cfg->depth && slot_due(s, now, &base)) {
        slot_took(s, base, now);
        load_proto_request(s);
    }
    load_slot_pump(s);
}

static bool slot_busy(const struct load_conn *s)
{
    if (!s->conn)
        return false;
    if (per_request_conn(s->lc->cfg))
        return true;
    return s->sent != s->done || s->olen || s->tx_off < s->tx_target || !s->open;
}

/* Every LOAD_SCAN_NS: connections that made no progress for timeout_ms,
 * slots waiting to reconnect. */
static int scan(struct load_core *lc, uint64_t now)
{
    uint64_t timeout_ns = (uint64_t)lc->cfg->timeout_ms * 1000000u;
    int work = 0;

    for (uint32_t i = 0; i < lc->n_slots; i++) {
        struct load_conn *s = &lc->slots[i];

        if (s->conn && !s->open && now - s->last_progress_ns >= timeout_ns) {
            load_slot_fail(s, &lc->c.err.connect_timeout, now);
            work++;
        } else if (slot_busy(s) && now - s->last_progress_ns >= timeout_ns) {
            load_slot_fail(s, &lc->c.err.response_timeout, now);
            work++;
        }
        if (!s->conn && lc->phase == LOAD_RUN && now >= s->retry_ns) {
            load_slot_kick(s, now);
            work++;
        }
    }
    lc->next_scan_ns = now + LOAD_SCAN_NS;
    return work;
}

/* The primer: slot 0 connects alone (see enum load_phase). */
static void start(struct load_core *lc, uint64_t now)
{
    lc->started = true;
    lc->phase = LOAD_PRIME;
    lc->t_phase_end_ns = now + (uint64_t)lc->cfg->timeout_ms * 1000000u;
    slot_open(&lc->slots[0], now);
}

/* The primer is through (or failed, or out of time): the clock starts and
 * every slot opens. A slot that opens a connection per request closes the
 * primer (no data went over it); a kept connection simply stays. */
static void begin_run(struct load_core *lc, uint64_t now)
{
    struct load_conn *s0 = &lc->slots[0];

    if (s0->conn && !s0->open)
        load_slot_fail(s0, &lc->c.err.connect_timeout, now);
    else if (s0->conn && per_request_conn(lc->cfg))
        load_slot_finish(s0);
    s0->retry_ns = 0;
    lc->phase = LOAD_RUN;
    lc->t0_ns = now;
    lc->t_measure_ns = now + lc->cfg->warmup_us * 1000u;
    lc->t_end_ns = lc->t_measure_ns + lc->cfg->duration_us * 1000u;
    lc->next_scan_ns = now + LOAD_SCAN_NS;
    lc->sched_seq = 0;
    lc->sched_next_ns = now;
    for (uint32_t i = 0; i < lc->n_slots; i++)
        load_slot_kick(&lc->slots[i], now);
}

/* Open loop: every schedule entry that came due kicks its slot (a slot that
 * is still busy catches up when its responses come). */
static int advance_schedule(struct load_core *lc, uint64_t now)
{
    int work = 0;

    while (lc->sched_next_ns <= now && lc->phase == LOAD_RUN) {
        load_slot_kick(&lc->slots[lc->sched_seq % lc->n_slots], now);
        lc->sched_seq++;
        lc->sched_next_ns = sched_time_ns(lc, lc->sched_seq);
        work++;
    }
    return work;
}

static void enter_drain(struct load_core *lc, uint64_t now)
{
    lc->phase = LOAD_DRAIN;
    lc->by_time = now >= lc->t_end_ns;
    lc->t_phase_end_ns = now + (uint64_t)lc->cfg->timeout_ms * 1000000u;
}

/* Drained (or out of time): what is still outstanding is an error; every
 * connection is closed with FIN, then the stack gets LOAD_LINGER_NS to
 * finish the closes before the run ends. */
static void enter_linger(struct load_core *lc, uint64_t now)
{
    for (uint32_t i = 0; i < lc->n_slots; i++) {
        struct load_conn *s = &lc->slots[i];

        if (slot_busy(s)) {
            lc->c.err.unfinished += s->sent > s->done ? s->sent - s->done : 1;
            toe_abort(s->conn);
            s->conn = NULL;
        }
        load_slot_finish(s);
    }
    lc->win_end_ns = lc->by_time ? lc->t_end_ns : now;
    if (lc->win_end_ns > lc->t_end_ns)
        lc->win_end_ns = lc->t_end_ns;
    if (!lc->by_time && lc->last_complete_ns && lc->last_complete_ns < lc->win_end_ns)
        lc->win_end_ns = lc->last_complete_ns;
    lc->phase = LOAD_LINGER;
    lc->t_phase_end_ns = now + LOAD_LINGER_NS;
}

int load_core_poll(struct load_core *lc)
{
    uint64_t now = load_now_ns();
    int work = 0;
    bool idle = true;

    if (!lc->started) {
        start(lc, now);
        work++;
    }
    if (lc->phase == LOAD_PRIME &&
        (lc->slots[0].open || !lc->slots[0].conn || now >= lc->t_phase_end_ns)) {
        begin_run(lc, now);
        work++;
    }
    if (lc->phase == LOAD_RUN) {
        if (lc->rate)
            work += advance_schedule(lc, now);
        if (now >= lc->t_end_ns || (lc->max_requests && lc->c.issued >= lc->max_requests))
            enter_drain(lc, now);
    }
    if ((lc->phase == LOAD_RUN || lc->phase == LOAD_DRAIN) && now >= lc->next_scan_ns)
        work += scan(lc, now);
    if (lc->phase == LOAD_DRAIN) {
        for (uint32_t i = 0; i < lc->n_slots && idle; i++)
            idle = !slot_busy(&lc->slots[i]);
        if (idle || now >= lc->t_phase_end_ns)
            enter_linger(lc, now);
    }
    if (lc->phase == LOAD_LINGER && now >= lc->t_phase_end_ns)
        lc->phase = LOAD_DONE;
    __atomic_store_n(&lc->progress_done, lc->c.requests_total, __ATOMIC_RELAXED);
    return work;
}

uint64_t load_core_next_us(const struct load_core *lc)
{
    uint64_t next = UINT64_MAX;

    if (!lc->started)
        return 0;
    switch (lc->phase) {
    case LOAD_PRIME:
        next = lc->t_phase_end_ns;
        break;
    case LOAD_RUN:
        next = lc->next_scan_ns < lc->t_end_ns ? lc->next_scan_ns : lc->t_end_ns;
        if (lc->rate && lc->sched_next_ns < next)
            next = lc->sched_next_ns;
        break;
    case LOAD_DRAIN:
        next = lc->next_scan_ns < lc->t_phase_end_ns ? lc->next_scan_ns : lc->t_phase_end_ns;
        break;
    case LOAD_LINGER:
        next = lc->t_phase_end_ns;
        break;
    case LOAD_DONE:
        return UINT64_MAX;
    }
    return next / 1000u;
}

bool load_core_done(const struct load_core *lc)
{
    return lc->phase == LOAD_DONE;
}

/* Slot i of n_cores goes to core i % n_cores; rate and request bound are
 * shared out the same way. */
static uint64_t share(uint64_t total, uint32_t core, uint32_t n_cores)
{
    return total / n_cores + (core < total % n_cores ? 1 : 0);
}

int load_core_init(struct load_core *lc, const struct load_config *cfg, struct toe_stack *stack,
                   uint32_t core, uint32_t n_cores)
{
    memset(lc, 0, sizeof(*lc));
    lc->cfg = cfg;
    lc->stack = stack;
    lc->core = core;
    lc->n_slots = (uint32_t)share(cfg->conns, core, n_cores);
    lc->first_slot = 0;
    for (uint32_t c = 0; c < core; c++)
        lc->first_slot += (uint32_t)share(cfg->conns, c, n_cores);
    lc->rate = cfg->rate * (double)lc->n_slots / (double)cfg->conns;
    lc->max_requests = cfg->max_requests ? share(cfg->max_requests, core, n_cores) : 0;
    if (cfg->max_requests && !lc->max_requests)
        lc->n_slots = 0; /* nothing to do here */
    lc->hist = malloc(sizeof(*lc->hist));
    lc->scratch = malloc(LOAD_SCRATCH_BYTES);
    lc->expect = malloc(LOAD_SCRATCH_BYTES);
    lc->slots = calloc(lc->n_slots ? lc->n_slots : 1, sizeof(*lc->slots));
    if (!lc->hist || !lc->scratch || !lc->expect || !lc->slots)
        goto fail;
    hist_init(lc->hist);
    for (uint32_t i = 0; i < lc->n_slots; i++) {
        lc->slots[i].lc = lc;
        lc->slots[i].base_ns = calloc(cfg->depth, sizeof(uint64_t));
        if (!lc->slots[i].base_ns || load_proto_slot_init(&lc->slots[i]) < 0)
            goto fail;
    }
    if (lc->n_slots == 0) {
        lc->started = true;
        lc->phase = LOAD_DONE;
    }
    return 0;
fail:
    load_core_release(lc);
    return -ENOMEM;
}

void load_core_release(struct load_core *lc)
{
    for (uint32_t i = 0; lc->slots && i < lc->n_slots; i++) {
        free(lc->slots[i].base_ns);
        load_proto_slot_release(&lc->slots[i]);
    }
    free(lc->slots);
    free(lc->hist);
    free(lc->scratch);
    free(lc->expect);
    lc->slots = NULL;
    lc->hist = NULL;
    lc->scratch = lc->expect = NULL;
}

uint64_t load_errors_sum(const struct load_errors *e)
{
    const uint64_t *v = (const uint64_t *)e;
    uint64_t sum = 0;

    for (size_t i = 0; i < sizeof(*e) / sizeof(uint64_t); i++)
        sum += v[i];
    return sum;
}

void load_counters_add(struct load_counters *a, const struct load_counters *b)
{
    uint64_t *x = (uint64_t *)a;
    const uint64_t *y = (const uint64_t *)b;

    /* Every field is a uint64_t (struct load_errors too). */
    for (size_t i = 0; i < sizeof(*a) / sizeof(uint64_t); i++)
        x[i] += y[i];
}
