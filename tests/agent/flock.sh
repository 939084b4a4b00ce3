#!/usr/bin/env bash
# A flock workload seen by the agent and by trace-cmd in the same run: the
# events the receiver gets equal trace-cmd report's, field by field.
. "$(dirname "$0")/lib.sh"

start_receiver --deflate
write_config "$T/agent.conf" "[agent]" "events = filelock:flock_lock_inode"
start_agent "$T/agent.conf"
wait_session
start_trace_cmd "$T/trace.dat"
"$UPROBE_TARGET" flock 500 "$T/lockfile" >/dev/null &
W=$!
wait $W
sleep 0.3
stop_trace_cmd "$T/trace.dat" "$T/report.txt"
wait_for "common_pid=$W " 1000 || fail "receiver has $(grep -c "common_pid=$W " "$T/received") of 1000 events of pid $W"
stop_agent
python3 "$(dirname "$0")/compare_tc.py" "$T/received" "$T/report.txt" "$W" 1000
grep -q '^loss' "$T/received" && fail "unexpected loss"
grep -q '^error\|^gap\|^dup' "$T/received" && fail "protocol errors"
echo "flock: ok"
