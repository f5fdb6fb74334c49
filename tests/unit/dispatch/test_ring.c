/* Unit tests of toe/dispatch/ring.h: the SPSC message ring. Single-thread
 * tests are exact (capacity, full/empty, FIFO order, in-place slots, index wrap
 * at 2^32, bursts, unreserve/release clamps); the two-thread stress test moves
 * 2,000,000 sequence-numbered messages with variable payloads through a small
 * ring while a third thread samples the depth, and is meant to run clean under
 * ThreadSanitizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "toe/dispatch/ring.h"

/* The ring is cache-line aligned: static storage satisfies that. */
static struct spsc_ring ring;

static void test_init_rejects(void **state)
{
    (void)state;
    assert_int_equal(spsc_ring_init(&ring, 0, 64), -EINVAL);
    assert_int_equal(spsc_ring_init(&ring, 3, 64), -EINVAL);
    assert_int_equal(spsc_ring_init(&ring, 12, 64), -EINVAL);
    assert_int_equal(spsc_ring_init(&ring, SPSC_RING_MAX_SLOTS * 2u, 64), -EINVAL);
    assert_int_equal(spsc_ring_init(&ring, 8, 0), -EINVAL);

    assert_int_equal(spsc_ring_init(&ring, 1, 1), 0);
    assert_int_equal(spsc_ring_capacity(&ring), 1);
    assert_int_equal(spsc_ring_slot_bytes(&ring), 1);
    spsc_ring_fini(&ring);
}

static void test_geometry(void **state)
{
    (void)state;
    /* Slots are whole cache lines apart and aligned; writing slot_bytes in
     * every slot does not disturb its neighbours. */
    const uint32_t slot_bytes = 100;
    void *p[8];

    assert_int_equal(spsc_ring_init(&ring, 8, slot_bytes), 0);
    assert_int_equal(ring.stride_bytes, 128);
    assert_int_equal(spsc_ring_reserve_burst(&ring, p, 8), 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal((uintptr_t)p[i] % SPSC_RING_CACHELINE_BYTES, 0);
        if (i)
            assert_int_equal((uint8_t *)p[i] - (uint8_t *)p[i - 1], 128);
        memset(p[i], i + 1, slot_bytes);
    }
    spsc_ring_commit(&ring);
    for (int i = 0; i < 8; i++) {
        uint8_t *m = spsc_ring_peek(&ring);

        assert_ptr_equal(m, p[i]);
        for (uint32_t b = 0; b < slot_bytes; b++)
            assert_int_equal(m[b], i + 1);
        spsc_ring_release(&ring);
    }
    spsc_ring_fini(&ring);
}

static void test_fill_full_fifo(void **state)
{
    (void)state;
    const uint32_t slots = 16;

    assert_int_equal(spsc_ring_init(&ring, slots, sizeof(uint32_t)), 0);
    assert_null(spsc_ring_peek(&ring));
    assert_int_equal(spsc_ring_count(&ring), 0);
    for (uint32_t i = 0; i < slots; i++) {
        uint32_t *m = spsc_ring_reserve(&ring);

        assert_non_null(m);
        *m = 1000 + i;
        spsc_ring_commit(&ring);
        assert_int_equal(spsc_ring_count(&ring), i + 1);
    }
    /* Full: NULL, repeatedly, and nothing changes. */
    assert_null(spsc_ring_reserve(&ring));
    assert_null(spsc_ring_reserve(&ring));
    assert_int_equal(spsc_ring_count(&ring), slots);

    /* Peek does not consume. */
    assert_int_equal(*(uint32_t *)spsc_ring_peek(&ring), 1000);
    assert_int_equal(*(uint32_t *)spsc_ring_peek(&ring), 1000);

    /* One release makes exactly one slot of room. */
    spsc_ring_release(&ring);
    assert_int_equal(spsc_ring_count(&ring), slots - 1);
    uint32_t *m = spsc_ring_reserve(&ring);
    assert_non_null(m);
    *m = 1000 + slots;
    assert_null(spsc_ring_reserve(&ring));
    spsc_ring_commit(&ring);

    for (uint32_t i = 1; i <= slots; i++) {
        m = spsc_ring_peek(&ring);
        assert_non_null(m);
        assert_int_equal(*m, 1000 + i);
        spsc_ring_release(&ring);
    }
    assert_null(spsc_ring_peek(&ring));
    assert_int_equal(spsc_ring_count(&ring), 0);
    /* Releasing an empty ring is a no-op. */
    spsc_ring_release(&ring);
    assert_int_equal(spsc_ring_count(&ring), 0);
    assert_non_null(spsc_ring_reserve(&ring));
    spsc_ring_fini(&ring);
}

/* White box: a reader that loads head, stalls, then loads tail can see the
 * two more than a capacity apart; count clamps instead of reporting it. */
