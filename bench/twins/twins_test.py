#!/usr/bin/env python3
"""End-to-end test of the kernel twins (ctest twins_e2e, label "twins").

Starts every twin on 127.0.0.1 with an ephemeral port, drives it with small
bounded clients and checks: echo integrity (several connections, a few MiB)
and half-close; HTTP GET/HEAD, keep-alive, pipelining, byte-at-a-time
requests, 400/403/404/405/414/431/501/505, /bytes/N integrity (sha256 against
the generator), large files; backpressure (a peer that never reads does not
grow the server); and that the epoll and io_uring twins answer
byte-identically (Date pinned with the hidden --fixed-date flag). Servers are
killed at the end, also on failure; the whole run is bounded by an alarm.
"""
import argparse
import ctypes
import hashlib
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

FIXED_DATE = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT
DATE_LINE = b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
IO_TIMEOUT = 10.0
PERIOD = 8191

servers = []
failures = []


def die_with_parent():
    """Servers get SIGKILL if this script dies (even by SIGKILL from ctest)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def pattern(n):
    """The /bytes/N body, as apps/http/http.h defines it."""
    table = bytes((((j * 2654435761) & 0xFFFFFFFF) >> 16) & 0xFF for j in range(PERIOD))
    reps = n // PERIOD + 1
    return (table * reps)[:n]


class Server:
    def __init__(self, path, extra, env=None):
        self.name = os.path.basename(path)
        self.proc = subprocess.Popen(
            [path, "--ip", "127.0.0.1", "--port", "0", "--fixed-date", str(FIXED_DATE)] + extra,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=die_with_parent,
            env=dict(os.environ, **(env or {})))
        servers.append(self)
        line = self._readline(5.0)
        if b"listening on 127.0.0.1:" not in line:
            raise RuntimeError("%s did not start: %r %r" % (self.name, line, self.proc.stderr.read()))
        self.port = int(line.split(b"127.0.0.1:")[1].split()[0])

    def _readline(self, timeout):
        buf = b""
        end = time.time() + timeout
        fd = self.proc.stdout.fileno()
        while not buf.endswith(b"\n") and time.time() < end:
            r, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
            if not r:
                break
            c = os.read(fd, 1)
            if not c:
                break
            buf += c
        return buf

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        """SIGTERM; returns the counters line."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.proc.stdout.read()
        err = self.proc.stderr.read()
        return self.proc.returncode, out, err


def kill_all():
    for s in servers:
        if s.proc.poll() is None:
            s.proc.kill()
            try:
                s.proc.wait(2)
            except subprocess.TimeoutExpired:
                pass


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_all(s, limit=64 << 20):
    """Reads until EOF (or reset), bounded."""
    data = bytearray()
    while len(data) < limit:
        try:
            b = s.recv(1 << 16)
        except ConnectionResetError:
            break
        if not b:
            break
        data += b
    return bytes(data)


def transcript(port, req, half_close=True):
    """Sends req, half-closes, returns everything until the server closes."""
    s = connect(port)
    try:
        s.sendall(req)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return recv_all(s)
    finally:
        s.close()


