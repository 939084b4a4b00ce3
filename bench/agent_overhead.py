#!/usr/bin/env python3
"""agent_overhead.py - netrv-agent against trace-cmd record, same events,
same run: CPU time per event and bytes per event.

Two workloads (this kernel has no DLM):
  dlm   (default) a uprobe on a test function called like a DLM lock
        request: ls_id u32, lkb_id u32, mode s32 and a 24-character gfs2-style
        res_name string - the fields and size of dlm:dlm_lock_start
        (64-byte records);
  flock filelock:flock_lock_inode (84-byte records, three kernel pointers).
netrv-agent streams them over TLS to the test receiver while trace-cmd
record (top-level instance, the same events) writes trace.dat.

  CPU/event: agent = its thread's run time (/proc/PID/schedstat) over the
             window; trace-cmd = user+system time of trace-cmd and its
             per-CPU recorders (wait4 rusage), start to finish, over the
             events trace.dat holds (trace-cmd report: it drops events
             when it falls behind on a loaded machine).
  bytes/event: agent = frame bytes the receiver got (protobuf, before TLS;
             batches in column form with zstd unless --codec says
             otherwise: deflate = zlib-compressed fields, plain = none);
             trace-cmd = size of trace.dat, run twice: default (compressed)
             and --compression none.

usage: agent_overhead.py [--build DIR] [--rate EVENTS/S] [--seconds S]
                         [--workload dlm|flock] [--codec columns|deflate|plain]
                         [--set section.key=value ...]
Needs root and tracefs.  Prints a table; it asserts nothing.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument('--build', default='build')
ap.add_argument('--rate', type=int, default=20000, help='events per second')
ap.add_argument('--seconds', type=float, default=5.0)
ap.add_argument('--workload', choices=['dlm', 'flock'], default='dlm')
ap.add_argument('--codec', choices=['columns', 'deflate', 'plain'],
                default='columns',
                help='what the receiver accepts: column form + zstd (and '
                'zlib), zlib-compressed fields only, or nothing')
ap.add_argument('--plain', action='store_const', const='plain', dest='codec',
                help='same as --codec plain')
ap.add_argument('--dump', help='keep the schema and batch payloads the '
                'receiver got in this file (receiver --dump)')
ap.add_argument('--set', action='append', default=[],
                help='agent option override, e.g. agent.drain_interval=20ms')
args = ap.parse_args()
src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.path.abspath(args.build)
agent = f'{build}/agent/netrv-agent'
receiver = f'{build}/tests/agent/netrv-test-receiver'
target = f'{build}/tests/agent/netrv-test-uprobe-target'
T = tempfile.mkdtemp(prefix='netrv-bench-')
name = f'netrv-bench-{os.getpid()}'
uprobe = f'dlm_like_{os.getpid()}'
procs = []


def start(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    procs.append(p)
    return p


def wait_file(path, pat, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path) and re.search(pat, open(path).read(), re.M):
            return
        time.sleep(0.05)
    raise SystemExit(f'timeout waiting for {pat} in {path}')


def runtime_ns(pid):
    return int(open(f'/proc/{pid}/schedstat').read().split()[0])


def trace_cmd_run(extra, out, pairs):
    """Run trace-cmd record around a workload; return (cpu s, bytes)."""
    open(f'{T}/fe', 'w').write('1\n')
    cmd = ['unshare', '-m', 'sh', '-c',
           f"mount --bind {T}/fe /proc/sys/kernel/ftrace_enabled && exec "
           f"trace-cmd record --no-filter -C mono {extra} "
           f"-e {event} -o {out}"]
    tc = start(cmd, stdout=open(f'{T}/tc.log', 'a'), stderr=subprocess.STDOUT)
    en = f'/sys/kernel/tracing/events/{event.replace(":", "/")}/enable'
    for _ in range(200):
        if open(en).read().strip() == '1':
            break
        time.sleep(0.05)
    time.sleep(0.5)
    a0 = runtime_ns(agent_p.pid)
    if args.workload == 'flock':
        cmd = [target, 'flock', str(pairs), f'{T}/lock', str(args.rate // 2)]
    else:
        cmd = [target, 'dlm', str(pairs), str(args.rate)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    time.sleep(0.2)
    tc.send_signal(signal.SIGINT)
    _, status, ru = os.wait4(tc.pid, 0)
    tc.returncode = status
    time.sleep(0.3)  # agent drains the last of it
    a1 = runtime_ns(agent_p.pid)
    return ru.ru_utime + ru.ru_stime, os.path.getsize(out), (a1 - a0) / 1e9


def trace_cmd_events(path):
    """Events trace.dat holds: trace-cmd loses some when it falls behind."""
    short = event.split(':')[1]
    r = subprocess.run(['trace-cmd', 'report', '-i', path, '-q'],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    return sum(1 for l in r.stdout.splitlines() if f' {short}:' in l)


def received_stats():
    ev = by = 0
    for l in open(f'{T}/received'):
        if l.startswith('batch '):
            ev += int(l.split()[2].split('=')[1])
    return ev


try:
    subprocess.run([f'{src}/deploy/pki/netrv-pki', f'{T}/pki', 'ca'], check=True)
    subprocess.run([f'{src}/deploy/pki/netrv-pki', f'{T}/pki', 'collector'], check=True)
    subprocess.run([f'{src}/deploy/pki/netrv-pki', f'{T}/pki', 'node', 'bench'],
                   check=True, stdout=subprocess.DEVNULL)
    rec = start([receiver, '--ca', f'{T}/pki/ca.crt', '--cert',
                 f'{T}/pki/collector.crt', '--key', f'{T}/pki/collector.key',
                 '--port-file', f'{T}/port', '--out', f'{T}/received']
                + {'columns': ['--deflate', '--columns'],
                   'deflate': ['--deflate'], 'plain': []}[args.codec]
                + (['--dump', os.path.abspath(args.dump)] if args.dump else []))
    wait_file(f'{T}/port', r'\d+')
    port = open(f'{T}/port').read().strip()
    open(f'{T}/agent.conf', 'w').write(f"""[agent]
