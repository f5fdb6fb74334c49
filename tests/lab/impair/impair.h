/* The impairment engine of the lab's impairing bridge (toe-impair): decides,
 * for each frame of one direction, whether it is lost (random or bursty
 * Gilbert-Elliott loss), duplicated, corrupted, held back (reordering), and
 * when each copy leaves (fixed delay, rate limit). It also holds the bounded
 * queue of frames waiting to leave, ordered by departure time.
 *
 * Pure: no clock, no I/O. Time is passed in (now_us) and all randomness comes
 * from a PRNG seeded by the config, so a seed replays exactly the same
 * decisions, and the unit tests run in virtual time. */
#ifndef TOE_LAB_IMPAIR_H
#define TOE_LAB_IMPAIR_H

#include <stdbool.h>
#include <stdint.h>

#define IMPAIR_DEFAULT_QUEUE_FRAMES         1024
#define IMPAIR_DEFAULT_CORRUPT_OFFSET_BYTES 34 /* past Ethernet + IPv4 headers */

/* All zero (after impair_config_init): a perfect wire with no delay. */
struct impair_config {
    uint64_t seed;
    double loss; /* independent loss probability */
    /* Gilbert-Elliott bursty loss; off while ge_p == 0. Per frame, first the
     * state moves (good->bad with ge_p, bad->good with ge_r), then the frame
     * is lost with ge_loss_good or ge_loss_bad. Mean loss:
     * (ge_r * ge_loss_good + ge_p * ge_loss_bad) / (ge_p + ge_r);
     * mean bad-state run: 1 / ge_r frames. */
    double ge_p, ge_r, ge_loss_good, ge_loss_bad;
    double dup;     /* a second copy right behind the first */
    double reorder; /* held back reorder_delay_us more */
    uint64_t reorder_delay_us;
    double corrupt;                /* one bit flipped at or past corrupt_offset */
    uint32_t corrupt_offset_bytes; /* so L2/L3 routing survives and the L4
                                      checksum must catch it */
    uint64_t rate_bps;             /* link rate over the frame bytes; 0 = none */
    uint64_t delay_us;             /* fixed one-way delay */
    uint32_t queue_frames;         /* frames held at once (bound) */
};

struct impair_stats {
    uint64_t frames_in, bytes_in;
    uint64_t frames_out, bytes_out; /* copies popped (duplicates included) */
    uint64_t lost_random, lost_burst, queue_drops;
    uint64_t duplicated, reordered, corrupted;
};

/* What to do with one frame: up to two copies, each with its departure time
 * and the bit to flip (-1: none). */
struct impair_verdict {
    uint32_t copies;
    uint64_t due_us[2];
    int64_t corrupt_bit[2];
};

struct impair_entry {
    uint64_t due_us;
    uint64_t seq; /* ties leave in arrival order */
    uint32_t slot;
    uint32_t len_bytes;
};

struct impair {
    struct impair_config cfg;
    uint64_t rng[4];
    bool ge_bad;
    uint64_t link_free_us; /* the rate-limited link is busy until then */
    uint64_t seq;
    struct impair_entry *heap;
    uint32_t n, cap;
    struct impair_stats st;
};

void impair_config_init(struct impair_config *cfg);
/* 0, -EINVAL (a probability outside [0,1]...), -ENOMEM. */
int impair_init(struct impair *im, const struct impair_config *cfg);
void impair_free(struct impair *im);

/* Decides the fate of a frame of len_bytes arriving at now_us, taking the
 * queue's room into account (a copy that would not fit is a queue drop), so
 * every copy of the verdict can then be pushed. */
void impair_decide(struct impair *im, uint64_t now_us, uint32_t len_bytes,
                   struct impair_verdict *v);
/* Queues copy slot (the caller's buffer index); -ENOSPC if full. */
int impair_push(struct impair *im, uint64_t due_us, uint32_t slot, uint32_t len_bytes);
/* Next entry due at or before now_us: 1 and *e, or 0 if none is due. */
int impair_pop_due(struct impair *im, uint64_t now_us, struct impair_entry *e);
/* Earliest departure queued, or UINT64_MAX. */
uint64_t impair_next_due(const struct impair *im);
uint32_t impair_queued(const struct impair *im);

/* Uniform double in [0,1) and integer in [0,n) from the engine's PRNG
 * (xoshiro256**); exposed for the tests. */
double impair_uniform(struct impair *im);
uint64_t impair_below(struct impair *im, uint64_t n);

#endif
