/* sockmem benchmark (not a test): append+drain throughput of the send and
 * receive buffers for several chunk sizes, beside plain memcpy loops moving
 * the same bytes through a flat ring of the same capacity. The buffer is kept
 * about half full (backlog), so pages keep flowing through the pool cache as
 * they would under a steady TCP stream.
 *
 *   sndbuf:  append chunk (copy in), release chunk (ACK, no copy)
 *            vs memcpy x1: copy chunk into the flat ring
 *   rcvbuf:  append chunk (copy in), read chunk (copy out)
 *            vs memcpy x2: copy into the flat ring and out again
 *
 * GB/s counts application bytes (10^9 bytes/s), one pass per byte; each
 * cell is the median of REPS runs, the four kinds interleaved, to damp noise
 * from other work on the machine.
 * Usage: bench_sockmem [MiB_per_run (default 512)]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sockmem/pool.h"
#include "sockmem/rcvbuf.h"
#include "sockmem/sndbuf.h"

#define CAP_BYTES     (256u << 10)
#define BACKLOG_BYTES (128u << 10)
#define SRC_BYTES     (1u << 20)
#define REPS          5

static uint8_t *src, *dst, *flat;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Rotates through src so the copies do not run from one hot line. */
static inline const uint8_t *chunk_src(size_t i, size_t chunk)
{
    return src + (i * chunk) % (SRC_BYTES - chunk);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_sockmem: %s failed\n", what);
    exit(1);
}

static double bench_memcpy(size_t chunk, size_t total, int out_too)
{
    size_t n = total / chunk, tail = 0, head = 0;
    double t0 = now_s();

    for (size_t i = 0; i < n; i++) {
        /* flat ring of CAP_BYTES with a contiguous tail: wrap at whole chunks */
        if (tail + chunk > CAP_BYTES)
            tail = 0;
        memcpy(flat + tail, chunk_src(i, chunk), chunk);
        tail += chunk;
        if (out_too) {
            if (head + chunk > CAP_BYTES)
                head = 0;
            memcpy(dst, flat + head, chunk);
            head += chunk;
        }
    }
    __asm__ volatile("" ::"r"(flat), "r"(dst) : "memory");
    return (double)n * chunk / (now_s() - t0) / 1e9;
}

static double bench_sndbuf(struct sockmem_pool *pool, size_t chunk, size_t total)
{
    size_t n = total / chunk;
    struct sndbuf sb;
    double t0;

    if (sndbuf_init(&sb, pool, CAP_BYTES))
        die("sndbuf_init");
    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        if (sndbuf_append(&sb, chunk_src(i, chunk), chunk) != (ssize_t)chunk)
            die("sndbuf_append");
        if (sndbuf_len_bytes(&sb) >= BACKLOG_BYTES)
            sndbuf_release(&sb, chunk);
    }
    double dt = now_s() - t0;
    sndbuf_fini(&sb);
    return (double)n * chunk / dt / 1e9;
}

static double bench_rcvbuf(struct sockmem_pool *pool, size_t chunk, size_t total)
{
    size_t n = total / chunk;
    struct rcvbuf rb;
    double t0;

    if (rcvbuf_init(&rb, pool, CAP_BYTES))
        die("rcvbuf_init");
    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        if (rcvbuf_append(&rb, chunk_src(i, chunk), chunk) != (ssize_t)chunk)
            die("rcvbuf_append");
        if (rcvbuf_readable_bytes(&rb) >= BACKLOG_BYTES)
            rcvbuf_read(&rb, dst, chunk);
    }
    double dt = now_s() - t0;
    rcvbuf_fini(&rb);
    return (double)n * chunk / dt / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, REPS, sizeof(*v), cmp_double);
    return v[REPS / 2];
}

int main(int argc, char **argv)
{
    static const size_t chunks[] = {64, 536, 1448, 4096, 16384, 65536};
    size_t total = (size_t)(argc > 1 ? atol(argv[1]) : 512) << 20;
    struct sockmem_pool_config cfg;
    struct sockmem_pool pool;

    src = aligned_alloc(4096, SRC_BYTES);
    dst = aligned_alloc(4096, 1u << 20);
    flat = aligned_alloc(4096, CAP_BYTES);
    if (!src || !dst || !flat)
        die("aligned_alloc");
    for (size_t i = 0; i < SRC_BYTES; i++)
        src[i] = (uint8_t)(i * 31 + 7);
    memset(dst, 0, 1u << 20);
    memset(flat, 0, CAP_BYTES);

    sockmem_pool_config_init(&cfg);
    cfg.conn_max_bytes = CAP_BYTES;
    if (sockmem_pool_init(&pool, &cfg))
        die("sockmem_pool_init");

    printf("sockmem: page %zu B, capacity %u KiB, backlog %u KiB, %zu MiB per run, median of %d, "
#ifdef TOE_WITH_JEMALLOC
           "jemalloc arena"
#else
           "aligned_alloc"
#endif
           "\n\n",
           sockmem_pool_page_bytes(&pool), CAP_BYTES >> 10, BACKLOG_BYTES >> 10, total >> 20, REPS);
    printf("%8s | %10s %10s %6s | %10s %10s %6s\n", "chunk B", "memcpy x1", "sndbuf", "ratio",
           "memcpy x2", "rcvbuf", "ratio");
    printf("%8s | %29s | %29s\n", "", "GB/s (append+release)", "GB/s (append+read)");
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        size_t ch = chunks[c];
        /* fewer bytes for tiny chunks: per-call cost dominates anyway */
        size_t t = ch < 1024 ? total / 4 : total;
        double v[4][REPS], m1, sb, m2, rb;

        for (int r = 0; r < REPS; r++) {
            v[0][r] = bench_memcpy(ch, t, 0);
            v[1][r] = bench_sndbuf(&pool, ch, t);
            v[2][r] = bench_memcpy(ch, t, 1);
            v[3][r] = bench_rcvbuf(&pool, ch, t);
        }
        m1 = median(v[0]);
        sb = median(v[1]);
        m2 = median(v[2]);
        rb = median(v[3]);

        printf("%8zu | %10.2f %10.2f %5.0f%% | %10.2f %10.2f %5.0f%%\n", ch, m1, sb, 100 * sb / m1,
               m2, rb, 100 * rb / m2);
    }
    printf("\npool: %llu allocator allocs, %llu frees, hwm %llu pages\n",
           (unsigned long long)pool.stats.sys_allocs, (unsigned long long)pool.stats.sys_frees,
           (unsigned long long)pool.stats.pages_in_use_hwm);
    if (sockmem_pool_fini(&pool))
        die("sockmem_pool_fini");
    free(src);
    free(dst);
    free(flat);
    return 0;
}
