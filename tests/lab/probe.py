#!/usr/bin/env python3
"""probe.py: small, bounded traffic tools for the toe lab (run inside a lab
namespace). Every loop is bounded by a count and a timeout.

  probe.py udp --dst IP --port P [--count N] [--size B] [--timeout S]
              [--burst | --window W]
      Sends N datagrams and checks each comes back from (IP, P) to our port
      with the same payload (a reflector or an echo server). Lockstep by
      default (one in flight); --burst sends all first, then collects;
      --window W keeps at most W in flight (sends more as replies come; gives
      up after --timeout without any reply). With a window far below every
      queue on the path, nothing can be dropped for lack of room, however
      slow the box: 100 % must come back.
  probe.py icmp --dst IP [--count N] [--interval S] [--timeout S]
      ICMP echo (raw socket, root) with its own ids; counts the replies.
  probe.py tcp-mirror --dst IP --port P [--bytes N] [--timeout S]
      For a reflector: every segment comes back as if the peer sent it, so
      the kernel's TCP socket ends up talking to itself (simultaneous open);
      sends N bytes and checks the same N bytes come back, in order.
  probe.py udp-echo --port P [--duration S]
      Echo server for a bounded time.

Pass/fail: --min-ratio / --max-ratio bound replies/sent (default min 1.0).
Prints one summary line: "<mode>: sent N received M bad B ratio R rate X/s".
"""
import argparse
import os
import select
import socket
import struct
import sys
import time


def summary(mode, sent, received, bad, secs, args):
    ratio = received / sent if sent else 0.0
    rate = received / secs if secs > 0 else 0.0
    print(f"{mode}: sent {sent} received {received} bad {bad} ratio {ratio:.3f} "
          f"rate {rate:.0f}/s time {secs:.3f}s", flush=True)
    ok = bad == 0 and args.min_ratio <= ratio <= args.max_ratio
    if not ok:
        print(f"{mode}: FAIL (want {args.min_ratio} <= ratio <= {args.max_ratio}, bad == 0)",
              file=sys.stderr)
    return 0 if ok else 1


def payload(i, size):
    head = f"toe-probe-{i:08d}-".encode()
    return (head + b"x" * max(0, size - len(head)))[:max(size, len(head))]


def cmd_udp(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    big_rcvbuf(s)
    s.bind(("0.0.0.0", 0))
    s.setblocking(False)
    dst = (args.dst, args.port)
    want = {}
    received = bad = sent = 0
    t0 = time.monotonic()

    def drain():
        """Reads every datagram queued now; True if one of ours arrived."""
        nonlocal received, bad
        got = False
        while True:
            try:
                data, src = s.recvfrom(65536)
            except BlockingIOError:
                return got
            if src != dst or data not in want:
                bad += 1
                print(f"udp: unexpected datagram from {src} ({len(data)} bytes)",
                      file=sys.stderr)
                continue
            del want[data]
            received += 1
            got = True

    def collect(deadline):
        while want:
            wait = deadline - time.monotonic()
            if wait <= 0:
                return
            r, _, _ = select.select([s], [], [], wait)
            if r and drain() and not args.burst:
                return

    if args.window:
        # At most args.window outstanding; stop when all came back or no
        # reply arrived for args.timeout seconds (the rest count as lost).
        last = time.monotonic()
        while sent < args.count or want:
            while sent < args.count and len(want) < args.window:
                p = payload(sent, args.size)
                try:
                    s.sendto(p, dst)
                except BlockingIOError:
                    break
                want[p] = sent
                sent += 1
            before = received
            r, _, _ = select.select([s], [], [], 0.05)
            if r:
                drain()
            if received > before:
                last = time.monotonic()
            elif time.monotonic() - last > args.timeout:
                break
        return summary("udp", sent, received, bad, time.monotonic() - t0, args)
    for i in range(args.count):
        p = payload(i, args.size)
        want[p] = i
        while True:
            try:
                s.sendto(p, dst)
                break
            except BlockingIOError:
                select.select([], [s], [], 0.1)
        sent += 1
        if args.pace:
            lag = t0 + sent / args.pace - time.monotonic()
            if lag > 0:
                time.sleep(lag)
        if args.burst and sent % 64 == 0:
            drain()  # take what is there, keep sending
        elif not args.burst:
            collect(time.monotonic() + args.timeout)
            want.pop(p, None)
    if args.burst:
        collect(time.monotonic() + args.timeout)
    return summary("udp", sent, received, bad, time.monotonic() - t0, args)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def cmd_icmp(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xffff
    received = bad = sent = 0
    t0 = time.monotonic()
    body = b"toe-icmp-probe" + b"." * 42
    for seq in range(args.count):
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + body), ident, seq) + body
        s.sendto(pkt, (args.dst, 0))
        sent += 1
        deadline = time.monotonic() + (args.timeout if args.interval == 0 else args.interval)
        got = False
        while not got and time.monotonic() < deadline:
            r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                break
            data, src = s.recvfrom(65536)
            ihl = (data[0] & 0xf) * 4
            icmp = data[ihl:]
            if len(icmp) < 8:
                continue
            typ, code, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if typ != 0 or rid != ident or src[0] != args.dst:
                continue  # our own request looped back, or someone else's
            if rseq != seq:
                continue  # a late reply to an earlier (lost-looking) request
            if csum(icmp) != 0 or icmp[8:] != body:
                bad += 1
                continue
            received += 1
            got = True
        if args.interval and got:
            rest = deadline - time.monotonic()
            if rest > 0:
                time.sleep(rest)
    return summary("icmp", sent, received, bad, time.monotonic() - t0, args)


