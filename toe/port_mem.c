/* The in-memory port (see port_mem.h): two ends joined by two one-way wires.
 * Each wire is a min-heap of frames keyed by delivery time (ties in send
 * order), a FIFO of serialization finish times for the rate limit and queue
 * limit, and its own seeded PRNG so one direction's traffic never changes the
 * other's faults. Per frame, in order: queue limit (tail drop), serialization,
 * burst loss, independent loss, corruption, reordering, duplication. */
#include <toe/port_mem.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct mem_buf {
    uint32_t len;
    uint8_t data[];
};

struct wire_item {
    uint64_t at_us;
    uint64_t order;
    struct mem_buf *buf;
};

struct mem_dir {
    struct port_mem_dir_config cfg;
    struct port_mem_dir_stats stats;
    struct wire_item *heap;
    uint32_t n, heap_cap;
    uint64_t order;
    uint64_t link_free_us;   /* when the link finishes the last queued frame */
    uint64_t *backlog;       /* ring of finish times of frames at the link */
    uint32_t bl_head, bl_n, bl_cap;
    bool in_burst;
    uint64_t rng[4];         /* xoshiro256** state */
};

struct mem_pair;

struct mem_port {
    struct port port; /* first: struct port * casts to struct mem_port * */
    struct mem_pair *pair;
    struct mem_dir *tx, *rx;
    uint32_t tx_out;  /* tx frames lent out */
};

struct mem_pair {
    struct mem_port end[2];
    struct mem_dir dir[2]; /* [0]: a -> b, [1]: b -> a */
    uint64_t now_us;
    const uint64_t *clock_us;
    uint32_t frame_cap;
    uint32_t tx_limit;
};

/* ---- PRNG: splitmix64 seeding xoshiro256** (Blackman & Vigna) ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1) with 53 bits. */
static double rng_unit(uint64_t s[4])
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static bool rng_chance(uint64_t s[4], double p)
{
    return p > 0 && rng_unit(s) < p;
}

/* ---- heap of frames on a wire ---- */

static bool item_before(const struct wire_item *x, const struct wire_item *y)
{
    return x->at_us < y->at_us || (x->at_us == y->at_us && x->order < y->order);
}

static int heap_push(struct mem_dir *d, uint64_t at_us, struct mem_buf *buf)
{
    if (d->n == d->heap_cap) {
        uint32_t cap = d->heap_cap ? d->heap_cap * 2 : 64;
        if (cap > PORT_MEM_MAX_IN_FLIGHT)
            cap = PORT_MEM_MAX_IN_FLIGHT;
        if (cap <= d->heap_cap)
            return -ENOBUFS;
        struct wire_item *h = realloc(d->heap, cap * sizeof(*h));
        if (!h)
            return -ENOMEM;
        d->heap = h;
        d->heap_cap = cap;
    }
    struct wire_item it = {.at_us = at_us, .order = d->order++, .buf = buf};
    uint32_t i = d->n++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!item_before(&it, &d->heap[parent]))
            break;
        d->heap[i] = d->heap[parent];
        i = parent;
    }
    d->heap[i] = it;
    return 0;
}

static struct mem_buf *heap_pop(struct mem_dir *d)
{
    struct mem_buf *top = d->heap[0].buf;
    struct wire_item last = d->heap[--d->n];
    uint32_t i = 0;

    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= d->n)
            break;
        if (c + 1 < d->n && item_before(&d->heap[c + 1], &d->heap[c]))
            c++;
        if (!item_before(&d->heap[c], &last))
            break;
        d->heap[i] = d->heap[c];
        i = c;
    }
    if (d->n)
        d->heap[i] = last;
    return top;
}

/* ---- the wire ---- */

static uint64_t pair_now(const struct mem_pair *pr)
{
    return pr->clock_us ? *pr->clock_us : pr->now_us;
}

static struct mem_buf *buf_alloc(uint32_t cap)
{
    return malloc(sizeof(struct mem_buf) + cap);
}

static void wire_put(struct mem_dir *d, uint64_t at_us, struct mem_buf *b)
{
    if (heap_push(d, at_us, b) != 0) {
        d->stats.queue_drops++;
        free(b);
    }
}

