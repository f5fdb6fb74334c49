/* The TCP protocol engine: the API the stack layer (input unit, flow table,
 * app API, packet-script harness) drives.
 *
 * The engine is pure. Every entry point takes now_us; it never reads a clock,
 * never does I/O and holds no global state. Segments leave through
 * ops->emit, connection memory comes from ops->conn_alloc/conn_free (so the
 * stack can place connections in its flow table), and app events are queued
 * through ops->notify: the engine never runs app code from inside input
 * processing; the stack delivers notifications after the burst.
 *
 * One struct tcp_engine per core. It owns nothing global: the timer wheel
 * and page pool of the core are passed in.
 *
 * Ownership of a struct tcp_conn:
 *  - active open: tcp_connect() returns it; the app owns it.
 *  - passive open: the engine owns it until tcp_accept() hands it to the app.
 *  - the app gives it back with tcp_close() or tcp_abort() (exactly once,
 *    also after a TCP_EV_CLOSED notification) and must not touch it after.
 *  - ops->conn_free is called once the connection is CLOSED (TIME_WAIT over,
 *    reset, timed out) and the app does not own it. From then on the stack
 *    must drop any notification it still holds for that connection and
 *    forget its flow-table entry.
 *  - ops->conn_free is never called from inside ops->emit or ops->notify.
 *
 * Timers: the connection's timer nodes live on the core's wheel; the stack
 * only calls timer_wheel_advance(). When emit returned -ENOBUFS the stack
 * calls tcp_engine_tx_ready() once TX has room (every poll is fine).
 *
 * Choices and known deviations (see also the per-file comments):
 *  - rto_min 200 ms (Linux) by default; RFC 6298 2.4 says 1 s (configurable).
 *  - Data on a SYN or SYN-ACK is not taken (not acknowledged; the peer
 *    sends it again). URG is ignored: urgent data is delivered inline.
 *  - A non-RST segment without timestamps on a timestamp connection is
 *    accepted (Linux), not dropped (RFC 7323 3.2 SHOULD).
 *  - RST in TIME_WAIT closes it (RFC 9293; no RFC 1337 protection).
 *  - TIME_WAIT is cut short when room is needed (Linux tw bucket overflow):
 *    a new connection finding no memory (ops->conn_alloc NULL: a full flow
 *    table), or more than max_time_wait in TIME_WAIT, ends the oldest one
 *    early (TCPTimeWaitOverflow). RFC 9293 3.6 wants 2MSL; the ISN clock
 *    and timestamps (RFC 6191) protect the next incarnation.
 *  - A new SYN in TIME_WAIT (higher ISN, or newer timestamp) reopens, per
 *    RFC 6191, only if the app released the old connection.
 *  - ACK-only segments and RSTs carry SND.MAX (BSD), clamped to the peer's
 *    window (Linux), not SND.NXT, which goes back after an RTO.
 *  - Scaled windows are rounded down: the peer may see the right edge up to
 *    2^shift - 1 bytes left of what we accept (RFC 7323 2.4 rounding).
 *  - Window updates after app reads: when the window would at least double
 *    and had fallen to half the buffer (Linux), within RFC 9293 receiver SWS.
 *  - Nagle does not hold the last segment before our FIN (Linux).
 *  - SACK fast recovery: cwnd by PRR (RFC 6937, PRR-SSRB), not RFC 6675's
 *    cwnd = ssthresh; the recovery after an RTO slow-starts instead.
 *  - SACK: RFC 6675 NextSeg rules 1-4 (rescue once per recovery). SACK
 *    blocks are checked (RFC 2018, RFC 2883: D-SACK only wholly below
 *    SEG.ACK or inside a valid second block); invalid ones are ignored and
 *    counted (TCPSACKDiscard). DupAcks counts every ACK with new SACK
 *    information, data or window change on it or not (RFC 6675 2); with
 *    SACK blocks that bring nothing new, it is no duplicate.
 *  - The scoreboard holds 16 SACKed ranges (the highest forgotten beyond),
 *    the receiver's out-of-order queue ooo_max_ranges (8 by default): not
 *    yet sized by the window within the connection's memory.
 *  - After an RTO the scoreboard is kept (RFC 6675 5.1, errata 1610) and
 *    every unSACKed byte sent counts as lost (RFC 8985 6.3 marks only what
 *    RACK deems old enough; after an RTO that is nearly all of it); the
 *    holes go again in slow start, SACKed data is not resent. Reneging
 *    (a cumulative ACK stopping at SACKed data) brings the RTO forward to
 *    max(SRTT/2, 10 ms) and that RTO forgets the board (Linux).
 *  - Undo of spurious reductions restores cwnd and ssthresh of before the
 *    loss event (RFC 4015's response, simplified; Linux's undo) and ends
 *    the recovery: Eifel (RFC 3522, timestamps) and F-RTO (RFC 5682
 *    section 3, SACK-enhanced; first timeout of a loss event only) after
 *    an RTO; D-SACKs covering every byte a recovery retransmitted (RFC
 *    3708; Linux's undo_retrans, counted in bytes) after fast recovery or
 *    an RTO. A D-SACK undo also marks the path as reordering (RACK).
 *  - RACK (RFC 8985 section 6, SACK connections): send times are kept per
 *    burst of first transmissions (64 records, the oldest merged under
 *    the later time when full), not per segment; retransmitted parts
 *    give no RACK sample (no timestamp disambiguation). RACK.rtt,
 *    RACK.xmit_ts/end_seq, reordering detection, the reordering window
 *    min_RTT/4 x reo_wnd_mult (D-SACK, once per round trip, kept 16
 *    recoveries), at most SRTT, 0 in recovery until reordering is seen;
 *    detection on every ACK in every state and by the reordering timer.
 *    RFC 6675 DupThresh/IsLost start recovery beside it until the path
 *    is seen to reorder; then RACK alone does (Linux: RACK alone always).
 *    A retransmission feeds RACK its own send time when delivered at
 *    least min_RTT after it (RFC 8985 6.2 step 2); lost retransmissions
 *    are also found by transmission order (below).
 *  - Tail loss probes (RFC 8985 section 7, with SACK; cfg.tlp): PTO =
 *    2 SRTT (+200 ms WCDelAckT for a one-segment flight), at least 10 ms
 *    (Linux), at most the RTO interval (the RTO is restarted rather than
 *    tracked from the oldest segment). When the PTO finds SACKed data
 *    above a hole, or the probe is SACKed, the holes below are lost and
 *    fast recovery starts at once; a retransmission is lost again when
 *    data sent after it (above the SND.NXT of its time, or a later
 *    retransmission) is SACKed or ACKed, and is resent in the same
 *    recovery (TCPLostRetransmit). TLP loss detection (7.4) reduces cwnd
 *    once, from cwnd (Linux CWR).
 *  - Without SACK the RTO goes back N from SND.UNA (BSD).
 *  - Orphaned FIN_WAIT_2 is closed after fin_wait2_us (Linux tcp_fin_timeout).
 *  - Keepalive and zero-window probing give up after keepalive_probes /
 *    retries_max probes the peer never answered, with a RST (an orphan's
 *    zero-window probing also after retries_max answered ones, as Linux).
 *  - SYN+FIN and SYN+RST are dropped as illegal flag mixes (counted) before
 *    the RFC 5961 4.2 SYN challenge; Linux challenges SYN+FIN.
 *  - RTT samples (RFC 6298) come from the send time of the first byte a
 *    cumulative ACK covers when none of it was retransmitted (RACK's
 *    per-burst records, SACK connections; Linux does the same), else
 *    from the timestamp echo (RFC 7323), else from Karn's timing of one
 *    segment. No timestamp sample is taken during a run of timeouts
 *    (Karn's rule; a peer's echo can be that of an old retransmission).
 *  - In an RX burst (tcp_engine_rx_begin/_end) the ACK of in-order data is
 *    sent once at the end (MUST-59); out-of-order segments, hole fills and
 *    duplicates get their (duplicate) ACK at once, one each (RFC 5681 4.2).
 *  - No quick-ACK mode at connection start (RFC delayed ACK from the first
 *    segment); no ECN; no TCP Fast Open; no URG.
 *  - ACKs answering segments without data that fail the acceptability
 *    test or PAWS are rate limited per connection (invalid_ack_limit, 100
 *    per second, as RFC 5961 7's challenge ACKs; Linux: one per 500 ms,
 *    with a more lenient acceptability test); segments with data are
 *    always answered (Linux's tcp_oow_rate_limited), as is a retransmitted
 *    FIN already received. 10 per second cut netsim's burst-loss cell from
 *    10 to 3.5 Mbit/s: a peer whose ACKs fall outside the window needs ours
 *    to recover.
 *  - ICMP errors (tcp_icmp.c): hard errors (unreachable codes 2, 3) abort
 *    only in SYN-SENT / SYN-RECEIVED; synchronized, they are recorded like
 *    soft errors (RFC 5927 4.1, Linux; RFC 1122 4.2.3.9 says SHOULD abort).
 *    Soft errors never abort, also not in SYN-SENT (RFC 1122; RFC 5461
 *    notes stacks that do). The path MTU (RFC 1191) is per connection, not
 *    per destination: a new connection starts from the interface MTU and
 *    learns again; it is never raised again (no RFC 1191 6.3 timer), never
 *    taken below 552 (Linux min_pmtu; RFC 1191 says 68) and a report below
 *    that turns DF off. No RFC 4821 (PLPMTUD) black-hole detection. A
 *    "fragmentation needed" in fast recovery only lowers the MSS (the
 *    recovery resends at the new size; what it considers delivered is not
 *    re-sent until the RTO).
 */