def cmd_tcp_mirror(args):
    data = os.urandom(args.bytes)
    t0 = time.monotonic()
    s = socket.create_connection((args.dst, args.port), timeout=args.timeout)
    s.settimeout(args.timeout)
    got = bytearray()
    view = memoryview(data)
    off = 0
    s.setblocking(False)
    deadline = t0 + args.timeout * 10
    while len(got) < len(data) and time.monotonic() < deadline:
        want_w = [s] if off < len(data) else []
        r, w, _ = select.select([s], want_w, [], args.timeout)
        if not r and not w:
            break
        if w:
            try:
                off += s.send(view[off:off + 65536])
            except BlockingIOError:
                pass
        if r:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += chunk
    s.close()
    secs = time.monotonic() - t0
    ok = bytes(got) == data
    print(f"tcp-mirror: sent {off} received {len(got)} intact {ok} "
          f"rate {len(got) / secs / 1e6:.1f} MB/s time {secs:.3f}s", flush=True)
    return 0 if ok else 1


def big_rcvbuf(s):
    for opt in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, 16 << 20)
            return
        except OSError:
            pass


def cmd_udp_echo(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    big_rcvbuf(s)
    s.bind(("0.0.0.0", args.port))
    end = time.monotonic() + args.duration
    n = 0
    print(f"udp-echo: listening on {args.port}", flush=True)
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], max(0.0, min(0.5, end - time.monotonic())))
        if r:
            data, src = s.recvfrom(65536)
            s.sendto(data, src)
            n += 1
    print(f"udp-echo: echoed {n}", flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    u = sub.add_parser("udp")
    u.add_argument("--dst", required=True)
    u.add_argument("--port", type=int, default=7777)
    u.add_argument("--count", type=int, default=100)
    u.add_argument("--size", type=int, default=64)
    u.add_argument("--timeout", type=float, default=1.0)
    u.add_argument("--burst", action="store_true")
    u.add_argument("--window", type=int, default=0,
                   help="at most this many datagrams in flight (0: lockstep or --burst)")
    u.add_argument("--pace", type=float, default=0.0,
                   help="burst: at most this many datagrams per second (0: no limit)")
    i = sub.add_parser("icmp")
    i.add_argument("--dst", required=True)
    i.add_argument("--count", type=int, default=5)
    i.add_argument("--interval", type=float, default=0.0,
                   help="seconds per probe (0: next as soon as answered)")
    i.add_argument("--timeout", type=float, default=1.0)
    for p in (u, i):
        p.add_argument("--min-ratio", type=float, default=1.0)
        p.add_argument("--max-ratio", type=float, default=1.0)
    t = sub.add_parser("tcp-mirror")
    t.add_argument("--dst", required=True)
    t.add_argument("--port", type=int, default=5555)
    t.add_argument("--bytes", type=int, default=1 << 20)
    t.add_argument("--timeout", type=float, default=2.0)
    e = sub.add_parser("udp-echo")
    e.add_argument("--port", type=int, default=7777)
    e.add_argument("--duration", type=float, default=30.0)
    args = ap.parse_args()
    if args.mode in ("udp", "icmp") and not (0 < args.count <= 10_000_000):
        ap.error("--count out of range")
    if args.mode == "tcp-mirror" and not (0 < args.bytes <= 1 << 30):
        ap.error("--bytes out of range")
    return {"udp": cmd_udp, "icmp": cmd_icmp, "udp-echo": cmd_udp_echo,
            "tcp-mirror": cmd_tcp_mirror}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
