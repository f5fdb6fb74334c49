#!/usr/bin/env python3
"""bench/harness/summarize.py: results.csv of bench/run-bench.sh -> summary.md
(markdown tables: medians over the repetitions, ratios toe / twin) and the
data files the gnuplot charts read (data/*.dat, data/charts.list).

CSV columns: server,test,conns,metric,unit,rep,value,errors,duration_s,load1
(one row per server x metric x repetition; an empty value = the run failed).
"""
import argparse
import csv
import os
import statistics
import sys
from collections import defaultdict

SERVERS = ["toe", "twin-epoll", "twin-uring"]
CEIL = "reflector"


class Cell:
    def __init__(self):
        self.values = []
        self.errors = 0
        self.rows = 0

    @property
    def median(self):
        return statistics.median(self.values) if self.values else None


def load(path):
    cells = defaultdict(Cell)
    loads = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            c = cells[(r["server"], r["test"], int(r["conns"]), r["metric"])]
            c.rows += 1
            try:
                c.errors += int(r["errors"] or 0)
            except ValueError:
                c.errors += 1
            if r["value"] not in ("", "nan"):
                c.values.append(float(r["value"]))
            if r["load1"]:
                loads.append(float(r["load1"]))
    return cells, loads


def fmt(v, scale=1.0):
    if v is None:
        return "–"
    v *= scale
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


class Table:
    def __init__(self, cells, reps):
        self.cells = cells
        self.reps = reps
        self.marks = set()

    def cell(self, server, test, conns, metric, scale=1.0):
        c = self.cells.get((server, test, conns, metric))
        if c is None or c.rows == 0:
            return "–", None
        s = fmt(c.median, scale)
        if c.median is not None and len(c.values) < self.reps:
            s += "\\*"
            self.marks.add("*")
        if c.errors:
            s += "!"
            self.marks.add("!")
        return s, c.median

    def spread(self, test, conns, metric):
        """max/min over the repetitions for toe, twin-epoll, twin-uring."""
        parts = []
        for srv in SERVERS:
            c = self.cells.get((srv, test, conns, metric))
            if c is None or len(c.values) < 2 or min(c.values) <= 0:
                parts.append("–")
            else:
                parts.append(f"{max(c.values) / min(c.values):.1f}")
        return " · ".join(parts)

    @staticmethod
    def ratio(a, b):
        if a is None or b is None or b == 0:
            return "–"
        return f"{a / b:.2f}"


def table_echo(t, out):
    rows = [("ping-pong RTT p50, 1 conn (µs)", "pingpong", 1, "rtt_p50"),
            ("ping-pong RTT p99, 1 conn (µs)", "pingpong", 1, "rtt_p99"),
            ("ping-pong RTT p99.9, 1 conn (µs)", "pingpong", 1, "rtt_p99.9")]
    rows += [(f"echo requests/s, {c} conn{'s' if c > 1 else ''}", "echo_rr", c, "requests_per_s")
             for c in (1, 16, 64, 256)]
    out.append("| measurement | toe | twin-epoll | twin-uring | toe / epoll | toe / uring "
               "| ceiling: reflector, same TCP client | ceiling: reflector, UDP, window = conns "
               "| spread max/min (toe · epoll · uring) |")
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for label, test, conns, metric in rows:
        vals = [t.cell(s, test, conns, metric) for s in SERVERS]
        ceil = t.cell(CEIL, test, conns, metric)
        udp = t.cell(CEIL, "udp_flood", conns, "round_trips_per_s") if test == "echo_rr" \
            else ("–", None)
        if all(v[0] == "–" for v in vals + [ceil, udp]):
            continue
        out.append(f"| {label} | {vals[0][0]} | {vals[1][0]} | {vals[2][0]} | "
                   f"{t.ratio(vals[0][1], vals[1][1])} | {t.ratio(vals[0][1], vals[2][1])} "
                   f"| {ceil[0]} | {udp[0]} | {t.spread(test, conns, metric)} |")


