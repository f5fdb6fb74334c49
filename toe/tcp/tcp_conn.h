/* Internal to the TCP engine: the connection block (TCB, RFC 9293 section
 * 3.3.1) and the functions the engine's files share. The stack includes it
 * only if it wants sizeof(struct tcp_conn) at compile time. */
#ifndef TOE_TCP_TCP_CONN_H
#define TOE_TCP_TCP_CONN_H

#include "sockmem/rcvbuf.h"
#include "sockmem/sndbuf.h"
#include "timers/wheel.h"
#include "toe/tcp/cc/cc.h"
#include "toe/tcp/rack.h"
#include "toe/tcp/sack.h"
#include "toe/tcp/tcp.h"

/* Why the retransmission timer is armed. */
enum tcp_rtx_mode {
    TCP_RTX_NONE = 0,
    TCP_RTX_RTO,      /* data, SYN or FIN outstanding (RFC 6298) */
    TCP_RTX_PERSIST,  /* zero window, data waiting (RFC 9293 3.8.6.1) */
    TCP_RTX_PTO,      /* tail loss probe timeout (RFC 8985 7.2; Linux's
                         ICSK_TIME_LOSS_PROBE): data outstanding, no
                         recovery, no probe in flight */
    TCP_RTX_REO,      /* RACK reordering timer (RFC 8985 6.3; Linux's
                         ICSK_TIME_REO_TIMEOUT): the RTO is re-armed when
                         it fires */
};

/* F-RTO (RFC 5682 section 3) after an RTO: the step the next ACK takes. */
enum tcp_frto {
    TCP_FRTO_OFF = 0,
    TCP_FRTO_STEP2,   /* the first retransmission went */
    TCP_FRTO_STEP3,   /* its ACK came, new data went instead of old */
};

/* What the keepalive timer is armed for (it doubles as the state timer). */
enum tcp_ka_mode {
    TCP_KA_NONE = 0,
    TCP_KA_KEEPALIVE,
    TCP_KA_TIME_WAIT,
    TCP_KA_FIN_WAIT_2,
};

/* Retransmissions of one SACK recovery remembered for lost-retransmission
 * detection (tcp_ack.c); the oldest is forgotten when full (its loss then
 * waits for the RTO, as before). */
#define TCP_RTX_LOG_MAX 16

struct tcp_rtx_rec {
    uint32_t start, end;         /* the range retransmitted */
    uint32_t nxt;                /* SND.NXT when it was retransmitted */
    uint32_t stamp;              /* order of transmission (rtx_stamp) */
    uint64_t xmit_us;            /* when (RACK, RFC 8985 6.2 step 2) */
    bool lost;                   /* deemed lost again, not yet resent */
};

struct tcp_conn {
    struct tcp_engine *eng;
    struct tcp_tuple tuple;
    uint8_t state;               /* enum tcp_state */
    uint8_t close_reason;        /* enum tcp_close_reason */
    uint8_t rtx_mode;            /* enum tcp_rtx_mode */
    uint8_t ka_mode;             /* enum tcp_ka_mode */
    void *user;

    /* Lifecycle. */
    bool app_owned;              /* the app holds a handle */
    bool passive;                /* created by a listener */
    bool in_accept_queue;
    bool bufs_ready;             /* sndbuf/rcvbuf initialised */
    bool blocked;                /* on eng->blocked (emit failed, or budget) */
    bool budget_deferred;        /* ... for the TX budget (eng->deferred counts it) */
    uint32_t tx_round;           /* eng->round of tx_round_segs */
    uint32_t tx_round_segs;      /* new data segments sent in that round */
    bool reset_seen;             /* closed by RST (recv/send say ECONNRESET) */
    bool closed_notified;
    bool orphan;                 /* the app closed it; the engine finishes it */
    struct tcp_listener *listener;
    struct tcp_conn *lnext, *lprev;  /* listener syn list or accept queue */
    struct tcp_conn *bnext, *bprev;  /* eng->blocked */
    struct tcp_conn *twnext, *twprev; /* eng->tw_head list (TIME_WAIT) */
    bool on_tw_list;

    /* Options negotiated. */
    bool wscale_ok, sack_ok, ts_ok;
    bool nodelay;
    uint8_t snd_wscale;          /* peer's shift: applied to windows we receive */
    uint8_t rcv_wscale;          /* our shift: applied to windows we send */
    uint16_t peer_mss;           /* MSS option the peer sent (536 if none) */
    uint32_t mss_base;           /* min(peer MSS, ours): payload + options bound */
    uint32_t snd_mss;            /* effective send MSS, timestamps accounted */
    uint32_t rcv_mss;            /* estimate of the peer's segment size */

