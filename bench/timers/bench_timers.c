/* bench_timers: ns per add / cancel / mod / expire of the timing wheel
 * (timers/wheel.h) beside a binary-heap timer queue, with 1,000,000 live
 * timers. Not a test: run by hand, prints a table.
 *
 *   bench_timers [timers] [rounds]
 *
 * Expiries are uniform in [1 ms, 60 s) from now, 1 ms ticks. add, cancel and
 * mod are measured in steady state: batches of 100,000 random live timers are
 * cancelled then re-added (so ~1M stay live), or moved (mod, like an RTO
 * restart). expire steps time 1 ms at a time until all have fired, and is
 * reported per timer fired, the per-tick work included. Best of `rounds`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timers/wheel.h"

#define MS      1000ull
#define SPAN_US (60000 * MS)
#define BATCH   100000u

static uint64_t rng = 0x853c49e6748fea9bull;
static uint64_t fired;

static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Binary min-heap of node pointers, keys copied beside them so sifting reads
 * no node; each node knows its index, so cancel is O(log n). */
struct hnode {
    uint64_t expiry_us;
    uint32_t idx; /* UINT32_MAX when not queued */
};

struct hent {
    uint64_t key;
    struct hnode *node;
};

struct heap {
    struct hent *a;
    size_t len;
};

static void heap_set(struct heap *h, size_t i, struct hent e)
{
    h->a[i] = e;
    e.node->idx = i;
}

static void heap_sift_up(struct heap *h, size_t i, struct hent e)
{
    while (i) {
        size_t p = (i - 1) / 2;

        if (h->a[p].key <= e.key)
            break;
        heap_set(h, i, h->a[p]);
        i = p;
    }
    heap_set(h, i, e);
}

static void heap_sift_down(struct heap *h, size_t i, struct hent e)
{
    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= h->len)
            break;
        if (c + 1 < h->len && h->a[c + 1].key < h->a[c].key)
            c++;
        if (e.key <= h->a[c].key)
            break;
        heap_set(h, i, h->a[c]);
        i = c;
    }
    heap_set(h, i, e);
}

static void heap_add(struct heap *h, struct hnode *n, uint64_t expiry_us)
{
    n->expiry_us = expiry_us;
    heap_sift_up(h, h->len++, (struct hent){expiry_us, n});
}

static void heap_cancel(struct heap *h, struct hnode *n)
{
    size_t i = n->idx;
    struct hent last = h->a[--h->len];

    n->idx = UINT32_MAX;
    if (i == h->len)
        return;
    if (i && h->a[(i - 1) / 2].key > last.key)
        heap_sift_up(h, i, last);
    else
        heap_sift_down(h, i, last);
}

static void heap_mod(struct heap *h, struct hnode *n, uint64_t expiry_us)
{
    size_t i = n->idx;
    struct hent e = {expiry_us, n};

    n->expiry_us = expiry_us;
    if (i && h->a[(i - 1) / 2].key > expiry_us)
        heap_sift_up(h, i, e);
    else
        heap_sift_down(h, i, e);
}

static unsigned heap_advance(struct heap *h, uint64_t now_us)
{
    unsigned n = 0;

    while (h->len && h->a[0].key <= now_us) {
        struct hnode *top = h->a[0].node;

        heap_cancel(h, top);
        fired++; /* the callback */
        n++;
    }
    return n;
}

/* Results, ns per operation: add, cancel, mod, expire. */
struct result {
    double ns[4];
};

static void keep_min(struct result *best, const struct result *r)
{
    for (int i = 0; i < 4; i++)
        if (!best->ns[i] || r->ns[i] < best->ns[i])
            best->ns[i] = r->ns[i];
}

static void on_fire(struct timer *timer, uint64_t now_us)
{
    fired++;
}

static void shuffle(uint32_t *perm, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        perm[i] = i;
    for (unsigned i = n - 1; i > 0; i--) {
        unsigned j = rnd() % (i + 1);
        uint32_t t = perm[i];

        perm[i] = perm[j];
        perm[j] = t;
    }
}

static uint64_t random_expiry(uint64_t now_us)
{
    return now_us + MS + rnd() % (SPAN_US - MS);
}

