/* Unit tests of the flow table: insert/lookup/remove, forced collisions, a full
 * table, unlink-before-free, 100k random operations against a reference (fixed
 * and growing index), and growth on demand: memory follows the flows, slot
 * memory never moves, chains stay short. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "toe/flow_table.h"

static struct flow_table_config cfg_of(uint32_t max_flows, uint32_t n_buckets)
{
    struct flow_table_config c = {.max_flows = max_flows, .n_buckets = n_buckets,
                                  .slot_bytes = 40};
    for (int i = 0; i < FLOW_HASH_KEY_BYTES; i++)
        c.hash_key.k[i] = (uint8_t)(i * 7 + 1);
    return c;
}

static struct flow_key key_of(uint32_t i)
{
    struct flow_key k = {.laddr = 0x0a000001, .raddr = 0x0a000100 + (i >> 16),
                         .lport = 80, .rport = (uint16_t)i};
    return k;
}

static void test_basic(void **state)
{
    struct flow_table ft;
    struct flow_table_config c = cfg_of(8, 0);
    assert_int_equal(flow_table_init(&ft, &c), 0);
    assert_int_equal(ft.n_buckets, 16); /* growing index: two buckets per flow at most */

    struct flow_key k1 = key_of(1), k2 = key_of(2);
    uint32_t id1, id2, id;
    assert_int_equal(flow_table_lookup(&ft, &k1), FLOW_ID_NONE);
    assert_int_equal(flow_table_insert(&ft, &k1, &id1), 0);
    assert_int_equal(flow_table_insert(&ft, &k2, &id2), 0);
    assert_int_not_equal(id1, id2);
    assert_int_equal(flow_table_insert(&ft, &k1, &id), -EEXIST);
    assert_int_equal(id, id1);
    assert_int_equal(flow_table_lookup(&ft, &k1), id1);
    assert_int_equal(flow_table_lookup(&ft, &k2), id2);
    assert_int_equal(flow_table_count(&ft), 2);
    assert_true(flow_table_valid(&ft, id1));
    assert_true(flow_key_eq(flow_table_key(&ft, id2), &k2));

    /* Per-slot data is zeroed, stable and 64-byte aligned. */
    uint8_t *d = flow_table_data(&ft, id1);
    assert_int_equal((uintptr_t)d % 64, 0);
    assert_int_equal(d[0], 0);
    memset(d, 0xab, 40);
    assert_int_equal(flow_table_id_of(&ft, d), id1);

    uint32_t gen = flow_table_gen(&ft, id1);
    flow_table_remove(&ft, id1);
    assert_false(flow_table_valid(&ft, id1));
    assert_int_equal(flow_table_lookup(&ft, &k1), FLOW_ID_NONE);
    assert_int_equal(flow_table_lookup(&ft, &k2), id2);
    /* LIFO freelist: the ID comes back, with a new generation, zeroed data. */
    assert_int_equal(flow_table_insert(&ft, &k1, &id), 0);
    assert_int_equal(id, id1);
    assert_int_not_equal(flow_table_gen(&ft, id), gen);
    assert_int_equal(((uint8_t *)flow_table_data(&ft, id))[0], 0);
    flow_table_fini(&ft);
}

static void test_bad_config(void **state)
{
    struct flow_table ft;
    struct flow_table_config c = cfg_of(0, 0);
    assert_int_equal(flow_table_init(&ft, &c), -EINVAL);
    c = cfg_of(8, 6);
    assert_int_equal(flow_table_init(&ft, &c), -EINVAL);
}

/* One bucket: every key collides; removal from the middle of the chain. */
static void test_collisions(void **state)
{
    struct flow_table ft;
    struct flow_table_config c = cfg_of(64, 1);
    assert_int_equal(flow_table_init(&ft, &c), 0);
    uint32_t ids[64];
    for (uint32_t i = 0; i < 64; i++) {
        struct flow_key k = key_of(i);
        assert_int_equal(flow_table_insert(&ft, &k, &ids[i]), 0);
    }
    for (uint32_t i = 0; i < 64; i += 3)
        flow_table_remove(&ft, ids[i]);
    for (uint32_t i = 0; i < 64; i++) {
        struct flow_key k = key_of(i);
        assert_int_equal(flow_table_lookup(&ft, &k), i % 3 == 0 ? FLOW_ID_NONE : ids[i]);
    }
    flow_table_fini(&ft);
}

