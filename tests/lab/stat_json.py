#!/usr/bin/env python3
"""Reads toe-stat --json views for tests/lab/test_stat.sh.

  stat_json.py fingerprint VIEW      what must not change on a quiet stack
  stat_json.py get VIEW NAME         n_cores | buckets, busy_ns (sums) | data_cores
                                     (cores with data events) | a counter
  stat_json.py show VIEW             the core figures, one line per core
  stat_json.py lines FILE N          FILE holds N JSON views, one a line
  stat_json.py against-exit VIEW LOG the server's exit figures (LOG, after
                                     "stopped after") equal VIEW's: per core
                                     events by class and flows, and every
                                     counter but the control thread's
"""
import json
import sys

# Per-core figures that settle on a quiet stack (busy time, ring fill and
# the control thread's filtered figure do not count here).
SETTLED = ("events", "ev_control", "ev_data", "ev_net", "flows")
TABLE_COLS = {"ev_control": 3, "ev_data": 4, "ev_net": 5, "flows": 2}


def load(path):
    with open(path) as f:
        return json.load(f)


def counters(view):
    # Control*: the control thread counts its rounds even when idle.
    return {k: v for k, v in view["counters"].items() if not k.startswith("Control")}


def fingerprint(view):
    cores = [[c[k] for k in SETTLED] for c in view["cores"]]
    return json.dumps([cores, counters(view)], sort_keys=True)


def get(view, name):
    if name == "n_cores":
        return len(view["cores"])
    if name in ("buckets", "busy_ns"):
        return sum(c[name] for c in view["cores"])
    if name == "data_cores":
        return sum(1 for c in view["cores"] if c["ev_data"] > 0)
    return view["counters"][name]


def exit_figures(log):
    """The core table rows and the counters printed after 'stopped after'."""
    rows, ctrs, part = {}, {}, None
    with open(log) as f:
        lines = f.read().split("\n")
    start = max(i for i, l in enumerate(lines) if " stopped after " in l)
    for line in lines[start + 1:]:
        if line.startswith("#"):
            part = {"# cores": "cores", "# stack counters": "counters"}.get(line.strip())
            continue
        w = line.split()
        if part == "cores" and w and w[0].isdigit():
            rows[int(w[0])] = w
        elif part == "counters" and len(w) == 2 and w[1].isdigit():
            ctrs[w[0]] = int(w[1])
    return rows, ctrs


def against_exit(view, log):
    rows, ctrs = exit_figures(log)
    bad = []
    if len(rows) != len(view["cores"]):
        bad.append(f"{len(rows)} cores at exit, toe-stat saw {len(view['cores'])}")
    for c in view["cores"]:
        row = rows.get(c["core"])
        for k, col in TABLE_COLS.items():
            if row is None or int(row[col]) != c[k]:
                bad.append(f"core {c['core']} {k}: toe-stat {c[k]}, exit "
                           f"{row[col] if row else '-'}")
    mine = counters(view)
    exit_ctrs = {k: v for k, v in ctrs.items() if not k.startswith("Control")}
    for k in sorted(set(mine) | set(exit_ctrs)):
        if mine.get(k) != exit_ctrs.get(k):
            bad.append(f"{k}: toe-stat {mine.get(k)}, exit {exit_ctrs.get(k)}")
    for b in bad:
        print("differs:", b, file=sys.stderr)
    n = len(mine)
    print(f"toe-stat = exit: {len(view['cores'])} cores (events by class, flows), "
          f"{n} counters" if not bad else f"{len(bad)} figures differ")
    return 0 if not bad else 1


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "lines":
        with open(path) as f:
            views = [json.loads(l) for l in f if l.strip()]
        return 0 if len(views) == int(sys.argv[3]) and all("cores" in v for v in views) else 1
    view = load(path)
    if cmd == "fingerprint":
        print(fingerprint(view))
    elif cmd == "get":
        print(get(view, sys.argv[3]))
    elif cmd == "show":
        for c in view["cores"]:
            print(f"core {c['core']}: busy {c['busy_pct']} % events {c['events']} "
                  f"(control {c['ev_control']}, data {c['ev_data']}, net {c['ev_net']}) "
                  f"buckets {c['buckets']} flows {c['flows']} waiting {c['queue_depth']} "
                  f"moves in/out {c['moves_in']}/{c['moves_out']} parked {c['parked']} "
                  f"overflow {c['park_overflow']} dropped {c['drops']}")
    elif cmd == "against-exit":
        return against_exit(view, sys.argv[3])
    else:
        print("unknown command", cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
