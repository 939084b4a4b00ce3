#!/usr/bin/env python3
"""check.py - oracles of the end-to-end tests, over a local cluster's state.

  check.py exact STATE       every operation the workloads logged reached
                             the collector's event log exactly once, in
                             each node's order (workload logs vs events.jsonl)
  check.py verdicts STATE PORT healthy|fault
                             the verdicts (verdict log and /api/verdicts)
                             against the ground truth (lockd's fault log)

Exit 0 when the check holds, 1 with the reasons otherwise.
"""
import collections
import glob
import json
import os
import re
import sys
import urllib.request

errors = []


def err(msg):
    errors.append(msg)
    print("check: " + msg, file=sys.stderr)


def kv(line):
    return dict(re.findall(r'(\w+)=(\S+)', line))


def read_events(state):
    """The event log: events per node in log order, loss and state lines."""
    evs, losses = collections.defaultdict(list), []
    with open(os.path.join(state, 'collector/events.jsonl'), 'rb') as f:
        for n, raw in enumerate(f, 1):
            try:
                e = json.loads(raw)
            except ValueError:
                err(f"events.jsonl:{n}: not JSON: {raw[:80]!r}")
                continue
            if 'loss' in e:
                losses.append(e)
            elif 'event' in e:
                evs[e['node']].append(e)
    return evs, losses


def workload_logs(state, tag):
    """{node: (pid, [lines], done dict)} for logs/nI.TAG.log."""
    out = {}
    for path in sorted(glob.glob(os.path.join(state, f'logs/n*.{tag}.log'))):
        node = os.path.basename(path).split('.')[0]
        lines = open(path, errors='replace').read().splitlines()
        start = [kv(l) for l in lines if l.startswith(f'{tag}: start ')]
        done = [kv(l) for l in lines if l.startswith(f'{tag}: done ')]
        if len(start) != 1 or len(done) != 1:
            err(f"{path}: expected one start and one done line")
            continue
        out[node] = (int(start[0]['pid']), lines, done[0])
    return out


def workload_logs_quiet(state, tag):
    """{node: (pid, None, None)} from the start lines of logs/nI.TAG.log."""
    out = {}
    for path in glob.glob(os.path.join(state, f'logs/n*.{tag}.log')):
        for l in open(path, errors='replace'):
            if l.startswith(f'{tag}: ') and ' pid=' in l:
                out[os.path.basename(path).split('.')[0]] = (int(kv(l)['pid']), None, None)
                break
    return out


def describe_seqs(got, want, events):
    """What differs between two sequence lists, for a failure message."""
    missing = sorted(set(want) - set(got))
    dup = sorted(k for k, v in collections.Counter(got).items() if v > 1)
    out = f"; missing {missing[:10]}" if missing else ""
    out += f"; duplicated {dup[:10]}" if dup else ""
    for k in missing[:3]:  # neighbours of a hole: seq, batch, index, cpu, stamp
        near = [(e['fields']['seq'], e['seq'], e['index'], e['cpu'],
                 e['trace_ns']) for e in events
                if abs(e['fields']['seq'] - k) <= 2]
        out += f"; around {k}: {near}"
    return out


