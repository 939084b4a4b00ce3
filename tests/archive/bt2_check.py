#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Read a netrv archive with the real babeltrace2 Python bindings (bt2) and
compare it with what archive_gen says went in.

    bt2_check.py TRACE EXPECT.jsonl [--skip-internal-count]

Every expected record must come out exactly once, in merged order, with the
same field values.  babeltrace2 orders records by timestamp and breaks ties
its own way, so records with the same timestamp are compared as a group.
Prints "N records match" and exits 0, or prints the first difference and
exits 1.
"""
import json
import sys
from itertools import groupby

import bt2

INTERNAL = ("netrv:clock", "netrv:late")


def value(f):
    if isinstance(f, bt2._EnumerationFieldConst):
        return f.labels[0]
    if isinstance(f, bt2._IntegerFieldConst):
        return int(f)
    if isinstance(f, bt2._StringFieldConst):
        return str(f)
    if isinstance(f, (bt2._ArrayFieldConst,)):
        return [value(x) for x in f]
    if isinstance(f, bt2._StructureFieldConst):
        return {k: value(v) for k, v in f.items()
                if not k.endswith("__len")}
    raise TypeError("unexpected field type %r" % type(f))


def read(path):
    out, internal = [], 0
    for msg in bt2.TraceCollectionMessageIterator(path):
        if type(msg) is not bt2._EventMessageConst:
            continue
        ev = msg.event
        if ev.name in INTERNAL:
            internal += 1
            continue
        rec = {"name": ev.name, "stamp": msg.default_clock_snapshot.value}
        ctx = value(ev.common_context_field)
        if "node" in ctx:
            rec.update(node=ctx["node"], cpu=ctx["cpu"], seq=ctx["seq"],
                       index=ctx["index"], eps_ns=ctx["eps_ns"])
        rec["fields"] = value(ev.payload_field)
        out.append(rec)
    return out, internal


def groups(records):
    return [(k, sorted(json.dumps(r, sort_keys=True) for r in g))
            for k, g in groupby(records, key=lambda r: r["stamp"])]


def main():
    path, expect_path = sys.argv[1], sys.argv[2]
    with open(expect_path) as f:
        expect = [json.loads(line) for line in f]
    counts = expect.pop()  # the last line holds counts, not a record
    got, internal = read(path)
    ge, gg = groups(expect), groups(got)
    for i, (a, b) in enumerate(zip(ge, gg)):
        if a != b:
            print("group %d differs:\n expected %s\n got      %s" % (i, a, b))
            return 1
    if len(ge) != len(gg) or len(got) != len(expect):
        print("expected %d records in %d groups, got %d in %d" %
              (len(expect), len(ge), len(got), len(gg)))
        return 1
    events = sum(1 for r in got if not r["name"].startswith("netrv:"))
    if events != counts["events"]:
        print("expected %d events, got %d" % (counts["events"], events))
        return 1
    print("%d records match (%d events, %d internal clock/late records)" %
          (len(got), events, internal))
    return 0


if __name__ == "__main__":
    sys.exit(main())
