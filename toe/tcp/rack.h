/* RACK loss detection (RFC 8985 section 6): a segment is lost when a
 * segment sent sufficiently later has been delivered (acknowledged or
 * SACKed), "sufficiently" being RACK.rtt plus a reordering window.
 *
 * Send times are kept per burst of first transmissions: a burst is what
 * went at one instant in sequence order (one ACK's worth of sending), so
 * the time of any byte sent is that of the burst holding it. First
 * transmissions go out in sequence order, so the bytes RACK deems lost are
 * all unSACKed bytes below one sequence number: rack_detect() returns it
 * and the scoreboard's lost_end (sack.h) carries it. Retransmissions are
 * timed by the engine's retransmission log (tcp_ack.c), not here.
 *
 * Pure: no clock (callers pass now_us), no I/O, no allocation. */
#ifndef TOE_TCP_RACK_H
#define TOE_TCP_RACK_H

#include <stdbool.h>
#include <stdint.h>

/* Send-time records. When full, the two oldest are merged under the later
 * time: their bytes are then deemed lost a little later, never earlier. */
#define RACK_TX_MAX 64
/* RFC 8985 6.2 step 4: reo_wnd_mult is kept this many recoveries after
 * the last D-SACK that raised it. */
#define RACK_REO_WND_PERSIST 16

struct rack_tx {
    uint32_t end;                /* just past the burst (it starts where the
                                    previous one ends) */
    uint32_t xmit_us;            /* send time, low 32 bits of now_us */
    bool rtx;                    /* part of it was retransmitted: its send
                                    time says nothing of a delivery */
    bool merged;                 /* holds older bursts too: its time is
                                    late for them (no RTT sample) */
};

struct rack {
    struct rack_tx tx[RACK_TX_MAX];
    uint32_t head, n;            /* ring of records, oldest at head */
    uint32_t start;              /* where the oldest record starts */
    bool valid;                  /* RACK.xmit_ts is set */
    uint32_t xmit_us;            /* RACK.xmit_ts: latest send time delivered */
    uint32_t end_seq;            /* RACK.end_seq */
    uint32_t rtt_us;             /* RACK.rtt */
    uint32_t fack;               /* highest sequence delivered + 1 (RACK.fack) */
    bool fack_set;
    bool reordering_seen;        /* RACK.reordering_seen */
    uint32_t reo_wnd_mult;       /* RACK.reo_wnd_mult */
    uint32_t reo_wnd_persist;    /* RACK.reo_wnd_persist */
    bool dsack_round_set;
    uint32_t dsack_round;        /* RACK.dsack_round: SND.MAX when raised */
};

void rack_init(struct rack *r);

/* New data [seq, end) left at now_us (first transmission). */
void rack_sent(struct rack *r, uint32_t seq, uint32_t end, uint64_t now_us);

/* [seq, end) was sent again: its records give no RTT sample any more. */
void rack_retransmitted(struct rack *r, uint32_t seq, uint32_t end);

/* SND.UNA moved: records wholly below it go. */
void rack_acked(struct rack *r, uint32_t snd_una);

/* RFC 8985 6.2 steps 1-3 for the highest byte an ACK newly delivered
 * (delivered_end = that byte + 1): RACK.rtt, RACK.xmit_ts, RACK.end_seq,
 * and reordering (a first transmission delivered below RACK.fack). */
void rack_update(struct rack *r, uint32_t delivered_end, uint64_t now_us);

/* RFC 8985 6.2 step 2 for a delivery whose send time the caller knows (a
 * retransmission the engine logged, its delivery not ambiguous): RACK.rtt,
 * RACK.xmit_ts, RACK.end_seq. */
void rack_update_time(struct rack *r, uint64_t xmit_us, uint32_t end, uint64_t now_us);

/* An RTT sample for RFC 6298 from a cumulative ACK of [start, end): now
 * minus the send time of its first byte (RFC 7323 4.3: what a delayed
 * ACK waited counts), as Linux prefers to a timestamp echo; 0 when any
 * of it was retransmitted (Karn) or its time is not its own (merged). */
uint32_t rack_rtt_sample(const struct rack *r, uint32_t start, uint32_t end, uint64_t now_us);

/* RFC 8985 6.2 step 4: a D-SACK widens the window once per round trip
 * (snd_una passing the SND.MAX of the last widening). */
void rack_dsack(struct rack *r, uint32_t snd_una, uint32_t snd_max);

/* A recovery ended: one step of reo_wnd_persist. */
void rack_recovery_done(struct rack *r);

/* RFC 8985 6.2 step 4: RACK.reo_wnd. 0 while no reordering was seen and
 * the sender is in recovery or has DupThresh duplicates (loss is then
 * likelier than reordering); else reo_wnd_mult * min_rtt / 4, at most
 * SRTT. */
uint32_t rack_reo_wnd_us(const struct rack *r, bool recovering, uint32_t min_rtt_us,
                         uint32_t srtt_us);

/* RFC 8985 6.2 step 5: every unSACKed byte below the returned sequence is
 * lost (snd_una when none). *timeout_us gets how long until the next
 * record would be (0: none waiting): the reordering timer. In RACK's own
 * burst the bytes below RACK.end_seq count as sent before it, the
 * delivered segment too (the burst does not know its start): it is
 * SACKed or acknowledged, so only the timer may fire for nothing. */
uint32_t rack_detect(const struct rack *r, uint32_t snd_una, uint64_t now_us,
                     uint32_t reo_wnd_us, uint32_t *timeout_us);

#endif