def table_http(t, out):
    rows = []
    for c in (64, 256):
        rows.append((f"keep-alive requests/s, {c} conns", "http_keepalive", c,
                     "requests_per_s", 1.0))
        for p in ("50", "99", "99.9"):
            rows.append((f"keep-alive latency p{p}, {c} conns (ms)", "http_keepalive", c,
                         f"latency_p{p}", 1e-3))
    rows += [("short connections/s, wrk `Connection: close`, 64 conns", "short_wrk", 64,
              "connections_per_s", 1.0),
             ("short connections/s, ab (no -k), 64 conns", "short_ab", 64,
              "connections_per_s", 1.0),
             ("bulk one way, 1 conn (Gbit/s; wrk, /bytes/16 MiB)", "bulk", 1, "gbit_s", 1.0)]
    out.append("| measurement | toe | twin-epoll | twin-uring | toe / epoll | toe / uring "
               "| spread max/min (toe · epoll · uring) |")
    out.append("|---|--:|--:|--:|--:|--:|--:|")
    for label, test, conns, metric, scale in rows:
        vals = [t.cell(s, test, conns, metric, scale) for s in SERVERS]
        if all(v[0] == "–" for v in vals):
            continue
        out.append(f"| {label} | {vals[0][0]} | {vals[1][0]} | {vals[2][0]} | "
                   f"{t.ratio(vals[0][1], vals[1][1])} | {t.ratio(vals[0][1], vals[2][1])} "
                   f"| {t.spread(test, conns, metric)} |")


CPU_RUNS = [("echo ping-pong, 1 conn", "pingpong", 1),
            ("echo rr, 1 conn", "echo_rr", 1), ("echo rr, 16 conns", "echo_rr", 16),
            ("echo rr, 64 conns", "echo_rr", 64), ("echo rr, 256 conns", "echo_rr", 256),
            ("HTTP keep-alive, 64 conns", "http_keepalive", 64),
            ("HTTP keep-alive, 256 conns", "http_keepalive", 256),
            ("short, wrk close, 64 conns", "short_wrk", 64),
            ("short, ab, 64 conns", "short_ab", 64)]


def table_cpu(t, out):
    out.append("| run | toe | twin-epoll | twin-uring | toe / epoll | toe / uring "
               "| reflector (ceiling) | spread max/min (toe · epoll · uring) |")
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|")
    for label, test, conns in CPU_RUNS + [("bulk, 1 conn", "bulk", 1)]:
        metric, unit = ("server_cpu_per_GB", "ms/GB") if test == "bulk" else \
            ("server_cpu_per_req", "µs/request")
        vals = [t.cell(s, test, conns, metric) for s in SERVERS]
        ceil = t.cell(CEIL, test, conns, metric)
        if all(v[0] == "–" for v in vals + [ceil]):
            continue
        out.append(f"| {label} ({unit}) | {vals[0][0]} | {vals[1][0]} | {vals[2][0]} | "
                   f"{t.ratio(vals[0][1], vals[1][1])} | {t.ratio(vals[0][1], vals[2][1])} "
                   f"| {ceil[0]} | {t.spread(test, conns, metric)} |")


# ---- toe-load: the same servers driven by the client on toe ------------------

LOAD_ROWS = [("ping-pong latency p50, 1 conn (µs)", "load_pingpong", 1, "latency_p50"),
             ("ping-pong latency p99, 1 conn (µs)", "load_pingpong", 1, "latency_p99"),
             ("echo requests/s, 1 conn", "load_pingpong", 1, "requests_per_s")]
LOAD_ROWS += [(f"echo requests/s, {c} conns", "load_rr", c, "requests_per_s")
              for c in (16, 64, 256)]
LOAD_ROWS += [(f"HTTP keep-alive requests/s, {c} conns", "load_http_keepalive", c,
               "requests_per_s") for c in (64, 256)]