node = bench
instance = {name}
events = {'filelock:flock_lock_inode' if args.workload == 'flock' else 'none'}
[collector]
port = {port}
ca = {T}/pki/ca.crt
cert = {T}/pki/bench.crt
key = {T}/pki/bench.key
[spool]
dir = {T}/spool
""" + ("" if args.workload == 'flock' else f"""[uprobe {uprobe}]
system = netrv_bench
binary = {target}
symbol = netrv_dlm_like
fetchargs = ls_id=%di:u32 lkb_id=%si:u32 mode=%dx:s32 res_name=+0(%cx):string
"""))
    agent_p = start([agent, '-c', f'{T}/agent.conf'] + args.set,
                    stderr=open(f'{T}/agent.log', 'w'))
    wait_file(f'{T}/received', '^schema ')
    if args.workload == 'flock':
        event = 'filelock:flock_lock_inode'
        pairs = int(args.rate * args.seconds / 2)
    else:
        event = f'netrv_bench:{uprobe}'
        pairs = int(args.rate * args.seconds)
    time.sleep(0.5)
    i0 = runtime_ns(agent_p.pid)
    time.sleep(3)
    idle_ms = (runtime_ns(agent_p.pid) - i0) / 1e6 / 3
    results = []
    for label, extra in (('default (compressed)', ''),
                         ('--compression none', '--compression none')):
        ev0 = received_stats()
        tc_cpu, tc_bytes, ag_cpu = trace_cmd_run(extra, f'{T}/trace-{len(results)}.dat', pairs)
        ev = received_stats() - ev0
        results.append((label, tc_cpu, tc_bytes, ag_cpu, ev,
                        trace_cmd_events(f'{T}/trace-{len(results)}.dat')))
    rec.send_signal(signal.SIGTERM)
    rec.wait()
    m = re.search(r'stats bytes=(\d+) events=(\d+)', open(f'{T}/received').read())
    wire, wire_ev = int(m.group(1)), int(m.group(2))
    print(f'workload {args.workload}: {event} at {args.rate} events/s for '
          f'{args.seconds} s, agent options {args.set or "default"}, '
          f'codec {args.codec}')
    print(f'{"":40} {"agent":>10} {"trace-cmd":>10} {"ratio":>7}')
    for label, tc_cpu, tc_bytes, ag_cpu, ev, tc_ev in results:
        a = ag_cpu / ev * 1e9
        t = tc_cpu / tc_ev * 1e9
        print(f'CPU ns/event, trace-cmd {label}'.ljust(40) +
              f' {a:10.0f} {t:10.0f} {a / t:7.2f}')
    wire_per = wire / wire_ev
    for label, tc_cpu, tc_bytes, ag_cpu, ev, tc_ev in results:
        t = tc_bytes / tc_ev
        print(f'bytes/event, trace.dat {label}'.ljust(40) +
              f' {wire_per:10.1f} {t:10.1f} {wire_per / t:7.2f}')
    lost = sum(int(re.search(r'count=(\d+)', l).group(1))
               for l in open(f'{T}/received') if l.startswith('loss '))
    print(f'events: {wire_ev} received by the agent\'s peer, '
          f'{lost} reported lost (overrun)')
    for label, tc_cpu, tc_bytes, ag_cpu, ev, tc_ev in results:
        print(f'run with trace-cmd {label}: agent {ev} events, trace.dat '
              f'{tc_ev} (trace-cmd figures are per event it recorded)')
    print(f'agent CPU while idle (no events, before the runs): '
          f'{idle_ms:.2f} ms per second')
    print(f'(agent: {wire} frame bytes for {wire_ev} events over the whole run, '
          f'TLS adds ~0.2%; trace.dat sizes include its headers)')
finally:
    if 'agent_p' in dir() and agent_p.poll() is None:
        agent_p.terminate()  # a clean exit removes the uprobe
        try:
            agent_p.wait(timeout=10)
        except Exception:
            pass
    for p in procs:
        if p.poll() is None and p.returncode is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except Exception:
                pass
    try:
        os.rmdir(f'/sys/kernel/tracing/instances/{name}')
    except OSError:
        pass
    try:  # normally removed by the agent at exit
        with open('/sys/kernel/tracing/uprobe_events', 'a') as f:
            f.write(f'-:netrv_bench/{uprobe}\n')
    except OSError:
        pass
    if not os.environ.get("NETRV_KEEP"):
        shutil.rmtree(T, ignore_errors=True)
    else:
        print(f"kept {T}")