static void test_full_and_unlink(void **state)
{
    struct flow_table ft;
    struct flow_table_config c = cfg_of(16, 4);
    assert_int_equal(flow_table_init(&ft, &c), 0);
    uint32_t id;
    for (uint32_t i = 0; i < 16; i++) {
        struct flow_key k = key_of(i);
        assert_int_equal(flow_table_insert(&ft, &k, &id), 0);
        assert_true(id < 16);
    }
    struct flow_key extra = key_of(100);
    assert_int_equal(flow_table_insert(&ft, &extra, &id), -ENOSPC);

    /* Unlinked: invisible, but the ID stays taken, so the table stays full. */
    struct flow_key k3 = key_of(3);
    uint32_t id3 = flow_table_lookup(&ft, &k3);
    flow_table_unlink(&ft, id3);
    flow_table_unlink(&ft, id3);
    assert_int_equal(flow_table_lookup(&ft, &k3), FLOW_ID_NONE);
    assert_true(flow_table_valid(&ft, id3));
    assert_int_equal(flow_table_insert(&ft, &k3, &id), -ENOSPC);
    flow_table_free(&ft, id3);
    assert_int_equal(flow_table_insert(&ft, &k3, &id), 0);
    assert_int_equal(flow_table_count(&ft), 16);
    flow_table_fini(&ft);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* 100k random inserts/removes/lookups over a small key universe, checked
 * against a direct-mapped reference. */
static void random_vs_reference(uint32_t n_buckets)
{
    enum { UNIVERSE = 700, MAX = 256, OPS = 100000 };
    static uint32_t ref[UNIVERSE]; /* id + 1, 0 = absent */
    struct flow_table ft;
    struct flow_table_config c = cfg_of(MAX, n_buckets);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    uint32_t present = 0;

    memset(ref, 0, sizeof(ref));
    assert_int_equal(flow_table_init(&ft, &c), 0);
    for (int op = 0; op < OPS; op++) {
        uint32_t i = (uint32_t)(rng_next(&rng) % UNIVERSE);
        struct flow_key k = key_of(i * 2654435761u);
        uint32_t id;
        switch (rng_next(&rng) % 3) {
        case 0: {
            int rc = flow_table_insert(&ft, &k, &id);
            if (ref[i]) {
                assert_int_equal(rc, -EEXIST);
                assert_int_equal(id, ref[i] - 1);
            } else if (present == MAX) {
                assert_int_equal(rc, -ENOSPC);
            } else {
                assert_int_equal(rc, 0);
                assert_true(id < MAX);
                ref[i] = id + 1;
                present++;
                memcpy(flow_table_data(&ft, id), &i, sizeof(i));
            }
            break;
        }
        case 1:
            if (ref[i]) {
                flow_table_remove(&ft, ref[i] - 1);
                ref[i] = 0;
                present--;
            }
            break;
        default:
            id = flow_table_lookup(&ft, &k);
            assert_int_equal(id, ref[i] ? ref[i] - 1 : FLOW_ID_NONE);
            if (ref[i]) {
                uint32_t stored;
                memcpy(&stored, flow_table_data(&ft, id), sizeof(stored));
                assert_int_equal(stored, i);
            }
        }
        assert_int_equal(flow_table_count(&ft), present);
    }
    for (uint32_t i = 0; i < UNIVERSE; i++) {
        struct flow_key k = key_of(i * 2654435761u);
        assert_int_equal(flow_table_lookup(&ft, &k), ref[i] ? ref[i] - 1 : FLOW_ID_NONE);
    }
    flow_table_fini(&ft);
}

static void test_random_vs_reference(void **state)
{
    random_vs_reference(64);
}

/* The same with the index growing (and splitting chains) as flows come. */
static void test_random_vs_reference_growing(void **state)
{
    random_vs_reference(0);
}

static uint32_t longest_chain(const struct flow_table *ft)
{
    uint32_t longest = 0;
    for (uint32_t b = 0; b < ft->n_buckets; b++) {
        uint32_t n = 0;
        for (uint32_t id = ft->buckets[b]; id != FLOW_ID_NONE; id = ft->slots[id].next)
            n++;
        longest = n > longest ? n : longest;
    }
    return longest;
}

/* A table for a million flows costs a few pages until flows come; 200k
 * flows commit about what they use; the first flow's data never moves; the
 * index grows with the flows so chains stay short; every flow is found. */
static void test_grows_on_demand(void **state)
{
    enum { N = 200000, SLOT = 1000 };
    struct flow_table ft;
    struct flow_table_config c = cfg_of(1u << 20, 0);
    uint32_t id, first;

    c.slot_bytes = SLOT;
    assert_int_equal(flow_table_init(&ft, &c), 0);
    assert_true(flow_table_committed_bytes(&ft) <= 64 * 1024);
    struct flow_key k0 = key_of(0);
    assert_int_equal(flow_table_insert(&ft, &k0, &first), 0);
    uint8_t *d0 = flow_table_data(&ft, first);
    memset(d0, 0x5a, SLOT);
    size_t one = flow_table_committed_bytes(&ft);
    assert_true(one < 2u << 20); /* one chunk of IDs */
    for (uint32_t i = 1; i < N; i++) {
        struct flow_key k = key_of(i);
        assert_int_equal(flow_table_insert(&ft, &k, &id), 0);
        assert_int_equal(id, i); /* fresh IDs in order */
        memcpy(flow_table_data(&ft, id), &i, sizeof(i));
    }
    assert_ptr_equal(flow_table_data(&ft, first), d0);
    assert_int_equal(d0[SLOT - 1], 0x5a);
    size_t per_flow = (size_t)1024 + sizeof(struct flow_slot);
    assert_true(flow_table_committed_bytes(&ft) >= (size_t)N * per_flow);
    assert_true(flow_table_committed_bytes(&ft) <= (size_t)(N + 2048) * per_flow + (1u << 20));
    assert_true(ft.n_buckets >= 2 * N - 1);
    assert_true(longest_chain(&ft) <= 10);
    for (uint32_t i = 1; i < N; i++) {
        struct flow_key k = key_of(i);
        uint32_t stored;
        id = flow_table_lookup(&ft, &k);
        assert_int_equal(id, i);
        memcpy(&stored, flow_table_data(&ft, id), sizeof(stored));
        assert_int_equal(stored, i);
    }
    /* IDs never handed out are not valid and are not touched. */
    assert_false(flow_table_valid(&ft, N));
    assert_false(flow_table_valid(&ft, (1u << 20) - 1));
    assert_false(flow_table_valid(&ft, FLOW_ID_NONE));
    assert_int_equal(flow_table_id_end(&ft), N);
    flow_table_fini(&ft);
}

/* max_flows is the limit even when it is not a multiple of the commit
 * chunk; a freed ID is taken before -ENOSPC. */
static void test_limit_not_chunk_multiple(void **state)
{
    enum { MAX = 3000 };
    struct flow_table ft;
    struct flow_table_config c = cfg_of(MAX, 0);
    uint32_t id;

    assert_int_equal(flow_table_init(&ft, &c), 0);
    for (uint32_t i = 0; i < MAX; i++) {
        struct flow_key k = key_of(i);
        assert_int_equal(flow_table_insert(&ft, &k, &id), 0);
    }
    struct flow_key extra = key_of(MAX);
    assert_int_equal(flow_table_insert(&ft, &extra, &id), -ENOSPC);
    flow_table_free(&ft, 1234);
    assert_int_equal(flow_table_insert(&ft, &extra, &id), 0);
    assert_int_equal(id, 1234);
    assert_int_equal(flow_table_lookup(&ft, &extra), 1234);
    flow_table_fini(&ft);
}

static long vm_data_kb(void)
{
    char line[128];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmData: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* Memory refused (RLIMIT_DATA a few MiB above what the process uses: the
 * kernel refuses to make more of the reserve writable): insert says -ENOMEM,
 * the flows already in are intact, a freed ID is still taken. In a child
 * process so the limit stays there. */
static void test_memory_refused(void **state)
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        struct flow_table ft;
        struct flow_table_config c = cfg_of(1u << 20, 0);
        struct rlimit rl;
        uint32_t n = 0, id;
        int rc;

        c.slot_bytes = 1472;
        if (flow_table_init(&ft, &c) || vm_data_kb() < 0)
            _exit(10);
        rl.rlim_cur = rl.rlim_max = (rlim_t)(vm_data_kb() + 8192) * 1024;
        if (setrlimit(RLIMIT_DATA, &rl))
            _exit(11);
        do { /* bounded: a kernel ignoring the limit fails the test, not the host */
            struct flow_key k = key_of(n);
            rc = flow_table_insert(&ft, &k, &id);
        } while (rc == 0 && ++n < 16384);
        if (rc != -ENOMEM || n < 1024 || n > 8192)
            _exit(12);
        for (uint32_t i = 0; i < n; i++) {
            struct flow_key k = key_of(i);
            if (flow_table_lookup(&ft, &k) != i)
                _exit(13);
        }
        flow_table_free(&ft, 7);
        struct flow_key k = key_of(n);
        if (flow_table_insert(&ft, &k, &id) || id != 7)
            _exit(14);
        flow_table_fini(&ft);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The hash is keyed: a different key moves flows to other buckets. */
static void test_keyed_hash(void **state)
{
    struct flow_hash_key a = {{0}}, b = {{1}};
    int differ = 0;
    for (uint32_t i = 0; i < 64; i++) {
        struct flow_key k = key_of(i);
        differ += flow_bucket(flow_hash(&a, &k), 1024) != flow_bucket(flow_hash(&b, &k), 1024);
    }
    assert_true(differ > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_full_and_unlink),
        cmocka_unit_test(test_random_vs_reference),
        cmocka_unit_test(test_random_vs_reference_growing),
        cmocka_unit_test(test_grows_on_demand),
        cmocka_unit_test(test_limit_not_chunk_multiple),
        cmocka_unit_test(test_memory_refused),
        cmocka_unit_test(test_keyed_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
