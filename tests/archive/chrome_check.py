#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check a `netrv export --format chrome-json` file against expected counts.

    chrome_check.py OUT.json SLICES VERDICTS NODES

Valid JSON in the Trace Event Format; one process_name metadata event per
node plus the cluster process; SLICES complete ("X") lock-hold slices with
ts >= 0 and dur >= 0 on node processes; VERDICTS instant events of category
"verdict".  Exits 1 with the reason if anything differs.
"""
import json
import sys


def main():
    path, slices, verdicts, nodes = sys.argv[1], *map(int, sys.argv[2:5])
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    evs = doc["traceEvents"]
    meta = [e for e in evs if e["ph"] == "M" and e["name"] == "process_name"]
    xs = [e for e in evs if e["ph"] == "X"]
    vs = [e for e in evs if e["ph"] == "i" and e["cat"] == "verdict"]
    errors = []
    if len(meta) != nodes + 1:
        errors.append("%d process names, want %d" % (len(meta), nodes + 1))
    if len(xs) != slices:
        errors.append("%d slices, want %d" % (len(xs), slices))
    if len(vs) != verdicts:
        errors.append("%d verdict instants, want %d" % (len(vs), verdicts))
    pids = {e["pid"] for e in meta}
    for e in xs:
        if e["ts"] < 0 or e["dur"] < 0 or e["pid"] not in pids or e["pid"] == 0:
            errors.append("bad slice %r" % e)
            break
    if errors:
        print("; ".join(errors))
        return 1
    print("%d slices, %d verdicts, %d processes" % (len(xs), len(vs), len(meta)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
