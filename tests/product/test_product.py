#!/usr/bin/env python3
# test_product.py - netrv-collector as one product: the real daemon with the
# lock engine, the DA models, the archive and the dashboard, fed over mutual
# TLS by the real netrv-loadgen with DLM-shaped lock events and an injected
# incompatible overlap on a resource named like an XSS payload.
#
# Checks, all against the live daemon: the definite verdict reaches the
# JSON-lines log, the exec hook, /api/verdicts, /api/verdicts/ID, the SSE
# stream and the archive (babeltrace2) exactly once; the DA model's
# protocol verdict takes the same path; /api/resources shows both EX
# holders while they hold; /api/nodes is complete (watermark lag, queue);
# /metrics passes promtool; the token is enforced; `netrv replay
# --compare` on the archive agrees with the live verdicts, given the models
# or the collector's configuration file (and a replay without the models
# does not).
#   test_product.py COLLECTOR LOADGEN NETRV_PKI NETRV_TOOL MODELS_DIR
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from live import HOSTILE, Live  # noqa: E402

failed = 0


def check(cond, what):
    global failed
    print(('ok - ' if cond else 'FAILED - ') + what, flush=True)
    if not cond:
        failed += 1
    return cond


def strict(b):
    def bad(c):
        raise ValueError('non-JSON constant ' + c)
    return json.loads(b.decode('utf-8', 'strict'), parse_constant=bad)


class Sse(threading.Thread):
    """Reads GET /events with the token until stop() (raw socket)."""

    def __init__(self, port, token):
        super().__init__(daemon=True)
        self.events, self.done = [], threading.Event()
        self.s = socket.create_connection(('127.0.0.1', port), timeout=1)
        self.s.sendall(('GET /events HTTP/1.1\r\nHost: x\r\n'
                        'Authorization: Bearer %s\r\n\r\n' % token).encode())

    def run(self):
        buf = b''
        while not self.done.is_set():
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d:
                break
            buf += d
            while b'\n\n' in buf:
                block, buf = buf.split(b'\n\n', 1)
                name, data = None, []
                for line in block.decode('utf-8').split('\n'):
                    if line.startswith('event: '):
                        name = line[7:]
                    elif line.startswith('data: '):
                        data.append(line[6:])
                if name and data:
                    self.events.append((name, '\n'.join(data)))

    def stop(self):
        self.done.set()
        self.join(5)
        self.s.close()


def main():
    collector, loadgen, pki, tool, models = sys.argv[1:6]
    live = Live(collector, loadgen, pki, models).start()
    ok = False
    try:
        ok = run(live, tool, models)
    finally:
        live.stop(keep=not ok)
        if not ok:
            print('# kept ' + live.tmp)
    print('all passed' if not failed else '%d failed' % failed)
    return 1 if failed else 0


