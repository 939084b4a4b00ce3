#!/usr/bin/env bash
# A forced overrun (tiny ring buffer, reader stopped with SIGSTOP) is
# reported with exactly the count the kernel shows in per_cpu/cpuN/stats.
. "$(dirname "$0")/lib.sh"

start_receiver
write_config "$T/agent.conf" "[agent]" "events = filelock:flock_lock_inode" \
	"buffer_size = 8K" "subbuf_size = 4K"
start_agent "$T/agent.conf"
wait_session
kill -STOP "$AGENT_PID"
taskset -c 0 "$UPROBE_TARGET" flock 3000 "$T/lockfile" >/dev/null
declare -A over
for c in 0 1; do
	s=$TRACEFS/instances/$NAME/per_cpu/cpu$c/stats
	[ -f "$s" ] || continue
	over[$c]=$(awk '/^overrun:/ {print $2}' "$s")
done
note "kernel overruns: cpu0=${over[0]} cpu1=${over[1]:-}"
[ "${over[0]}" -gt 1000 ] || fail "no overrun forced (${over[0]})"
kill -CONT "$AGENT_PID"
wait_for '^loss ' 1 || fail "no loss reported"
sleep 0.5 # let the rest drain
for c in "${!over[@]}"; do
	got=$(awk -v c="$c" '$1 == "loss" { split($4, a, "="); split($5, b, "=");
		if (a[2] == c) n += b[2] } END { print n + 0 }' "$T/received")
	note "cpu$c: kernel overrun ${over[$c]}, agent reported $got"
	[ "$got" -eq "${over[$c]}" ] || fail "cpu$c: reported $got, kernel says ${over[$c]}"
done
# every loss names a time range that holds it
awk '$1 == "loss" { split($6, f, "="); split($7, t, "=");
	if (f[2] + 0 > t[2] + 0) exit 1 }' "$T/received" || fail "loss with from > to"
grep 'reason=0' "$T/received" >/dev/null || fail "loss reason is not overrun"
echo "overrun: ok"
