/* The echo server's buffer shared by the multi-core stack tests
 * (test_stack_multicore.c, test_stack_threaded.c): what a connection read
 * but toe_send did not take yet. The client side checks the echo with the
 * seekable streams of tests/tools/pattern.h. */
#ifndef TOE_TESTS_ECHO_PEER_H
#define TOE_TESTS_ECHO_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include <toe/toe.h>

struct echo_buf {
    uint8_t buf[8192];
    size_t off, len; /* read but not yet sent */
};

/* Sends what is waiting, then reads and sends until c has nothing to read
 * or will not take more. Returns the bytes sent; *eof becomes true when the
 * peer closed and everything was echoed (the caller closes). */
static inline uint64_t echo_buf_pump(struct toe_conn *c, struct echo_buf *eb, bool *eof)
{
    uint64_t sent = 0;

    *eof = false;
    for (;;) {
        if (eb->len) {
            ssize_t w = toe_send(c, eb->buf + eb->off, eb->len);
            if (w <= 0)
                return sent;
            sent += (uint64_t)w;
            eb->off += (size_t)w;
            eb->len -= (size_t)w;
            if (eb->len)
                return sent;
        }
        ssize_t n = toe_recv(c, eb->buf, sizeof(eb->buf));
        if (n == 0)
            *eof = true;
        if (n <= 0)
            return sent;
        eb->off = 0;
        eb->len = (size_t)n;
    }
}

#endif