LOAD_ROWS += [("HTTP keep-alive latency p50, 256 conns (µs)", "load_http_keepalive", 256,
               "latency_p50"),
              ("short connections/s, `Connection: close`, 64 conns", "load_short", 64,
               "connections_per_s")]


def table_load(t, out):
    out.append("| measurement | toe | twin-epoll | twin-uring | toe / epoll | toe / uring "
               "| ceiling: reflector, toe-load | CPU % server / toe-load (toe · epoll · uring) |")
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|")
    for label, test, conns, metric in LOAD_ROWS:
        vals = [t.cell(s, test, conns, metric) for s in SERVERS]
        ceil = t.cell(CEIL, test, conns, metric)
        if all(v[0] == "–" for v in vals + [ceil]):
            continue
        cpu = []
        for s in SERVERS:
            a = t.cells.get((s, test, conns, "server_cpu_util"))
            b = t.cells.get((s, test, conns, "client_cpu_util"))
            cpu.append(f"{fmt(a.median if a else None)}/{fmt(b.median if b else None)}")
        out.append(f"| {label} | {vals[0][0]} | {vals[1][0]} | {vals[2][0]} | "
                   f"{t.ratio(vals[0][1], vals[1][1])} | {t.ratio(vals[0][1], vals[2][1])} "
                   f"| {ceil[0]} | {' · '.join(cpu)} |")


def table_util(t, out):
    out.append("| run | toe | twin-epoll | twin-uring | reflector |")
    out.append("|---|--:|--:|--:|--:|")
    for label, test, conns in CPU_RUNS + [("bulk, 1 conn", "bulk", 1)]:
        row = []
        for s in SERVERS + [CEIL]:
            a = t.cells.get((s, test, conns, "server_cpu_util"))
            b = t.cells.get((s, test, conns, "client_cpu_util"))
            if (a is None or a.median is None) and (b is None or b.median is None):
                row.append("–")
            else:
                row.append(f"{fmt(a.median if a else None)} / {fmt(b.median if b else None)}")
        if any(x != "–" for x in row):
            out.append(f"| {label} | " + " | ".join(row) + " |")


def table_retrans(t, out):
    out.append("| server's block of runs | toe | twin-epoll | twin-uring | reflector |")
    out.append("|---|--:|--:|--:|--:|")
    for label, test in (("echo (toe-echo / twin-echo-*)", "echo_block"),
                        ("HTTP (toe-httpd / twin-httpd-*)", "http_block"),
                        ("reflector", "refl_block")):
        row = []
        for srv in SERVERS + [CEIL]:
            a = t.cells.get((srv, test, 0, "server_retrans_segs"))
            b = t.cells.get((srv, test, 0, "client_retrans_segs"))
            if not a or not b or not a.values or not b.values:
                row.append("–")
            else:
                row.append(f"{sum(a.values):.0f} / {sum(b.values):.0f}")
        if any(x != "–" for x in row):
            out.append(f"| {label} | " + " | ".join(row) + " |")


def error_notes(cells):
    notes = []
    for (s, test, conns, metric), c in sorted(cells.items()):
        if metric in ("requests_per_s", "connections_per_s", "gbit_s", "round_trips_per_s"):
            failed = c.rows - len(c.values)
            if c.errors or failed:
                notes.append(f"{s} {test} ({conns} conns): {c.errors} errors counted by the "
                             f"client over {c.rows} run(s), {failed} run(s) without a result")
    return notes


# ---- gnuplot data ------------------------------------------------------------

def stat3(cells, key, scale=1.0):
    c = cells.get(key)
    if c is None or not c.values:
        return "? ? ?"
    return f"{c.median * scale:.6g} {min(c.values) * scale:.6g} {max(c.values) * scale:.6g}"


def write_dat(path, header, rows):
    with open(path, "w") as f:
        f.write("# " + header + "\n")
        for r in rows:
            f.write(r + "\n")


