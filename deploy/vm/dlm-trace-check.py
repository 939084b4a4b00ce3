#!/usr/bin/env python3
"""dlm-trace-check - check the dlm:* traces of one VM workload run.

    dlm-trace-check.py RUNDIR --nodes N [--expect-offsets-ms MS,MS,...]
                       [--ptp-logs SHAREDIR] [--tolerance-ms T]
                       [--expect-violations] [--max-violation-ms MS] [--json FILE]
                       [--no-noqueue]

RUNDIR is what `cluster.sh dlm-run RUN` leaves in the share: nodeK/dlm-trace.txt
(tracefs text, trace clock tai), nodeK/workload.log, nodeK/trace-info.

Checks, per node:
  - dlm_lock_start, dlm_ast, dlm_unlock_start, dlm_send_message and
    dlm_recv_message events are there and no event was lost (overrun 0);
  - the kernel saw what the workload did: dlm_lock_start count = lock and
    convert calls, dlm_unlock_start count = unlock calls, dlm_ast count =
    all calls; on 6.1 also dlm_ast with sb_status 0 = granted requests,
    -11 = NOQUEUE refusals, -65538 (-DLM_EUNLOCK) = unlocks (6.12 reports
    sb_status 0 for all of them on locks taken from user space).
Across nodes, send/receive pairs: a dlm_recv_message on node B from
h_nodeid A with seq S is matched with the dlm_send_message on A carrying the
same seq and message header (m_type, lockspace, lkid, remid, hash, status,
result; 6.1 has no destination field, 6.2+ has dst and h_seq).  At least 95%
of the receptions must be matched.  From the pairs, for two nodes A, B that
exchanged messages both ways (such pairs must link every node):
  d_AB = min(t_recv on B - t_send on A), d_BA likewise;
  offset(B - A) = (d_AB - d_BA) / 2, with bound (d_AB + d_BA) / 2 (NTP style).
The offsets must agree, within --tolerance-ms, with the expected clock
offsets: --expect-offsets-ms (node 1 first), or each node's median ptp4l
"master offset" of its last samples when --ptp-logs is given (the guests'
own, independent measurement).  A pair whose receive is stamped before its
send is a clock-bound violation; --expect-violations requires some,
--max-violation-ms bounds how far before its send a receive may be stamped.
A negative half round trip means the offset was not constant during the run
(clocks that wander by more than the message delay).

Prints a report; exit status 0 when every check holds, 1 otherwise.
"""
import argparse
import json
import os
import re
import statistics
import sys

LINE = re.compile(r'^\s*(?P<task>.*?)-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]\s+\S+\s+'
                  r'(?P<sec>\d+)\.(?P<frac>\d+):\s+(?P<event>\w+):\s?(?P<rest>.*)$')
FIELD = re.compile(r'(\w+)=(\S*)')
PAIR_KEYS = ('h_lockspace', 'm_type', 'm_lkid', 'm_remid', 'm_hash',
             'm_status', 'm_result')


def parse_trace(path):
    """Yield (time_ns, event, fields) from a tracefs text trace."""
    with open(path, errors='replace') as f:
        for line in f:
            if line.startswith('#'):
                continue
            m = LINE.match(line)
            if not m:
                continue
            frac = m.group('frac')
            ns = int(m.group('sec')) * 10**9 + int(frac) * 10**(9 - len(frac))
            yield ns, m.group('event'), dict(FIELD.findall(m.group('rest')))


def parse_summary(path):
    """The workload's summary lines: {(kind, key): value}."""
    out = {}
    with open(path) as f:
        for line in f:
            if not line.startswith('summary '):
                continue
            parts = line.split()
            for kv in parts[2:]:
                k, _, v = kv.partition('=')
                out[(parts[1], k)] = int(v)
    return out


def parse_info(path):
    info = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition(' ')
            info[k] = v
    return info