def run(live, tool, models):
    st, _ = live.get('/api/verdicts', token=False)
    check(st == 401, 'no token: 401 on /api/verdicts')
    sse = Sse(live.http_port, live.token)
    sse.start()
    # 3 agents, 1000 events/s each for 6 s; every 10th event a DLM lock
    # step; node0 and node1 hold HOSTILE in EX from 1.5 s to 4.5 s.
    # (--ptp: a synchronised clock with the 1 us eps the checks expect)
    lg = live.run_loadgen('--ptp', '-e', '6000', '-b', '100', '-r', '1000',
                          '-L', '10', '-X', HOSTILE, '-H', '20', '-t', '60')
    held, pr = None, set()
    for _ in range(150):
        st, body = live.get('/api/resources?limit=1000')
        if st == 200:
            res = strict(body)
            pr |= {r['resource'] for r in res
                   if r['resource'].startswith('res-')}
            res = [r for r in res if 'onerror' in r['resource']]
            if res and len(res[0]['holders']) == 2:
                held = res[0]
                break
        time.sleep(0.05)
    check(held is not None and held['resource'] == HOSTILE and
          sorted(h['node'] for h in held['holders']) == ['node0', 'node1']
          and all(h['mode'] == 'EX' for h in held['holders']),
          '/api/resources: both EX holders of the hostile resource: %s'
          % held)
    check(len(pr) > 0, '/api/resources lists the compatible PR resources '
          'too: %s' % sorted(pr))
    st, body = live.get('/api/resources?q=onerror&limit=5')
    check(st == 200 and all('onerror' in r['resource']
                            for r in strict(body)),
          '/api/resources?q= filters on the name')
    out, _ = lg.communicate(timeout=90)
    check(lg.returncode == 0, 'loadgen finished: ' + out.strip()[-200:])

    # nodes, while the daemon still runs
    st, body = live.get('/api/nodes')
    nodes = strict(body)
    # (listed in the order they connected, which the load generator does
    # not fix)
    check(st == 200 and sorted(n['name'] for n in nodes) ==
          ['node0', 'node1', 'node2'], '/api/nodes: the three agents')
    check(all(n['events'] == 6000 for n in nodes),
          '/api/nodes: 6000 events each: %s' % [n['events'] for n in nodes])
    check(all(n['watermark_lag_ns'] is not None and n['queue'] is not None
              and n['eps_ns'] == 1000 for n in nodes),
          '/api/nodes: watermark lag, queue depth and eps reported')

    # verdicts
    deadline = time.time() + 10
    while time.time() < deadline:
        st, body = live.get('/api/verdicts?limit=1000')
        vs = strict(body)
        if any(v['class'] == 'definite' for v in vs):
            break
        time.sleep(0.1)
    defs = [v for v in vs if v['class'] == 'definite']
    prot = [v for v in vs if v['class'] == 'protocol']
    check(len(defs) == 1 and defs[0]['resource'] == HOSTILE and
          sorted(defs[0]['nodes']) == ['node0', 'node1'] and
          defs[0]['model'] == 'lock_safety',
          '/api/verdicts: one definite verdict on the hostile resource')
    check(len(prot) == 1 and prot[0]['model'] == 'dlm_resource',
          '/api/verdicts: one protocol verdict of model dlm_resource')
    check([v['id'] for v in vs] == sorted((v['id'] for v in vs),
                                          reverse=True),
          '/api/verdicts: newest first')
    if defs:
        st, body = live.get('/api/verdicts/%d' % defs[0]['id'])
        d = strict(body)
        check(st == 200 and len(d['holds']) == 2 and
              all(h['conflict'] and h['mode'] == 'EX' for h in d['holds'])
              and d['lock']['class'] == 'definite' and
              d['lock']['resource']['name_hex'] == HOSTILE.encode().hex(),
              '/api/verdicts/ID: both holds, the engine record under "lock"')
        check(len(d['events']) >= 4 and len(d['clocks']) == 2,
              '/api/verdicts/ID: events before it and both clocks')
    st, _ = live.get('/api/verdicts/999999')
    check(st == 404, '/api/verdicts/999999: 404')
    st, body = live.get('/api/status')
    s = strict(body)
    check(s['verdicts']['definite'] == 1 and s['verdicts']['protocol'] == 1
          and s['verified_tai_ns'] > 0, '/api/status counts them')

    # metrics
    st, body = live.get('/metrics')
    mpath = live.path('metrics.txt')
    with open(mpath, 'wb') as f:
        f.write(body)
    pc = subprocess.run(['promtool', 'check', 'metrics'], input=body,
                        capture_output=True)
    check(st == 200 and pc.returncode == 0,
          'promtool check metrics on the live /metrics: %s'
          % pc.stderr.decode().strip())
    text = body.decode()
    for pat in (r'netrv_verdicts_total\{class="definite"\} 1\b',
                r'netrv_verdicts_total\{class="protocol"\} 1\b',
                r'netrv_merge_lag_seconds [0-9.e+-]+',
                r'netrv_node_epsilon_seconds\{node="node0"\} '
                r'(1e-06|9\.9+\d*e-07)',
                r'netrv_node_merge_queue_events\{node="node2"\} \d',
                r'netrv_node_acked_batches\{node="node1"\} \d+',
                r'netrv_wal_bytes \d', r'netrv_archive_events_total \d',
                r'netrv_node_events_received_total\{node="node0"\} 6000'):
        check(re.search(pat, text) is not None, '/metrics has ' + pat)
    st, _ = live.get('/metrics', token=False)
    check(st == 401, 'no token: 401 on /metrics')

    time.sleep(1.2)  # a keepalive at least, and the last SSE news
    sse.stop()
    sv = [json.loads(d) for n, d in sse.events if n == 'verdict']
    sr = [json.loads(d) for n, d in sse.events if n == 'resource']
    check(len([v for v in sv if v['class'] == 'definite' and
               v['resource'] == HOSTILE]) == 1,
          'SSE: the definite verdict once (%d verdict events)' % len(sv))
    check(sorted(v['id'] for v in sv) == sorted(v['id'] for v in vs),
          'SSE: every verdict of /api/verdicts, once')
    hs = [len(r['holders']) for r in sr if r['resource'] == HOSTILE]
    check(hs[:2] == [1, 2] and hs[-1] == 0,
          'SSE: resource changes of the hostile resource: %s' % hs)

    # the JSON-lines log and the exec hook
    with open(live.path('verdicts.jsonl')) as f:
        log = [strict(line.encode()) for line in f]
    ldef = [v for v in log if v['class'] == 'definite']
    check(len(ldef) == 1 and ldef[0]['resource']['name_hex'] ==
          HOSTILE.encode().hex() and
          sorted(h['node'] for h in ldef[0]['holds']) == ['node0', 'node1'],
          'verdict log: the definite verdict once')
    check(sorted(v['id'] for v in log) == sorted(v['id'] for v in vs),
          'verdict log and /api/verdicts hold the same verdicts')
    for _ in range(50):
        if len(os.listdir(live.path('exec'))) >= len(log):
            break
        time.sleep(0.1)
    ex = sorted(os.listdir(live.path('exec')))
    same = all(open(os.path.join(live.path('exec'), 'verdict.%d' % v['id'])
                    ).read().strip() == json.dumps(v, separators=(',', ':'))
               or strict(open(os.path.join(
                   live.path('exec'), 'verdict.%d' % v['id'])).read()
                   .encode()) == v for v in log) if len(ex) == len(log) \
        else False
    check(same, 'exec hook: one command per verdict, the verdict on stdin '
          '(%d files, %d verdicts)' % (len(ex), len(log)))

    check(live.stop_collector() == 0, 'collector exits 0 on SIGTERM')

    # the archive
    bt = subprocess.run(['babeltrace2', live.path('archive')],
                        capture_output=True, text=True)
    lines = bt.stdout.splitlines()
    vrec = [x for x in lines if 'netrv:verdict' in x]
    hexname = ', '.join('[%d] = %d' % (i, b)
                        for i, b in enumerate(HOSTILE.encode()))
    check(bt.returncode == 0 and
          len([x for x in vrec if 'class = "lock.definite"' in x and
               hexname in x]) == 1,
          'babeltrace2: the definite verdict once in the netrv stream')
    check(len(vrec) == len(log),
          'babeltrace2: as many verdict records as verdicts (%d, %d)'
          % (len(vrec), len(log)))
    check(len([x for x in lines if 'dlm:dlm_ast' in x]) > 0 and
          len([x for x in lines if 'netrv:load' in x]) > 0,
          'babeltrace2: the node streams hold the events')

    # replay
    rp = subprocess.run([tool, 'replay', live.path('archive'), '--compare',
                         '--model', models + '/dlm_lock.dot',
                         '--model', models + '/dlm_resource.dot'],
                        capture_output=True, text=True)
    rv = [json.loads(x) for x in rp.stdout.splitlines()]
    check(rp.returncode == 0 and len(rv) == len(log),
          'netrv replay --compare agrees with the live verdicts (%d): %s'
          % (len(rv), rp.stderr.strip()[-300:]))
    check(len([v for v in rv if v['class'] == 'lock.definite' and
               v['resource'] == HOSTILE]) == 1,
          'replay: the definite verdict')
    rp3 = subprocess.run([tool, 'replay', live.path('archive'), '--compare',
                          '--config', live.path('collector.conf')],
                         capture_output=True, text=True)
    check(rp3.returncode == 0 and len(rp3.stdout.splitlines()) == len(log),
          'netrv replay --config COLLECTOR.CONF --compare agrees: %s'
          % rp3.stderr.strip()[-300:])
    rp2 = subprocess.run([tool, 'replay', live.path('archive'),
                          '--compare'], capture_output=True, text=True)
    check(rp2.returncode == 3 and 'protocol.dlm_resource' in rp2.stderr,
          'replay without the models differs (exit 3): %s'
          % rp2.stderr.strip()[-200:])
    return failed == 0


if __name__ == '__main__':
    sys.exit(main())