#ifndef TOE_TCP_TCP_H
#define TOE_TCP_TCP_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "toe/tcp/isn.h"
#include "toe/tcp/seq.h"
#include "toe/tcp/syncookie.h"
#include "toe/wire/tcp_opts.h"

struct timer_wheel;
struct sockmem_pool;
struct tcp_conn; /* complete type in toe/tcp/tcp_conn.h; size via tcp_conn_size() */
struct tcp_engine;
struct tcp_listener;
struct tcp_cc_ops;

/* TCP header flags, as on the wire (RFC 9293 section 3.1, RFC 3168). */
#define TCP_FLAG_FIN 0x01u
#define TCP_FLAG_SYN 0x02u
#define TCP_FLAG_RST 0x04u
#define TCP_FLAG_PSH 0x08u
#define TCP_FLAG_ACK 0x10u
#define TCP_FLAG_URG 0x20u
#define TCP_FLAG_ECE 0x40u
#define TCP_FLAG_CWR 0x80u

/* Connection identity, host byte order; "l" is this stack, "r" the peer. */
struct tcp_tuple {
    uint32_t laddr, raddr;
    uint16_t lport, rport;
};

/* A parsed incoming segment. The input unit has already checked lengths,
 * checksums and option syntax; the engine checks everything else. */
