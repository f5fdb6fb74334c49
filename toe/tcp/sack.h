/* SACK machinery (RFC 2018, RFC 2883, RFC 6675).
 *
 * Sender side: a scoreboard of the SACKed ranges above SND.UNA and the RFC
 * 6675 section 4 routines over it (IsLost, SetPipe, NextSeg), computed on
 * ranges rather than per octet. Receiver side: choosing which SACK blocks
 * (and D-SACK block) go into an ACK.
 *
 * All ranges are [start, end) in sequence space, compared only with the
 * seq.h helpers. Pure: no clock, no I/O, no allocation. */
#ifndef TOE_TCP_SACK_H
#define TOE_TCP_SACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "toe/wire/tcp_opts.h"

/* ---------------------------------------------------------------- sender */

/* RFC 6675 DupThresh. */
#define SACK_DUPTHRESH 3
/* Ranges remembered. When an update would exceed it the highest range is
 * dropped: the scoreboard is an optimisation, forgetting SACK information
 * only makes the sender retransmit or wait more than needed, never
 * incorrect (RFC 2018 section 8: SACK is advisory). */
#define SACK_BOARD_MAX_RANGES 16

struct sack_board {
    uint32_t n; /* ranges in use */
    /* Sorted ascending, disjoint and non-adjacent, all above SND.UNA. */
    struct tcp_sack_block r[SACK_BOARD_MAX_RANGES];
    /* Every unSACKed byte below lost_end counts as lost whatever IsLost
     * says, above HighSACK too (set by the engine: after an RTO, RFC 6675
     * 5.1; below a SACKed loss probe, RFC 8985 6.2). */
    bool lost_end_set;
    uint32_t lost_end;
};

struct sack_update_result {
    uint32_t newly_sacked_bytes; /* bytes not SACKed before this ACK */
    uint32_t valid_blocks;       /* blocks merged into the board */
    uint32_t invalid_blocks;     /* ignored: empty or outside [SND.UNA, SND.NXT] */
    uint32_t stale_blocks;       /* ignored: acknowledged since the (reordered,
                                    older) ACK carrying them was sent */
    bool dsack;                  /* first block is a D-SACK (RFC 2883 section 4) */
    struct tcp_sack_block dsack_block; /* its range, when dsack */
    bool highest_advanced;       /* the highest SACKed sequence moved up */
    uint32_t newly_sacked_end;   /* just past the highest byte newly SACKed
                                    (when newly_sacked_bytes) */
    uint32_t newly_sacked_first; /* start of the lowest block with new bytes */
};

void sack_board_init(struct sack_board *sb);

/* Forget everything, e.g. after an RTO when the receiver may have reneged
 * (RFC 6675 section 5.1 lets the sender keep it; this is the engine's call). */
void sack_board_clear(struct sack_board *sb);

/* Merge the SACK blocks of one ACK, in the order they appear in the option.
 * seg_ack is the ACK's SEG.ACK; snd_una must already reflect this ACK's
 * cumulative acknowledgement (call sack_board_ack first), and is above
 * seg_ack for a reordered older ACK. A block is valid when start < end,
 * start >= SND.UNA and end <= SND.NXT. D-SACK (RFC 2883 section 4): the
 * first block lies wholly below SEG.ACK (start < end <= SEG.ACK), or inside
 * the second block
 * when that one is valid; it is reported, not merged (its data is already
 * acknowledged or covered by the second block). A first block straddling
 * SEG.ACK is neither: it is invalid. */
struct sack_update_result sack_board_update(struct sack_board *sb, uint32_t seg_ack,
                                            uint32_t snd_una, uint32_t snd_nxt,
                                            const struct tcp_sack_block *blocks, size_t n);

/* Marks every unSACKed byte below end lost (see lost_end). */
void sack_board_mark_lost(struct sack_board *sb, uint32_t end);

/* Cumulative ACK moved SND.UNA: drop and trim ranges at or below it. */
void sack_board_ack(struct sack_board *sb, uint32_t snd_una);

/* Total SACKed bytes on the board. */
uint32_t sack_board_sacked_bytes(const struct sack_board *sb);

/* Sequence just past the highest SACKed byte (RFC 6675 HighSACK + 1);
 * false if the board is empty. */
bool sack_board_highest_sacked(const struct sack_board *sb, uint32_t *end);

