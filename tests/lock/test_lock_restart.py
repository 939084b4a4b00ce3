#!/usr/bin/env python3
# test_lock_restart.py - the lock engine keeps its state across a collector
# restart (collector/lock/persist.c).
#
# A real netrv-collector on 127.0.0.1 (fixed ports, so agents reconnect),
# real TLS, agents from the real load generator (netrv-loadgen --conflict R:
# the agent takes DLM lock R in EX from a quarter to three quarters of its
# events, at --rate).  Cases:
#  1. node0 takes R; the collector is stopped (SIGTERM, then kill -9 in a
#     second run) after a checkpoint that covers the grant, and restarted;
#     node0's agent reconnects, still holding R; node1 then takes R: exactly
#     one definite verdict naming node0 and node1 on R.  (A collector that
#     forgets its locks at restart gives none.)
#  2. node0 takes and releases R before the restart, node1 takes R after
#     it: no verdict.
#  3. the snapshot the checkpoint names is damaged: a warning, the
#     collector runs and serves agents.
#  4. the DA models (models/dlm_lock.dot) keep no instances across a
#     restart: node0's unlock after it must not be a protocol violation.
# usage: test_lock_restart.py COLLECTOR LOADGEN NETRV_PKI MODELS_DIR [CASE...]
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

FAILED = []