struct tcp_seg {
    uint32_t seq;
    uint32_t ack;
    uint16_t wnd;             /* raw 16-bit window field (not yet scaled) */
    uint16_t urg;             /* urgent pointer (ignored: RFC 6093) */
    uint8_t flags;            /* TCP_FLAG_* */
    struct tcp_options opts;
    const uint8_t *payload;
    uint32_t len;             /* payload bytes (SYN/FIN not counted) */
};

/* One segment to send. wnd is the 16-bit field value, already scaled down. */
struct tcp_hdr_out {
    uint32_t seq;
    uint32_t ack;
    uint16_t wnd;
    uint8_t flags;
    uint8_t tos;              /* IPv4 TOS/DiffServ byte (RFC 9293 MUST-48) */
    uint8_t ttl;              /* IPv4 TTL, 0 = the stack's (MUST-49) */
    bool no_df;               /* send without DF: the path MTU is below the
                                 floor (tcp_icmp.c) */
    struct tcp_options opts;  /* options to encode */
};

enum tcp_state {
    TCP_CLOSED = 0,
    TCP_LISTEN,
    TCP_SYN_SENT,
    TCP_SYN_RECEIVED,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT_1,
    TCP_FIN_WAIT_2,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_LAST_ACK,
    TCP_TIME_WAIT,
    TCP_STATE_COUNT
};

const char *tcp_state_name(enum tcp_state s);

/* App events (bit set passed to ops->notify). */
#define TCP_EV_ACCEPTED    (1u << 0) /* passive conn established; on its listener's accept queue */
#define TCP_EV_CONNECTED   (1u << 1) /* active open established */
#define TCP_EV_READABLE    (1u << 2) /* new in-order data in the receive buffer */
#define TCP_EV_WRITABLE    (1u << 3) /* send buffer space became free */
#define TCP_EV_SENT        (1u << 4) /* data was acknowledged (tcp_conn_info: unacked) */
#define TCP_EV_PEER_CLOSED (1u << 5) /* FIN received: no more data will come */
#define TCP_EV_CLOSED      (1u << 6) /* connection is gone; see tcp_conn_close_reason() */

enum tcp_close_reason {
    TCP_CLOSE_NONE = 0,     /* not closed */
    TCP_CLOSE_NORMAL,       /* FIN exchange completed */
    TCP_CLOSE_RESET,        /* RST received */
    TCP_CLOSE_TIMEOUT,      /* retransmissions / keepalive gave up */
    TCP_CLOSE_REFUSED,      /* RST answering our SYN */
    TCP_CLOSE_ABORTED,      /* tcp_abort() or close with unread data (we sent RST) */
    TCP_CLOSE_UNREACHABLE,  /* ICMP hard error in SYN-SENT/-RECEIVED (the errno:
                               tcp_conn_info soft_error) */
};

const char *tcp_close_reason_name(enum tcp_close_reason r);

enum tcp_syncookies_mode {
    TCP_SYNCOOKIES_AUTO = 0, /* only when the listener's backlog is full */
    TCP_SYNCOOKIES_ALWAYS,
    TCP_SYNCOOKIES_NEVER,
};

/* Engine configuration; fill with tcp_config_default() then change fields,
 * so fields added later get their defaults. */
struct tcp_config {
    uint32_t mss_bytes;            /* MSS we advertise (1460: Ethernet MTU 1500) */
    uint32_t rcvbuf_min_bytes;     /* receive buffer bounds per connection */
    uint32_t rcvbuf_default_bytes;
    uint32_t rcvbuf_max_bytes;
    uint32_t sndbuf_min_bytes;     /* send buffer bounds per connection */
    uint32_t sndbuf_default_bytes;
    uint32_t sndbuf_max_bytes;
    bool wscale;                   /* RFC 7323 window scaling */
    bool sack;                     /* RFC 2018 SACK (+ RFC 2883 D-SACK) */
    bool timestamps;               /* RFC 7323 timestamps + PAWS */
    bool nagle;                    /* RFC 9293 3.7.4; per conn: tcp_set_nodelay() */
    uint32_t delack_max_us;        /* delayed ACK bound; 40 ms (Linux); <= 200 ms
                                      enforced; 0 = no delayed ACKs */
    uint32_t rto_initial_us;       /* RFC 6298 2.1: 1 s */
    uint32_t rto_min_us;           /* 200 ms like Linux (RFC 6298 says 1 s: configurable) */
    uint32_t rto_max_us;           /* 60 s (RFC 6298 2.5 allows a cap >= 60 s) */
    uint32_t retries_max;          /* R2 as a count of RTO retransmissions: 15 */
    uint32_t r2_min_us;            /* RFC 9293 3.8.3: give up no sooner than 100 s */
    uint32_t syn_retries;          /* SYN retransmissions before giving up: 7 (255 s) */
    uint32_t synack_retries;       /* SYN-ACK retransmissions: 7 */
    uint32_t time_wait_us;         /* 2MSL: 60 s */
    uint32_t max_time_wait;        /* TIME_WAIT connections kept per engine; one
                                      more recycles the oldest (Linux
                                      tcp_max_tw_buckets; 0 = no bound) */
    uint32_t fin_wait2_us;         /* orphaned FIN_WAIT_2 timeout: 60 s (0 = none) */
    bool keepalive;                /* RFC 9293 3.8.4 / RFC 1122 4.2.3.6: off by default */
    uint64_t keepalive_idle_us;    /* 2 h */
    uint32_t keepalive_intvl_us;   /* 75 s */
    uint32_t keepalive_probes;     /* 9 */
    uint32_t backlog_default;      /* 128: SYN-RECEIVED + accept queue per listener */
    enum tcp_syncookies_mode syncookies;
    uint32_t challenge_ack_limit;  /* RFC 5961 section 7: per connection per second (10) */
    uint32_t tx_budget_segs;       /* new data segments one connection sends per
                                      round (between tcp_engine_tx_ready calls),
                                      so one cannot starve the others on its
                                      core (32; 0: no limit) */
    uint32_t invalid_ack_limit;    /* ACKs answering out-of-window segments and PAWS
                                      failures without data, per connection per
                                      second (100) */
    char cc_name[16];              /* "newreno" or "cubic" */
    uint32_t ooo_max_ranges;       /* out-of-order ranges kept per connection (8,
                                      <= 64); written into the pool's config */
    uint32_t tick_us;              /* timer wheel tick the engine assumes (1 ms) */
    uint32_t persist_max_us;       /* zero-window probe interval cap (= rto_max) */
    uint32_t mem_pressure_pct;     /* page pool use (% of its limit) above which
                                      windows stop growing (90) */
    bool tlp;                      /* RFC 8985 section 7 tail loss probes (on) */
};

