#!/usr/bin/env python3
# live_collector.py - what the browser test drives: the real netrv-collector
# (lock engine, DA models, archive, dashboard; no token) on 127.0.0.1 port
# 0, fed over mutual TLS by the real netrv-loadgen.  Prints "listening
# PORT" (the dashboard's port), then reads commands on stdin:
#   start   3 agents, 200 events/s each for 30 s, DLM-shaped lock events;
#           node0 and node1 both hold a resource named like an XSS payload
#           in EX from 7.5 s to 22.5 s (an injected definite violation)
#   quit    stop everything (also on EOF)
#   live_collector.py COLLECTOR LOADGEN NETRV_PKI MODELS_DIR
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'product'))
from live import HOSTILE, Live  # noqa: E402


def main():
    collector, loadgen, pki, models = sys.argv[1:5]
    # SIGTERM too ends in stop(): nothing is left running
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    live = Live(collector, loadgen, pki, models, token=None)
    try:
        live.start()
        print('listening %d' % live.http_port, flush=True)
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == 'start':
                live.run_loadgen('--ptp', '-e', '6000', '-b', '50', '-r',
                                 '200', '-L', '10', '-X', HOSTILE, '-H', '20',
                                 '-t', '120')
            elif cmd == 'quit':
                break
    finally:
        live.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
