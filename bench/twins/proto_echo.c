/* Echo protocol of the twins (the same semantics as toe-echo): every byte
 * received is sent back, in order; after the peer's FIN the rest is sent,
 * then our FIN. Backpressure: input waits in the input buffer while the
 * output buffer is full, and is not read from the socket meanwhile. */
#include "bench/twins/twin.h"

#include <string.h>

struct echo_state {
    bool eof;
};

static int echo_global_init(const struct twin_opts *o, void **global)
{
    *global = NULL;
    return 0;
}

static void echo_global_fini(void *global) {}

static void echo_conn_init(struct twin_worker *w, struct twin_conn *c)
{
    struct echo_state *s = c->state;
    s->eof = false;
}

static enum twin_want echo_step(struct twin_worker *w, struct twin_conn *c)
{
    struct echo_state *s = c->state;
    uint32_t avail = c->in_len - c->in_off;
    uint32_t space = c->out_cap - c->out_len;
    uint32_t n = avail < space ? avail : space;

    if (n) {
        memcpy(c->out + c->out_len, c->in + c->in_off, n);
        c->out_len += n;
        c->in_off += n;
        w->cnt.requests++;
    }
    if (c->in_off < c->in_len)
        return TWIN_WANT_OUTPUT;
    return s->eof ? TWIN_WANT_CLOSE : TWIN_WANT_INPUT;
}

static void echo_read_done(struct twin_worker *w, struct twin_conn *c, ssize_t res) {}

static void echo_eof(struct twin_worker *w, struct twin_conn *c)
{
    struct echo_state *s = c->state;
    s->eof = true;
}

static void echo_conn_fini(struct twin_worker *w, struct twin_conn *c) {}

const struct twin_proto twin_proto_echo = {
    .name = "echo",
    .in_cap = 64 << 10,
    .out_cap = 64 << 10,
    .state_size = sizeof(struct echo_state),
    .global_init = echo_global_init,
    .global_fini = echo_global_fini,
    .conn_init = echo_conn_init,
    .step = echo_step,
    .read_done = echo_read_done,
    .eof = echo_eof,
    .conn_fini = echo_conn_fini,
};