void tcp_config_default(struct tcp_config *cfg);

/* Counters, in the spirit of nstat. X(field, "NstatName"). */
#define TCP_STATS_LIST(X)                                \
    X(active_opens, "ActiveOpens")                       \
    X(passive_opens, "PassiveOpens")                     \
    X(attempt_fails, "AttemptFails")                     \
    X(estab_resets, "EstabResets")                       \
    X(curr_estab, "CurrEstab")                           \
    X(in_segs, "InSegs")                                 \
    X(out_segs, "OutSegs")                               \
    X(retrans_segs, "RetransSegs")                       \
    X(in_errs, "InErrs")                                 \
    X(out_rsts, "OutRsts")                               \
    X(in_rsts, "InRsts")                                 \
    X(delayed_acks, "DelayedACKs")                       \
    X(timeouts, "TCPTimeouts")                           \
    X(syn_timeouts, "TCPSynRetrans")                     \
    X(fast_retrans, "TCPFastRetrans")                    \
    X(sack_recovery, "TCPSackRecovery")                  \
    X(reno_recovery, "TCPRenoRecovery")                  \
    X(partial_acks, "TCPPartialUndo")                    \
    X(paws_drops, "PAWSEstab")                           \
    X(challenge_acks, "TCPChallengeACK")                 \
    X(challenge_acks_limited, "TCPChallengeACKLimited")  \
    X(syn_challenges, "TCPSYNChallenge")                 \
    X(syncookies_sent, "SyncookiesSent")                 \
    X(syncookies_recv, "SyncookiesRecv")                 \
    X(syncookies_failed, "SyncookiesFailed")             \
    X(listen_overflows, "ListenOverflows")               \
    X(listen_drops, "ListenDrops")                       \
    X(ofo_queue, "TCPOFOQueue")                          \
    X(ofo_drop, "TCPOFODrop")                            \
    X(ofo_merge, "TCPOFOMerge")                          \
    X(zero_window_probes, "TCPWinProbe")                 \
    X(keepalive_probes, "TCPKeepAlive")                  \
    X(time_waits, "TW")                                  \
    X(time_wait_recycled, "TWRecycled")                  \
    X(time_wait_overflow, "TCPTimeWaitOverflow")         \
    X(dsack_sent, "TCPDSACKOldSent")                     \
    X(dsack_ofo_sent, "TCPDSACKOfoSent")                 \
    X(dsack_recv, "TCPDSACKRecv")                        \
    X(sack_recv, "TCPSACKRecv")                          \
    X(sack_discard, "TCPSACKDiscard")                    \
    X(sack_reneging, "TCPSACKReneging")                  \
    X(rack_recovery, "TCPRackRecovery")                  \
    X(dsack_undo, "TCPDSACKUndo")                        \
    X(frto_undo, "TCPSpuriousRtoUndoFRTO")               \
    X(rack_reo_timeouts, "TCPRackReoTimeout")            \
    X(emit_fails, "TCPEmitFail")                         \
    X(tx_budget_defers, "TCPTxBudgetDefers")             \
    X(mem_pressure, "TCPMemoryPressures")                \
    X(rcv_pruned, "RcvPruned")                           \
    X(abort_on_close, "TCPAbortOnClose")                 \
    X(abort_on_data, "TCPAbortOnData")                   \
    X(abort_on_timeout, "TCPAbortOnTimeout")             \
    X(abort_on_memory, "TCPAbortOnMemory")               \
    X(conn_alloc_fails, "TCPConnAllocFail")              \
    X(no_room_cookies, "TCPNoRoomCookies")               \
    X(no_room_resets, "TCPNoRoomResets")                 \
    X(rtt_samples, "TCPRttSamples")                      \
    X(pure_acks_in, "TCPPureAcks")                       \
    X(data_segs_in, "DataSegsIn")                        \
    X(data_segs_out, "DataSegsOut")                      \
    X(spurious_rto, "TCPSpuriousRTOs")                   \
    X(loss_probes, "TCPLossProbes")                      \
    X(loss_probe_recovery, "TCPLossProbeRecovery")       \
    X(lost_retransmit, "TCPLostRetransmit")              \
    X(window_updates, "TCPWinUpdates")                   \
    X(ack_skipped_seq, "TCPACKSkippedSeq")               \
    X(ack_skipped_paws, "TCPACKSkippedPAWS")             \
    X(icmp_out_of_window, "OutOfWindowIcmps")            \
    X(icmp_source_quench, "TCPICMPSourceQuench")         \
    X(icmp_soft_errors, "TCPICMPSoftErrors")             \
    X(icmp_hard_errors, "TCPICMPHardErrors")             \
    X(pmtu_reduced, "TCPPMTUReduced")                    \
    X(pmtu_floor, "TCPPMTUFloor")                        \
    X(pmtu_ignored, "TCPPMTUIgnored")