def exact(state):
    evs, losses = read_events(state)
    # the user-space lock service: clients' own calls and messages
    clients = workload_logs(state, 'lockc')
    if not clients:
        err("no lock client logs")
    total_ops = 0
    lockd_recv = collections.Counter()
    lockd_sent = collections.Counter()
    for e in evs.get('n1', []):
        f = e['fields']
        if e['event'].endswith(':lockd_msg_received'):
            lockd_recv[(f['node'], f['seq'])] += 1
        elif e['event'].endswith(':lockd_msg_sent'):
            lockd_sent[(f['node'], f['seq'])] += 1
    for node, (pid, lines, done) in clients.items():
        ops = int(done['ops'])
        total_ops += ops
        want_acq = [(kv(l)['name'], int(kv(l)['mode']))
                    for l in lines if l.startswith('lockc: acquired ')]
        want_rel = [kv(l)['name']
                    for l in lines if l.startswith('lockc: releasing ')]
        mine = [e for e in evs.get(node, [])
                if e['fields'].get('common_pid') == pid]
        got, gotev = collections.defaultdict(list), collections.defaultdict(list)
        for e in mine:
            got[e['event'].split(':')[1]].append(e['fields'])
            gotev[e['event'].split(':')[1]].append(e)
        acq = [(f['name'], f['mode']) for f in got['lock_acquired']]
        rel = [f['name'] for f in got['lock_releasing']]
        if len(want_acq) != ops or acq != want_acq:
            err(f"{node}: lockc logged {len(want_acq)} acquires (ops={ops}), "
                f"the collector got {len(acq)}; equal in order: {acq == want_acq}")
        if rel != want_rel:
            err(f"{node}: {len(want_rel)} releases logged, {len(rel)} collected")
        seqs = list(range(1, 2 * ops + 1))
        for ev in ('lock_msg_sent', 'lock_msg_received'):
            s = [f['seq'] for f in got[ev]]
            if s != seqs or any(f['node'] != node for f in got[ev]):
                err(f"{node}: {ev}: want seq 1..{2 * ops} once each in order, "
                    f"got {len(s)} events ({len(set(s))} distinct)"
                    + describe_seqs(s, seqs, gotev[ev]))
        for c, what in ((lockd_recv, 'lockd_msg_received'),
                        (lockd_sent, 'lockd_msg_sent')):
            s = {k[1]: v for k, v in c.items() if k[0] == node}
            if sorted(s) != seqs or any(v != 1 for v in s.values()):
                err(f"n1: {what} for {node}: {len(s)} distinct seqs, "
                    f"{sum(s.values())} events, want 1..{2 * ops} once each")
    # kernel file locks: every acquire by the flockload processes
    ino = {}
    for p in glob.glob(os.path.join(state, 'shared/lock*')):
        ino[os.stat(p).st_ino] = os.path.basename(p)
    loads = workload_logs(state, 'flockload')
    for node, (pid, lines, done) in loads.items():
        if done.get('violations') != '0':
            err(f"{node}: flockload saw violations: {done}")
        want = []
        for l in lines:
            if l.startswith('flockload: op='):
                d = kv(l)
                want.append((d['kind'], d['mode'], d['file']))
        got = []
        for e in evs.get(node, []):
            f = e['fields']
            if f.get('common_pid') != pid or f.get('ret') != 0 or \
                    f.get('type') not in (0, 1):
                continue
            kind = {'filelock:flock_lock_inode': 'flock',
                    'filelock:posix_lock_inode': 'fcntl'}.get(e['event'])
            if kind:
                got.append((kind, 'exclusive' if f['type'] == 1 else 'shared',
                            ino.get(f.get('i_ino'), '?')))
        if len(want) != int(done['ops']) or got != want:
            err(f"{node}: flockload logged {len(want)} locks (ops={done['ops']}), "
                f"the collector got {len(got)} acquires; equal in order: {got == want}")
        total_ops += int(done['ops'])
    # A loss report from before the workloads began (an agent starting
    # under heavy load has reported a few) cannot hide their events; one
    # that reaches into their run is an error even if the counts agree.
    pids = {(n, p) for tag in ('lockc', 'flockload', 'lockd')
            for n, (p, _, _) in workload_logs_quiet(state, tag).items()}
    first = min((e['tai_ns'] for n, es in evs.items() for e in es
                 if (n, e['fields'].get('common_pid')) in pids), default=0)
    # A report with count 0 says "maybe, unknown how many" (an agent back
    # from kill -9 covers its downtime so): not a loss when, as checked
    # above, every event is there.
    for l in losses:
        if l['loss']['to_tai'] >= first and l['loss']['count'] > 0:
            err(f"loss reported during the workloads: {l}")
        else:
            print(f"exact: note: loss report {l}")
    if not errors:
        print(f"exact: {total_ops} workload operations, each reached the "
              f"collector once, in order; {sum(lockd_recv.values())} requests "
              f"and {sum(lockd_sent.values())} replies seen by lockd, each once")


def api(port, path):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=5) as r:
        return json.load(r)


