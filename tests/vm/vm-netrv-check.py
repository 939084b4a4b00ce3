#!/usr/bin/env python3
"""vm-netrv-check - what the collector made of a VM cluster's DLM run.

    vm-netrv-check.py COLLECTOR_DIR --run RUNDIR --nodes N --metrics FILE
                      [--expect healthy|clock-bound] [--since-verdict K]
                      [--only-node NODE --after-tai NS] [--trace-check JSON]

COLLECTOR_DIR is STATE/collector of deploy/vm/cluster.sh (events.jsonl, the
collector's event log; verdicts.jsonl, its verdict log).  RUNDIR is what
`cluster.sh dlm-run RUN` left (nodeK/dlm-trace.txt, recorded by a second
tracefs instance in each guest at the same time as the agent's).  METRICS is
the collector's /metrics text.

Checks:
  - arrival: per node and per dlm:* event (lock_start, ast, unlock_start,
    send_message, recv_message), every event of the guest's own trace
    (identified by lkb_id + res_name, or sender + dst + seq + m_type) is in
    the collector's event log within the run's time window widened by
    30 ms, and the collector has none that the trace lacks inside the window
    narrowed by 30 ms: the agent lost nothing and made nothing up;
  - causality: the lock engine matched (netrv_lock_messages_matched_total)
    at least 90% of the dlm_recv_message events the collector received;
  - verdicts (only those after the first K lines of the verdict log):
    healthy: none of class definite, possible, clock-bound, incomplete,
    and no protocol verdict except dlm_resource's that clock uncertainty
    explains (a release on another node stamped after the grant by less
    than both nodes' eps; see explained()); clock-bound: at least one clock-bound verdict, each naming
    two different nodes with send TAI - eps beyond recv TAI + eps.
--trace-check: the collector's clock-bound verdicts must be no more than the
receives dlm-trace-check.py saw stamped before their sends (it uses eps 0).
--only-node/--after-tai: only the arrival of NODE's events after TAI NS
(e.g. while it is partitioned from the cluster).
Prints a summary; exit 0 when every check holds, 1 otherwise.
"""
import argparse
import collections
import json
import os
import re
import sys

LINE = re.compile(r'^\s*(?P<task>.*?)-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]\s+\S+\s+'
                  r'(?P<sec>\d+)\.(?P<frac>\d+):\s+(?P<event>\w+):\s?(?P<rest>.*)$')
FIELD = re.compile(r'(\w+)=(\S*)')
# An event's identity: lkb ids are printed in hex, res_name as hex bytes.
KEYS = {
    'dlm_lock_start': ('lkb_id', 'res_name'),
    'dlm_ast': ('lkb_id', 'res_name'),
    'dlm_unlock_start': ('lkb_id', 'res_name'),
    'dlm_send_message': ('h_nodeid', 'dst', 'h_seq', 'seq', 'm_type'),
    'dlm_recv_message': ('h_nodeid', 'dst', 'h_seq', 'seq', 'm_type'),
}
EVENTS = tuple(KEYS)
# How far the agent's TAI (trace clock mono + a per-batch offset) may be
# from the tracing instance's tai clock: the guest's clock is slewed by up
# to 2000 ppm between a record and its batch's offset reading.
SLACK_NS = 30_000_000
BAD_HEALTHY = ('definite', 'possible', 'clock-bound', 'protocol', 'incomplete')
M_TYPES = {'REQUEST': 1, 'CONVERT': 2, 'UNLOCK': 3, 'CANCEL': 4,
           'REQUEST_REPLY': 5, 'CONVERT_REPLY': 6, 'UNLOCK_REPLY': 7,
           'CANCEL_REPLY': 8, 'GRANT': 9, 'BAST': 10, 'LOOKUP': 11,
           'REMOVE': 12, 'LOOKUP_REPLY': 13, 'PURGE': 14}


def trace_key(event, f):
    out = []
    for k in KEYS[event]:
        v = f.get(k)
        if v is None:
            out.append(None)
        elif k == 'lkb_id':
            out.append(int(v, 16))
        elif k == 'res_name':
            out.append(bytes.fromhex(v) if v else b'')
        elif k == 'm_type':
            out.append(M_TYPES.get(v, v) if not v.isdigit() else int(v))
        else:
            out.append(int(v))
    return tuple(out)


