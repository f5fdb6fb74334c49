/* RFC 4987 SYN cookies; bit layout and forgery bound in syncookie.h. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "toe/tcp/syncookie.h"

static_assert(SYNCOOKIE_KEY_BYTES == crypto_shorthash_KEYBYTES, "SipHash key size");

#define SC_MSS_SHIFT 0
#define SC_MSS_MASK 0x3u
#define SC_WS_SHIFT 2
#define SC_WS_MASK 0xfu
#define SC_SACK_BIT (1u << 6)
#define SC_TS_BIT (1u << 7)
#define SC_OPT_MASK 0xffu
#define SC_MAC_SHIFT 8

/* 536: RFC 9293 default; 1220: IPv6 minimum MTU path; 1440/1460: common
 * tunnelled and plain Ethernet values. */
const uint16_t syncookie_mss_table[SYNCOOKIE_MSS_COUNT] = {536, 1220, 1440, 1460};

int syncookie_key_init(struct syncookie_key *k)
{
    if (sodium_init() < 0)
        return -EIO;
    randombytes_buf(k->key, sizeof(k->key));
    return 0;
}

void syncookie_key_set(struct syncookie_key *k, const uint8_t bytes[SYNCOOKIE_KEY_BYTES])
{
    memcpy(k->key, bytes, sizeof(k->key));
}

unsigned syncookie_mss_index(uint16_t mss)
{
    unsigned i = SYNCOOKIE_MSS_COUNT - 1;

    while (i > 0 && syncookie_mss_table[i] > mss)
        i--;
    return i;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The 24-bit MAC, already shifted into place. */
static uint32_t syncookie_mac(const struct syncookie_key *k, const struct syncookie_tuple *t,
                              uint32_t peer_isn, uint64_t period, uint32_t opt_bits)
{
    uint8_t in[29], out[crypto_shorthash_BYTES];
    uint32_t h;

    put32(in, t->laddr);
    put32(in + 4, t->raddr);
    in[8] = (uint8_t)(t->lport >> 8);
    in[9] = (uint8_t)t->lport;
    in[10] = (uint8_t)(t->rport >> 8);
    in[11] = (uint8_t)t->rport;
    put32(in + 12, peer_isn);
    put32(in + 16, (uint32_t)(period >> 32));
    put32(in + 20, (uint32_t)period);
    put32(in + 24, opt_bits);
    in[28] = 0x5c; /* domain separation from other uses of SipHash */
    crypto_shorthash(out, in, sizeof(in), k->key);
    h = (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
        (uint32_t)out[3] << 24;
    return h & ~SC_OPT_MASK;
}

uint32_t syncookie_make(const struct syncookie_key *k, const struct syncookie_in *in,
                        uint64_t now_us)
{
    uint32_t ws = in->opts.wscale > 14 ? SYNCOOKIE_WSCALE_NONE : in->opts.wscale;
    uint32_t bits = syncookie_mss_index(in->opts.mss) << SC_MSS_SHIFT | ws << SC_WS_SHIFT |
                    (in->opts.sack_ok ? SC_SACK_BIT : 0) | (in->opts.ts_ok ? SC_TS_BIT : 0);

    return syncookie_mac(k, &in->tuple, in->peer_isn, now_us / SYNCOOKIE_PERIOD_US, bits) | bits;
}

int syncookie_check(const struct syncookie_key *k, uint32_t cookie,
                    const struct syncookie_tuple *tuple, uint32_t peer_isn, uint64_t now_us,
                    struct syncookie_opts *out)
{
    uint64_t period = now_us / SYNCOOKIE_PERIOD_US;
    uint32_t bits = cookie & SC_OPT_MASK, mac = cookie & ~SC_OPT_MASK;
    bool ok = false;

    /* Current and previous period are accepted (lifetime 64..128 s). */
    for (uint64_t back = 0; back < 2 && back <= period && !ok; back++)
        ok = syncookie_mac(k, tuple, peer_isn, period - back, bits) == mac;
    if (!ok) {
        /* Two more periods back only to tell "expired" from "forged" in the
         * counters; either way the ACK is refused. */
        for (uint64_t back = 2; back < 4 && back <= period; back++)
            if (syncookie_mac(k, tuple, peer_isn, period - back, bits) == mac)
                return -ETIMEDOUT;
        return -EINVAL;
    }
    if (out) {
        out->mss = syncookie_mss_table[(bits >> SC_MSS_SHIFT) & SC_MSS_MASK];
        out->wscale = (uint8_t)((bits >> SC_WS_SHIFT) & SC_WS_MASK);
        out->sack_ok = (bits & SC_SACK_BIT) != 0;
        out->ts_ok = (bits & SC_TS_BIT) != 0;
    }
    return 0;
}