def verdicts(state, port, mode):
    log = [json.loads(l) for l in open(os.path.join(state, 'collector/verdicts.jsonl'))]
    # the dashboard keeps the recent ones (lock.recent_verdicts): every one
    # it shows is in the log, and every definite one of the log is shown
    shown = {v['id']: v for v in api(port, '/api/verdicts?limit=1000')}
    cls = collections.Counter((v['class'], (v['resource'] or {}).get('domain'))
                              for v in log)
    byid = {v['id']: v for v in log}
    for i, v in shown.items():
        if i not in byid or byid[i]['class'] != v['class']:
            err(f"/api/verdicts shows {v}, the verdict log does not have it")
    for v in log:
        if v['class'] == 'definite' and v['id'] not in shown:
            err(f"definite verdict {v['id']} is in the log but not in /api/verdicts")
    for v in log:
        if v['class'] in ('clock-bound', 'incomplete', 'protocol'):
            err(f"unexpected {v['class']} verdict: {json.dumps(v)[:600]}")
    faults = []
    with open(os.path.join(state, 'logs/n1.lockd.log')) as f:
        for l in f:
            if l.startswith('lockd: fault granted '):
                m = re.match(r'lockd: fault granted name=(\S+) mode=\S+ node=(\S+) '
                             r'client=\d+ while node=(\S+) ', l)
                faults.append((m.group(1), {m.group(2), m.group(3)}))
    user = [v for v in log if (v['resource'] or {}).get('domain') == 'user']
    definite = [v for v in log if v['class'] == 'definite']
    # The kernel's own file locks are right in both phases (the fault is
    # lockd's): the nodes share one kernel, so their trace times order a
    # release (dated at its flock(2) call) against the next grant exactly,
    # and no flock verdict of any class may appear.
    for v in log:
        if (v['resource'] or {}).get('domain') == 'flock':
            err(f"{v['class']} verdict on a kernel file lock: {json.dumps(v)[:800]}")
    if mode == 'healthy':
        if faults:
            err(f"lockd granted {len(faults)} conflicting locks with the fault off")
        for v in user:
            err(f"verdict on the lock service while healthy: {json.dumps(v)[:600]}")
        for v in definite:
            err(f"definite verdict while healthy: {json.dumps(v)[:600]}")
    else:
        if not faults:
            err("lockd logged no conflicting grant with the fault on")
        if not definite:
            err("no definite verdict with the fault on")
        if len([v for v in definite if v in user]) > len(faults):
            err(f"{len(definite)} definite verdicts for {len(faults)} faulty grants")
        for v in definite:
            name = v['resource']['name']
            nodes = {h['node'] for h in v['holds']}
            if v['resource']['domain'] != 'user':
                err(f"definite verdict outside the lock service: {json.dumps(v)[:600]}")
            elif (name, nodes) not in faults:
                err(f"definite verdict on {name} between {sorted(nodes)}: "
                    f"no such faulty grant in lockd's log")
            s = shown.get(v['id'])
            if s and (s['resource'] != name or set(s['nodes']) != nodes):
                err(f"/api/verdicts shows verdict {v['id']} as {s}")
    # the flock(2) calls whose entries date the releases reached the
    # collector (without them releases are dated late: possible verdicts)
    evs, _ = read_events(state)
    unlocks = sum(1 for es in evs.values() for e in es
                  if e['event'] == 'syscalls:sys_enter_flock'
                  and e['fields'].get('cmd', 0) & 8)
    releases = sum(1 for es in evs.values() for e in es
                   if e['event'] == 'filelock:flock_lock_inode'
                   and e['fields'].get('type') == 2)
    if not unlocks:
        err("no syscalls:sys_enter_flock(LOCK_UN) in the event log")
    if not errors:
        print(f"verdicts ({mode}): {dict(cls)}; {len(faults)} faulty grants, "
              f"{len(definite)} definite verdicts, all on them; "
              f"{releases} flock releases ({unlocks} flock(LOCK_UN) calls), "
              f"no verdict on them")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == 'exact':
        exact(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == 'verdicts':
        verdicts(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
