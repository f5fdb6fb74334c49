/* ICMP (RFC 792, RFC 1122 3.2.2): echo requests to our address are answered;
 * errors quoting one of our TCP segments go to that connection's engine
 * (RFC 9293 MUST-54: input.c makes them TOE_EV_ICMP_TCP events of the
 * quoted flow's bucket, run on the core owning it, stack.c); every other
 * ICMP message is counted and ignored here. */
#ifndef TOE_ICMP_H
#define TOE_ICMP_H

struct toe_core;
struct toe_event;

/* Processes a TOE_EV_ICMP_ECHO or TOE_EV_ICMP_OTHER event. 0, or -ENOBUFS
 * when no TX frame was free for the reply (counted as IcmpOutErrors). */
int icmp_input(struct toe_core *core, const struct toe_event *ev);

#endif
