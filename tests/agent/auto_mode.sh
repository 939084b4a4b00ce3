#!/usr/bin/env bash
# read_mode = auto picks the mapping when it works and falls back to read()
# when it does not, saying why; read_mode = mmap without a mapping refuses
# to start and names read_mode.
#
# This kernel has the mapping, so its absence is faked, named so: strace
# injects ENODEV (what kernels before 6.10 answer) into the mmap() calls on
# the last CPU's trace_pipe_raw only (-P), after the other CPUs were mapped
# - the fallback must undo those.  Everything else is real.
. "$(dirname "$0")/lib.sh"

unset NETRV_TEST_READ_MODE
start_receiver
write_config "$T/agent.conf" "[agent]" "events = filelock:flock_lock_inode"
start_agent "$T/agent.conf"
wait_session
grep -q 'reading the buffers through their mapping (mmap, agent.read_mode = auto)' "$T/agent.log" ||
	fail "auto did not choose the mapping: $(grep trace: "$T/agent.log" | head -3)"
stop_agent

last=$(($(ls -d $TRACEFS/instances/$NAME/per_cpu/cpu* | wc -l) - 1))
PIPE=$TRACEFS/instances/$NAME/per_cpu/cpu$last/trace_pipe_raw
# NO_MMAP CMD...: run CMD with mmap() of $PIPE failing with ENODEV.  In an
# ASan build the leak check stays off: it stops the world with ptrace,
# which strace holds already.
NO_MMAP=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	strace -f -qq --seccomp-bpf -P "$PIPE" -e trace=mmap
	-e inject=mmap:error=ENODEV -o /dev/null)
"${NO_MMAP[@]}" "$AGENT" -c "$T/agent.conf" >>"$T/agent.log" 2>&1 &
STRACE=$!
PIDS+=($STRACE)
wait_session 2
AGENT_PID=$(pgrep -P $STRACE -x netrv-agent)
grep -q "reading the buffers with read(): cannot map $PIPE: No such device" "$T/agent.log" ||
	fail "auto did not fall back to read(): $(grep trace: "$T/agent.log" | tail -3)"
"$UPROBE_TARGET" flock 300 "$T/lockfile" >/dev/null &
W=$!
wait $W
wait_for "common_pid=$W " 600 || fail "receiver has $(grep -c "common_pid=$W " "$T/received") of 600 events"
kill -TERM "$AGENT_PID"
wait $STRACE || fail "agent (under strace) exited with $?"
grep -q '^loss' "$T/received" && fail "loss reported"

NETRV_TEST_READ_MODE=mmap write_config "$T/agent.conf" "[agent]" "events = filelock:flock_lock_inode"
rc=0
"${NO_MMAP[@]}" "$AGENT" -c "$T/agent.conf" >"$T/mmap.log" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "read_mode = mmap without a mapping exited with $rc"
grep -q "mmap $PIPE: No such device (.*agent.read_mode = auto or read)" "$T/mmap.log" ||
	fail "no helpful error: $(cat "$T/mmap.log")"

# and back to the mapping: the events are neither lost nor sent again
NETRV_TEST_READ_MODE=auto write_config "$T/agent.conf" "[agent]" "events = filelock:flock_lock_inode"
start_agent "$T/agent.conf"
wait_session 3
"$UPROBE_TARGET" flock 100 "$T/lockfile" >/dev/null &
W2=$!
wait $W2
wait_for "common_pid=$W2 " 200 || fail "receiver has $(grep -c "common_pid=$W2 " "$T/received") of 200 events"
stop_agent
[ "$(grep -c "common_pid=$W " "$T/received")" -eq 600 ] || fail "events of the read() run sent again"
grep -q '^loss\|^error\|^gap' "$T/received" && fail "loss or protocol error"
echo "auto_mode: ok"
