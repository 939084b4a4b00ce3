#!/usr/bin/env bash
# Heartbeats carry news.  An idle agent sends one when its watermark moved
# past what the collector has, so each heartbeat's watermark is newer than
# the one before.  A busy agent's batches carry the watermark: it sends a
# heartbeat only for round-trip timing, about once a second, not one between
# every two drains.  Whatever is sent, no event arrives older than a
# watermark already promised.
. "$(dirname "$0")/lib.sh"

EV="hb_$$"
HITS=60000
make_seq_uprobe "$EV"
start_receiver --columns
write_config "$T/agent.conf" "[agent]" "events = netrv_test:$EV"
start_agent "$T/agent.conf"
wait_session
lines() { wc -l <"$T/received"; }

# idle: about one heartbeat per drain (drain_max 100ms, heartbeat 75ms)
sleep 0.5
IDLE0=$(lines)
sleep 2
IDLE1=$(lines)
# busy: 20,000 hits/s for 3 s
"$UPROBE_TARGET" probe "$HITS" 20000 >/dev/null &
W=$!
PIDS+=($W)
wait $W
wait_for " netrv_test:$EV " $HITS ||
	fail "receiver has $(grep -c " netrv_test:$EV " "$T/received") of $HITS hits"
stop_agent
python3 - "$T/received" "$IDLE0" "$IDLE1" "$HITS" <<'PY'
import sys
recv, idle0, idle1, hits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
lines = open(recv).read().splitlines()
def wm(l):
    return int(dict(x.split('=', 1) for x in l.split()[1:])['wm'])

idle = [wm(l) for l in lines[idle0:idle1] if l.startswith('heartbeat ')]
assert len(idle) >= 8, f'idle for 2 s: only {len(idle)} heartbeats'
same = [i for i in range(1, len(idle)) if idle[i] <= idle[i - 1]]
assert not same, f'idle heartbeats without news: {same} of {idle}'
assert idle[-1] - idle[0] >= 1_000_000_000, f'idle watermark moved only {idle[-1] - idle[0]} ns in 2 s'
print(f'idle: {len(idle)} heartbeats in 2 s, each watermark newer')

# the busy stretch: from the first batch after the idle phase to the last
b = [i for i in range(idle1, len(lines)) if lines[i].startswith('batch ')]
busy = lines[b[0]:b[-1] + 1]
n_batch = sum(l.startswith('batch ') for l in busy)
n_hb = sum(l.startswith('heartbeat ') for l in busy)
secs = (wm(lines[b[-1]]) - wm(lines[b[0]])) / 1e9
assert n_batch >= 10, f'only {n_batch} batches while busy'
assert n_hb <= secs + 2, f'{n_hb} heartbeats in {secs:.1f} s busy ({n_batch} batches)'
print(f'busy: {n_batch} batches and {n_hb} heartbeats in {secs:.1f} s')

# the watermark contract, over everything sent
promised, pending, n = 0, 0, 0
for l in lines:
    if l.startswith('batch '):  # its own events follow, at most its wm
        promised, pending = max(promised, pending), wm(l)
    elif l.startswith('heartbeat '):
        promised, pending = max(promised, pending, wm(l)), 0
    elif l.startswith('event '):
        ts = int(l.split()[2].split('=')[1])
        assert ts >= promised, f'event at {ts} after watermark {promised}: {l}'
        n += 1
assert n >= hits, n
print(f'{n} events, none older than a watermark sent before it')
PY
echo "heartbeat: ok"
