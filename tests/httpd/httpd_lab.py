#!/usr/bin/env python3
"""Client side of lab_httpd (test_httpd_lab.sh runs it in the client namespace).

Drives toe-httpd (on AF_XDP, --toe ADDR:PORT) with curl, wrk and raw sockets
and checks: a file by sha256, HEAD, keep-alive (curl, two URLs on one
connection), pipelining, HTTP/1.0, /tiny, /bytes/N by sha256, every hostile
status (400 403 404 405 414 431 501), a slowloris client answered 408
(Connection: close) and closed within the header timeout, a client that never reads /bytes/100000000 without the
server's RSS growing, wrk with zero errors; and that toe-httpd answers the
kernel twin's request set (bench/twins/twins_test.py http_cases) byte for
byte like twin-httpd-epoll (--twin ADDR:PORT; both have the same --fixed-date).
Every socket has a timeout; the run is bounded by an alarm.
"""
import argparse
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "twins"))
import twins_test  # noqa: E402  (http_cases, make_root's layout, pattern)

IO_TIMEOUT = 10.0
failures = []


def check(cond, what):
    print("%s: %s" % ("ok  " if cond else "FAIL", what), flush=True)
    if not cond:
        failures.append(what)
    return cond


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def connect(a, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(IO_TIMEOUT)
    s.connect(a)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def transcript(a, req):
    """Sends req, half-closes, returns everything until the server closes."""
    s = connect(a)
    try:
        s.sendall(req)
        s.shutdown(socket.SHUT_WR)
        return twins_test.recv_all(s)
    finally:
        s.close()


def status_of(data):
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def curl(*args):
    r = subprocess.run(["curl", "-sS", "-m", "20"] + list(args), capture_output=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def basic_tests(a, root):
    url = "http://%s:%d" % a
    with open(os.path.join(root, "big.bin"), "rb") as f:
        big = f.read()
    rc, out, err = curl(url + "/big.bin")
    check(rc == 0 and hashlib.sha256(out).hexdigest() == hashlib.sha256(big).hexdigest(),
          "curl GET /big.bin (%d bytes) sha256" % len(big))
    rc, out, err = curl("-I", url + "/app.js")
    check(rc == 0 and out.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 15\r\n" in out
          and out.endswith(b"\r\n\r\n"), "curl HEAD /app.js: 200, Content-Length 15, no body")
    rc, out, err = curl("-w", "|%{num_connects}", "-o", "/dev/null", url + "/", "-o", "/dev/null",
                        url + "/style.css")
    check(rc == 0 and out == b"|1|0", "curl keep-alive: two URLs, one connection (%r)" % out)
    rc, out, err = curl("-0", "-i", url + "/tiny")
    check(rc == 0 and out.startswith(b"HTTP/1.0 200 OK\r\n") and out.endswith(b"\r\n\r\nok\n"),
          "curl -0: HTTP/1.0 answered as 1.0")
    rc, out, err = curl(url + "/tiny")
    check(rc == 0 and out == b"ok\n", "curl /tiny")
    for n in (0, 1, 8191, 1000003, 20000000):
        rc, out, err = curl(url + "/bytes/%d" % n)
        check(rc == 0 and hashlib.sha256(out).digest() == hashlib.sha256(twins_test.pattern(n)).digest(),
              "curl /bytes/%d sha256" % n)
    rc, out, err = curl("-i", url + "/nope.html")
    check(out.startswith(b"HTTP/1.1 404 Not Found\r\n"), "curl 404")
    rc, out, err = curl("-i", "--path-as-is", url + "/../../etc/passwd")
    check(out.startswith(b"HTTP/1.1 403 Forbidden\r\n") and b"root:" not in out,
          "curl --path-as-is traversal: 403")

    # Raw: pipelining on one connection, and the hostile statuses.
    h = b"Host: t\r\n"
    d = transcript(a, (b"GET /tiny HTTP/1.1\r\n" + h + b"\r\n") * 10 +
                   b"GET /bytes/5000 HTTP/1.1\r\n" + h + b"\r\n" +
                   b"GET /style.css HTTP/1.1\r\n" + h + b"Connection: close\r\n\r\n" +
                   b"GET /never HTTP/1.1\r\n" + h + b"\r\n")
    check(d.count(b"HTTP/1.1 200 OK\r\n") == 12 and d.endswith(b"body{margin:0}\n"),
          "pipelining: 12 answers in order, none after Connection: close")
    d = transcript(a, b"GET /tiny HTTP/1.0\r\n\r\n")
    check(status_of(d) == "HTTP/1.0 200 OK" and b"Connection: close\r\n" in d, "raw HTTP/1.0: 1.0, closes")
    long_uri = b"/" + b"a" * 2048
    for what, req, want in (
            ("400 malformed", b"GET / HTTP/1.1 junk\r\n" + h + b"\r\n", 400),
            ("400 no Host", b"GET / HTTP/1.1\r\n\r\n", 400),
            ("400 garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),
            ("403 traversal", b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n" + h + b"\r\n", 403),
            ("403 symlink out", b"GET /escape HTTP/1.1\r\n" + h + b"\r\n", 403),
            ("404", b"GET /missing HTTP/1.1\r\n" + h + b"\r\n", 404),
            ("405 POST", b"POST / HTTP/1.1\r\n" + h + b"Content-Length: 3\r\n\r\nabc", 405),
            ("501 BREW", b"BREW / HTTP/1.1\r\n" + h + b"\r\n", 501),
            ("501 chunked", b"GET / HTTP/1.1\r\n" + h + b"Transfer-Encoding: chunked\r\n\r\n", 501),
            ("414", b"GET " + long_uri + b" HTTP/1.1\r\n" + h + b"\r\n", 414),
            ("431", b"GET / HTTP/1.1\r\n" + h + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n", 431)):
        d = transcript(a, req)
        st = status_of(d)
        check(st.startswith("HTTP/1.1 %d " % want) and b"Connection: close\r\n" in d,
              "%s: %s" % (what, st))


def slowloris_test(a, header_timeout_s):
    s = connect(a)
    t0 = time.time()
    s.sendall(b"GET /tiny HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    closed = False
    got = b""
    s.settimeout(header_timeout_s + 5)
    # Mid-request at the timeout: a 408 with Connection: close, then our FIN
    # (RFC 9110 section 15.5.9).
    try:
        while True:
            b = s.recv(4096)
            if not b:
                closed = True
                break
            got += b
    except ConnectionResetError:
        closed = False  # a reset could have eaten the 408: not what we want
    except socket.timeout:
        closed = False
    dt = time.time() - t0
    s.close()
    head = got.split(b"\r\n\r\n", 1)[0].lower()
    check(got.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and
          b"\r\nconnection: close" in head and got.endswith(b"\r\n\r\n408 Request Timeout\n"),
          "slowloris: answered 408 + Connection: close (got %r)" % got[:60])
    check(closed and header_timeout_s - 0.5 <= dt <= header_timeout_s + 1.0,
          "slowloris: FIN after %.2f s (header timeout %.1f s)" % (dt, header_timeout_s))


def idle_test(a, idle_timeout_s):
    """A client that connects and says nothing is closed after the idle timeout."""
    s = connect(a)
    t0 = time.time()
    s.settimeout(idle_timeout_s + 5)
    try:
        closed = s.recv(4096) == b""
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    dt = time.time() - t0
    s.close()
    check(closed and idle_timeout_s - 0.5 <= dt <= idle_timeout_s + 1.0,
          "idle client: closed after %.2f s (idle timeout %.1f s)" % (dt, idle_timeout_s))


def nonreader_test(a, pid):
    rss0 = rss_kib(pid)
    s = connect(a, rcvbuf=4096)
    s.sendall(b"GET /bytes/100000000 HTTP/1.1\r\nHost: t\r\n\r\n")
    s.sendall(b"GET /bytes/100000000 HTTP/1.1\r\nHost: t\r\n\r\n" * 200)
    time.sleep(3.0)
    rss1 = rss_kib(pid)
    s.close()
    print("non-reader: server VmRSS %d -> %d KiB (%+d)" % (rss0, rss1, rss1 - rss0), flush=True)
    check(rss0 > 0 and rss1 - rss0 < 16 * 1024,
          "non-reading client of /bytes/100000000: RSS grew %d KiB (< 16 MiB)" % (rss1 - rss0))
    rc, out, err = curl("http://%s:%d/tiny" % a)
    check(rc == 0 and out == b"ok\n", "still serving after the non-reader")


def wrk_test(a):
    r = subprocess.run(["wrk", "-t1", "-c16", "-d3s", "--latency", "http://%s:%d/tiny" % a],
                       capture_output=True, timeout=30, text=True)
    print(r.stdout.strip(), flush=True)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    errs = re.search(r"Socket errors|Non-2xx", r.stdout)
    check(r.returncode == 0 and rps and float(rps.group(1)) > 0 and not errs,
          "wrk -t1 -c16 -d3s /tiny: %s req/s, no errors" % (rps.group(1) if rps else "?"))


def twin_compare(a_toe, a_twin):
    same = 0
    for cname, req, want in twins_test.http_cases():
        t = transcript(a_toe, req)
        k = transcript(a_twin, req)
        if check(t == k, "byte-identical to twin-httpd-epoll: %s (%s)" % (cname, status_of(t))):
            same += 1
        elif len(t) < 2000 and len(k) < 2000:
            print("  toe:  %r\n  twin: %r" % (t, k))
    return same


def main():
    if sys.argv[1:] == ["--make-root"]:
        print(twins_test.make_root())  # the twins' document root layout
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--toe", required=True, type=addr)
    ap.add_argument("--twin", type=addr)
    ap.add_argument("--root", required=True)
    ap.add_argument("--pid", required=True, type=int)
    ap.add_argument("--header-timeout-s", type=float, default=2.0)
    ap.add_argument("--idle-timeout-s", type=float, default=0)
    args = ap.parse_args()
    signal.signal(signal.SIGALRM, lambda *a: (print("FAIL: alarm"), os._exit(3)))
    signal.alarm(200)

    basic_tests(args.toe, args.root)
    slowloris_test(args.toe, args.header_timeout_s)
    if args.idle_timeout_s:
        idle_test(args.toe, args.idle_timeout_s)
    wrk_test(args.toe)
    nonreader_test(args.toe, args.pid)
    if args.twin:
        twin_compare(args.toe, args.twin)
    if failures:
        print("%d failure(s): %s" % (len(failures), "; ".join(failures)))
        return 1
    print("httpd lab: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
