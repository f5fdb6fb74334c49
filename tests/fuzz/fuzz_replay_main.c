/* Replay driver for fuzz targets when there is no libFuzzer (gcc builds):
 * runs the target on the files given as arguments, then on deterministic
 * pseudo-random inputs and mutations of the target's seeds.
 *   <target>_replay [FILE...]            replay files + 100000 generated inputs
 *   <target>_replay --write-seeds DIR    write the seeds as files (corpus start) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"

#define MAX_SEEDS   64
#define MAX_INPUT   4096
#define GENERATED   100000

static uint8_t *seeds[MAX_SEEDS];
static size_t seed_len[MAX_SEEDS];
static size_t nseeds;
static const char *seed_dir;

static void add_seed(const uint8_t *data, size_t size)
{
    if (seed_dir) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/seed-%03zu", seed_dir, nseeds++);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(data, 1, size, f);
            fclose(f);
        }
        return;
    }
    if (nseeds == MAX_SEEDS || size > MAX_INPUT)
        return;
    seeds[nseeds] = malloc(size ? size : 1);
    if (!seeds[nseeds])
        return;
    memcpy(seeds[nseeds], data, size);
    seed_len[nseeds++] = size;
}

static uint64_t rng = 0x746f652d66757a7aull;

static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int run_file(const char *path)
{
    static uint8_t buf[1 << 20];
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    /* An exact-size copy, so sanitizers see reads past the end. */
    uint8_t *in = malloc(n ? n : 1);
    if (!in)
        return 1;
    memcpy(in, buf, n);
    LLVMFuzzerTestOneInput(in, n);
    free(in);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
        seed_dir = argv[2];
        if (toe_fuzz_seeds)
            toe_fuzz_seeds(add_seed);
        return 0;
    }
    for (int i = 1; i < argc; i++)
        if (run_file(argv[i]))
            return 1;
    if (toe_fuzz_seeds)
        toe_fuzz_seeds(add_seed);

    static uint8_t work[MAX_INPUT];
    for (uint32_t iter = 0; iter < GENERATED; iter++) {
        size_t len;
        if (nseeds == 0 || iter % 4 == 0) {
            len = rnd() % 256;
            for (size_t i = 0; i < len; i++)
                work[i] = (uint8_t)rnd();
        } else {
            size_t s = rnd() % nseeds;
            len = seed_len[s];
            memcpy(work, seeds[s], len);
            uint32_t muts = 1 + (uint32_t)(rnd() % 4);
            for (uint32_t m = 0; m < muts; m++) {
                switch (rnd() % 5) {
                case 0: /* bit flip */
                    if (len)
                        work[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
                    break;
                case 1: /* random byte */
                    if (len)
                        work[rnd() % len] = (uint8_t)rnd();
                    break;
                case 2: /* truncate */
                    if (len)
                        len = rnd() % len;
                    break;
                case 3: /* extend with random bytes */
                    for (uint32_t k = (uint32_t)(rnd() % 16); k && len < MAX_INPUT; k--)
                        work[len++] = (uint8_t)rnd();
                    break;
                default: /* interesting value */
                    if (len) {
                        static const uint8_t v[] = {0, 1, 2, 4, 5, 0x7f, 0x80, 0xff, 0x0f, 0xf0};
                        work[rnd() % len] = v[rnd() % sizeof(v)];
                    }
                    break;
                }
            }
        }
        uint8_t *in = malloc(len ? len : 1);
        if (!in)
            return 1;
        memcpy(in, work, len);
        LLVMFuzzerTestOneInput(in, len);
        free(in);
    }
    printf("replayed %d files and %d generated inputs (%zu seeds)\n", argc - 1, GENERATED, nseeds);
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i]);
    return 0;
}