def ptp_offset_ms(path, last=20):
    """Median master offset (ms) of the last samples of a ptp4l log, after
    the guest's last "netrv: clock stepped" line if there is one."""
    offs = []
    with open(path) as f:
        for line in f:
            if line.startswith('netrv: clock stepped'):
                offs = []
            m = re.search(r'master offset\s+(-?\d+)', line)
            if m:
                offs.append(int(m.group(1)))
    if not offs:
        return None
    return statistics.median(offs[-last:]) / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('rundir')
    ap.add_argument('--nodes', type=int, required=True)
    ap.add_argument('--expect-offsets-ms')
    ap.add_argument('--ptp-logs')
    ap.add_argument('--tolerance-ms', type=float, default=20.0)
    ap.add_argument('--expect-violations', action='store_true')
    ap.add_argument('--no-noqueue', action='store_true',
                    help='the workload ran with --no-noqueue')
    ap.add_argument('--max-violation-ms', type=float)
    ap.add_argument('--json')
    a = ap.parse_args()

    failures = []
    report = {'nodes': {}, 'pairs': {}}

    def check(ok, what):
        print(('ok   ' if ok else 'FAIL ') + what)
        if not ok:
            failures.append(what)

    nodes = range(1, a.nodes + 1)
    sends = {}   # (sender, seq, key...) -> [(node, t)]
    recvs = []   # (receiver, sender, key, t)
    for n in nodes:
        d = os.path.join(a.rundir, 'node%d' % n)
        try:
            info = parse_info(os.path.join(d, 'trace-info'))
            summ = parse_summary(os.path.join(d, 'workload.log'))
            events = list(parse_trace(os.path.join(d, 'dlm-trace.txt')))
        except OSError as e:
            check(False, 'node%d: results readable (%s)' % (n, e))
            continue
        counts = {}
        asts = {}
        for t, ev, f in events:
            counts[ev] = counts.get(ev, 0) + 1
            if ev == 'dlm_ast':
                st = int(f.get('sb_status', '1'))
                asts[st] = asts.get(st, 0) + 1
            elif ev in ('dlm_send_message', 'dlm_recv_message'):
                seq = f.get('h_seq', f.get('seq'))
                key = (int(f['h_nodeid']), int(seq)) + tuple(
                    f.get(k) for k in PAIR_KEYS)
                if ev == 'dlm_send_message':
                    sends.setdefault(key, []).append((n, t))
                else:
                    recvs.append((n, key, t))
        report['nodes'][n] = {'events': counts, 'ast_status': asts,
                              'clock': info.get('clock'),
                              'kernel': info.get('kernel')}
        pre = 'node%d: ' % n
        check(info.get('clock') == 'tai', pre + 'trace clock is tai')
        check(info.get('overrun') == '0', pre + 'no lost events (overrun %s)'
              % info.get('overrun'))
        check(info.get('workload_rc') == '0', pre + 'workload succeeded')
        for ev in ('dlm_lock_start', 'dlm_ast', 'dlm_unlock_start',
                   'dlm_send_message', 'dlm_recv_message'):
            check(counts.get(ev, 0) > 0, pre + '%s events (%d)'
                  % (ev, counts.get(ev, 0)))
        lock_calls = (summ.get(('lock', 'calls'), 0)
                      + summ.get(('convert-up', 'calls'), 0)
                      + summ.get(('convert-down', 'calls'), 0))
        granted = (summ.get(('lock', 'granted'), 0)
                   + summ.get(('convert-up', 'granted'), 0)
                   + summ.get(('convert-down', 'granted'), 0))
        eagain = (summ.get(('lock', 'eagain'), 0)
                  + summ.get(('convert-up', 'eagain'), 0))
        unlocks = summ.get(('unlock', 'calls'), 0)
        check(lock_calls > 0 and counts.get('dlm_lock_start', 0) == lock_calls,
              pre + 'dlm_lock_start %d = lock+convert calls %d'
              % (counts.get('dlm_lock_start', 0), lock_calls))
        check(counts.get('dlm_unlock_start', 0) == unlocks,
              pre + 'dlm_unlock_start %d = unlock calls %d'
              % (counts.get('dlm_unlock_start', 0), unlocks))
        check(counts.get('dlm_ast', 0) == lock_calls + unlocks,
              pre + 'dlm_ast %d = DLM calls %d' % (counts.get('dlm_ast', 0),
                                                   lock_calls + unlocks))
        if info.get('kernel', '').startswith('6.1.'):
            check(asts.get(0, 0) == granted,
                  pre + 'dlm_ast status 0: %d = granted %d'
                  % (asts.get(0, 0), granted))
            check(asts.get(-11, 0) == eagain,
                  pre + 'dlm_ast status -EAGAIN: %d = NOQUEUE refusals %d'
                  % (asts.get(-11, 0), eagain))
            check(asts.get(-65538, 0) == unlocks,
                  pre + 'dlm_ast status -DLM_EUNLOCK: %d = unlocks %d'
                  % (asts.get(-65538, 0), unlocks))
        else:
            # Seen on 6.12: for locks taken from user space, dlm_ast
            # reports sb_status 0 also for unlocks and NOQUEUE refusals.
            print('note ' + pre + 'dlm_ast statuses %s (checked on 6.1 only;'
                  ' workload: %d granted, %d refused, %d unlocks)'
                  % (asts, granted, eagain, unlocks))
        kinds = {k for (k, _) in summ}
        check({'lock', 'convert-up', 'convert-down', 'unlock'} <= kinds and
              summ.get(('convert-up', 'calls'), 0) > 0 and
              summ.get(('convert-down', 'calls'), 0) > 0 and
              (a.no_noqueue or summ.get(('lock', 'noqueue'), 0) > 0),
              pre + 'workload used converts up and down' +
              ('' if a.no_noqueue else ' and NOQUEUE'))

    # Pairs.
    delays = {}  # (a, b) -> [t_recv(b) - t_send(a)]
    matched = ambiguous = unmatched = 0
    for b, key, t in recvs:
        cand = [(n, ts) for (n, ts) in sends.get(key, []) if n != b]
        if len(cand) == 1:
            a_node, ts = cand[0]
            if a_node != key[0]:
                unmatched += 1
                continue
            delays.setdefault((a_node, b), []).append(t - ts)
            matched += 1
        elif cand:
            ambiguous += 1
        else:
            unmatched += 1
    total = matched + ambiguous + unmatched
    report['pairs'] = {'matched': matched, 'ambiguous': ambiguous,
                       'unmatched': unmatched}
    check(total > 0 and matched >= 0.95 * total,
          'send/recv pairs matched: %d of %d receptions (%d ambiguous)'
          % (matched, total, ambiguous))

    expect = None
    if a.ptp_logs:
        expect = []
        for n in nodes:
            o = ptp_offset_ms(os.path.join(a.ptp_logs, 'node%d' % n,
                                           'ptp4l.log'))
            check(o is not None, 'node%d: ptp4l measured an offset' % n)
            expect.append(o or 0.0)
        print('ptp4l-measured offsets (ms): ' +
              ' '.join('%.3f' % o for o in expect))
    elif a.expect_offsets_ms:
        expect = [float(x) for x in a.expect_offsets_ms.split(',')]
        if len(expect) != a.nodes:
            sys.exit('dlm-trace-check: --expect-offsets-ms needs %d values'
                     % a.nodes)

    violations = 0
    worst_all = 0.0
    report['offsets'] = {}
    parent = {n: n for n in nodes}  # union-find: offsets known between

    def root(n):
        while parent[n] != n:
            n = parent[n]
        return n

    for (x, y), d in sorted(delays.items()):
        v = sum(1 for t in d if t < 0)
        violations += v
        worst_all = min(worst_all, min(d) / 1e6)
        print('node%d -> node%d: %d pairs, delay min %.3f ms, %d with '
              'receive before send' % (x, y, len(d), min(d) / 1e6, v))
    for x in nodes:
        for y in nodes:
            if y <= x:
                continue
            dxy = delays.get((x, y), [])
            dyx = delays.get((y, x), [])
            if not dxy or not dyx:
                print('node%d - node%d: no pairs both ways, offset unknown'
                      % (y, x))
                continue
            parent[root(y)] = root(x)
            off = (min(dxy) - min(dyx)) / 2e6
            bound = (min(dxy) + min(dyx)) / 2e6
            report['offsets']['%d-%d' % (y, x)] = {
                'offset_ms': off, 'half_rtt_ms': bound,
                'pairs': len(dxy) + len(dyx)}
            print('node%d - node%d: offset %+.3f ms (half round trip '
                  '%+.3f ms) from %d pairs' % (y, x, off, bound,
                                              len(dxy) + len(dyx)))
            if expect is not None:
                want = expect[y - 1] - expect[x - 1]
                check(abs(off - want) <= a.tolerance_ms,
                      'node%d - node%d offset %+.3f ms within %.1f ms of '
                      'expected %+.3f ms' % (y, x, off, a.tolerance_ms, want))
    check(len({root(n) for n in nodes}) == 1,
          'pairs both ways link every node (offsets known for all)')
    report['violations'] = violations
    report['worst_violation_ms'] = worst_all
    if a.max_violation_ms is not None:
        check(-worst_all <= a.max_violation_ms,
              'no receive stamped more than %.1f ms before its send '
              '(worst %.3f ms)' % (a.max_violation_ms, -worst_all))
    if a.expect_violations:
        check(violations > 0, 'clock-bound violations present (%d)'
              % violations)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(report, f, indent=1, default=str)
    print('dlm-trace-check: %s' % ('PASS' if not failures else
                                   'FAIL (%d checks)' % len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