    /* Send sequence space (RFC 9293 3.3.1). */
    uint32_t iss;
    uint32_t snd_una;
    uint32_t snd_nxt;            /* next to send (goes back on RTO) */
    uint32_t snd_max;            /* highest sequence sent + 1 */
    uint32_t snd_wnd;            /* bytes, scaled */
    uint32_t snd_wl1, snd_wl2;
    uint32_t max_snd_wnd;        /* largest window the peer offered (RFC 5961 5.2) */
    uint32_t snd_buf_seq;        /* sequence number of the sndbuf's head byte */
    bool fin_queued;             /* app shut down: FIN follows the data */
    bool syn_acked;

    /* Receive sequence space. */
    uint32_t irs;
    uint32_t rcv_nxt;
    uint32_t rcv_adv;            /* right edge advertised: RCV.NXT + RCV.WND */
    uint32_t last_ack_sent;      /* RCV.NXT we last acknowledged (RFC 7323 4.3) */
    bool fin_rcvd;
    bool ooo_fin;                /* FIN seen beyond a hole */
    bool dsack_ofo;              /* the pending D-SACK is above RCV.NXT */
    uint32_t ooo_fin_seq;

    /* ACK policy. */
    bool ack_now;                /* an ACK must go out at the end of this event
                                    (or of the RX burst: on eng->ack_head) */
    bool ack_urgent;             /* ... at the end of this segment even in a
                                    burst (RFC 5681 4.2 duplicate ACK) */
    bool on_ack_list;
    struct tcp_conn *acknext, *ackprev; /* eng->ack_head: ACK owed after the burst */
    uint32_t ack_pending_bytes;  /* in-order bytes received and not yet ACKed */

    /* Timestamps (RFC 7323). */
    uint32_t ts_recent;
    uint64_t ts_recent_us;       /* when ts_recent was set (24-day PAWS rule) */
    uint32_t ts_offset;          /* keyed per address pair (tcp_ts_offset) */

    /* RTT and RTO (RFC 6298). */
    bool rtt_valid;
    uint32_t srtt_us, rttvar_us, rto_us, min_rtt_us;
    bool rtt_timing;             /* Karn timing of one segment in progress */
    uint32_t rtt_seq;            /* the timed segment's end */
    uint64_t rtt_start_us;
    uint32_t backoff;            /* exponent applied to rto_us */
    uint32_t rto_count;          /* consecutive RTO expirations */
    uint64_t first_rtx_us;       /* when the current run of RTOs started */
    uint32_t total_retrans;
    uint32_t syn_tries;

    /* Congestion control and loss recovery. */
    struct tcp_cc cc;
    uint32_t dupacks;
    uint32_t lt_segs;            /* RFC 3042 limited transmit: 0, 1 or 2 */
    uint32_t lt_bytes;           /* sent beyond cwnd by limited transmit: not
                                    FlightSize for ssthresh (RFC 5681 3.2) */
    uint64_t last_data_us;       /* when data was last sent (RFC 5681 4.1) */
    bool in_recovery;            /* fast recovery (NewReno or SACK) */
    bool sack_recovery;
    bool rto_recovery;           /* the SACK recovery after an RTO (RFC 6675
                                    5.1; Linux's CA_Loss) */
    uint32_t recover;            /* RFC 6582 / RFC 6675 RecoveryPoint */
    uint32_t high_rxt;           /* RFC 6675 HighRxt + 1 */
    bool rescue_done;
    /* PRR (RFC 6937) during SACK fast recovery. */
    uint32_t prr_recover_fs;     /* RecoverFS: FlightSize at its start */
    uint32_t prr_delivered;      /* bytes delivered to the peer since */
    uint32_t prr_out;            /* bytes sent since */
    bool eifel_armed;            /* RFC 3522 detection pending after an RTO */
    uint32_t eifel_ts;           /* TSval of the first retransmission of this
                                    run of timeouts (Eifel; TS Karn rule) */
    uint32_t prior_cwnd, prior_ssthresh; /* what an undo restores */
    /* Undo of a spurious reduction: D-SACK (RFC 3708), F-RTO (RFC 5682). */
    bool undo_valid;             /* prior_* saved for this loss event */
    uint32_t undo_marker;        /* SND.UNA when it began */
    uint32_t undo_high;          /* SND.MAX when it began */
    uint32_t undo_retrans_bytes; /* retransmitted since, not D-SACKed yet */
    uint8_t frto;                /* enum tcp_frto */
    uint32_t frto_high;          /* end of what step 1 retransmitted */
    struct sack_board sb;
    struct sack_rx_history sack_rx;
    struct rack rack;            /* RACK (RFC 8985), SACK connections */