/* Why a segment was dropped (one counter each, tcp_stats.drop[]). */
#define TCP_DROP_LIST(X)                                         \
    X(TCP_DROP_BAD_FLAGS, "bad_flags")           /* SYN+FIN, none... */ \
    X(TCP_DROP_NOT_ACCEPTABLE, "not_acceptable") /* 3.10.7.4 */  \
    X(TCP_DROP_PAWS, "paws")                                     \
    X(TCP_DROP_RST_OUT_OF_WINDOW, "rst_out_of_window")           \
    X(TCP_DROP_RST_CHALLENGED, "rst_challenged")                 \
    X(TCP_DROP_SYN_CHALLENGED, "syn_challenged")                 \
    X(TCP_DROP_NO_ACK, "no_ack")                                 \
    X(TCP_DROP_ACK_TOO_OLD, "ack_too_old")                       \
    X(TCP_DROP_ACK_UNSENT, "ack_unsent")                         \
    X(TCP_DROP_OFO_FULL, "ofo_full")                             \
    X(TCP_DROP_RCVBUF_FULL, "rcvbuf_full")                       \
    X(TCP_DROP_NO_MEMORY, "no_memory")                           \
    X(TCP_DROP_LISTEN_OVERFLOW, "listen_overflow")               \
    X(TCP_DROP_LISTEN_NOT_SYN, "listen_not_syn")                 \
    X(TCP_DROP_BAD_COOKIE, "bad_cookie")                         \
    X(TCP_DROP_NO_SOCKET, "no_socket")                           \
    X(TCP_DROP_SYN_SENT_BAD_ACK, "syn_sent_bad_ack")             \
    X(TCP_DROP_DATA_AFTER_FIN, "data_after_fin")                 \
    X(TCP_DROP_DATA_AFTER_CLOSE, "data_after_close")             \
    X(TCP_DROP_CLOSED, "closed")                                 \
    X(TCP_DROP_TIME_WAIT, "time_wait")                           \
    X(TCP_DROP_URG, "urgent")                    /* reserved: URG data is inline */

enum tcp_drop_reason {
#define TCP_DROP_ENUM_(e, n) e,
    TCP_DROP_LIST(TCP_DROP_ENUM_)
#undef TCP_DROP_ENUM_
    TCP_DROP_COUNT
};

const char *tcp_drop_reason_name(enum tcp_drop_reason r);

struct tcp_stats {
#define TCP_STATS_FIELD_(f, n) uint64_t f;
    TCP_STATS_LIST(TCP_STATS_FIELD_)
#undef TCP_STATS_FIELD_
    uint64_t drop[TCP_DROP_COUNT];
};

/* Calls fn(name, value, arg) for every counter, drops as "Drop_<reason>". */
void tcp_stats_foreach(const struct tcp_stats *st,
                       void (*fn)(const char *name, uint64_t value, void *arg), void *arg);

struct tcp_engine_ops {
    /* Encode and transmit one segment now; payload points into the send
     * buffer's pages and must be copied out. 0, or -ENOBUFS when TX is full:
     * the engine keeps the data queued and retries later (counted). */
    int (*emit)(void *owner, const struct tcp_tuple *t, const struct tcp_hdr_out *h,
                const struct iovec *payload, int iovcnt);
    /* Zeroed memory of tcp_conn_size() bytes for a new connection with tuple
     * t, or NULL: no room. The engine then ends its oldest TIME_WAIT
     * connection the app no longer holds (conn_free, counted
     * TCPTimeWaitOverflow) and asks once more; if that fails too it counts
     * and drops. */
    struct tcp_conn *(*conn_alloc)(void *owner, const struct tcp_tuple *t);
    /* The engine is done with c (see ownership rules above). */
    void (*conn_free)(void *owner, struct tcp_conn *c);
    /* Queue TCP_EV_* events for c; delivered to the app after the burst. */
    void (*notify)(void *owner, struct tcp_conn *c, unsigned events);
};

struct tcp_engine {
    struct tcp_config cfg;
    struct tcp_stats stats;
    struct timer_wheel *wheel;
    struct sockmem_pool *pool;
    const struct tcp_engine_ops *ops;
    void *owner;
    const struct tcp_cc_ops *cc_ops;
    struct tcp_isn_key isn_key;       /* RFC 6528 */
    struct syncookie_key cookie_key;  /* RFC 4987 */
    uint32_t nconns;          /* connections allocated and not yet freed */
    struct tcp_conn *blocked; /* connections whose emit failed (-ENOBUFS), or
                                 that used their round's tx_budget_segs */
    uint32_t round;           /* tcp_engine_tx_ready calls: the TX round */
    uint32_t deferred;        /* on blocked for the budget alone: retry at once */
    /* TIME_WAIT connections, oldest first: 2MSL is the same for all, so
     * entry order is expiry order and the head is the one to recycle. */
    struct tcp_conn *tw_head, *tw_tail;
    uint32_t tw_count;
    /* Between tcp_engine_rx_begin() and _end(): connections owing an ACK
     * for segments of this burst (RFC 9293 3.10.7.4, MUST-59). */
    bool rx_burst;
    struct tcp_conn *ack_head;
};