def check(cond, what):
    print('%s: %s' % ('ok' if cond else 'FAIL', what), flush=True)
    if not cond:
        FAILED.append(what)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Rig:
    def __init__(self, collector, loadgen, pki, models=None):
        self.collector, self.loadgen, self.pki = collector, loadgen, pki
        self.tmp = tempfile.mkdtemp(prefix='netrv-lockrestart-%d-' %
                                    os.getpid())
        self.proc = None
        self.agents = []
        self.port, self.http_port = free_port(), free_port()
        p = self.path('pki')
        for args in (['ca'], ['collector', 'localhost', '127.0.0.1'],
                     ['node', 'node0', 'node1']):
            subprocess.run([pki, p] + args, check=True,
                           stdout=subprocess.DEVNULL)
        # liveness_timeout: node0's agent must not count as unreachable
        # while the collector restarts (that would make its hold uncertain)
        with open(self.path('collector.conf'), 'w') as f:
            f.write(f'''[collector]
listen = 127.0.0.1:{self.port}
ca = {p}/ca.crt
cert = {p}/collector.crt
key = {p}/collector.key
liveness_timeout = 30s
[wal]
dir = {self.path('wal')}
checkpoint_interval = 100ms
[lock]
verdict_log = {self.path('verdicts.jsonl')}
[http]
port = {self.http_port}
''')
            if models:
                f.write(f'''[model dlm_lock]
dot = {models}/dlm_lock.dot
''')
        self.logs = 0

    def path(self, name):
        return os.path.join(self.tmp, name)

    def start(self):
        self.logs += 1
        self.logname = self.path('collector.%d.log' % self.logs)
        self.log = open(self.logname, 'w')
        self.proc = subprocess.Popen(
            [self.collector, '-c', self.path('collector.conf')],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if 'dashboard on http' in open(self.logname).read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError('collector did not start:\n' +
                           open(self.logname).read())

    def stop(self, sig):
        self.proc.send_signal(sig)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def agent(self, first, events, rate):
        a = subprocess.Popen(
            [self.loadgen, '-C', '127.0.0.1:%d' % self.port, '-p',
             self.path('pki'), '-n', '1', '-f', str(first), '-e',
             str(events), '-b', '5', '-r', str(rate), '-X', 'R', '--ptp',
             '-l', '1000', '-t', '120'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.agents.append(a)
        return a

    def holders(self):
        """Nodes holding R now, as the state view says."""
        with urllib.request.urlopen('http://127.0.0.1:%d/api/resources' %
                                    self.http_port, timeout=10) as r:
            res = json.load(r)
        return sorted(h['node'] for x in res if x['resource'] == 'R'
                      for h in x['holders'])

    def wait_holders(self, want, limit=60):
        for _ in range(limit * 10):
            if self.holders() == want:
                return True
            time.sleep(0.1)
        return False

    def checkpoint(self):
        try:
            with open(self.path('wal/checkpoint')) as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def wait_checkpoint(self):
        """A checkpoint taken after now: it covers what was delivered."""
        old = self.checkpoint()
        for _ in range(300):
            if self.checkpoint() != old:
                return True
            time.sleep(0.05)
        return False

    def verdicts(self):
        try:
            with open(self.path('verdicts.jsonl')) as f:
                return [json.loads(line) for line in f]
        except FileNotFoundError:
            return []

    def close(self, keep=False):
        for a in self.agents:
            if a.poll() is None:
                a.kill()
                a.wait()
        if self.proc and self.proc.poll() is None:
            self.stop(signal.SIGKILL)
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def on_r(v):
    return (v.get('resource') or {}).get('name') == 'R'


def held_across(rig, sig, name):
    """Case 1: node0 holds R across the restart, node1 takes it."""
    rig.start()
    # 2000 events at 200/s: R held from about 2.5 s to 7.5 s
    a = rig.agent(0, 2000, 200)
    check(rig.wait_holders(['node0']), name + ': node0 holds R')
    check(rig.wait_checkpoint(), name + ': a checkpoint after the grant')
    rc = rig.stop(sig)
    check(rc == (0 if sig == signal.SIGTERM else -9),
          name + ': collector stopped (%s)' % rc)
    rig.start()
    log = open(rig.logname).read()
    print('  ' + '\n  '.join(line for line in log.splitlines()
                             if 'lock state' in line))
    # the view shows the hold again before any agent is back
    check(rig.holders() == ['node0'],
          name + ': node0 holds R after the restart (state view)')
    # 400 events at 100/s: R held from about 1 s to 3 s after its start
    b = rig.agent(1, 400, 100)
    for p in (b, a):
        out, _ = p.communicate(timeout=120)
        check(p.returncode == 0, name + ': agent done: ' +
              out.strip().splitlines()[-1] if out.strip() else '')
    check(rig.wait_holders([]), name + ': R free at the end')
    rig.stop(signal.SIGTERM)
    vs = [v for v in rig.verdicts() if on_r(v)]
    print('  verdicts on R: %s' % [(v['class'], [h['node'] for h in
                                                 v['holds']]) for v in vs])
    definite = [v for v in vs if v['class'] == 'definite']
    check(len(definite) == 1 and
          sorted(h['node'] for h in definite[0]['holds']) ==
          ['node0', 'node1'],
          name + ': exactly one definite verdict naming node0 and node1')
    check(len(vs) == len(definite), name + ': no other verdict on R')


def released_before(rig):
    """Case 2: node0's hold ends before the restart; node1 takes R after."""
    name = 'released before the restart'
    rig.start()
    # 1000 events at 100/s: R held from about 2.5 s to 7.5 s, then 2.5 s
    # more events (the checkpoint after the release needs new events)
    a = rig.agent(0, 1000, 100)
    check(rig.wait_holders(['node0']), name + ': node0 holds R')
    check(rig.wait_holders([]), name + ': node0 released R')
    check(rig.wait_checkpoint(), name + ': a checkpoint after the release')
    rig.stop(signal.SIGKILL)
    rig.start()
    b = rig.agent(1, 400, 100)
    check(rig.wait_holders(['node1']), name + ': node1 holds R')
    for p in (b, a):
        out, _ = p.communicate(timeout=120)
        check(p.returncode == 0, name + ': agent done')
    check(rig.wait_holders([]), name + ': R free at the end')
    rig.stop(signal.SIGTERM)
    vs = [v for v in rig.verdicts() if on_r(v)]
    check(not vs, name + ': no verdict on R (%d)' % len(vs))


def damaged(rig):
    """Case 3: the snapshot named by the checkpoint is damaged."""
    name = 'damaged snapshot'
    rig.start()
    a = rig.agent(0, 2000, 200)
    check(rig.wait_holders(['node0']), name + ': node0 holds R')
    rig.stop(signal.SIGTERM)
    m = re.search(r'^consumer lock (\d+)$', rig.checkpoint(), re.M)
    check(m is not None, name + ': the checkpoint names a lock state')
    snap = rig.path('wal/.lock-state.%s' % (m.group(1) if m else 0))
    with open(snap, 'r+b') as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0x20
        f.seek(0)
        f.write(data)
    rig.start()
    log = open(rig.logname).read()
    warn = [line for line in log.splitlines() if 'lock state' in line]
    print('  ' + '\n  '.join(warn))
    check(any('warning' in w and 'checksum mismatch' in w and
              'starting with an empty lock table' in w for w in warn),
          name + ': a warning says what is lost')
    b = rig.agent(1, 400, 100)
    for p in (b, a):
        out, _ = p.communicate(timeout=120)
        check(p.returncode == 0, name + ': agent served after the restart')
    check(rig.proc.poll() is None, name + ': collector still running')
    check(rig.stop(signal.SIGTERM) == 0, name + ': clean exit')
    check(not os.path.exists(snap),
          name + ': the damaged snapshot is replaced and removed')


def models_restart(rig):
    """Case 4: a DLM lock taken before the restart, released after it."""
    name = 'DA model across a restart'
    rig.start()
    a = rig.agent(0, 2000, 200)
    check(rig.wait_holders(['node0']), name + ': node0 holds R')
    check(rig.wait_checkpoint(), name + ': a checkpoint after the grant')
    rig.stop(signal.SIGTERM)
    rig.start()
    out, _ = a.communicate(timeout=120)
    check(a.returncode == 0, name + ': agent done')
    check(rig.wait_holders([]), name + ': R free at the end')
    rig.stop(signal.SIGTERM)
    vs = rig.verdicts()
    check(not vs, name + ': no verdict (%s)' %
          [(v['class'], v.get('reason')) for v in vs])


def main():
    collector, loadgen, pki, models = sys.argv[1:5]
    cases = sys.argv[5:] or ['sigterm', 'kill9', 'released', 'damaged',
                             'models']
    keep = os.environ.get('NETRV_KEEP')
    for case in cases:
        rig = Rig(collector, loadgen, pki,
                  models if case == 'models' else None)
        try:
            if case == 'sigterm':
                held_across(rig, signal.SIGTERM, 'SIGTERM restart')
            elif case == 'kill9':
                held_across(rig, signal.SIGKILL, 'kill -9 restart')
            elif case == 'released':
                released_before(rig)
            elif case == 'damaged':
                damaged(rig)
            elif case == 'models':
                models_restart(rig)
        except Exception as e:  # report, and still clean up
            check(False, '%s: %r' % (case, e))
        finally:
            if FAILED:
                print('collector logs kept in', rig.tmp) if keep else None
            rig.close(keep=bool(keep and FAILED))
    print('%d failed' % len(FAILED))
    return 1 if FAILED else 0


if __name__ == '__main__':
    sys.exit(main())
