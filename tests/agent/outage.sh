#!/usr/bin/env bash
# A collector that stops reading (SIGSTOP: back-pressure) and one that is
# killed with -9 and restarted, during a paced workload: the agent spools
# instead of dropping, reconnects, and every event reaches the receiver
# exactly once (the receiver drops resent batches by seq, as the collector
# does).  The first receiver accepts column batches, the restarted one
# does not: what was spooled in column form is expanded on the way.
. "$(dirname "$0")/lib.sh"

start_receiver --state "$T/recv.state" --columns
write_config "$T/agent.conf" "[agent]" "events = filelock:flock_lock_inode" \
	"[collector]" "max_unacked = 16K" "[spool]" "segment_size = 16K"
# the [collector] and [spool] above repeat sections write_config opened:
# keys must not repeat, sections may.
start_agent "$T/agent.conf"
wait_session
"$UPROBE_TARGET" flock 3000 "$T/lockfile" 1000 >/dev/null &
W=$!
sleep 0.5
kill -STOP "$RECV_PID"
s0=$(du -sb "$T/spool" | cut -f1)
sleep 1.2
s1=$(du -sb "$T/spool" | cut -f1)
note "receiver stopped: spool grew from $s0 to $s1 bytes"
# ~2400 events in 1.2 s; column batches take ~5 bytes per flock event
[ "$s1" -gt $((s0 + 6000)) ] || fail "the spool did not grow while the collector was stuck"
kill -CONT "$RECV_PID"
sleep 0.5
kill -9 "$RECV_PID"
wait "$RECV_PID" 2>/dev/null || true
note "receiver killed"
sleep 0.7
start_receiver --state "$T/recv.state" --port "$PORT"
wait $W
wait_for "common_pid=$W " 6000 || note "have $(grep -c "common_pid=$W " "$T/received")"
sleep 0.5
python3 - "$T/received" "$W" <<'PY'
import sys
recv, pid = sys.argv[1:]
seen, events = set(), []
cur = None
for l in open(recv):
    if l.startswith('batch '):
        seq = l.split()[1]
        cur = None if seq in seen else seq  # a batch printed before a crash and resent
        seen.add(seq)
    elif l.startswith('event ') and cur and f' common_pid={pid} ' in l:
        events.append(int(l.split()[2].split('=')[1]))
print(f"{len(events)} events of the workload, {len(set(events))} distinct")
assert len(events) == 6000, len(events)
assert len(set(events)) == 6000, 'duplicates'
assert events == sorted(events), 'out of order'
PY
grep -q '^gap' "$T/received" && fail "a seq gap: batches lost"
grep -q '^loss' "$T/received" && fail "loss reported"
grep -q '^error' "$T/received" && fail "receiver errors: $(grep '^error' "$T/received" | head -3)"
echo "outage: ok"