/* Takes ownership of b (len already set). */
static void wire_send(struct mem_pair *pr, struct mem_dir *d, struct mem_buf *b)
{
    const struct port_mem_dir_config *c = &d->cfg;
    uint64_t now = pair_now(pr);
    uint64_t finish = now;

    d->stats.sent++;
    d->stats.bytes_sent += b->len;

    /* Queue limit: with a rate limit it bounds the frames waiting for (or on)
     * the link, like a router's tail-drop queue; without one, the frames on
     * their way to the receiver. */
    while (d->bl_n && d->backlog[d->bl_head] <= now) {
        d->bl_head = (d->bl_head + 1) % d->bl_cap;
        d->bl_n--;
    }
    uint32_t occupancy = c->rate_bps ? d->bl_n : d->n;
    if (occupancy >= d->bl_cap || d->n >= PORT_MEM_MAX_IN_FLIGHT) {
        d->stats.queue_drops++;
        free(b);
        return;
    }
    if (c->rate_bps) {
        uint64_t start = d->link_free_us > now ? d->link_free_us : now;
        uint64_t bits = (uint64_t)b->len * 8;
        finish = start + (bits * 1000000 + c->rate_bps - 1) / c->rate_bps;
        d->link_free_us = finish;
        d->backlog[(d->bl_head + d->bl_n) % d->bl_cap] = finish;
        d->bl_n++;
    }

    if (d->in_burst) {
        /* Geometric burst length with mean burst_mean_len. */
        double mean = c->burst_mean_len > 1 ? c->burst_mean_len : 1;
        if (rng_chance(d->rng, 1.0 - 1.0 / mean)) {
            d->stats.burst_dropped++;
            free(b);
            return;
        }
        d->in_burst = false;
    } else if (rng_chance(d->rng, c->burst_start_prob)) {
        d->in_burst = true;
        d->stats.burst_dropped++;
        free(b);
        return;
    }
    if (rng_chance(d->rng, c->drop_prob)) {
        d->stats.dropped++;
        free(b);
        return;
    }
    if (rng_chance(d->rng, c->corrupt_prob) && b->len > 14) {
        uint64_t bit = rng_next(d->rng) % ((uint64_t)(b->len - 14) * 8);
        b->data[14 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        d->stats.corrupted++;
    }
    uint64_t at = finish + c->delay_us;
    if (rng_chance(d->rng, c->reorder_prob)) {
        at += c->reorder_delay_us;
        d->stats.reordered++;
    }
    struct mem_buf *dup = NULL;
    if (rng_chance(d->rng, c->dup_prob)) {
        dup = buf_alloc(pr->frame_cap);
        if (dup) {
            dup->len = b->len;
            memcpy(dup->data, b->data, b->len);
            d->stats.duplicated++;
        }
    }
    wire_put(d, at, b);
    if (dup)
        wire_put(d, at, dup);
}

/* ---- port ops ---- */

static struct mem_port *to_mem(struct port *p)
{
    return (struct mem_port *)p;
}

static uint32_t mem_rx_burst(struct port *p, struct port_frame *frames, uint32_t max)
{
    struct mem_port *mp = to_mem(p);
    struct mem_dir *d = mp->rx;
    uint64_t now = pair_now(mp->pair);
    uint32_t n = 0;

    while (n < max && d->n && d->heap[0].at_us <= now) {
        struct mem_buf *b = heap_pop(d);
        frames[n].data = b->data;
        frames[n].len = b->len;
        frames[n].handle = (uint64_t)(uintptr_t)b;
        d->stats.delivered++;
        d->stats.bytes_delivered += b->len;
        p->stats.rx_frames++;
        p->stats.rx_bytes += b->len;
        n++;
    }
    if (!n)
        p->stats.rx_empty++;
    return n;
}

static void mem_rx_release(struct port *p, const struct port_frame *frames, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        free((struct mem_buf *)(uintptr_t)frames[i].handle);
}

static uint32_t mem_tx_alloc(struct port *p, struct port_frame *frames, uint32_t n)
{
    struct mem_port *mp = to_mem(p);
    uint32_t i;

    for (i = 0; i < n && mp->tx_out < mp->pair->tx_limit; i++) {
        struct mem_buf *b = buf_alloc(mp->pair->frame_cap);
        if (!b)
            break;
        b->len = 0;
        frames[i].data = b->data;
        frames[i].len = 0;
        frames[i].handle = (uint64_t)(uintptr_t)b;
        mp->tx_out++;
    }
    if (i < n)
        p->stats.tx_alloc_fail++;
    return i;
}

static uint32_t mem_tx_submit(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct mem_port *mp = to_mem(p);

    for (uint32_t i = 0; i < n; i++) {
        struct mem_buf *b = (struct mem_buf *)(uintptr_t)frames[i].handle;
        mp->tx_out--;
        if (frames[i].len == 0 || frames[i].len > mp->pair->frame_cap) {
            p->stats.drops++;
            free(b);
            continue;
        }
        b->len = frames[i].len;
        p->stats.tx_frames++;
        p->stats.tx_bytes += b->len;
        wire_send(mp->pair, mp->tx, b);
    }
    return n;
}

static void mem_tx_free(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct mem_port *mp = to_mem(p);

    for (uint32_t i = 0; i < n; i++) {
        free((struct mem_buf *)(uintptr_t)frames[i].handle);
        mp->tx_out--;
    }
}

static const struct port_ops mem_ops = {
    .rx_burst = mem_rx_burst,
    .rx_release = mem_rx_release,
    .tx_alloc = mem_tx_alloc,
    .tx_submit = mem_tx_submit,
    .tx_free = mem_tx_free,
};

/* ---- setup ---- */

static bool mac_is_zero(const uint8_t mac[6])
{
    static const uint8_t zero[6];
    return memcmp(mac, zero, 6) == 0;
}

static int dir_init(struct mem_dir *d, const struct port_mem_dir_config *cfg, uint64_t seed)
{
    d->cfg = *cfg;
    d->bl_cap = cfg->queue_limit_frames ? cfg->queue_limit_frames : PORT_MEM_DEFAULT_QUEUE_LIMIT;
    d->backlog = calloc(d->bl_cap, sizeof(*d->backlog));
    if (!d->backlog)
        return -ENOMEM;
    for (int i = 0; i < 4; i++)
        d->rng[i] = splitmix64(&seed);
    return 0;
}

static void dir_fini(struct mem_dir *d)
{
    while (d->n)
        free(heap_pop(d));
    free(d->heap);
    free(d->backlog);
}

int port_mem_pair_create(const struct port_mem_config *cfg, struct port **a, struct port **b)
{
    static const uint8_t def_mac[2][6] = {{0x02, 0, 0, 0, 0, 0x0a}, {0x02, 0, 0, 0, 0, 0x0b}};
    struct mem_pair *pr;
    int err;

    if (!cfg || !a || !b)
        return -EINVAL;
    if (cfg->frame_cap_bytes && cfg->frame_cap_bytes < 64)
        return -EINVAL;
    pr = calloc(1, sizeof(*pr));
    if (!pr)
        return -ENOMEM;
    pr->clock_us = cfg->clock_us;
    pr->frame_cap = cfg->frame_cap_bytes ? cfg->frame_cap_bytes : PORT_MEM_DEFAULT_FRAME_CAP;
    pr->tx_limit = cfg->tx_frames ? cfg->tx_frames : 4096;
    err = dir_init(&pr->dir[0], &cfg->a_to_b, cfg->seed ^ 0x61u);
    if (err)
        goto err_pair;
    err = dir_init(&pr->dir[1], &cfg->b_to_a, cfg->seed ^ 0x6200u);
    if (err)
        goto err_dir0;

    for (int i = 0; i < 2; i++) {
        struct mem_port *mp = &pr->end[i];
        const uint8_t *mac = i == 0 ? cfg->mac_a : cfg->mac_b;
        mp->port.ops = &mem_ops;
        mp->port.name = i == 0 ? "mem-a" : "mem-b";
        memcpy(mp->port.mac, mac_is_zero(mac) ? def_mac[i] : mac, 6);
        mp->port.mtu_bytes = cfg->mtu_bytes ? cfg->mtu_bytes : PORT_MEM_DEFAULT_MTU;
        mp->port.frame_cap_bytes = pr->frame_cap;
        mp->port.caps = 0; /* nothing verified: the parser checks every checksum */
        mp->pair = pr;
        mp->tx = &pr->dir[i];
        mp->rx = &pr->dir[1 - i];
    }
    *a = &pr->end[0].port;
    *b = &pr->end[1].port;
    return 0;

err_dir0:
    dir_fini(&pr->dir[0]);
err_pair:
    free(pr);
    return err;
}

void port_mem_pair_destroy(struct port *p)
{
    if (!p)
        return;
    struct mem_pair *pr = to_mem(p)->pair;
    dir_fini(&pr->dir[0]);
    dir_fini(&pr->dir[1]);
    free(pr);
}

void port_mem_set_now(struct port *p, uint64_t now_us)
{
    struct mem_pair *pr = to_mem(p)->pair;
    if (now_us > pr->now_us)
        pr->now_us = now_us;
}

uint64_t port_mem_now(const struct port *p)
{
    return pair_now(((const struct mem_port *)p)->pair);
}

uint64_t port_mem_next_rx_us(const struct port *p)
{
    const struct mem_dir *d = ((const struct mem_port *)p)->rx;
    return d->n ? d->heap[0].at_us : UINT64_MAX;
}

uint32_t port_mem_pending(const struct port *p)
{
    return ((const struct mem_port *)p)->rx->n;
}

const struct port_mem_dir_stats *port_mem_tx_stats(const struct port *p)
{
    return &((const struct mem_port *)p)->tx->stats;
}

const struct port_mem_dir_stats *port_mem_rx_stats(const struct port *p)
{
    return &((const struct mem_port *)p)->rx->stats;
}

int port_mem_send_raw(struct port *p, const void *data, uint32_t len)
{
    struct port_frame f;

    if (len == 0 || len > p->frame_cap_bytes)
        return -EMSGSIZE;
    if (port_tx_alloc(p, &f, 1) != 1)
        return -ENOBUFS;
    memcpy(f.data, data, len);
    f.len = len;
    port_tx_submit(p, &f, 1);
    return 0;
}

int port_mem_recv_raw(struct port *p, void *buf, uint32_t cap)
{
    struct port_frame f;
    int ret;

    if (port_rx_burst(p, &f, 1) != 1)
        return 0;
    if (f.len > cap) {
        ret = -ENOSPC;
    } else {
        memcpy(buf, f.data, f.len);
        ret = (int)f.len;
    }
    port_rx_release(p, &f, 1);
    return ret;
}