def collector_key(event, f):
    out = []
    for k in KEYS[event]:
        v = f.get(k)
        if k == 'res_name' and v is not None:
            v = v.encode('latin-1', 'backslashreplace')
        out.append(v)
    return tuple(out)

failures = []


def check(ok, what):
    print(('ok   ' if ok else 'FAIL ') + what)
    if not ok:
        failures.append(what)


def trace_events(path):
    """{event: [(tai_ns, key)...]} of a tracefs text trace (clock tai)."""
    out = collections.defaultdict(list)
    with open(path, errors='replace') as f:
        for line in f:
            if line.startswith('#'):
                continue
            m = LINE.match(line)
            if not m or m.group('event') not in KEYS:
                continue
            frac = m.group('frac')
            ns = int(m.group('sec')) * 10**9 + int(frac) * 10**(9 - len(frac))
            ev = m.group('event')
            out[ev].append((ns, trace_key(ev, dict(FIELD.findall(m.group('rest'))))))
    return out


def collector_events(path):
    """{node: {event: [(tai_ns, key)...]}} from the collector's event log."""
    out = collections.defaultdict(lambda: collections.defaultdict(list))
    with open(path) as f:
        for line in f:
            ev = json.loads(line)
            name = ev.get('event', '')[4:]
            if not ev.get('event', '').startswith('dlm:') or name not in KEYS:
                continue
            out[ev['node']][name].append(
                (ev['tai_ns'], collector_key(name, ev['fields'])))
    return out


RES_RE = re.compile(r'res_name="(.*)"$')


