#!/usr/bin/env python3
"""paced_echo.py: the kernel-stack reference for toe-load's open loop. One TCP
connection (TCP_NODELAY), a SIZE-byte message every 1/RATE s on a fixed
schedule, each echo read back whole and checked; latency from the intended
send time, as toe-load --rate measures it. Prints "p50_us X" and "p99_us Y".

    paced_echo.py HOST PORT RATE SECONDS [SIZE]
"""
import socket
import sys
import time


def main():
    host, port, rate, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 64
    s = socket.create_connection((host, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = bytes((i * 7 + 1) & 0xFF for i in range(size))
    n = int(rate * secs)
    interval = 1e9 / rate
    lat = []
    t0 = time.monotonic_ns() + 10_000_000
    for i in range(n):
        due = t0 + int(i * interval)
        wait = due - time.monotonic_ns()
        if wait > 0:
            time.sleep(wait / 1e9)
        s.sendall(msg)
        got = b""
        while len(got) < size:
            chunk = s.recv(size - len(got))
            if not chunk:
                sys.exit("paced_echo: server closed")
            got += chunk
        if got != msg:
            sys.exit("paced_echo: echo differs")
        lat.append(time.monotonic_ns() - due)
    s.close()
    lat.sort()
    print(f"p50_us {lat[len(lat) // 2] / 1e3:.1f}")
    print(f"p99_us {lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1e3:.1f}")


if __name__ == "__main__":
    main()
