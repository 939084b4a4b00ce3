#!/usr/bin/env bash
# collector_throughput - netrv-collector ingest + WAL + merge throughput.
#
#   bench/collector_throughput.sh [BUILD_DIR]     (default: build)
#
# For 4, 16, 64 and 256 agents (AGENTS="..." to change), two runs into a
# fresh collector each (WAL sync=batch, no event log), netrv-loadgen
# speaking the real protocol over mutual TLS on loopback:
#  - throughput: EVENTS events in total (default 4,000,000) as fast as the
#    agents can; printed: events/s per collector core (events / the
#    collector's own user+system CPU time from getrusage, written at exit);
#  - latency: LAT_RATE events/s in total (default 100,000) for LAT_SECONDS
#    (default 3), batches of 100, heartbeats every 10 ms; printed: p50/p99
#    event-to-release latency (collector TAI at release minus the event's
#    TAI: TLS, WAL and waiting for every node's watermark and epsilon).
#    A closed-loop run measures mostly the generator's own queues, so
#    latency comes from a paced run.
# The collector runs its lock engine (and serves the dashboard on a free
# port); LOCKS=P makes every P-th generated event a DLM-shaped lock event
# (netrv-loadgen -L P: request, grant, unlock, -DLM_EUNLOCK, compatible
# holds over 16 shared resources), so the engine has real work; LOCKS=1:
# every event.  The agents claim a synchronised PTP clock (eps 1 us);
# ROUNDTRIP=1 makes them clockless instead, so the collector estimates
# their clocks from heartbeat round trips (their eps is then the loopback
# round trip, seconds at worst on a loaded machine, and the merge waits
# that much longer).
# Certificates for 256 nodes are made once and kept in BUILD_DIR/bench-pki.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
agents=${AGENTS:-"4 16 64 256"}
events=${EVENTS:-4000000}
coll=$build/collector/netrv-collector
lg=$build/bench/netrv-loadgen
clk=--ptp
[ -n "${ROUNDTRIP:-}" ] && clk=
pki=$build/bench-pki
[ -x "$coll" ] && [ -x "$lg" ] || { echo "build first: cmake --build $build" >&2; exit 1; }

max=0
for n in $agents; do [ "$n" -gt "$max" ] && max=$n; done
if [ ! -f "$pki/a$((max - 1)).crt" ]; then
	echo "making certificates for $max agents in $pki ..." >&2
	deploy/pki/netrv-pki "$pki" ca
	deploy/pki/netrv-pki "$pki" collector
	names=()
	for ((i = 0; i < max; i++)); do names+=("a$i"); done
	deploy/pki/netrv-pki "$pki" node "${names[@]}"
fi

tmp=$(mktemp -d /tmp/netrv-bench-$$-XXXXXX)
cpid=
cleanup() {
	[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null || true
	[ -n "${KEEP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT

run() { # run N LOADGEN-ARGS... : start a collector, run the agents, stop it
	local n=$1
	shift
	rm -rf "$tmp/wal" "$tmp/stats.json"
	"$coll" collector.listen=127.0.0.1:0 collector.ca="$pki/ca.crt" \
		collector.cert="$pki/collector.crt" collector.key="$pki/collector.key" \
		collector.log_level=notice collector.liveness_timeout=1s \
		wal.dir="$tmp/wal" http.port=0 \
		output.stats_file="$tmp/stats.json" 2>"$tmp/collector.log" &
	cpid=$!
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$tmp/collector.log")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { cat "$tmp/collector.log" >&2; exit 1; }
	"$lg" -C "127.0.0.1:$port" -p "$pki" -n "$n" -P a -t 600 \
		${LOCKS:+-L "$LOCKS"} $clk "$@" \
		>"$tmp/loadgen.out" 2>"$tmp/loadgen.log"
	# agents that could not say Goodbye become unreachable after 1 s,
	# then the merge releases the rest
	sleep 1.5
	kill -TERM "$cpid"
	wait "$cpid" || true
	cpid=
}

lat_rate=${LAT_RATE:-100000}
lat_s=${LAT_SECONDS:-3}
printf '%-7s %-9s %-14s %-18s %-8s | %-9s %-9s %-9s\n' agents events \
	"events/s/core" "collector cpu s" "wall s" "paced ev" "p50 ms" "p99 ms"
for n in $agents; do
	run "$n" -e $((events / n)) -b 1000 -w 32 -l 300
	thr=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
cpu = s["cpu_user_s"] + s["cpu_sys_s"]
print("%-9d %-14.0f %-18s %-8.2f" % (s["events"], s["events"] / cpu,
      "%.2f (user %.2f)" % (cpu, s["cpu_user_s"]), s["wall_s"]))' "$tmp/stats.json")
	run "$n" -e $((lat_rate * lat_s / n)) -r $((lat_rate / n)) -b 100 \
		-w 64 -H ${LAT_HB_MS:-10} -l 300
	lat=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print("%-9d %-9.2f %-9.2f" % (s["events"], s["latency_p50_ns"] / 1e6,
      s["latency_p99_ns"] / 1e6))' "$tmp/stats.json")
	printf '%-7s %s | %s\n' "$n" "$thr" "$lat"
done