def explained(cdir, verdicts):
    """dlm_resource verdicts that clock uncertainty explains.

    dlm_resource sees the merged TAI order and no causality: a grant on
    one node stamped a little before the release (unlock or down-convert)
    on another node that in truth preceded it looks like a conflict.  Such
    a verdict is explained when that release is stamped after the grant by
    no more than both nodes' eps; the lock engine, which has the causal
    edges and the eps, rules on those pairs (and must find them safe).
    """
    todo = []
    for v in verdicts:
        if v.get('model') != 'dlm_resource' or not v.get('clocks'):
            continue
        m = RES_RE.search(v['resource']['name'])
        if m:
            todo.append((v, m.group(1), v['clocks'][0]))
    if not todo:
        return []
    names = {t[1] for t in todo}
    rel = collections.defaultdict(list)
    with open(os.path.join(cdir, 'events.jsonl')) as f:
        for line in f:
            ev = json.loads(line)
            fl = ev.get('fields', {})
            if fl.get('res_name') not in names:
                continue
            if ev['event'] == 'dlm:dlm_unlock_start' or (
                    ev['event'] == 'dlm:dlm_lock_start' and fl.get('flags', 0) & 4):
                rel[fl['res_name']].append((ev['node'], ev['tai_ns'], ev['eps_ns']))
    out = []
    for v, name, clk in todo:
        t = v['tai_ns']
        near = [(n, ts - t, e) for n, ts, e in rel[name]
                if n != clk['node'] and t <= ts <= t + clk['eps_ns'] + e]
        if near:
            n, d, e = near[0]
            print(f'     {v["reason"]} on {name} at {clk["node"]}: '
                  f'{n} released {d / 1e6:.1f} ms later, within eps '
                  f'{clk["eps_ns"] / 1e6:.1f} + {e / 1e6:.1f} ms')
            out.append(v)
        else:
            print(f'     UNEXPLAINED: {json.dumps(v)[:400]}')
    return out


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + ' ') or line.startswith(name + '{'):
            return float(line.split()[-1])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('collector')
    ap.add_argument('--run', required=True)
    ap.add_argument('--nodes', type=int, required=True)
    ap.add_argument('--metrics', required=True)
    ap.add_argument('--expect', choices=('healthy', 'clock-bound'),
                    default='healthy')
    ap.add_argument('--since-verdict', type=int, default=0)
    ap.add_argument('--only-node')
    ap.add_argument('--after-tai', type=int, default=0)
    ap.add_argument('--trace-check',
                    help="dlm-trace-check.py's --json report of the same run")
    a = ap.parse_args()

    got = collector_events(os.path.join(a.collector, 'events.jsonl'))
    nodes = [f'node{n}' for n in range(1, a.nodes + 1)]
    if a.only_node:
        nodes = [a.only_node]
    for node in nodes:
        tr = trace_events(os.path.join(a.run, node, 'dlm-trace.txt'))
        for name in EVENTS:
            t = [x for x in tr.get(name, []) if x[0] > a.after_tai]
            c = got[node].get(name, [])
            if not t:
                check(False, f'{node} {name}: none in the guest trace')
                continue
            lo, hi = min(x[0] for x in t), max(x[0] for x in t)
            want = collections.Counter(k for _, k in t)
            wide = collections.Counter(
                k for ts, k in c if lo - SLACK_NS <= ts <= hi + SLACK_NS)
            inner = collections.Counter(
                k for ts, k in c if lo + SLACK_NS <= ts <= hi - SLACK_NS)
            missing = want - wide
            extra = inner - want
            check(not missing and not extra,
                  f'{node} {name}: {len(t)} in the guest trace, all of them '
                  f'at the collector ({sum(missing.values())} missing, '
                  f'{sum(extra.values())} it has and the trace has not)')
    if a.only_node:
        return

    with open(a.metrics) as f:
        mtext = f.read()
    matched = metric(mtext, 'netrv_lock_messages_matched_total') or 0
    recvs = sum(len(got[n].get('dlm_recv_message', [])) for n in got)
    verdicts = []
    vpath = os.path.join(a.collector, 'verdicts.jsonl')
    if os.path.exists(vpath):
        with open(vpath) as f:
            verdicts = [json.loads(x) for x in f][a.since_verdict:]
    # a send that comes after its receive was delivered is not a match but
    # a clock-bound verdict: both are pairs the engine found
    late = sum(v['class'] == 'clock-bound' for v in verdicts)
    check(recvs > 0 and matched + late >= 0.9 * recvs,
          f'send/recv pairs found by the lock engine: {int(matched)} matched'
          f' + {late} clock-bound of {recvs} receives')
    for m in ('netrv_lock_pairs_checked_total',):
        print(f'     {m} {metric(mtext, m)}')
    for line in mtext.splitlines():
        if line.startswith('netrv_lock_pairs_safe_total'):
            print('     ' + line)

    by = collections.Counter(v['class'] for v in verdicts)
    print(f'     verdicts: {dict(by) or "none"}')
    for v in verdicts[:5]:
        print(f'     e.g. {v["class"]}: {v.get("reason", "")} '
              f'{json.dumps(v.get("resource"))}')
    if a.expect == 'healthy':
        ok_model = explained(a.collector, verdicts)
        for cl in BAD_HEALTHY:
            if cl == 'protocol':
                bad = by[cl] - len(ok_model)
                check(bad == 0, f'no unexplained protocol verdicts ({by[cl]}; '
                      f'{len(ok_model)} of dlm_resource within clock '
                      f'uncertainty, listed above)')
                continue
            check(by[cl] == 0, f'no {cl} verdicts ({by[cl]})')
    else:
        cb = [v for v in verdicts if v['class'] == 'clock-bound']
        good = [v for v in cb
                if v.get('message', {}).get('excess_ns', 0) > 0 and
                v['message']['send']['node'] != v['message']['recv']['node']]
        check(len(cb) > 0 and len(good) == len(cb),
              f'clock-bound verdicts: {len(cb)}, each a send stamped after '
              f'its receive beyond both eps on two nodes: {len(good)}')
        if a.trace_check:
            with open(a.trace_check) as f:
                tc = json.load(f)
            # The trace check counts every receive it paired that is
            # stamped before its send (eps 0); the collector only those
            # beyond both nodes' eps, but also the ones the trace check
            # could not pair.
            unpaired = tc['pairs'].get('ambiguous', 0) + tc['pairs'].get('unmatched', 0)
            check(0 < len(cb) <= tc['violations'] + unpaired,
                  f'collector clock-bound verdicts {len(cb)} <= receives '
                  f'stamped before their sends in the guest traces '
                  f'{tc["violations"]} (+ {unpaired} it could not pair)')
        if good:
            ex = sorted(v['message']['excess_ns'] for v in good)
            print(f'     excess: min {ex[0] / 1e6:.1f} ms, median '
                  f'{ex[len(ex) // 2] / 1e6:.1f} ms, max {ex[-1] / 1e6:.1f} ms')


if __name__ == '__main__':
    main()
    if failures:
        print(f'vm-netrv-check: {len(failures)} check(s) failed', file=sys.stderr)
        sys.exit(1)
    print('vm-netrv-check: all checks passed')