/* 0 or -EINVAL (bad config, unknown cc) / -ENOMEM. */
int tcp_engine_init(struct tcp_engine *eng, const struct tcp_config *cfg,
                    struct timer_wheel *wheel, struct sockmem_pool *pool,
                    const struct tcp_engine_ops *ops, void *owner);
/* TX ring has room again: retry output of connections whose emit failed.
 * The stack calls it after a TX completion / before the next RX burst. */
void tcp_engine_tx_ready(struct tcp_engine *eng, uint64_t now_us);
/* Connections wait for the next round only for their budget (not for the
 * TX ring): the caller should poll again at once rather than sleep. */
static inline bool tcp_engine_tx_deferred(const struct tcp_engine *eng)
{
    return eng->deferred != 0;
}
/* An RX burst: between these calls tcp_input() holds back the ACKs of
 * in-order data (the last segment's ACK covers the others: RFC 9293
 * 3.10.7.4, MUST-59); rx_end sends one per connection that still owes one.
 * Without them every tcp_input() sends its own ACK. */
void tcp_engine_rx_begin(struct tcp_engine *eng);
void tcp_engine_rx_end(struct tcp_engine *eng, uint64_t now_us);
/* Connections must have been freed (tcp_abort + timers) before; listeners closed. */
void tcp_engine_destroy(struct tcp_engine *eng);

/* Listening socket: the stack owns the struct and finds it by port. */
struct tcp_listener {
    struct tcp_engine *eng;
    uint32_t laddr;           /* 0 = any */
    uint16_t port;
    bool open;
    uint32_t backlog;         /* bound on syn_recv + accept_len */
    uint32_t syn_recv;        /* children in SYN-RECEIVED */
    uint32_t accept_len;      /* established children waiting for tcp_accept() */
    struct tcp_conn *syn_head;    /* children in SYN-RECEIVED (list) */
    struct tcp_conn *accept_head; /* accept queue, oldest first */
    struct tcp_conn *accept_tail;
    uint64_t cookie_sent_us;  /* last SYN cookie sent (0: never) */
    /* Optional, set by the caller: a clock of the last cookie shared by
     * replicas of this listener on other engines (cores), so that the ACK
     * of a cookie one replica sent is checked by whichever gets it. */
    _Atomic uint64_t *cookie_shared_us;
    void *user;               /* for the stack */
};

/* backlog 0 = cfg.backlog_default. 0 or -EINVAL. */
int tcp_listener_open(struct tcp_engine *eng, struct tcp_listener *lst,
                      uint32_t laddr, uint16_t port, uint32_t backlog);
/* Resets every child not yet accepted and stops listening. */
void tcp_listener_close(struct tcp_engine *eng, struct tcp_listener *lst, uint64_t now_us);
/* Oldest established connection, now owned by the app; NULL if none. */
struct tcp_conn *tcp_accept(struct tcp_engine *eng, struct tcp_listener *lst);

/* Input. seg comes from the input unit; the engine does not keep pointers
 * into it after return. */
/* Returns 0, or TCP_INPUT_TO_LISTENER: c was in TIME_WAIT, the segment is
 * an acceptable new SYN (RFC 9293 3.10.7.4 note / RFC 6191) and c has been
 * released (conn_free was called): the stack passes the same segment to
 * tcp_input_listen() of the listener for the port, or tcp_input_closed(). */
#define TCP_INPUT_TO_LISTENER 1
int tcp_input(struct tcp_engine *eng, struct tcp_conn *c, const struct tcp_seg *seg,
              uint64_t now_us);
void tcp_input_listen(struct tcp_engine *eng, struct tcp_listener *lst,
                      const struct tcp_tuple *t, const struct tcp_seg *seg, uint64_t now_us);
void tcp_input_closed(struct tcp_engine *eng, const struct tcp_tuple *t,
                      const struct tcp_seg *seg, uint64_t now_us);

/* App calls. Return 0/bytes or -errno. */
int tcp_connect(struct tcp_engine *eng, const struct tcp_tuple *t, uint64_t now_us,
                struct tcp_conn **out);
/* Bytes accepted into the send buffer (may be < len), -EAGAIN when full,
 * -EPIPE after shutdown/close, -ECONNRESET after reset, -ENOTCONN when closed. */
long tcp_send(struct tcp_engine *eng, struct tcp_conn *c, const void *buf, size_t len,
              uint64_t now_us);
/* Bytes copied, 0 at EOF (FIN received and all read), -EAGAIN when nothing
 * to read, -ECONNRESET after reset. */
long tcp_recv(struct tcp_engine *eng, struct tcp_conn *c, void *buf, size_t len,
              uint64_t now_us);
/* Zero copy: iovecs over the readable in-order bytes (at most iovcnt),
 * returns the number of iovecs filled (0 when nothing to read). */
int tcp_recv_peek(struct tcp_engine *eng, struct tcp_conn *c, struct iovec *iov, int iovcnt);
/* Releases len bytes seen with tcp_recv_peek (opens the window). */
int tcp_recv_consume(struct tcp_engine *eng, struct tcp_conn *c, size_t len, uint64_t now_us);
/* Half close: FIN after queued data. */
int tcp_shutdown(struct tcp_engine *eng, struct tcp_conn *c, uint64_t now_us);
/* Close and release: FIN (or RST with unread data, RFC 9293 3.6 / RFC 2525
 * 2.17). The app must not touch c afterwards. */
