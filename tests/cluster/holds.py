#!/usr/bin/env python3
"""holds.py - read the uprobe trace of netrv-lockc's lock_acquired /
lock_releasing and turn it into hold intervals.

    holds.py TRACE OUTDIR

TRACE is the text 'trace' file of a tracefs instance with two uprobe events,
'acq' (name=..., mode=...) and 'rel' (name=...), and a global trace clock
(mono).  For each client PID it writes OUTDIR/PID.seq, one "NAME MODE" line
per lock_acquired call in order, and it prints one line:

    acq=N rel=M unmatched=U overlaps=K

where an overlap is a pair of holds of one name by two different PIDs, at
least one exclusive, whose [acquired, releasing] intervals intersect: what
a correct lock server never allows and a faulty one does.
"""
import collections
import os
import re
import sys

LINE = re.compile(r'^\s*(?P<comm>.+)-(?P<pid>\d+)\s+\[\d+\]\s+\S+\s+'
                  r'(?P<ts>\d+\.\d+): (?P<ev>acq|rel): \(\S+\) '
                  r'name="(?P<name>[^"]*)"(?: mode=(?P<mode>-?\d+))?\s*$')


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    trace, outdir = sys.argv[1], sys.argv[2]
    seqs = collections.defaultdict(list)
    open_holds = {}  # (pid, name) -> (start, mode)
    holds = collections.defaultdict(list)  # name -> [(start, end, mode, pid)]
    n_acq = n_rel = unmatched = 0
    with open(trace) as f:
        for line in f:
            if line.startswith('#'):
                continue
            m = LINE.match(line)
            if not m:
                continue
            pid, name = int(m['pid']), m['name']
            # microseconds as integers: exact comparisons
            ts = int(m['ts'].replace('.', ''))
            if m['ev'] == 'acq':
                n_acq += 1
                mode = int(m['mode'])
                seqs[pid].append(f'{name} {mode}')
                if (pid, name) in open_holds:
                    unmatched += 1
                open_holds[(pid, name)] = (ts, mode)
            else:
                n_rel += 1
                start = open_holds.pop((pid, name), None)
                if start is None:
                    unmatched += 1
                    continue
                holds[name].append((start[0], ts, start[1], pid))
    unmatched += len(open_holds)
    overlaps = 0
    for name, hs in holds.items():
        hs.sort()
        for i, a in enumerate(hs):
            for b in hs[i + 1:]:
                if b[0] >= a[1]:
                    break
                if a[3] != b[3] and (a[2] == 1 or b[2] == 1):
                    overlaps += 1
    os.makedirs(outdir, exist_ok=True)
    for pid, seq in seqs.items():
        with open(os.path.join(outdir, f'{pid}.seq'), 'w') as f:
            f.write(''.join(s + '\n' for s in seq))
    print(f'acq={n_acq} rel={n_rel} unmatched={unmatched} overlaps={overlaps}')


if __name__ == '__main__':
    main()
