#!/usr/bin/env bash
# kill -9 of the agent mid-stream, three times, and restart: every event the
# kernel recorded reaches the receiver exactly once (count and content, as
# trace-cmd saw them), while the trace buffer did not overflow.  The
# instance is re-used, so what was recorded while the agent was down is read
# after the restart; the spool resends what the receiver had not got.
. "$(dirname "$0")/lib.sh"

start_receiver --columns
write_config "$T/agent.conf" "[agent]" "events = filelock:flock_lock_inode"
start_agent "$T/agent.conf"
wait_session
start_trace_cmd "$T/trace.dat"
"$UPROBE_TARGET" flock 2500 "$T/lockfile" 1000 >/dev/null &
W=$!
for i in 1 2 3; do
	sleep "0.$((RANDOM % 4 + 3))"
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	note "killed agent $AGENT_PID"
	sleep 0.2
	start_agent "$T/agent.conf"
	wait_session $((i + 1))
done
wait $W
sleep 0.3
stop_trace_cmd "$T/trace.dat" "$T/report.txt"
wait_for "common_pid=$W " 5000 || fail "receiver has $(grep -c "common_pid=$W " "$T/received") of 5000 events"
sleep 0.3
for s in $TRACEFS/instances/$NAME/per_cpu/cpu*/stats; do
	o=$(awk '/^overrun:/ {print $2}' "$s")
	[ "$o" -eq 0 ] || fail "the buffer overflowed ($s: $o): test invalid"
done
grep -q '^loss' "$T/received" && fail "loss reported"
grep -q '^error\|^gap' "$T/received" && fail "protocol errors"
note "duplicate batches dropped by seq: $(grep -c '^dup' "$T/received" || true)"
python3 "$(dirname "$0")/compare_tc.py" "$T/received" "$T/report.txt" "$W" 5000
stop_agent
echo "restart: ok"
