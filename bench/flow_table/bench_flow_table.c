/* bench_flow_table: ns per operation of the flow table (toe/flow_table.h)
 * and the memory it takes, for N live flows. Not a test: run by hand, prints
 * a table.
 *
 *   bench_flow_table [max_flows] [rounds]
 *
 * For N = 1,000, 10,000, 100,000 and 1,000,000 (those <= max_flows; default
 * 1,048,576, the stack's default limit): insert N keys into a fresh table;
 * lookup of live keys in random order (hit) and of absent keys (miss), the
 * per-packet cost; churn (free a random live flow, insert a new key), the
 * per-connection cost. Hashing (SipHash) is done before timing, as the input
 * unit does it once per frame. RSS is the process's resident growth over the
 * table's life (/proc/self/statm), so it counts what was touched, not what was
 * reserved. Best of `rounds` (default 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/tools/pattern.h"
#include "toe/flow_table.h"

#define SLOT_BYTES 1472 /* the stack's per-flow data today (toe_conn + tcp_conn) */

static uint64_t rng_state = 0x853c49e6748fea9bull;

/* The tests' one PRNG (splitmix64, tests/tools/pattern.h). */
static uint64_t rnd(void)
{
    return pattern_mix64(rng_state++);
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Key i: distinct for every i < 2^32 (source address and port). */
static struct flow_key key_of(uint64_t i)
{
    struct flow_key k = {.laddr = 0x0a4d0102, .raddr = 0x0a000000 | (uint32_t)(i >> 16),
                         .lport = 7, .rport = (uint16_t)i};
    return k;
}

struct result {
    double insert_ns, hit_ns, miss_ns, churn_ns;
    long rss_kb;
};

static volatile uint32_t sink;

static int run(uint32_t max_flows, uint32_t n, struct result *out)
{
    struct flow_table_config cfg = {.max_flows = max_flows, .slot_bytes = SLOT_BYTES};
    struct flow_table ft;
    struct flow_key *keys = malloc(sizeof(*keys) * 2 * (size_t)n);
    uint64_t *hash = malloc(sizeof(*hash) * 2 * (size_t)n);
    uint32_t *ids = malloc(sizeof(*ids) * (size_t)n), *order = malloc(sizeof(*order) * (size_t)n);
    uint32_t id, acc = 0;
    long rss0;
    double t;

    if (!keys || !hash || !ids || !order)
        return -1;
    for (int i = 0; i < FLOW_HASH_KEY_BYTES; i++)
        cfg.hash_key.k[i] = (uint8_t)rnd();
    for (uint32_t i = 0; i < 2 * n; i++) {
        keys[i] = key_of(i);
        hash[i] = flow_hash(&cfg.hash_key, &keys[i]);
    }
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rnd() % (i + 1)), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    rss0 = rss_kb();
    if (flow_table_init(&ft, &cfg))
        return -1;

    t = now_ns();
    for (uint32_t i = 0; i < n; i++) {
        if (flow_table_insert_hashed(&ft, &keys[i], hash[i], &ids[i]))
            return -1;
        /* The stack writes the connection into the slot: touch it. */
        memset(flow_table_data(&ft, ids[i]), 1, 64);
    }
    out->insert_ns = (now_ns() - t) / n;
    out->rss_kb = rss_kb() - rss0;

    t = now_ns();
    for (uint32_t i = 0; i < n; i++)
        acc += flow_table_lookup_hashed(&ft, &keys[order[i]], hash[order[i]]);
    out->hit_ns = (now_ns() - t) / n;
    t = now_ns();
    for (uint32_t i = 0; i < n; i++)
        acc += flow_table_lookup_hashed(&ft, &keys[n + order[i]], hash[n + order[i]]);
    out->miss_ns = (now_ns() - t) / n;

    /* Churn: slot i's flow ends, the key of the other half takes its place. */
    t = now_ns();
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = order[k];
        uint32_t other = i < n ? n + i : i - n;

        flow_table_free(&ft, ids[i]);
        if (flow_table_insert_hashed(&ft, &keys[other], hash[other], &id))
            return -1;
        ids[i] = id;
        keys[i] = keys[other]; /* keep the pair swapped for the next round */
    }
    out->churn_ns = (now_ns() - t) / n;
    sink = acc;
    flow_table_fini(&ft);
    free(keys);
    free(hash);
    free(ids);
    free(order);
    return 0;
}

int main(int argc, char **argv)
{
    static const uint32_t sizes[] = {1000, 10000, 100000, 1000000};
    uint32_t max_flows = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 1u << 20;
    int rounds = argc > 2 ? atoi(argv[2]) : 3;

    if (max_flows == 0 || rounds <= 0) {
        fprintf(stderr, "usage: bench_flow_table [max_flows] [rounds]\n");
        return 2;
    }
    printf("flow table, max_flows %u, %d B of data per flow, best of %d\n", max_flows,
           SLOT_BYTES, rounds);
    printf("%10s %10s %10s %10s %10s %12s %14s\n", "flows", "insert_ns", "hit_ns", "miss_ns",
           "churn_ns", "rss_kb", "rss_per_flow_b");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        struct result best = {0}, r;

        if (sizes[s] > max_flows)
            continue;
        for (int k = 0; k < rounds; k++) {
            if (run(max_flows, sizes[s], &r)) {
                fprintf(stderr, "bench_flow_table: run failed (memory?)\n");
                return 1;
            }
            if (k == 0 || r.hit_ns < best.hit_ns)
                best = r;
        }
        printf("%10u %10.1f %10.1f %10.1f %10.1f %12ld %14.0f\n", sizes[s], best.insert_ns,
               best.hit_ns, best.miss_ns, best.churn_ns, best.rss_kb,
               (double)best.rss_kb * 1024 / sizes[s]);
    }
    return 0;
}
