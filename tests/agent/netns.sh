#!/usr/bin/env bash
# scope = netns: the agent in a network namespace records only the tasks
# of that namespace, while a host task does the same thing at the same time.
. "$(dirname "$0")/lib.sh"

NS="netrv-t$$"
make_netns "$NS"
RECV_NS=$NS start_receiver
write_config "$T/agent.conf" "[agent]" "events = filelock:flock_lock_inode" \
	"scope = netns" "scope_refresh = 100ms"
start_agent "$T/agent.conf" "$NS"
wait_session
# The namespace's task sleeps first so a refresh has listed it.
ip netns exec "$NS" sh -c "sleep 0.5; exec '$UPROBE_TARGET' flock 300 '$T/lock-in'" >/dev/null &
IN=$!
"$UPROBE_TARGET" flock 300 "$T/lock-out" 400 >/dev/null &
OUT=$!
note "set_event_pid: $(cat $TRACEFS/instances/$NAME/set_event_pid | tr "\n" " ") IN=$IN"
wait $IN $OUT
wait_for "common_pid=$IN " 600 || fail "got $(grep -c "common_pid=$IN " "$T/received") of 600 events of the namespace's task"
sleep 0.3
host=$(grep -c "common_pid=$OUT " "$T/received" || true)
other=$(grep '^event ' "$T/received" | grep -vc "common_pid=$IN " || true)
note "namespace task: 600 events; host task: $host; others: $other"
[ "$host" -eq 0 ] || fail "host task's events leaked into netns scope"
[ "$other" -eq 0 ] || fail "events of tasks outside the namespace"
grep -q "^event .*common_pid=$IN " "$T/received" || fail "no events"
echo "netns: ok"