static void run_wheel(unsigned n, const uint32_t *perm, struct result *r)
{
    struct timer_wheel *w = malloc(sizeof(*w));
    struct timer *t = malloc(n * sizeof(*t));
    uint64_t *exp = malloc(n * sizeof(*exp));
    unsigned batches = n / BATCH;
    double t0, add = 0, cancel = 0, mod = 0;
    uint64_t now = 0;

    timer_wheel_init(w, MS, now);
    for (unsigned i = 0; i < n; i++) {
        timer_init(&t[i], on_fire);
        timer_wheel_add(w, &t[i], random_expiry(now));
    }
    for (unsigned b = 0; b < batches; b++) {
        const uint32_t *p = perm + b * BATCH;

        for (unsigned i = 0; i < BATCH; i++)
            exp[i] = random_expiry(now);
        t0 = now_ns();
        for (unsigned i = 0; i < BATCH; i++)
            timer_wheel_cancel(w, &t[p[i]]);
        cancel += now_ns() - t0;
        t0 = now_ns();
        for (unsigned i = 0; i < BATCH; i++)
            timer_wheel_add(w, &t[p[i]], exp[i]);
        add += now_ns() - t0;
        for (unsigned i = 0; i < BATCH; i++)
            exp[i] = random_expiry(now);
        t0 = now_ns();
        for (unsigned i = 0; i < BATCH; i++)
            timer_wheel_mod(w, &t[p[i]], exp[i]);
        mod += now_ns() - t0;
    }
    fired = 0;
    t0 = now_ns();
    while (w->armed)
        timer_wheel_advance(w, now += MS);
    r->ns[3] = (now_ns() - t0) / n;
    if (fired != n)
        fprintf(stderr, "wheel: fired %llu of %u\n", (unsigned long long)fired, n);
    r->ns[0] = add / (batches * BATCH);
    r->ns[1] = cancel / (batches * BATCH);
    r->ns[2] = mod / (batches * BATCH);
    free(exp);
    free(t);
    free(w);
}

static void run_heap(unsigned n, const uint32_t *perm, struct result *r)
{
    struct heap h = {.a = malloc(n * sizeof(struct hent)), .len = 0};
    struct hnode *t = malloc(n * sizeof(*t));
    uint64_t *exp = malloc(n * sizeof(*exp));
    unsigned batches = n / BATCH;
    double t0, add = 0, cancel = 0, mod = 0;
    uint64_t now = 0;

    for (unsigned i = 0; i < n; i++)
        heap_add(&h, &t[i], random_expiry(now));
    for (unsigned b = 0; b < batches; b++) {
        const uint32_t *p = perm + b * BATCH;

        for (unsigned i = 0; i < BATCH; i++)
            exp[i] = random_expiry(now);
        t0 = now_ns();
        for (unsigned i = 0; i < BATCH; i++)
            heap_cancel(&h, &t[p[i]]);
        cancel += now_ns() - t0;
        t0 = now_ns();
        for (unsigned i = 0; i < BATCH; i++)
            heap_add(&h, &t[p[i]], exp[i]);
        add += now_ns() - t0;
        for (unsigned i = 0; i < BATCH; i++)
            exp[i] = random_expiry(now);
        t0 = now_ns();
        for (unsigned i = 0; i < BATCH; i++)
            heap_mod(&h, &t[p[i]], exp[i]);
        mod += now_ns() - t0;
    }
    fired = 0;
    t0 = now_ns();
    while (h.len)
        heap_advance(&h, now += MS);
    r->ns[3] = (now_ns() - t0) / n;
    if (fired != n)
        fprintf(stderr, "heap: fired %llu of %u\n", (unsigned long long)fired, n);
    r->ns[0] = add / (batches * BATCH);
    r->ns[1] = cancel / (batches * BATCH);
    r->ns[2] = mod / (batches * BATCH);
    free(exp);
    free(t);
    free(h.a);
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
    unsigned rounds = argc > 2 ? strtoul(argv[2], NULL, 0) : 3;
    struct result wheel = {{0}}, heap = {{0}}, r;
    const char *ops[] = {"add", "cancel", "mod", "expire"};
    uint32_t *perm;

    if (n < BATCH) {
        fprintf(stderr, "usage: %s [timers >= %u] [rounds]\n", argv[0], BATCH);
        return 1;
    }
    perm = malloc(n * sizeof(*perm));
    for (unsigned i = 0; i < rounds; i++) {
        shuffle(perm, n);
        run_wheel(n, perm, &r);
        keep_min(&wheel, &r);
        run_heap(n, perm, &r);
        keep_min(&heap, &r);
    }
    printf("%u live timers, expiries uniform in [1 ms, 60 s), 1 ms ticks, best of %u\n", n, rounds);
    printf("%-8s %12s %12s\n", "ns/op", "wheel", "binary heap");
    for (int i = 0; i < 4; i++)
        printf("%-8s %12.1f %12.1f\n", ops[i], wheel.ns[i], heap.ns[i]);
    free(perm);
    return 0;
}