    struct tcp_rtx_rec rtx_log[TCP_RTX_LOG_MAX];
    uint32_t rtx_log_n;
    uint32_t rtx_stamp;          /* counts retransmissions (rtx_log order) */

    /* Tail loss probe (RFC 8985 section 7). An episode runs from the probe
     * until 7.4.2 decides whether it repaired a loss. */
    bool tlp_active;             /* probe sent, episode not ended */
    bool tlp_retrans;            /* the probe was a retransmission */
    uint32_t tlp_seq;            /* first sequence number of the probe */
    uint32_t tlp_end_seq;        /* TLP.end_seq: SND.NXT after the probe */

    /* Challenge ACK rate limit (RFC 5961 section 7), and the same for
     * ACKs answering invalid segments (out of window, PAWS). */
    uint64_t chall_start_us;
    uint32_t chall_count;
    uint64_t invalid_start_us;
    uint32_t invalid_count;

    /* Persist and keepalive. */
    uint32_t persist_probes;     /* exponent of the probe interval */
    uint32_t persist_unanswered; /* probes since the peer last sent anything */
    uint32_t ka_probes;
    uint64_t last_rcv_us;
    /* Per-connection settings (app API, RFC 9293 MUST-21/24/48/49). */
    bool ka_on;                  /* keep-alive on (from tcp_config.keepalive) */
    uint64_t ka_idle_us;
    uint32_t ka_intvl_us;
    uint32_t ka_probes_max;
    uint64_t r2_us;              /* R2 as a time bound; 0 = engine rule */
    uint8_t ip_tos, ip_ttl;      /* IPv4 header of every segment; ttl 0 = default */
    /* ICMP (tcp_icmp.c). */
    int soft_err;                /* last ICMP error, -errno; 0 = none */
    uint32_t pmtu_bytes;         /* path MTU learned (RFC 1191); 0 = not reduced */
    bool no_df;                  /* path MTU below the floor: DF off */

    /* Buffers. */
    struct sndbuf snd;
    struct rcvbuf rcv;

    /* Timers. */
    struct timer rtx_timer;
    struct timer delack_timer;
    struct timer ka_timer;
};

/* ----- tcp_conn.c */
/* A new connection record with its buffers, or NULL (counted in
 * TCPConnAllocFail; the caller answers the segment, if any, and counts that). */
struct tcp_conn *tcp_conn_new(struct tcp_engine *eng, const struct tcp_tuple *t,
                              uint64_t now_us);
/* State change with CurrEstab accounting. */
void tcp_set_state(struct tcp_conn *c, enum tcp_state s);
/* The connection is finished: CLOSED, timers off, app told (if it owns c). */
void tcp_conn_closed(struct tcp_conn *c, enum tcp_close_reason why);
/* Frees c if it is CLOSED and the app does not own it. True if freed. */
bool tcp_conn_maybe_free(struct tcp_conn *c);
void tcp_notify(struct tcp_conn *c, unsigned events);
/* Entering ESTABLISHED: buffers sized from what the handshake said, cc
 * initialised, RFC 6298 5.7, keepalive armed. */
void tcp_conn_established_setup(struct tcp_conn *c, uint64_t now_us);
uint32_t tcp_sndbuf_tail_seq(const struct tcp_conn *c);

/* ----- tcp_listen.c */
/* Takes c off its listener's SYN-RECEIVED list or accept queue. */
void tcp_listener_unlink(struct tcp_conn *c);
void tcp_listener_accept_enqueue(struct tcp_listener *lst, struct tcp_conn *c);

/* ----- tcp_output.c */
/* Sends what window, cwnd, Nagle and SWS allow; FIN when due. */
void tcp_output(struct tcp_conn *c, uint64_t now_us);
/* Sends one segment of at most [seq, seq + len) from the send buffer (FIN
 * if it reaches the end and the app shut down); the payload shrinks when
 * SACK blocks need option space. Bytes sent, or -ENOBUFS. */
