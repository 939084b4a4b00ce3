#!/usr/bin/env python3
"""compare_tc.py RECEIVED REPORT PID N - the agent's events of PID equal
trace-cmd's (report -R -t) field by field, N of each, in the same order.

Each tracefs instance stamps its own copy of an event when it writes it, so
the two stamps differ by the time between the two writes (a few us); every
other field must be equal."""
import re
import sys

recv, rep, pid, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
mine = []
for l in open(recv):
    if not l.startswith('event ') or ' filelock:flock_lock_inode ' not in l:
        continue
    kv = dict(x.split('=', 1) for x in l.split()[1:] if '=' in x)
    if kv['common_pid'] == pid:
        mine.append(kv)
theirs = []
for l in open(rep):
    m = re.match(r'\s*(\S+)-(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+'
                 r'flock_lock_inode:\s+(.*)$', l)
    if not m or m.group(2) != pid:
        continue
    kv = dict(x.split('=', 1) for x in m.group(6).split() if '=' in x)
    kv['ts'] = str(int(m.group(4)) * 10**9 + int(m.group(5).ljust(9, '0')[:9]))
    kv['cpu'] = str(int(m.group(3)))
    theirs.append(kv)
print(f"agent {len(mine)} events, trace-cmd {len(theirs)} events of pid {pid}")
assert len(theirs) == n, f"trace-cmd saw {len(theirs)}, expected {n}"
assert len(mine) == n, f"agent delivered {len(mine)}, expected {n}"
skew = [int(a['ts']) - int(b['ts']) for a, b in zip(mine, theirs)]
print(f"stamp difference agent - trace-cmd: min {min(skew)} max {max(skew)} ns")
assert max(abs(x) for x in skew) < 100000, "stamps differ by more than 100 us"
stamps = [int(a['ts']) for a in mine]
assert stamps == sorted(stamps), "agent's events are not in time order"
bad = 0
for a, b in zip(mine, theirs):
    for f in ['cpu', 'i_ino', 's_dev', 'pid', 'flags', 'type', 'fl_start',
              'fl_end', 'ret', 'fl', 'blocker', 'owner']:
        va, vb = a.get(f), b.get(f)
        if va is None or vb is None:
            raise SystemExit(f"field {f} missing: agent {va} trace-cmd {vb}")
        vb = '0' if vb == '(nil)' else vb
        if int(va) & (2**64 - 1) != int(vb, 0) & (2**64 - 1):
            bad += 1
            if bad < 5:
                print(f"mismatch {f}: agent {va} trace-cmd {vb}")
assert bad == 0, f"{bad} mismatching fields"
print("agent == trace-cmd, field by field")