static void test_count_clamped(void **state)
{
    (void)state;
    assert_int_equal(spsc_ring_init(&ring, 8, 8), 0);
    atomic_store(&ring.head, 100);
    atomic_store(&ring.tail, 100 + 8 + 3);
    assert_int_equal(spsc_ring_count(&ring), 8);
    spsc_ring_fini(&ring);
}

static void test_uncommitted_invisible(void **state)
{
    (void)state;
    uint32_t *a, *b;

    assert_int_equal(spsc_ring_init(&ring, 4, sizeof(uint32_t)), 0);
    a = spsc_ring_reserve(&ring);
    b = spsc_ring_reserve(&ring);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    *a = 1;
    *b = 2;
    /* Reserved but not committed: the consumer sees nothing. */
    assert_null(spsc_ring_peek(&ring));
    assert_int_equal(spsc_ring_count(&ring), 0);
    /* Two reservations, one commit publishes both. */
    spsc_ring_commit(&ring);
    assert_int_equal(spsc_ring_count(&ring), 2);
    assert_ptr_equal(spsc_ring_peek(&ring), a);
    spsc_ring_release(&ring);
    assert_ptr_equal(spsc_ring_peek(&ring), b);
    spsc_ring_release(&ring);
    assert_null(spsc_ring_peek(&ring));
    spsc_ring_fini(&ring);
}

static void test_unreserve(void **state)
{
    (void)state;
    uint32_t *a, *b, *c;

    assert_int_equal(spsc_ring_init(&ring, 4, sizeof(uint32_t)), 0);
    a = spsc_ring_reserve(&ring);
    *a = 1;
    spsc_ring_commit(&ring);
    b = spsc_ring_reserve(&ring);
    c = spsc_ring_reserve(&ring);
    /* Takes back c, then b; never the committed a (clamped). */
    spsc_ring_unreserve(&ring, 1);
    assert_ptr_equal(spsc_ring_reserve(&ring), c);
    spsc_ring_unreserve(&ring, 100);
    assert_ptr_equal(spsc_ring_reserve(&ring), b);
    *b = 2;
    spsc_ring_commit(&ring);
    assert_int_equal(spsc_ring_count(&ring), 2);
    assert_int_equal(*(uint32_t *)spsc_ring_peek(&ring), 1);
    spsc_ring_release(&ring);
    assert_int_equal(*(uint32_t *)spsc_ring_peek(&ring), 2);
    spsc_ring_release(&ring);
    assert_null(spsc_ring_peek(&ring));
    spsc_ring_fini(&ring);
}

static void test_bursts(void **state)
{
    (void)state;
    void *p[16];
    void *q[16];

    assert_int_equal(spsc_ring_init(&ring, 8, sizeof(uint32_t)), 0);
    /* Asking for more than the room gives the room. */
    assert_int_equal(spsc_ring_reserve_burst(&ring, p, 5), 5);
    assert_int_equal(spsc_ring_reserve_burst(&ring, p + 5, 16), 3);
    assert_int_equal(spsc_ring_reserve_burst(&ring, p + 8, 1), 0);
    assert_null(spsc_ring_reserve(&ring));
    for (uint32_t i = 0; i < 8; i++)
        *(uint32_t *)p[i] = i;
    spsc_ring_commit(&ring);

    /* Peek burst: FIFO order, same addresses, not consumed. */
    assert_int_equal(spsc_ring_peek_burst(&ring, q, 3), 3);
    for (uint32_t i = 0; i < 3; i++)
        assert_ptr_equal(q[i], p[i]);
    assert_int_equal(spsc_ring_peek_burst(&ring, q, 16), 8);
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(*(uint32_t *)q[i], i);
    spsc_ring_release_n(&ring, 3);
    assert_int_equal(spsc_ring_count(&ring), 5);
    assert_int_equal(*(uint32_t *)spsc_ring_peek(&ring), 3);

    /* Room for exactly the three released slots, which wrap to the start. */
    assert_int_equal(spsc_ring_reserve_burst(&ring, p, 16), 3);
    assert_ptr_equal(p[0], spsc_ring_slot(&ring, 0));
    for (uint32_t i = 0; i < 3; i++)
        *(uint32_t *)p[i] = 8 + i;
    spsc_ring_commit(&ring);

    /* release_n is clamped to what the consumer has seen (the cached tail):
     * it frees 3..7, shown by the last peek, but not 8..10, committed since. */
    spsc_ring_release_n(&ring, 100);
    assert_int_equal(spsc_ring_count(&ring), 3);
    assert_int_equal(spsc_ring_peek_burst(&ring, q, 16), 3);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(*(uint32_t *)q[i], 8 + i);
    spsc_ring_release_n(&ring, 3);
    assert_int_equal(spsc_ring_peek_burst(&ring, q, 16), 0);
    spsc_ring_fini(&ring);
}