int tcp_close(struct tcp_engine *eng, struct tcp_conn *c, uint64_t now_us);
/* Send RST (when synchronized), close and release. */
void tcp_abort(struct tcp_engine *eng, struct tcp_conn *c, uint64_t now_us);
void tcp_set_nodelay(struct tcp_conn *c, bool nodelay);
/* Per-connection keep-alive (RFC 9293 MUST-24): on/off with idle time,
 * probe interval and probe count (0 = keep the current value); the timer is
 * armed or stopped at once. */
void tcp_set_keepalive(struct tcp_conn *c, bool on, uint64_t idle_us, uint32_t intvl_us,
                       uint32_t probes, uint64_t now_us);
/* Per-connection R2 as a time bound (MUST-21): retransmission gives up once
 * the current run of timeouts has lasted r2_us; 0 = the engine's rule
 * (retries_max and r2_min_us). */
void tcp_set_user_timeout(struct tcp_conn *c, uint64_t r2_us);
/* IPv4 TOS and TTL of every segment of c (MUST-48/49); ttl 0 = default. */
void tcp_set_ip_tos(struct tcp_conn *c, uint8_t tos);
void tcp_set_ip_ttl(struct tcp_conn *c, uint8_t ttl);

/* Getters. */
size_t tcp_conn_size(void);
enum tcp_state tcp_conn_state(const struct tcp_conn *c);
enum tcp_close_reason tcp_conn_close_reason(const struct tcp_conn *c);
const struct tcp_tuple *tcp_conn_tuple(const struct tcp_conn *c);
struct tcp_listener *tcp_conn_listener(const struct tcp_conn *c);
void *tcp_conn_user(const struct tcp_conn *c);
void tcp_conn_set_user(struct tcp_conn *c, void *user);
size_t tcp_conn_readable(const struct tcp_conn *c);
/* Last ICMP error reported for c (-errno), 0 if none. */
int tcp_conn_soft_error(const struct tcp_conn *c);
size_t tcp_conn_writable(const struct tcp_conn *c);

struct tcp_conn_info {
    enum tcp_state state;
    uint32_t snd_una, snd_nxt, snd_wnd_bytes, snd_mss_bytes;
    uint32_t rcv_nxt, rcv_wnd_bytes, rcv_mss_bytes;
    uint8_t snd_wscale, rcv_wscale;
    bool sack_ok, ts_ok, in_recovery;
    uint32_t cwnd_bytes, ssthresh_bytes, flight_bytes;
    uint32_t srtt_us, rttvar_us, rto_us, min_rtt_us;
    uint32_t backoff;          /* current RTO backoff exponent */
    uint32_t retransmits;      /* total retransmitted segments */
    uint32_t unacked_bytes;    /* in the send buffer, sent or not, not yet acked */
    uint32_t unread_bytes;     /* in the receive buffer, in order */
    uint32_t ooo_ranges;
    int soft_error;            /* last ICMP error reported for c (-EHOSTUNREACH,
                                  ...), 0 if none (RFC 1122 4.2.3.9) */
    uint32_t pmtu_bytes;       /* path MTU learned (RFC 1191), 0 = not reduced */
};

void tcp_conn_info(const struct tcp_conn *c, struct tcp_conn_info *info);

/* ICMP errors (tcp_icmp.c). The stack matched the quoted IPv4 + TCP header
 * to c (the quoted source is this stack): type and code of the message,
 * the quoted sequence number, the next-hop MTU of a "fragmentation needed"
 * (0 if the router gave none) and the quoted IPv4 total length. */
struct tcp_icmp_err {
    uint8_t type, code;
    uint16_t mtu_bytes;
    uint16_t quoted_len_bytes;
    uint32_t seq;
};

/* Smallest path MTU taken from ICMP (Linux min_pmtu: 512 + 40). */
#define TCP_PMTU_FLOOR 552u

/* 0, or -ERANGE: the quoted sequence number is outside SND.UNA..SND.MAX
 * (nothing changed, counted OutOfWindowIcmps). c may be freed (a hard error
 * in SYN-RECEIVED on a connection the app does not hold). */
int tcp_icmp_error(struct tcp_engine *eng, struct tcp_conn *c, const struct tcp_icmp_err *e,
                   uint64_t now_us);

