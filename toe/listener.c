/* Listening ports of one core: port -> listener, a small chained hash. */
#include "toe/stack_internal.h"

static unsigned bucket_of(uint16_t port)
{
    return (unsigned)((port * 40503u) >> 10) & (LISTENER_BUCKETS - 1);
}

struct toe_listener *listener_find(const struct listener_table *lt, uint16_t port)
{
    for (struct toe_listener *l = lt->buckets[bucket_of(port)]; l; l = l->next)
        if (l->port == port)
            return l;
    return NULL;
}

void listener_insert(struct listener_table *lt, struct toe_listener *l)
{
    unsigned b = bucket_of(l->port);
    l->next = lt->buckets[b];
    lt->buckets[b] = l;
    lt->count++;
}

struct toe_listener *listener_remove(struct listener_table *lt, uint16_t port)
{
    for (struct toe_listener **pp = &lt->buckets[bucket_of(port)]; *pp; pp = &(*pp)->next) {
        struct toe_listener *l = *pp;
        if (l->port == port) {
            *pp = l->next;
            l->next = NULL;
            lt->count--;
            return l;
        }
    }
    return NULL;
}
