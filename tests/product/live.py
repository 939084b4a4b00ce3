# live.py - a real netrv-collector (archive, lock engine, DA models, HTTP)
# on 127.0.0.1 port 0, fed over mutual TLS by the real netrv-loadgen.
# Shared by test_product.py and the dashboard's browser test
# (tests/http/live_collector.py).  Every process is started here and
# killed by PID in stop(); the temporary directory goes with it.
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HOSTILE = '<img src=x onerror=window.__pwned=1>'


class Live:
    def __init__(self, collector, loadgen, pki, models_dir, nodes=3,
                 token='s3cret-token', extra=''):
        self.collector, self.loadgen_bin, self.pki = collector, loadgen, pki
        self.models_dir, self.nodes, self.token = models_dir, nodes, token
        self.extra = extra
        self.tmp = tempfile.mkdtemp(prefix='netrv-live-%d-' % os.getpid())
        self.proc = None
        self.loadgens = []
        self.http_port = self.port = None

    def path(self, name):
        return os.path.join(self.tmp, name)

    def start(self):
        p = self.path('pki')
        names = ['node%d' % i for i in range(self.nodes)]
        for args in (['ca'], ['collector', 'localhost', '127.0.0.1'],
                     ['node'] + names):
            subprocess.run([self.pki, p] + args, check=True,
                           stdout=subprocess.DEVNULL)
        if self.token:
            with open(self.path('token'), 'w') as f:
                f.write(self.token + '\n')
        os.mkdir(self.path('exec'))
        conf = f'''[collector]
listen = 127.0.0.1:0
ca = {p}/ca.crt
cert = {p}/collector.crt
key = {p}/collector.key
liveness_timeout = 2s
[wal]
dir = {self.path('wal')}
[output]
event_log = {self.path('events.jsonl')}
[lock]
verdict_log = {self.path('verdicts.jsonl')}
exec = cat > {self.path('exec')}/verdict.$NETRV_VERDICT_ID
exec_rate = 1000
exec_burst = 1000
[archive]
dir = {self.path('archive')}
flush_interval = 100ms
[http]
port = 0
{'token_file = ' + self.path('token') if self.token else ''}
sse_keepalive = 1s
[model dlm_lock]
dot = {self.models_dir}/dlm_lock.dot
[model dlm_resource]
dot = {self.models_dir}/dlm_resource.dot
{self.extra}'''
        with open(self.path('collector.conf'), 'w') as f:
            f.write(conf)
        self.log = open(self.path('collector.log'), 'w')
        self.proc = subprocess.Popen(
            [self.collector, '-c', self.path('collector.conf')],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            text = open(self.path('collector.log')).read()
            m1 = re.search(r'listening on \S+ \(port (\d+)\)', text)
            m2 = re.search(r'dashboard on http://[^:]+:(\d+)/', text)
            if m1 and m2:
                self.port, self.http_port = int(m1.group(1)), int(m2.group(1))
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError('collector did not start:\n' + text)

    def run_loadgen(self, *args):
        """Start netrv-loadgen with @args; returns the Popen."""
        lg = subprocess.Popen(
            [self.loadgen_bin, '-C', '127.0.0.1:%d' % self.port, '-p',
             self.path('pki'), '-n', str(self.nodes)] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.loadgens.append(lg)
        return lg

    def get(self, path, token=True):
        """(status, body bytes) of GET @path."""
        req = urllib.request.Request('http://127.0.0.1:%d%s' %
                                     (self.http_port, path))
        if token and self.token:
            req.add_header('Authorization', 'Bearer ' + self.token)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop_collector(self):
        """SIGTERM and wait: the archive is flushed and closed."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def stop(self, keep=False):
        for lg in self.loadgens:
            if lg.poll() is None:
                lg.kill()
                lg.wait()
        self.stop_collector()
        if self.proc:
            self.log.close()
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
