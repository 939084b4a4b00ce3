#!/usr/bin/env python3
"""capture_subbufs.py - capture real ring-buffer sub-buffers for test_subbuf.

Makes a tracefs instance (named with the PID, removed at the end), records
three kinds of traffic and writes every sub-buffer read() returned from the
per-CPU trace_pipe_raw files, as records of (u32 length, bytes), to a
gzip file:
  busy:     sched and timer events plus trace_marker writes of 1..300 bytes
            (records with type_len 0 and 1..28);
  sparse:   markers 150-300 ms apart (time extends);
  overrun:  a one-page-per-CPU buffer written full twice before reading
            (missed events, with and without a stored count).
Absolute time stamps (TIME_STAMP records) need hist triggers, which this
machine's kernel lacks: the test synthesizes those.
usage (root): capture_subbufs.py OUT.bin.gz
"""
import gzip
import os
import struct
import sys
import time

TRACEFS = '/sys/kernel/tracing'
name = f'netrv-subbuf-{os.getpid()}'
inst = f'{TRACEFS}/instances/{name}'
out = []


def put(path, text):
    with open(path, 'w') as f:
        f.write(text)


def marker(n):
    with open(f'{inst}/trace_marker', 'w') as f:
        f.write('x' * n)


def drain():
    for cpu in sorted(os.listdir(f'{inst}/per_cpu')):
        fd = os.open(f'{inst}/per_cpu/{cpu}/trace_pipe_raw',
                     os.O_RDONLY | os.O_NONBLOCK)
        try:
            for _ in range(4096):
                try:
                    b = os.read(fd, 4096)
                except BlockingIOError:
                    break
                if not b:
                    break
                out.append(b)
        finally:
            os.close(fd)


os.mkdir(inst)
try:
    put(f'{inst}/buffer_size_kb', '64')
    for ev in ('sched/sched_switch', 'sched/sched_wakeup',
               'timer/hrtimer_start', 'timer/timer_start'):
        put(f'{inst}/events/{ev}/enable', '1')
    for i in range(300):
        marker(1 + i)
        if i % 50 == 0:
            time.sleep(0.01)
    drain()
    put(f'{inst}/events/enable', '0')
    for i in range(8):                       # sparse: time extends
        marker(20 + 13 * i)
        time.sleep(0.15 + 0.02 * i)
    drain()
    put(f'{inst}/buffer_size_kb', '4')       # overrun
    for i in range(3000):
        marker(40 + i % 90)
    drain()
    for i in range(3000):
        marker(8)
    drain()
finally:
    put(f'{inst}/events/enable', '0')
    os.rmdir(inst)
with gzip.open(sys.argv[1], 'wb') as g:
    for b in out:
        g.write(struct.pack('<I', len(b)) + b)
print(f'{len(out)} sub-buffers, {sum(map(len, out))} bytes')