def write_charts(cells, datadir):
    """One .dat per chart with columns only for the servers that have data;
    charts.list: "chart server,server,..." lines for charts.gp."""
    charts = []

    def has(server, test, metric):
        return any(k[0] == server and k[1] == test and k[3] == metric and c.values
                   for k, c in cells.items())

    def chart(name, header, servers, test, metric, groups, scale=1.0):
        srv = [s for s in servers if has(s, test, metric)]
        if not srv:
            return
        rows = []
        for label, g_test, conns, g_metric in groups:
            rows.append(f"{label} " + " ".join(stat3(cells, (s, g_test, conns, g_metric), scale)
                                                for s in srv))
        write_dat(os.path.join(datadir, name + ".dat"),
                  header + ", then median min max for " + " ".join(srv), rows)
        charts.append(name + " " + ",".join(srv))

    srv4 = SERVERS + [CEIL]
    chart("pingpong", "percentile (us)", srv4, "pingpong", "rtt_p50",
          [(f'"{p}"', "pingpong", 1, m) for p, m in
           (("p50", "rtt_p50"), ("p99", "rtt_p99"), ("p99.9", "rtt_p99.9"))])
    srv_rr = [s for s in srv4 if has(s, "echo_rr", "requests_per_s")]
    udp = has(CEIL, "udp_flood", "round_trips_per_s")
    if srv_rr or udp:
        rows = [f"{c} " + " ".join([stat3(cells, (s, "echo_rr", c, "requests_per_s"))
                                    for s in srv_rr] +
                                   ([stat3(cells, (CEIL, "udp_flood", c, "round_trips_per_s"))]
                                    if udp else []))
                for c in (1, 16, 64, 256)]
        names = srv_rr + (["reflector-udp"] if udp else [])
        write_dat(os.path.join(datadir, "echo_rr.dat"), "connections (requests/s), then median "
                  "min max for " + " ".join(names), rows)
        charts.append("echo_rr " + ",".join(names))
    chart("http_rps", "connections (requests/s)", SERVERS, "http_keepalive", "requests_per_s",
          [(f'"{c} conns"', "http_keepalive", c, "requests_per_s") for c in (64, 256)])
    chart("http_latency", "percentile (ms)", SERVERS, "http_keepalive", "latency_p50",
          [(f'"p{p}, {c} conns"', "http_keepalive", c, f"latency_p{p}")
           for c in (64, 256) for p in ("50", "90", "99", "99.9")], 1e-3)
    srv_short = [s for s in SERVERS
                 if has(s, "short_wrk", "connections_per_s") or has(s, "short_ab", "connections_per_s")]
    if srv_short:
        rows = [f'"{lab}" ' + " ".join(stat3(cells, (s, test, 64, "connections_per_s"))
                                       for s in srv_short)
                for lab, test in (("wrk, Connection: close", "short_wrk"),
                                  ("ab, no keep-alive", "short_ab"))]
        write_dat(os.path.join(datadir, "short.dat"),
                  "client (connections/s), then median min max for " + " ".join(srv_short), rows)
        charts.append("short " + ",".join(srv_short))
    chart("bulk", "x (Gbit/s)", SERVERS, "bulk", "gbit_s",
          [('"1 connection"', "bulk", 1, "gbit_s")])
    srv_cpu = [s for s in SERVERS if any(has(s, test, "server_cpu_per_req")
                                         for _, test, _ in CPU_RUNS)]
    groups = [(f'"{label}"', test, conns, "server_cpu_per_req") for label, test, conns in CPU_RUNS
              if any(cells.get((s, test, conns, "server_cpu_per_req")) for s in srv_cpu)]
    if srv_cpu and groups:
        rows = [f"{label} " + " ".join(stat3(cells, (s, test, conns, m)) for s in srv_cpu)
                for label, test, conns, m in groups]
        write_dat(os.path.join(datadir, "cpu.dat"),
                  "run (server CPU us/request), then median min max for " + " ".join(srv_cpu),
                  rows)
        charts.append("cpu " + ",".join(srv_cpu))
    with open(os.path.join(datadir, "charts.list"), "w") as f:
        f.write("\n".join(charts) + "\n")
    return charts