/* Just past the highest byte of [lo, hi) not SACKed; lo if all are. */
uint32_t sack_board_unsacked_end(const struct sack_board *sb, uint32_t lo, uint32_t hi);

/* Whether byte seq is SACKed. */
bool sack_board_is_sacked(const struct sack_board *sb, uint32_t seq);

/* RFC 6675 IsLost(seq): more than (DupThresh - 1) * SMSS bytes above seq
 * are SACKed, or DupThresh discontiguous SACKed ranges lie above it. */
bool sack_board_is_lost(const struct sack_board *sb, uint32_t seq, uint32_t smss);

/* RFC 6675 SetPipe, in bytes: over every unSACKed byte in [snd_una,
 * snd_nxt), count it once if not IsLost and once more if it was
 * retransmitted (below high_rxt). IsLost is constant over each hole
 * between SACKed ranges (the bytes SACKed above a hole do not depend on
 * where in the hole one looks), so this is exact per octet, not an
 * approximation; the only inexactness is what the bounded board forgot.
 *
 * high_rxt: sequence just PAST the highest retransmitted byte in this
 * recovery (RFC 6675 HighRxt + 1); pass snd_una at recovery start. */
uint32_t sack_board_pipe(const struct sack_board *sb, uint32_t snd_una, uint32_t snd_nxt,
                         uint32_t high_rxt, uint32_t smss);

enum sack_next_kind {
    SACK_NEXT_NONE = 0,  /* nothing to send now */
    SACK_NEXT_LOST,      /* rule 1: retransmit a lost segment */
    SACK_NEXT_NEW,       /* rule 2: send new data from snd_nxt (the engine
                            picks the length; *len = 0) */
    SACK_NEXT_RESCUE,    /* rule 3: retransmit an unSACKed, not-lost segment */
};

/* RFC 6675 section 4 NextSeg. Rule 1: the lowest unSACKed byte S2 >=
 * high_rxt, below HighSACK (or below lost_end), with IsLost(S2) (or below
 * lost_end). Rule 2 applies when
 * new_data_ok (the engine has unsent data and the peer's window allows it).
 * Rule 3: as rule 1 without IsLost. seq and len get the segment (len <= smss,
 * never crossing into SACKed data). Rule 4 (rescue retransmission) is left
 * to the engine. */
enum sack_next_kind sack_board_next_seg(const struct sack_board *sb, uint32_t snd_una,
                                        uint32_t snd_nxt, uint32_t high_rxt, uint32_t smss,
                                        bool new_data_ok, uint32_t *seq, uint32_t *len);

/* -------------------------------------------------------------- receiver */

/* Remembered blocks, most recently reported first (RFC 2018 section 4). */
#define SACK_RX_HISTORY_MAX 8

struct sack_rx_history {
    uint32_t n;
    struct tcp_sack_block blk[SACK_RX_HISTORY_MAX];
    bool dsack_pending;
    struct tcp_sack_block dsack; /* duplicate range to report once */
};

void sack_rx_init(struct sack_rx_history *h);

/* An out-of-order segment [start, end) was queued: its block goes first in
 * the next SACK option. Older entries it touches are merged away. */
void sack_rx_note_segment(struct sack_rx_history *h, uint32_t start, uint32_t end);

/* A segment carried duplicate data [start, end) (below RCV.NXT or already
 * queued): the next SACK option starts with this D-SACK block (RFC 2883
 * section 4). A later duplicate replaces an unsent one. */
void sack_rx_note_duplicate(struct sack_rx_history *h, uint32_t start, uint32_t end);

/* Build the SACK blocks for the ACK being sent. ooo[] holds the receive
 * queue's out-of-order ranges (any order, disjoint, all above rcv_nxt);
 * max_blocks is 3 with timestamps, 4 without (never more than
 * TCP_MAX_SACK_BLOCKS). Order: the pending D-SACK block, then (RFC 2883
 * section 4.1) the queued block containing it if any, then blocks in the
 * order of the history (the latest segment's block first, then the most
 * recently reported), then queued blocks never reported, lowest first.
 * Consumes the D-SACK and rewrites the history to the order just sent, so
 * call it once per ACK actually sent. Returns the number of blocks. */
unsigned sack_rx_build(struct sack_rx_history *h, const struct tcp_sack_block *ooo,
                       size_t n_ooo, uint32_t rcv_nxt, unsigned max_blocks,
                       struct tcp_sack_block *out);

#endif
