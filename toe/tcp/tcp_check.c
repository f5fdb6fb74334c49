/* Invariant of the engine: a connection that owes the peer something (data
 * sent and not acknowledged, data not yet sent, a FIN not yet
 * acknowledged, a SYN) has a timer that will act on it: the RTO, the tail
 * loss probe or the persist timer (RFC 6298 5.1, RFC 9293 3.8.6.1).
 * Without one such a flow lives for ever (issue 9: FIN_WAIT_1 with 15 KiB
 * outstanding and no timer). The engine's entry points call
 * tcp_conn_check() at their end, which aborts in debug builds
 * (TOE_DEBUG_CHECKS, CMakeLists.txt) and is compiled away in release
 * builds; tests ask tcp_conn_timer_missing() in any build. */
#include <stdio.h>
#include <stdlib.h>

#include "toe/tcp/tcp_conn.h"

/* What c still has to get across, or NULL when nothing. */
static const char *owed(const struct tcp_conn *c)
{
    uint32_t tail;

    if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED)
        return "SYN";
    if (!tcp_sending_state((enum tcp_state)c->state))
        return NULL;
    tail = tcp_sndbuf_tail_seq(c);
    if (c->snd_una != c->snd_max)
        return "unacknowledged data";
    if (seq_lt(c->snd_nxt, tail))
        return "unsent data";
    if (c->fin_queued && seq_leq(c->snd_una, tail))
        return "FIN";
    return NULL;
}

const char *tcp_conn_timer_missing(const struct tcp_conn *c)
{
    const char *what;

    /* Detached (moving between cores): its timers travel in the record. */
    if (!c->eng)
        return NULL;
    what = owed(c);
    if (!what || (c->rtx_mode != TCP_RTX_NONE && timer_pending(&c->rtx_timer)))
        return NULL;
    /* Emit failed: tcp_engine_tx_ready() retries and arms the timer then. */
    if (c->blocked)
        return NULL;
    return what;
}

#ifdef TOE_DEBUG_CHECKS
void tcp_conn_check(const struct tcp_conn *c)
{
    const char *what = tcp_conn_timer_missing(c);

    if (!what)
        return;
    fprintf(stderr,
            "toe: tcp invariant: %s owed and no retransmission or persist timer "
            "(state %s, una %u nxt %u max %u tail %u wnd %u fin %d recovery %d rtx_mode %u)\n",
            what, tcp_state_name((enum tcp_state)c->state), c->snd_una, c->snd_nxt, c->snd_max,
            tcp_sndbuf_tail_seq(c), c->snd_wnd, c->fin_queued, c->in_recovery, c->rtx_mode);
    abort();
}
#endif
