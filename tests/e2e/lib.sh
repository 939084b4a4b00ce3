#!/usr/bin/env bash
# lib.sh - shared parts of the end-to-end tests: a local cluster
# (deploy/cluster/local.sh) named after the test's PID, removed on exit
# also on failure; bounded waits on the collector's JSON API.
#   usage in a test: . lib.sh BUILD_DIR
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
export NETRV_BUILD=$BUILD
LOCAL=$SRC/deploy/cluster/local.sh
CHECK=$SRC/tests/e2e/check.py
NAME=e$(($$ % 10000000))
RUN_BASE=${NETRV_RUN_DIR:-/run/netrv-demo}
STATE=$RUN_BASE/$NAME
TMP=$(mktemp -d /tmp/netrv-e2e.XXXXXX)
EXTRA_PIDS=()

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
for b in agent/netrv-agent collector/netrv-collector workloads/netrv-lockc; do
	[ -x "$BUILD/$b" ] || { echo "FAIL: $BUILD/$b is not built" >&2; exit 1; }
done

cleanup() {
	local p
	for p in "${EXTRA_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${EXTRA_PIDS[@]}"; do
		timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
	done
	"$LOCAL" stop --name "$NAME" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# What went wrong: the tails of the cluster's logs.
dump() {
	local f
	for f in "$STATE"/logs/*.log; do
		echo "---- $f (last 15 lines)"
		tail -n 15 "$f"
	done >&2
}
# The cluster's logs, event and verdict logs kept for a post-mortem, in
# BUILD/Testing/e2e/NAME (the state directory goes with the cluster).
keep_state() {
	local d=$BUILD/Testing/e2e/$NAME
	mkdir -p "$d" && cp -r "$STATE/logs" "$d/" 2>/dev/null || return 0
	cp "$STATE"/collector/*.jsonl "$d/" 2>/dev/null || true
	echo "kept the cluster's logs in $d" >&2
}
fail() {
	echo "FAIL: $*" >&2
	dump
	keep_state
	exit 1
}
lc() { "$LOCAL" "$@" --name "$NAME"; }
http_port() { sed -n 's/^http_port=//p' "$STATE/info" | tail -n1; }
api() { curl -sf --max-time 5 "http://127.0.0.1:$(http_port)$1"; }
tai_now() { python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_TAI))'; }
pid_of() { awk '{print $1}' "$STATE/procs/$1"; }

# start_cluster [local.sh options]: start without workloads, collector
# logging every event; fail unless every daemon runs and every node is up.
start_cluster() {
	lc start --no-workloads --event-log "$@" >"$TMP/start.log" 2>&1 ||
		{ cat "$TMP/start.log" >&2; fail "local.sh start failed"; }
	grep -q WARNING "$TMP/start.log" && { cat "$TMP/start.log" >&2; fail "a daemon exited at start"; }
	wait_nodes_up
}

# every node connected and up in /api/nodes (bounded: 30 s)
wait_nodes_up() {
	local n i
	n=$(sed -n 's/^nodes=//p' "$STATE/info")
	for ((i = 0; i < 150; i++)); do
		api /api/nodes 2>/dev/null | python3 -c '
import json, sys
ns = json.load(sys.stdin)
up = [x for x in ns if x["state"] == "up" and x["connected"]]
sys.exit(0 if len(up) == int(sys.argv[1]) else 1)' "$n" && return 0
		sleep 0.2
	done
	api /api/nodes >&2 || true
	fail "not all $n nodes up at the collector within 30 s"
}

# wait_verified TAI: every node's watermark and the merge's verified time
# are past TAI, i.e. everything the nodes did before TAI has been merged
# and checked (bounded: 60 s).
wait_verified() {
	local t=$1 i
	for ((i = 0; i < 300; i++)); do
		{ api /api/nodes && echo && api /api/status; } 2>/dev/null | python3 -c '
import json, sys
lines = sys.stdin.read().split("\n", 1)
ns, st = json.loads(lines[0]), json.loads(lines[1])
t = int(sys.argv[1])
ok = st["verified_tai_ns"] > t and all(
    x["watermark_tai_ns"] is not None and x["watermark_tai_ns"] > t for x in ns)
sys.exit(0 if ok else 1)' "$t" && return 0
		sleep 0.2
	done
	api /api/nodes >&2 || true
	api /api/status >&2 || true
	fail "the collector did not verify past $t within 60 s"
}

# wait_logged: the event log (flushed at the collector's checkpoints, every
# second) holds as many events of each node as /api/nodes says were merged
# (bounded: 20 s).
wait_logged() {
	local i
	for ((i = 0; i < 100; i++)); do
		api /api/nodes 2>/dev/null | python3 -c '
import collections, json, sys
ns = json.load(sys.stdin)
c = collections.Counter()
for l in open(sys.argv[1], "rb"):
    if l.endswith(b"\n") and b"\"event\":" in l:
        c[json.loads(l)["node"]] += 1
sys.exit(0 if all(c[n["name"]] == n["events"] for n in ns) else 1)' \
			"$STATE/collector/events.jsonl" && return 0
		sleep 0.2
	done
	fail "the event log does not hold the events /api/nodes counts within 20 s"
}

# run_workload OPS PAUSE_US: finite workloads with per-operation logs,
# waited for; then wait until the collector verified past their end.
run_workload() {
	lc workload --ops "$1" --pause-us "$2" --log-ops --wait >"$TMP/workload.log" 2>&1 ||
		{ cat "$TMP/workload.log" >&2; fail "a workload failed"; }
	wait_verified "$(tai_now)"
	wait_logged
}