/* Many turns with batch sizes that drift against the ring size, so every
 * (position, batch) combination occurs and the indices wrap many times. */
static void run_wrap(uint32_t start_idx)
{
    const uint32_t slots = 8;
    uint32_t next_put = 0, next_get = 0;

    assert_int_equal(spsc_ring_init(&ring, slots, sizeof(uint32_t)), 0);
    /* White box: start the free-running indices anywhere (e.g. just below
     * 2^32) to cross the index wrap without 4 billion operations. */
    atomic_store(&ring.tail, start_idx);
    atomic_store(&ring.head, start_idx);
    ring.reserved = ring.head_cache = ring.tail_cache = start_idx;

    for (uint32_t round = 0; round < 5000; round++) {
        uint32_t put = 1 + round % 9; /* 9 > slots: sometimes more than fits */
        uint32_t get = 1 + (round * 5) % 7;
        uint32_t before = spsc_ring_count(&ring);
        uint32_t n = 0;
        uint32_t *m;

        while (n < put && (m = spsc_ring_reserve(&ring))) {
            *m = next_put++;
            n++;
        }
        assert_int_equal(n, put < slots - before ? put : slots - before);
        spsc_ring_commit(&ring);
        assert_int_equal(spsc_ring_count(&ring), before + n);
        for (uint32_t i = 0; i < get; i++) {
            m = spsc_ring_peek(&ring);
            if (!m) {
                assert_int_equal(next_get, next_put);
                break;
            }
            assert_int_equal(*m, next_get);
            next_get++;
            spsc_ring_release(&ring);
        }
    }
    while (next_get < next_put) {
        uint32_t *m = spsc_ring_peek(&ring);

        assert_non_null(m);
        assert_int_equal(*m, next_get++);
        spsc_ring_release(&ring);
    }
    assert_null(spsc_ring_peek(&ring));
    /* Thousands of messages through 8 slots: hundreds of turns. */
    assert_true(next_put > 100 * slots);
    spsc_ring_fini(&ring);
}

static void test_wrap_around(void **state)
{
    (void)state;
    run_wrap(0);
}

static void test_index_wrap_2_32(void **state)
{
    (void)state;
    run_wrap(UINT32_MAX - 20);
}

/* ---- two threads ---- */

#define STRESS_MSGS      2000000u
#define STRESS_SLOTS     256u
#define STRESS_MAX_BYTES 200u
#define STRESS_STALL_S   20

struct stress_msg {
    uint64_t seq;
    uint32_t len;
    uint8_t payload[];
};

struct stress {
    _Atomic int done;          /* threads finished */
    _Atomic uint64_t progress; /* messages consumed, for the stall watchdog */
    _Atomic int abort;         /* watchdog fired */
    uint64_t full_events;      /* producer only */
    uint64_t received;         /* consumer only */
    uint64_t bad_seq;          /* consumer only */
    uint64_t bad_len;
    uint64_t bad_payload;
    uint64_t first_bad_seq;
};

static uint32_t msg_len(uint64_t seq)
{
    /* Varies from message to message, including 0 and the maximum. */
    return (uint32_t)((seq * 2654435761u) >> 7) % (STRESS_MAX_BYTES + 1);
}

/* Payloads are windows into a fixed pseudo-random pattern, at an offset that
 * depends on the sequence number: written with memcpy and checked with memcmp,
 * which sanitizers see as one range access instead of one per byte. */
static uint8_t pattern[512];

static void pattern_init(void)
{
    uint32_t x = 2463534242u;

    for (size_t i = 0; i < sizeof(pattern); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pattern[i] = (uint8_t)x;
    }
}

static const uint8_t *msg_payload(uint64_t seq)
{
    return pattern + (seq * 97) % (sizeof(pattern) - STRESS_MAX_BYTES);
}

static void fill_msg(struct stress_msg *m, uint64_t seq)
{
    m->seq = seq;
    m->len = msg_len(seq);
    memcpy(m->payload, msg_payload(seq), m->len);
}

static void check_msg(struct stress *s, const struct stress_msg *m)
{
    uint64_t want = s->received;

    if (m->seq != want) {
        if (!s->bad_seq++)
            s->first_bad_seq = want;
    } else if (m->len != msg_len(want)) {
        s->bad_len++;
    } else if (memcmp(m->payload, msg_payload(want), m->len)) {
        s->bad_payload++;
    }
    s->received++;
}

/* Spinning on a shared core (CI, sanitizers) would starve the other side:
 * yield after a short spin. */
static void backoff(unsigned *spins)
{
    if (++*spins > 64) {
        sched_yield();
        *spins = 0;
    }
}

