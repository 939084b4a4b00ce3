#!/usr/bin/env bash
# deploy/vm/demo.sh - the VM cluster with netrv and its dashboard (what
# `deploy/demo.sh --vm` runs after building).
#
#   deploy/vm/demo.sh [--port PORT] [--nodes N] [--kernel 6.12] [--ptp sync|measure|off]
#
# Starts the VM cluster (deploy/vm/cluster.sh, state in run/vm-demo) with an
# agent in every guest and the collector in the cluster's namespace, forwards
# the dashboard to http://127.0.0.1:PORT/ (default 7480), then runs the DLM
# workload on all nodes every few seconds until Ctrl-C, and stops the
# cluster.  Needs root and build/agent/netrv-agent (the agent needs the 6.12
# kernel: it maps the trace ring buffer, Linux 6.10+).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=7480 nodes=3 kernel=6.12 ptp=sync
while [ $# -gt 0 ]; do
	case "$1" in
	--port) port=${2:?}; shift ;;
	--nodes) nodes=${2:?}; shift ;;
	--kernel) kernel=${2:?}; shift ;;
	--ptp) ptp=${2:?}; shift ;;
	-h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || { echo "demo --vm: needs root (namespaces, taps, VMs): run it with sudo" >&2; exit 1; }
[ -x "$repo/build/agent/netrv-agent" ] ||
	{ echo "demo --vm: build/agent/netrv-agent is missing: build first" >&2; exit 1; }

state=$repo/run/vm-demo
C() { "$here/cluster.sh" --state "$state" "$@"; }
stop() {
	trap - INT TERM EXIT
	echo
	C stop || true
}
trap stop EXIT
trap 'exit 0' INT TERM

C start --nodes "$nodes" --kernel "$kernel" --ptp "$ptp" --collector --http-port "$port"
echo
echo "demo: dashboard on http://127.0.0.1:$port/  (collector output in $state/collector)"
echo "demo: try 'deploy/vm/cluster.sh --state $state partition 3' in another shell"
echo "demo: running the DLM workload every 10 s; Ctrl-C stops the cluster"
i=0
while :; do
	i=$((i + 1))
	C dlm-run "demo$((i % 2))" --ops 200 --resources 8 >/dev/null 2>&1 ||
		echo "demo: workload round $i failed (a node partitioned?)"
	sleep 10
done