class Reader:
    """Reads HTTP responses off one connection."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def _fill(self):
        b = self.s.recv(1 << 16)
        if not b:
            raise EOFError("connection closed")
        self.buf += b

    def response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        fields = {}
        for l in lines[1:]:
            k, v = l.split(b":", 1)
            fields[k.strip().lower().decode()] = v.strip().decode()
        n = 0 if head_request else int(fields.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return lines[0].decode(), fields, body

    def at_eof(self):
        try:
            self._fill()
            return False
        except (EOFError, ConnectionResetError):
            return True


def status_line(data):
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


# ---------------------------------------------------------------- echo tests

def echo_tests(srv):
    name = srv.name
    port = srv.port
    # Integrity: several connections at once, a few MiB in total.
    results = {}

    def one(i):
        rnd = random.Random(1000 + i)
        data = rnd.randbytes(1536 * 1024 + i * 777)
        s = connect(port)
        got = bytearray()

        def reader():
            while len(got) < len(data):
                b = s.recv(1 << 16)
                if not b:
                    break
                got.extend(b)

        t = threading.Thread(target=reader)
        t.start()
        pos = 0
        while pos < len(data):
            n = rnd.randint(1, 70000)
            s.sendall(data[pos:pos + n])
            pos += n
        t.join(IO_TIMEOUT * 3)
        s.close()
        results[i] = bytes(got) == data

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(len(results) == 4 and all(results.values()), "%s: echo integrity over 4 connections" % name)

    # Half close: everything comes back, then the server's FIN.
    msg = b"x" * 100000 + b"end"
    check(transcript(port, msg) == msg, "%s: echo after half-close" % name)

    # Ping-pong of small messages on one connection.
    s = connect(port)
    ok = True
    for i in range(200):
        m = b"%064d" % i
        s.sendall(m)
        got = b""
        while len(got) < len(m):
            b = s.recv(1024)
            if not b:
                break
            got += b
        ok = ok and got == m
    s.close()
    check(ok, "%s: echo ping-pong" % name)

    # Backpressure: a peer that never reads cannot grow the server.
    rss0 = srv.rss_kib()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    sent = 0
    chunk = b"y" * 65536
    idle_since = time.time()
    while time.time() - idle_since < 1.0 and sent < (512 << 20):
        try:
            sent += s.send(chunk)
            idle_since = time.time()
        except BlockingIOError:
            time.sleep(0.01)
    rss1 = srv.rss_kib()
    s.close()
    print("%s: non-reader: %d bytes accepted, server RSS %+d KiB" % (name, sent, rss1 - rss0), flush=True)
    check(sent < (64 << 20), "%s: non-reading peer stopped at %d bytes" % (name, sent))
    check(rss1 - rss0 < 16 * 1024, "%s: server RSS grew %d KiB under a non-reader" % (name, rss1 - rss0))


# ---------------------------------------------------------------- http tests

def make_root():
    root = tempfile.mkdtemp(prefix="twins-root-")
    with open(os.path.join(root, "index.html"), "wb") as f:
        f.write(b"<!doctype html><title>toe</title><h1>toe-httpd</h1>\n")
    os.mkdir(os.path.join(root, "sub"))
    with open(os.path.join(root, "sub", "index.html"), "wb") as f:
        f.write(b"sub index\n")
    for name, body in (("style.css", b"body{margin:0}\n"), ("app.js", b"console.log(1)\n"),
                       ("data.json", b"{\"a\":1}\n"), ("empty.txt", b""),
                       ("img.PNG", b"\x89PNG\r\n\x1a\n")):
        with open(os.path.join(root, name), "wb") as f:
            f.write(body)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(random.Random(7).randbytes(3 * 1024 * 1024 + 17))
    os.symlink("/etc/passwd", os.path.join(root, "escape"))
    os.symlink("../", os.path.join(root, "up"))
    return root


# Raw request scripts; each is sent on its own connection, then half-closed.
# (name, request bytes, expected first status line)
def http_cases():
    h = b"Host: t\r\n"
    long_uri = b"/" + b"a" * 2047
    cases = [
        ("get index", b"GET / HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 200 OK"),
        ("get css", b"GET /style.css HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 200 OK"),
        ("get empty", b"GET /empty.txt HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 200 OK"),
        ("head js", b"HEAD /app.js HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 200 OK"),
        ("sub dir", b"GET /sub/ HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 200 OK"),
        ("dir no slash", b"GET /sub HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 404 Not Found"),
        ("missing", b"GET /nope.html HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 404 Not Found"),
        ("http10", b"GET /tiny HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK"),
        ("http10 keep", b"GET /tiny HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                        b"GET /tiny HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK"),
        ("pipelined", (b"GET /tiny HTTP/1.1\r\n" + h + b"\r\n") * 5 +
                      b"HEAD / HTTP/1.1\r\n" + h + b"\r\n" +
                      b"GET /bytes/5000 HTTP/1.1\r\n" + h + b"\r\n" +
                      b"GET /data.json HTTP/1.1\r\n" + h + b"Connection: close\r\n\r\n" +
                      b"GET /never HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 200 OK"),
        ("body skipped", b"GET /tiny HTTP/1.1\r\n" + h + b"Content-Length: 5\r\n\r\nhello"
                         b"GET /tiny HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 200 OK"),
        ("malformed", b"GET / HTTP/1.1 junk\r\n" + h + b"\r\n", "HTTP/1.1 400 Bad Request"),
        ("no host", b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "HTTP/1.1 400 Bad Request"),
        ("traversal", b"GET /../etc/passwd HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 403 Forbidden"),
        ("traversal enc", b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n" + h + b"\r\n",
         "HTTP/1.1 403 Forbidden"),
        ("traversal mixed", b"GET /a/%2E%2E/%2e%2e/x HTTP/1.1\r\n" + h + b"\r\n",
         "HTTP/1.1 403 Forbidden"),
        ("double slash", b"GET //etc/passwd HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 404 Not Found"),
        ("backslash", b"GET /..\\..\\etc HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 403 Forbidden"),
        ("nul", b"GET /index.html%00.txt HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 403 Forbidden"),
        ("symlink out", b"GET /escape HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 403 Forbidden"),
        ("symlink up", b"GET /up/etc/passwd HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 403 Forbidden"),
        ("post", b"POST / HTTP/1.1\r\n" + h + b"Content-Length: 3\r\n\r\nabc", "HTTP/1.1 405 Method Not Allowed"),
        ("unknown method", b"BREW / HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 501 Not Implemented"),
        ("chunked", b"GET / HTTP/1.1\r\n" + h + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "HTTP/1.1 501 Not Implemented"),
        ("version", b"GET / HTTP/2.0\r\n" + h + b"\r\n", "HTTP/1.1 505 HTTP Version Not Supported"),
        ("too large body", b"GET / HTTP/1.1\r\n" + h + b"Content-Length: 99999999\r\n\r\n",
         "HTTP/1.1 413 Content Too Large"),
        ("uri at limit", b"GET " + long_uri + b" HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 404 Not Found"),
        ("uri too long", b"GET " + long_uri + b"a HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 414 URI Too Long"),
        ("header too large", b"GET / HTTP/1.1\r\n" + h + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n",
         "HTTP/1.1 431 Request Header Fields Too Large"),
        ("bytes", b"GET /bytes/100000 HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 200 OK"),
        ("bytes too big", b"GET /bytes/1073741825 HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 404 Not Found"),
        ("big file", b"GET /big.bin HTTP/1.1\r\n" + h + b"\r\n", "HTTP/1.1 200 OK"),
    ]
    return cases


def http_tests(srv, root):
    name = srv.name
    port = srv.port
    got = {}
    for cname, req, want in http_cases():
        data = transcript(port, req)
        got[cname] = data
        check(status_line(data) == want,
              "%s: %s: got %r want %r" % (name, cname, status_line(data), want))
        check(DATE_LINE in data, "%s: %s: fixed Date" % (name, cname))
        if not want.endswith("200 OK"):
            check(b"\r\nConnection: close\r\n" in data, "%s: %s: error says close" % (name, cname))

    d = got["pipelined"]
    check(d.count(b"HTTP/1.1 200 OK\r\n") == 8, "%s: pipelined: 8 responses" % name)
    check(d.endswith(b"{\"a\":1}\n"), "%s: pipelined: ends after Connection: close" % name)
    check(got["http10 keep"].count(b"HTTP/1.0 200 OK") == 2, "%s: 1.0 keep-alive serves 2" % name)
    check(got["http10"].count(b"HTTP/1.0 200 OK") == 1 and b"Connection: close" in got["http10"],
          "%s: 1.0 closes" % name)
    check(got["body skipped"].count(b"\r\n\r\nok\n") == 2, "%s: request body skipped" % name)
    check(got["head js"].endswith(b"\r\n\r\n") and b"Content-Length: 15\r\n" in got["head js"],
          "%s: HEAD has Content-Length and no body" % name)
    check(b"Content-Type: text/javascript" in got["head js"], "%s: js type" % name)
    check(b"Allow: GET, HEAD\r\n" in got["post"], "%s: 405 has Allow" % name)
    with open(os.path.join(root, "big.bin"), "rb") as f:
        big = f.read()
    check(got["big file"].endswith(b"\r\n\r\n" + big), "%s: big file integrity" % name)

    # Keep-alive: two requests on one connection, the second after the first answer.
    s = connect(port)
    r = Reader(s)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    st1, f1, b1 = r.response()
    s.sendall(b"HEAD /style.css HTTP/1.1\r\nHost: t\r\n\r\n")
    st2, f2, b2 = r.response(head_request=True)
    s.sendall(b"GET /style.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    st3, f3, b3 = r.response()
    check(st1 == st2 == st3 == "HTTP/1.1 200 OK", "%s: keep-alive statuses" % name)
    check(b1.startswith(b"<!doctype html>") and b2 == b"" and b3 == b"body{margin:0}\n",
          "%s: keep-alive bodies" % name)
    check(f2["content-length"] == f3["content-length"] == "15", "%s: HEAD/GET same length" % name)
    check(f3.get("connection") == "close" and r.at_eof(), "%s: closes after Connection: close" % name)
    s.close()

    # /bytes/N integrity, several sizes, sha256 against the generator.
    for n in (0, 1, 8191, 8192, 1000003, 8 * 1024 * 1024 + 5):
        s = connect(port)
        r = Reader(s)
        s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: t\r\n\r\n" % n)
        st, f, body = r.response()
        s.close()
        check(st == "HTTP/1.1 200 OK" and f["content-type"] == "application/octet-stream" and
              hashlib.sha256(body).digest() == hashlib.sha256(pattern(n)).digest(),
              "%s: /bytes/%d sha256" % (name, n))

    # A request arriving one byte at a time.
    s = connect(port)
    for c in b"GET /tiny HTTP/1.1\r\nHost: t\r\n\r\n":
        s.send(bytes([c]))
        time.sleep(0.002)
    st, f, body = Reader(s).response()
    s.close()
    check(st == "HTTP/1.1 200 OK" and body == b"ok\n", "%s: byte-at-a-time request" % name)

    # Backpressure: many pipelined big responses, never read.
    rss0 = srv.rss_kib()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.settimeout(2.0)
    try:
        s.sendall(b"GET /bytes/1000000 HTTP/1.1\r\nHost: t\r\n\r\n" * 2000)
    except socket.timeout:
        pass
    time.sleep(0.5)
    rss1 = srv.rss_kib()
    s.close()
    print("%s: non-reader: server RSS %+d KiB" % (name, rss1 - rss0), flush=True)
    check(rss1 - rss0 < 16 * 1024, "%s: server RSS grew %d KiB under a non-reader" % (name, rss1 - rss0))

    # Still serving.
    s = connect(port)
    s.sendall(b"GET /tiny HTTP/1.1\r\nHost: t\r\n\r\n")
    st, _, _ = Reader(s).response()
    s.close()
    check(st == "HTTP/1.1 200 OK", "%s: serves after the hostile clients" % name)
    return got


def timeout_tests(srv, root):
    """Workers, header and idle timeouts, cache freshness."""
    name = srv.name
    port = srv.port
    ok = 0
    for i in range(20):
        s = connect(port)
        s.sendall(b"GET /tiny HTTP/1.1\r\nHost: t\r\n\r\n")
        st, _, body = Reader(s).response()
        s.close()
        ok += st == "HTTP/1.1 200 OK" and body == b"ok\n"
    check(ok == 20, "%s: 20 connections over 2 workers" % name)

    # Mid-request: 408 with Connection: close, then EOF (RFC 9110 15.5.9);
    # idle between requests: EOF without a byte.
    for what, req in (("header timeout", b"GET / HT"), ("idle timeout", b"")):
        s = connect(port)
        t0 = time.time()
        r = Reader(s)
        answer = "no answer"
        if req:
            s.sendall(req)
            try:
                st, fields, body = r.response()
                answer = "%s (%s)" % (st, fields.get("connection"))
            except (EOFError, ConnectionResetError):
                st, fields, body = None, {}, b""
            check(st == "HTTP/1.1 408 Request Timeout" and fields.get("connection") == "close"
                  and body == b"408 Request Timeout\n",
                  "%s: %s answered 408 + Connection: close (got %s)" % (name, what, answer))
        closed = r.at_eof()
        dt = time.time() - t0
        s.close()
        check(closed and 0.3 <= dt <= 5.0, "%s: %s closed after %.2f s" % (name, what, dt))

    path = os.path.join(root, "mut.txt")
    with open(path, "wb") as f:
        f.write(b"v1\n")

    def get():
        s = connect(port)
        s.sendall(b"GET /mut.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        _, _, body = Reader(s).response()
        s.close()
        return body

    first = get()
    with open(path, "wb") as f:
        f.write(b"v2 longer\n")
    time.sleep(1.3)  # the cache TTL is 1 s
    check(first == b"v1\n" and get() == b"v2 longer\n", "%s: cached file refreshed" % name)


def cli_tests(bindir):
    for b in ("twin-echo-epoll", "twin-echo-uring", "twin-httpd-epoll", "twin-httpd-uring"):
        path = os.path.join(bindir, b)
        r = subprocess.run([path, "--help"], capture_output=True, timeout=10)
        check(r.returncode == 0 and b"--ip ADDR" in r.stdout, "%s --help" % b)
        for args, msg in ((["--bogus"], b"unknown option '--bogus'"),
                          (["--ip", "127.0.0.1"], b"--ip and --port are required"),
                          (["--ip", "1.2.3", "--port", "1"], b"not an IPv4 address"),
                          (["--ip", "127.0.0.1", "--port", "70000"], b"not a port"),
                          (["--ip", "127.0.0.1", "--port", "1", "--threads", "0"], b"--threads"),
                          (["--ip", "127.0.0.1", "--port"], b"needs a value"),
                          (["--ip", "127.0.0.1", "--port", "1", "extra"], b"unexpected argument")):
            r = subprocess.run([path] + args, capture_output=True, timeout=10)
            check(r.returncode == 2 and msg in r.stderr,
                  "%s %s: rc %d %r" % (b, " ".join(args), r.returncode, r.stderr))
        if "httpd" in b:
            r = subprocess.run([path, "--ip", "127.0.0.1", "--port", "0", "--root", "/nonexistent"],
                               capture_output=True, timeout=10)
            check(r.returncode != 0 and b"/nonexistent" in r.stderr, "%s: bad --root" % b)
        else:
            r = subprocess.run([path, "--ip", "127.0.0.1", "--port", "0", "--root", "/"],
                               capture_output=True, timeout=10)
            check(r.returncode == 2 and b"only for the HTTP twins" in r.stderr, "%s: --root refused" % b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bindir", required=True)
    args = ap.parse_args()
    signal.signal(signal.SIGALRM, lambda *a: (kill_all(), os._exit(3)))
    signal.alarm(170)
    root = make_root()
    try:
        cli_tests(args.bindir)
        transcripts = {}
        for engine in ("epoll", "uring"):
            srv = Server(os.path.join(args.bindir, "twin-echo-" + engine), [])
            echo_tests(srv)
            rc, out, err = srv.stop()
            check(rc == 0 and b"connections " in out and b"bytes_in " in out,
                  "%s: clean exit with counters (%r)" % (srv.name, out))
            print(out.decode().strip(), flush=True)

            srv = Server(os.path.join(args.bindir, "twin-httpd-" + engine), ["--root", root])
            transcripts[engine] = http_tests(srv, root)
            rc, out, err = srv.stop()
            check(rc == 0 and b"requests " in out, "%s: clean exit with counters (%r)" % (srv.name, out))
            print(out.decode().strip(), flush=True)
            if err.strip():
                print(err.decode().strip(), flush=True)

            srv = Server(os.path.join(args.bindir, "twin-httpd-" + engine),
                         ["--root", root, "--threads", "2", "--header-timeout-ms", "400",
                          "--idle-timeout-ms", "800"])
            timeout_tests(srv, root)
            rc, out, err = srv.stop()
            check(rc == 0 and b"connections " in out, "%s --threads 2: clean exit" % srv.name)
            print(out.decode().strip(), flush=True)

        # io_uring fallbacks (no multishot accept, no IORING_OP_READ, plain ring):
        # same answers.
        srv = Server(os.path.join(args.bindir, "twin-httpd-uring"), ["--root", root],
                     env={"TOE_TWIN_URING_DISABLE": "setup,multishot,read"})
        for cname, req, _ in http_cases():
            if cname in ("get index", "pipelined", "big file", "missing", "header too large"):
                check(transcript(srv.port, req) == transcripts["epoll"][cname],
                      "uring fallbacks differ on %s" % cname)
        rc, out, err = srv.stop()
        check(rc == 0 and b"single-shot" in err and b"pread" in err and b"plain" in err,
              "uring fallbacks reported (%r)" % err)
        print(err.decode().strip(), flush=True)

        # The twins cannot be told apart.
        for cname, _, _ in http_cases():
            check(transcripts["epoll"][cname] == transcripts["uring"][cname],
                  "epoll and uring differ on %s" % cname)
    finally:
        kill_all()
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("twins: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
