/* ICMP (RFC 792, RFC 1122 3.2.2): echo requests to our address are answered;
 * every other ICMP message is counted and ignored. */
#ifndef TOE_ICMP_H
#define TOE_ICMP_H

struct toe_core;
struct toe_event;

/* Processes a TOE_EV_ICMP_ECHO or TOE_EV_ICMP_OTHER event. 0, or -ENOBUFS
 * when no TX frame was free for the reply (counted as IcmpOutErrors). */
int icmp_input(struct toe_core *core, const struct toe_event *ev);

#endif