static void *producer(void *arg)
{
    struct stress *s = arg;
    uint64_t seq = 0;
    unsigned spins = 0;

    while (seq < STRESS_MSGS && !atomic_load_explicit(&s->abort, memory_order_relaxed)) {
        if (seq % 3) {
            /* Burst: reserve up to k, fill, one commit. */
            void *slots[32];
            uint32_t k = 1 + (uint32_t)(seq % 32);

            if (k > STRESS_MSGS - seq)
                k = (uint32_t)(STRESS_MSGS - seq);
            k = spsc_ring_reserve_burst(&ring, slots, k);
            for (uint32_t i = 0; i < k; i++)
                fill_msg(slots[i], seq++);
            if (k) {
                spsc_ring_commit(&ring);
                spins = 0;
            } else {
                s->full_events++;
                backoff(&spins);
            }
        } else {
            struct stress_msg *m = spsc_ring_reserve(&ring);

            if (m) {
                fill_msg(m, seq++);
                spsc_ring_commit(&ring);
                spins = 0;
            } else {
                s->full_events++;
                backoff(&spins);
            }
        }
    }
    atomic_fetch_add(&s->done, 1);
    return NULL;
}

static void *consumer(void *arg)
{
    struct stress *s = arg;
    unsigned spins = 0;

    while (s->received < STRESS_MSGS && !atomic_load_explicit(&s->abort, memory_order_relaxed)) {
        if (s->received % 2) {
            void *slots[24];
            uint32_t n = spsc_ring_peek_burst(&ring, slots, 24);

            for (uint32_t i = 0; i < n; i++)
                check_msg(s, slots[i]);
            spsc_ring_release_n(&ring, n);
            if (n)
                spins = 0;
            else
                backoff(&spins);
        } else {
            struct stress_msg *m = spsc_ring_peek(&ring);

            if (m) {
                check_msg(s, m);
                spsc_ring_release(&ring);
                spins = 0;
            } else {
                backoff(&spins);
            }
        }
        atomic_store_explicit(&s->progress, s->received, memory_order_relaxed);
    }
    atomic_fetch_add(&s->done, 1);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_two_thread_stress(void **state)
{
    (void)state;
    static struct stress s;
    pthread_t prod, cons;
    uint64_t last_progress = 0, samples = 0, max_depth = 0;
    double last_change_s = now_s();
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 200000};

    memset(&s, 0, sizeof(s));
    pattern_init();
    assert_int_equal(
        spsc_ring_init(&ring, STRESS_SLOTS, sizeof(struct stress_msg) + STRESS_MAX_BYTES), 0);
    assert_int_equal(pthread_create(&cons, NULL, consumer, &s), 0);
    assert_int_equal(pthread_create(&prod, NULL, producer, &s), 0);

    /* A third thread (this one) reads the depth while the other two run, as
     * the control thread does; it must stay within [0, capacity]. The loop is
     * bounded by a stall watchdog, not by a fixed time, so a slow machine
     * passes and a hang fails. */
    while (atomic_load(&s.done) < 2) {
        uint32_t depth = spsc_ring_count(&ring);
        uint64_t p = atomic_load_explicit(&s.progress, memory_order_relaxed);
        double t = now_s();

        assert_true(depth <= STRESS_SLOTS);
        if (depth > max_depth)
            max_depth = depth;
        samples++;
        if (p != last_progress) {
            last_progress = p;
            last_change_s = t;
        } else if (t - last_change_s > STRESS_STALL_S) {
            atomic_store(&s.abort, 1);
        }
        nanosleep(&pause, NULL);
    }
    assert_int_equal(pthread_join(prod, NULL), 0);
    assert_int_equal(pthread_join(cons, NULL), 0);

    assert_int_equal(atomic_load(&s.abort), 0);
    if (s.bad_seq)
        print_error("first out-of-order message: expected seq %llu\n",
                    (unsigned long long)s.first_bad_seq);
    assert_int_equal(s.bad_seq, 0);
    assert_int_equal(s.bad_len, 0);
    assert_int_equal(s.bad_payload, 0);
    assert_int_equal(s.received, STRESS_MSGS);
    assert_null(spsc_ring_peek(&ring));
    assert_int_equal(spsc_ring_count(&ring), 0);
    print_message("stress: %u msgs, %llu full events, %llu depth samples, max depth %llu\n",
                  STRESS_MSGS, (unsigned long long)s.full_events, (unsigned long long)samples,
                  (unsigned long long)max_depth);
    spsc_ring_fini(&ring);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects),
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_fill_full_fifo),
        cmocka_unit_test(test_count_clamped),
        cmocka_unit_test(test_uncommitted_invisible),
        cmocka_unit_test(test_unreserve),
        cmocka_unit_test(test_bursts),
        cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_index_wrap_2_32),
        cmocka_unit_test(test_two_thread_stress),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