# ---- many cores: toe-echo's configurations (bench/harness/cores.sh) ----------

CORES_SERVERS = [("toe", "1 thread (CPU 1)"),
                 ("toe-cores2", "--cores 0,1 (core 0 shares CPU 0 with the client)"),
                 ("toe-classes", "--cores 0,1 --classes control=0,data=1"),
                 ("toe-schedule", "--cores 0,1 --balance schedule"),
                 ("toe-cores3on1", "--cores 1,1,1 (3 threads, 1 CPU)"),
                 ("twin-epoll", "kernel twin, 1 thread (CPU 1)")]


def table_cores(t, out):
    out.append("| configuration | toe-load 4 conns (req/s) | toe-load 64 conns (req/s) "
               "| kernel client 64 conns (req/s) | server CPU µs/req (toe-load 64) "
               "| CPU % server / client (toe-load 64) |")
    out.append("|---|--:|--:|--:|--:|--:|")
    for srv, label in CORES_SERVERS:
        r4 = t.cell(srv, "cores_load_rr", 4, "requests_per_s")
        r64 = t.cell(srv, "cores_load_rr", 64, "requests_per_s")
        k64 = t.cell(srv, "cores_echo_rr", 64, "requests_per_s")
        cpu = t.cell(srv, "cores_load_rr", 64, "server_cpu_per_req")
        if all(v[0] == "–" for v in (r4, r64, k64)):
            continue
        a = t.cells.get((srv, "cores_load_rr", 64, "server_cpu_util"))
        b = t.cells.get((srv, "cores_load_rr", 64, "client_cpu_util"))
        util = f"{fmt(a.median if a else None)}/{fmt(b.median if b else None)}"
        out.append(f"| {srv}: {label} | {r4[0]} | {r64[0]} | {k64[0]} | {cpu[0]} | {util} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, required=True)
    ap.add_argument("--duration", type=int, required=True)
    ap.add_argument("--machine")
    a = ap.parse_args()

    cells, loads = load(a.csv)
    if not cells:
        print("summarize.py: no results in " + a.csv, file=sys.stderr)
        return 1
    t = Table(cells, a.reps)
    machine = {}
    if a.machine and os.path.exists(a.machine):
        for line in open(a.machine):
            k, _, v = line.rstrip("\n").partition("  ")
            if k and v and k.strip() not in machine:
                machine[k.strip()] = v.strip()

    out = ["# toe vs kernel twins", ""]
    out.append(f"{machine.get('date (UTC)', '')}, commit {machine.get('git commit', '?')[:12]}, "
               f"{machine.get('cpu model', '?')}, {machine.get('cpus', '?')}, "
               f"kernel {machine.get('kernel', '?')}.")
    load_txt = (f"1-minute load average at the runs' start: median {statistics.median(loads):.2f}, "
                f"min {min(loads):.2f}, max {max(loads):.2f}" if loads else "load: not recorded")
    out.append(f"Median of {a.reps} repetition(s) of {a.duration} s per measurement. "
               f"{load_txt} (the machine is shared: other users' processes ran on both CPUs). "
               "Servers pinned to CPU 1, clients to CPU 0 (taskset), in network namespaces "
               "joined by a veth on the same 2-CPU machine: this understates any stack compared "
               "to separate machines (see machine.txt).")
    out.append("ratio = toe / twin: for rates higher is better for toe; for latency and CPU "
               "lower is better. spread = max/min of a server's repetitions: a ratio between "
               "servers that is smaller than their spreads is not a difference this run can "
               "show.")
    def section(title, fill, after):
        body = []
        fill(t, body)
        if len(body) > 2:  # more than the header and the alignment line
            out.extend(["", title, ""] + body + ([""] + after if after else []))

    section("## Echo: toe-echo vs twin-echo-epoll / twin-echo-uring (64-byte messages, "
            "toe-echo-check)", table_echo,
            ["Ceiling columns: toe-reflector (AF_XDP, swaps addresses and ports, no TCP) on "
             "the same veth and CPU, driven by the same toe-echo-check runs (the client's TCP "
             "socket talks to itself through it: simultaneous open, its own bytes come back) "
             "and by toe-udp-flood (64-byte UDP datagrams, `window` in flight, one socket, "
             "sendmmsg/recvmmsg: a lighter client). No TCP stack on AF_XDP can beat the "
             "reflector on this host; where a server's median does, that is the noise of a "
             "shared machine (compare the min..max in the charts) or a client-bound run."])
    section("## HTTP: toe-httpd vs twin-httpd-epoll / twin-httpd-uring (wrk -t1, ab; GET /tiny)",
            table_http, [])
    section("## The same servers driven by toe-load (the client on toe over AF_XDP, "
            "apps/toe-load; 64-byte echo, GET /tiny)", table_load,
            ["toe-load runs with its own address on the client's veth, pinned to the "
             "client CPU like the kernel clients, 0.5 s warm-up, then --duration; latency "
             "from its log-bucketed histogram. Ceiling: toe-reflector driven by toe-load "
             "(toe's TCP talks to itself through it). CPU %: of one core, server / toe-load, "
             "over the whole run: where toe-load is below 100 % and below the server, the "
             "server set the pace."])
    section("## Many cores: toe-echo's configurations beside the kernel twin (64-byte echo)",
            table_cores,
            ["One server at a time, the client (toe-load or toe-echo-check) pinned to CPU 0. "
             "With --cores 0,1 toe's core 0 shares CPU 0 with the client, so on this 2-CPU "
             "machine a second core thread competes with the client it serves; "
             "`--cores 1,1,1` runs three core threads on CPU 1 (the idle ones sleep). "
             "Server CPU counts every thread of the process. 4 connections: hash buckets "
             "may place them unevenly, the flow schedule alternates."])
    section("## Server CPU per request (utime+stime of the server process from /proc/PID/stat, "
            "before and after each run, / requests)", table_cpu,
            ["Tick-based accounting: softirq work is charged to the task it interrupts, so "
             "this is the server process's share, not the whole cost (machine.txt)."])
    section("## TCP segments retransmitted (server / client, sum over the repetitions)",
            table_retrans,
            ["Counted over each server's whole block (pilot runs and probes included): the "
             "server's stack (toe's own counters, the server namespace's kernel for a twin) "
             "and the client namespace's kernel. Retransmissions mean losses on the veth "
             "(a starved receiver's backlog or ring) and show up as tail latency. Through "
             "the reflector both ends are the client's own socket."])
    section("## CPU busy during the runs (% of one core: server / client)", table_util,
            ["A client near 100 % means the single client core, not the server, set the "
             "pace of that run. When server and client are both well below 100 %, other "
             "processes held the cores (or the loop waited on wakeups): the rate then says "
             "more about the machine than about the stack, while CPU per request depends "
             "much less on it (compare the spreads)."])
    out.append("")
    notes = []
    if "*" in t.marks:
        notes.append("\\* fewer valid repetitions than asked (a run failed; see progress.log).")
    if "!" in t.marks:
        notes.append("! the client counted errors in at least one repetition:")
    for n in error_notes(cells):
        notes.append("  - " + n)
    if notes:
        out += ["Notes:", ""] + notes + [""]
    text = "\n".join(out)
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write(text)
    os.makedirs(os.path.join(a.out, "data"), exist_ok=True)
    write_charts(cells, os.path.join(a.out, "data"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