int tcp_xmit(struct tcp_conn *c, uint32_t seq, uint32_t len, bool rtx, uint64_t now_us);
/* Retransmits the segment ending at end, starting at *seq or later when
 * options leave less room (*seq is updated): the tail loss probe. */
int tcp_xmit_tail(struct tcp_conn *c, uint32_t *seq, uint32_t end, uint64_t now_us);
int tcp_send_syn(struct tcp_conn *c, uint64_t now_us);
void tcp_send_ack(struct tcp_conn *c, uint64_t now_us);
/* Challenge ACK, rate limited (RFC 5961 section 7). */
void tcp_send_challenge_ack(struct tcp_conn *c, uint64_t now_us);
/* The ACK answering a segment that failed PAWS (paws) or the acceptability
 * test, rate limited per connection like challenge ACKs. */
void tcp_send_invalid_ack(struct tcp_conn *c, bool paws, bool data, uint64_t now_us);
void tcp_send_rst_conn(struct tcp_conn *c, uint64_t now_us);
/* Stateless RST (RFC 9293 3.10.7.1) in answer to seg. */
void tcp_send_rst_reply(struct tcp_engine *eng, const struct tcp_tuple *t,
                        const struct tcp_seg *seg);
/* The same for a segment that reached connection c: c's TOS and TTL. */
void tcp_send_rst_reply_conn(struct tcp_conn *c, const struct tcp_seg *seg);
/* Probe with SEG.SEQ = SND.UNA - 1 (keepalive) or 1 byte (zero window). */
void tcp_send_probe(struct tcp_conn *c, bool zero_window, uint64_t now_us);
/* Window we would advertise now, in bytes (never shrinks the right edge). */
uint32_t tcp_select_window(struct tcp_conn *c);
uint32_t tcp_ts_now(const struct tcp_conn *c, uint64_t now_us);
void tcp_blocked_add(struct tcp_conn *c);
void tcp_blocked_del(struct tcp_conn *c);
/* Send the ACK now if one is owed (ack_now) and nothing carried it. */
void tcp_ack_flush(struct tcp_conn *c, uint64_t now_us);
/* The owed ACK goes out at tcp_engine_rx_end() (MUST-59). */
void tcp_ack_defer(struct tcp_conn *c);
void tcp_ack_undefer(struct tcp_conn *c);
uint32_t tcp_flight_bytes(const struct tcp_conn *c);
/* RFC 6675 SetPipe in SACK recovery, retransmissions found lost again
 * taken out. */
uint32_t tcp_recovery_pipe(const struct tcp_conn *c);
/* Remembers a retransmission of [seq, seq + len) made in SACK recovery. */
void tcp_rtx_log_add(struct tcp_conn *c, uint32_t seq, uint32_t len, uint64_t now_us);

/* ----- tcp_ack.c (ACK processing and loss recovery) */
/* Processes SEG.ACK and the window in a synchronized state. Returns false
 * when the segment must be dropped (answer already sent). */
bool tcp_ack_process(struct tcp_conn *c, const struct tcp_seg *seg, uint64_t now_us);
/* Fast recovery starts (RFC 5681 3.2 / RFC 6675 5): ssthresh, the first
 * retransmission. With lost_end != SND.UNA every unSACKed byte below
 * lost_end counts as lost (RACK's time rule, RFC 8985 6.2). */
void tcp_enter_recovery(struct tcp_conn *c, uint32_t lost_end, uint64_t now_us);
/* (Re)starts the RTO (or PTO). RFC 2018 section 8: a receiver may discard
 * SACKed data (renege); SND.UNA SACKed shows it did (it would have
 * acknowledged past it). As Linux, the board is then kept for a moment
 * (more ACKs may restore it) and the RTO comes after max(SRTT / 2, 10 ms);
 * that timeout forgets the board (tcp_rto_recovery_start). */
void tcp_rto_rearm(struct tcp_conn *c, uint64_t now_us);
/* RACK's verdict (RFC 8985 6.2 step 5): marks lost, starts recovery or
 * arms the reordering timer. After every ACK and when that timer fires. */
void tcp_rack_detect(struct tcp_conn *c, uint64_t now_us);
/* A loss event begins (fast recovery, first RTO): what cwnd and ssthresh
 * were is kept for an undo. */
void tcp_undo_start(struct tcp_conn *c);
/* The RTO fired on a SACK connection: recovery of the holes, the
 * scoreboard kept (RFC 6675 5.1). The caller has applied cc on_rto. */
