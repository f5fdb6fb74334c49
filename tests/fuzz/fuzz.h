/* Shared declarations of toe's fuzz targets: the libFuzzer entry point, an
 * optional seed hook, and a check that crashes (so the fuzzer reports it). */
#ifndef TOE_TESTS_FUZZ_H
#define TOE_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A target may define this to hand valid inputs to the replay driver (gcc
 * builds mutate them) and to the seed writer (clang builds start the corpus
 * with them). */
typedef void (*fuzz_seed_fn)(const uint8_t *data, size_t size);
void toe_fuzz_seeds(fuzz_seed_fn add) __attribute__((weak));

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

#endif
