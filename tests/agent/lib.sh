# lib.sh - shared set-up for the agent's root tests (sourced).
#
# Makes a private directory, certificates, a test receiver on 127.0.0.1
# port 0, and helpers to start the agent with a generated config.  All
# names carry the test's PID; a trap kills what was started and removes
# the tracefs instance, uprobes and network namespaces, also on failure.
set -euo pipefail

: "${AGENT:?}" "${RECEIVER:?}" "${SRCDIR:?}"
T=$(mktemp -d /tmp/netrv-agent-test.XXXXXX)
NAME="netrv-test-$$"
TRACEFS=/sys/kernel/tracing
PIDS=()
NETNS=()
UPROBES=()
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for u in "${UPROBES[@]}"; do
		echo "-:$u" >>$TRACEFS/uprobe_events 2>/dev/null || true
	done
	for d in "$TRACEFS/instances/$NAME" "$TRACEFS/instances/$NAME"-*; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null || true
	done
	for u in "${UPROBES[@]}"; do
		echo "-:$u" >>$TRACEFS/uprobe_events 2>/dev/null || true
	done
	for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
	if [ $rc -ne 0 ]; then
		note "kept $T for inspection"
		tail -n 30 "$T"/agent*.log 2>/dev/null >&2 || true
	else
		rm -rf "$T"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || { echo "needs root: skipped" >&2; exit 77; }
mountpoint -q $TRACEFS || mount -t tracefs nodev $TRACEFS

"$SRCDIR/deploy/pki/netrv-pki" "$T/pki" ca
"$SRCDIR/deploy/pki/netrv-pki" "$T/pki" collector
"$SRCDIR/deploy/pki/netrv-pki" "$T/pki" node node1 >/dev/null

# make_seq_uprobe EV: the uprobe netrv_test/EV on the test target's
# netrv_probe_me with its running number as "seq", made by the test (not
# the agent, which makes its own probes anew at every start: see
# uprobe.sh), removed by the trap.
make_seq_uprobe() {
	local v off va sz at=
	v=$((16#$(nm "$UPROBE_TARGET" | awk '$3 == "netrv_probe_me" { print $1; exit }')))
	while read -r off va sz; do
		((v >= va && v < va + sz)) && at=$(printf '0x%x' $((v - va + off)))
	done < <(readelf -lW "$UPROBE_TARGET" | awk '$1 == "LOAD" { print $2, $3, $5 }')
	[ -n "$at" ] || fail "no netrv_probe_me in $UPROBE_TARGET"
	UPROBES+=("netrv_test/$1")
	echo "p:netrv_test/$1 $UPROBE_TARGET:$at seq=%si:s64" >>$TRACEFS/uprobe_events ||
		fail "cannot create the uprobe"
}

# start_receiver [extra args]: RECV_NS runs it in a netns, RECV_TAG names
# its files ($T/received$RECV_TAG).
start_receiver() {
	local tag=${RECV_TAG:-}
	rm -f "$T/port$tag"
	${RECV_NS:+ip netns exec "$RECV_NS"} "$RECEIVER" --ca "$T/pki/ca.crt" \
		--cert "$T/pki/collector.crt" --key "$T/pki/collector.key" \
		--port-file "$T/port$tag" --out "$T/received$tag" "$@" &
	RECV_PID=$!
	PIDS+=($RECV_PID)
	for _ in $(seq 100); do [ -s "$T/port$tag" ] && break; sleep 0.05; done
	[ -s "$T/port$tag" ] || fail "receiver did not start"
	PORT=$(cat "$T/port$tag")
}

# write_config FILE EXTRA...: base config plus extra lines.
# NETRV_TEST_READ_MODE=MODE sets agent.read_mode (the *_read ctest variants).
write_config() {
	local f=$1
	shift
	cat >"$f" <<CFG
[agent]
node = node1
instance = ${INSTANCE:-$NAME}
read_mode = ${NETRV_TEST_READ_MODE:-auto}
drain_interval = 5ms
log_level = ${LOG_LEVEL:-info}
[collector]
host = 127.0.0.1
port = $PORT
ca = $T/pki/ca.crt
cert = $T/pki/node1.crt
key = $T/pki/node1.key
backoff_min = 20ms
backoff_max = 200ms
[spool]
dir = ${SPOOL:-$T/spool}
CFG
	for l in "$@"; do echo "$l" >>"$f"; done
}

start_agent() { # config [netns]
	local cmd=("$AGENT" -c "$1")
	[ -n "${2:-}" ] && cmd=(ip netns exec "$2" "${cmd[@]}")
	"${cmd[@]}" >>"$T/agent${RECV_TAG:-}.log" 2>&1 &
	AGENT_PID=$!
	PIDS+=($AGENT_PID)
}

# wait_for PATTERN [N]: until the receiver output has >= N lines matching
wait_for() {
	local pat=$1 n=${2:-1}
	for _ in $(seq 400); do
		[ "$(grep -c -- "$pat" "$T/received${RECV_TAG:-}" 2>/dev/null || true)" -ge "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

wait_session() {
	wait_for '^schema ' "${1:-1}" || fail "agent never sent a schema"
	if [ "${NETRV_TEST_READ_MODE:-}" = read ]; then
		grep -q 'reading the buffers with read()' "$T/agent${RECV_TAG:-}.log" ||
			fail "agent does not say it reads with read()"
	fi
}

# trace-cmd writes "1" to /proc/sys/kernel/ftrace_enabled, which this
# kernel refuses (EPERM) although it is 1: give it a private mount
# namespace where that file is a plain file holding "1".  It records in the
# top-level instance; ours is separate.
start_trace_cmd() { # output.dat
	echo 1 >"$T/ftrace_enabled"
	unshare -m sh -c "mount --bind '$T/ftrace_enabled' /proc/sys/kernel/ftrace_enabled && exec trace-cmd record --no-filter -C mono -e filelock:flock_lock_inode -o '$1'" >"$T/tc.log" 2>&1 &
	TC=$!
	PIDS+=($TC)
	for _ in $(seq 100); do
		[ "$(cat $TRACEFS/events/filelock/flock_lock_inode/enable)" = 1 ] && break
		sleep 0.05
	done
	sleep 0.5
}

stop_trace_cmd() { # output.dat report.txt
	kill -INT $TC
	wait $TC || true
	trace-cmd report -R -t -i "$1" 2>/dev/null >"$2"
}

make_netns() { # name
	ip netns add "$1"
	NETNS+=("$1")
	ip -n "$1" link set lo up
}

# stop_agent: SIGTERM, and the agent must exit 0 (under ASan: no leaks)
stop_agent() {
	local rc=0
	kill -TERM "$AGENT_PID" 2>/dev/null || true
	wait "$AGENT_PID" 2>/dev/null || rc=$?
	[ $rc -eq 0 ] || fail "agent exited with $rc after SIGTERM"
}