/* ---------------------------------------- Moving a connection between engines
 *
 * A flow can move from one core's engine to another's (hash-bucket
 * rebalancing, processing-class handover) with nothing lost, duplicated or
 * reordered. Three steps:
 *
 *  1. On the old core: tcp_conn_detach(c, &m, now_us), the fence. An ACK c
 *     owes (deferred to the end of an RX burst, MUST-59) is sent now; c's
 *     timers are stopped and their absolute expiries recorded in m; c leaves
 *     every engine list (blocked, TIME_WAIT, burst ACK list); the engine's
 *     nconns, CurrEstab and TIME_WAIT count drop; the accounting of its
 *     buffer pages leaves the old pool. From then on c is self-contained:
 *     no pointer into the old engine, wheel or pool (c->eng is NULL), no
 *     pointer into itself. The old engine does not call ops->conn_free: the
 *     stack releases the old slot itself once the bytes are copied.
 *  2. The stack copies tcp_conn_size() bytes of c and m to a slot the new
 *     core's stack provides (memcpy; possibly through a message to another
 *     thread). ops->conn_alloc is not called.
 *  3. On the new core: tcp_conn_attach(eng, c, &m, now_us) on the copy. c
 *     joins eng: timers re-armed at their recorded absolute expiry on eng's
 *     wheel (a tick equal to the old one keeps them exact; an expiry already
 *     past fires on the next advance), lists re-joined (TIME_WAIT, in expiry
 *     order; blocked, if emit had failed: eng retries at tcp_engine_tx_ready),
 *     counters raised, pages accounted to eng's pool (past its limits if need
 *     be: the memory exists already). A TIME_WAIT arrival beyond
 *     cfg.max_time_wait recycles eng's oldest as tcp_time_wait_enter does.
 *     From then on eng owns c as the old engine did: it calls eng's
 *     ops->conn_free(c) when done, so the slot must be one the new stack
 *     frees. If the new core has no slot for c, tcp_conn_drop_detached()
 *     releases what c holds and resets the peer; if attach fails (-EINVAL),
 *     attach c back to the old engine (or drop it there).
 *
 * The connection's pages stay where they are (same process); only their
 * accounting moves (sockmem_pool_release/_adopt). Buffer pages may later be
 * freed into the new pool whichever pool allocated them (see sockmem/pool.h).
 *
 * Preconditions (the stack's duty):
 *  - All engines share one clock (now_us of every core from the same source:
 *    timer expiries, RTT and timestamp state are absolute times).
 *  - Both pools have the same page size (else attach fails: -EINVAL), and
 *    the engines should share one tcp_config: c follows the new engine's cfg
 *    from then on (timers already armed keep their expiry; the congestion
 *    control algorithm and out-of-order range bound stay c's own).
 *  - Detach runs on the old core, attach on the new one, never from inside
 *    ops->emit/notify/conn_alloc/conn_free or a timer callback. Between them
 *    nothing may touch c: no tcp_input, app call or tcp_conn_info.
 *  - Segments of the flow reaching the old core after the detach must be
 *    held and handed, in order, to the new core's engine after the attach
 *    (never to tcp_input_closed: that would answer with RST).
 *  - Notifications queued through ops->notify before the detach name the old
 *    slot: the stack delivers them or carries them over (events are
 *    idempotent bits). tcp_conn_user (c->user) is the stack's to set.
 *  - A connection linked to a listener (SYN_RECEIVED, or established and
 *    not yet accepted) or CLOSED cannot move: -EBUSY. Move it after
 *    tcp_accept(); a SYN_SENT active open can move.
 */

#define TCP_MOVED_RTX       0x01u /* retransmission/persist/PTO timer armed */
#define TCP_MOVED_DELACK    0x02u /* delayed ACK timer armed */
#define TCP_MOVED_KA        0x04u /* keepalive/TIME_WAIT/FIN_WAIT_2 timer armed */
#define TCP_MOVED_BLOCKED   0x08u /* was on the blocked list (emit failed) */
#define TCP_MOVED_TIME_WAIT 0x10u /* was on the TIME_WAIT list */

/* What tcp_conn_detach() recorded; travels with the bytes of the conn. */
struct tcp_conn_moved {
    uint64_t rtx_expiry_us;    /* absolute, if TCP_MOVED_RTX, else 0 */
    uint64_t delack_expiry_us; /* absolute, if TCP_MOVED_DELACK, else 0 */
    uint64_t ka_expiry_us;     /* absolute, if TCP_MOVED_KA, else 0 */
    uint64_t detach_us;        /* now_us of the detach */
    uint32_t snd_pages;        /* pages the buffers hold (accounting moved) */
    uint32_t rcv_pages;
    uint32_t page_bytes;       /* page size of the old pool */
    uint8_t state;             /* enum tcp_state at the detach */
    uint8_t flags;             /* TCP_MOVED_* */
};

/* The fence, on the old core: 0 and c is detached from its engine (m filled
 * in), or nothing changed and -EBUSY: c is linked to a listener
 * (SYN_RECEIVED, accept queue) or CLOSED; -EINVAL: c is already detached.
 * The owed ACK may fail to go out (emit -ENOBUFS): it then travels as
 * TCP_MOVED_BLOCKED and the new engine sends it at its tx_ready. */
int tcp_conn_detach(struct tcp_conn *c, struct tcp_conn_moved *m, uint64_t now_us);
/* On the new core: c holds the bytes of a detached conn (copied by the
 * stack). 0, or -EINVAL and nothing changed: c was not detached, m does not
 * belong to it, or eng's pool has another page size; the stack may then
 * attach c back to the old engine. It sends nothing (now_us: the new core's
 * time of the attach; recorded timer expiries are absolute). */
int tcp_conn_attach(struct tcp_engine *eng, struct tcp_conn *c, const struct tcp_conn_moved *m,
                    uint64_t now_us);
/* A detached conn that will not be attached (no slot for it on the new
 * core): without this its buffer pages and arrays would leak. Releases them
 * through eng (any engine whose pool has the same page size, usually the
 * new core's: its pool takes the pages) and, when synchronized, sends the
 * peer a RST as tcp_abort() would (counted TCPAbortOnMemory). The bytes of c
 * stay the caller's; c is CLOSED and holds nothing. 0, or -EINVAL and
 * nothing changed (c not detached, m not its, another page size: attach it
 * back to the old engine instead). */
int tcp_conn_drop_detached(struct tcp_engine *eng, struct tcp_conn *c,
                           const struct tcp_conn_moved *m, uint64_t now_us);

#endif