void tcp_rto_recovery_start(struct tcp_conn *c);

/* ----- tcp_rtt.c */
void tcp_rtt_init(struct tcp_conn *c);
/* per_rtt: samples expected per RTT (1 for Karn timing; RFC 7323 app. G). */
void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt_us, uint32_t per_rtt);
uint32_t tcp_rto_current_us(const struct tcp_conn *c);

/* ----- tcp_timer.c */
void tcp_timers_init(struct tcp_conn *c);
void tcp_timers_stop(struct tcp_conn *c);
void tcp_rto_arm(struct tcp_conn *c, uint64_t now_us);      /* (re)start RTO */
/* Stops the RTO or the PTO (whichever is armed). */
void tcp_rto_stop(struct tcp_conn *c);
/* Arms the RTO, never the PTO (RFC 8985 7.3: after a probe). */
void tcp_rto_arm_only(struct tcp_conn *c, uint64_t now_us);
/* Arms RACK's reordering timer (it stands in for the RTO until it fires). */
void tcp_reo_arm(struct tcp_conn *c, uint64_t now_us, uint32_t delay_us);
/* Arms the RTO to fire delay_us from now (reneging, tcp_ack.c). */
void tcp_rto_arm_in(struct tcp_conn *c, uint64_t now_us, uint32_t delay_us);
/* Least delay before a suspected renege forgets the scoreboard (Linux). */
#define TCP_RENEGING_MIN_DELAY_US 10000u
void tcp_persist_arm(struct tcp_conn *c, uint64_t now_us);  /* if not armed */
void tcp_delack_arm(struct tcp_conn *c, uint64_t now_us);
void tcp_delack_stop(struct tcp_conn *c);
void tcp_keepalive_arm(struct tcp_conn *c, uint64_t now_us);
void tcp_time_wait_enter(struct tcp_conn *c, uint64_t now_us);
/* Takes c off the engine's TIME_WAIT list (if on it). */
void tcp_time_wait_unlink(struct tcp_conn *c);
/* Ends the oldest TIME_WAIT connection the app does not hold, other than
 * keep, to make room. True if one was freed. */
bool tcp_time_wait_recycle(struct tcp_engine *eng, const struct tcp_conn *keep);
void tcp_fin_wait2_arm(struct tcp_conn *c, uint64_t now_us);

/* ----- tcp_check.c */
/* What c owes the peer ("unacknowledged data", "FIN", ...) with no
 * retransmission, probe or persist timer armed to get it across; NULL when
 * the invariant holds. */
const char *tcp_conn_timer_missing(const struct tcp_conn *c);
/* Debug builds (TOE_DEBUG_CHECKS): aborts when tcp_conn_timer_missing(c).
 * Called at the end of every engine entry point that changes c. */
#ifdef TOE_DEBUG_CHECKS
void tcp_conn_check(const struct tcp_conn *c);
#else
static inline void tcp_conn_check(const struct tcp_conn *c)
{
    (void)c;
}
#endif

/* ----- tcp_input.c */
void tcp_input_syn_sent(struct tcp_conn *c, const struct tcp_seg *seg, uint64_t now_us);
/* Options of a SYN / SYN-ACK: MSS, wscale, SACK, TS. */
void tcp_negotiate(struct tcp_conn *c, const struct tcp_options *o, bool we_offered_all);

/* RFC 9293 3.10.5 (ABORT): the states in which an abort tells the peer
 * with a RST. */
static inline bool tcp_abort_sends_rst(enum tcp_state s)
{
    return s == TCP_SYN_RECEIVED || s == TCP_ESTABLISHED || s == TCP_FIN_WAIT_1 ||
           s == TCP_FIN_WAIT_2 || s == TCP_CLOSE_WAIT;
}

/* The states in which data and FIN are sent (tcp_output). */
static inline bool tcp_sending_state(enum tcp_state s)
{
    return s == TCP_ESTABLISHED || s == TCP_CLOSE_WAIT || s == TCP_FIN_WAIT_1 ||
           s == TCP_CLOSING || s == TCP_LAST_ACK;
}

static inline bool tcp_synchronized(const struct tcp_conn *c)
{
    return c->state >= TCP_ESTABLISHED;
}

static inline uint32_t tcp_rcv_wnd(const struct tcp_conn *c)
{
    return seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
}

static inline void tcp_drop(struct tcp_engine *eng, enum tcp_drop_reason r)
{
    eng->stats.drop[r]++;
}

#endif
