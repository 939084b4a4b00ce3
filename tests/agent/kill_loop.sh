#!/usr/bin/env bash
# kill -9 of the agent many times while a uprobe fires at a high rate with
# a running number: every number reaches the receiver exactly once (no
# reference tracer needed; the target's own count is the oracle).  Several
# CPUs, sub-buffer edges and records held between drains are all crossed
# at a kill.  KILLS (default 15) and HITS (default 100000) size the run.
. "$(dirname "$0")/lib.sh"

KILLS=${KILLS:-15}
HITS=${HITS:-100000}
EV="kl_$$"
make_seq_uprobe "$EV"
start_receiver --columns
write_config "$T/agent.conf" "[agent]" "events = netrv_test:$EV" "buffer_size = 16M"
start_agent "$T/agent.conf"
wait_session
# two writers on (usually) different CPUs, paced so the buffer never fills
# (16 MB per CPU: ~12 s of them, for an agent slow to restart under ASan)
"$UPROBE_TARGET" probe "$HITS" 20000 >/dev/null &
W1=$!
"$UPROBE_TARGET" probe "$HITS" 20000 >/dev/null &
W2=$!
PIDS+=($W1 $W2)
for ((i = 1; i <= KILLS; i++)); do
	sleep "0.$((RANDOM % 3 + 1))$((RANDOM % 10))"
	kill -0 $W1 2>/dev/null || break
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	sleep "0.0$((RANDOM % 10))"
	start_agent "$T/agent.conf"
	wait_session $((i + 1))
done
note "$((i - 1)) kills"
wait $W1 $W2
wait_for " netrv_test:$EV " $((2 * HITS)) ||
	note "receiver has $(grep -c " netrv_test:$EV " "$T/received") of $((2 * HITS)) hits"
for s in $TRACEFS/instances/$NAME/per_cpu/cpu*/stats; do
	o=$(awk '/^overrun:/ {print $2}' "$s")
	[ "$o" -eq 0 ] || fail "the buffer overflowed ($s: $o): test invalid"
done
grep -q '^loss' "$T/received" && fail "loss reported: $(grep '^loss' "$T/received" | head -3)"
python3 - "$T/received" "$EV" "$W1" "$W2" "$HITS" <<'PY'
import collections, sys
recv, ev, p1, p2, hits = sys.argv[1:]
seqs = {p1: [], p2: []}
for l in open(recv):
    if l.startswith('event ') and f' netrv_test:{ev} ' in l:
        f = dict(x.split('=', 1) for x in l.split()[5:])
        seqs[f['common_pid']].append((int(f['seq']) - 7) // 1000)
bad = False
for pid, s in seqs.items():
    want = list(range(int(hits)))
    if s != want:
        bad = True
        c = collections.Counter(s)
        miss = sorted(set(want) - set(s))
        dup = sorted(k for k, v in c.items() if v > 1)
        print(f"pid {pid}: {len(s)} hits, missing {len(miss)} {miss[:10]}, "
              f"duplicated {len(dup)} {dup[:10]}, in order: {s == sorted(s)}")
sys.exit(1 if bad else 0)
PY
stop_agent
echo "kill_loop: ok"
