#!/usr/bin/env bash
# deploy/vm/demo.sh - the VM cluster with netrv and its dashboard (what
# `deploy/demo.sh --vm` runs after building).
#
#   deploy/vm/demo.sh [--port PORT] [--nodes N] [--kernel 6.1|6.12]
#                     [--ptp sync|measure|off] [--state DIR]
#                     [--workload-every S] [--timeout S]
#
# Starts the VM cluster (deploy/vm/cluster.sh, state in DIR, default
# run/vm-demo) with an agent in every guest and the collector in the
# cluster's namespace, forwards the dashboard to http://127.0.0.1:PORT/
# (default 7480), prints "demo: dashboard on URL", then runs the DLM workload
# on all nodes every S seconds (default 10; 0: never) until Ctrl-C or
# SIGTERM, and stops the cluster: VMs, collector, forward, PTP master,
# nftables table and namespace.  Exits 0 after a stop on a signal.  Needs
# root and build/agent/netrv-agent.  The kernel is Debian 12's 6.1 (6.12 when
# the agent has no read() fallback: its ring-buffer mapping needs 6.10+).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=7480 nodes=3 kernel=${NETRV_VM_KERNEL:-} ptp=sync every=10 timeout=300
state=$repo/run/vm-demo
while [ $# -gt 0 ]; do
	case "$1" in
	--port) port=${2:?}; shift ;;
	--nodes) nodes=${2:?}; shift ;;
	--kernel) kernel=${2:?}; shift ;;
	--ptp) ptp=${2:?}; shift ;;
	--state) state=${2:?}; shift ;;
	--workload-every) every=${2:?}; shift ;;
	--timeout) timeout=${2:?}; shift ;;
	-h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
[[ "$every" =~ ^[0-9]+$ ]] || { echo "demo: --workload-every takes whole seconds" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "demo --vm: needs root (namespaces, taps, VMs): run it with sudo" >&2; exit 1; }
agent=${NETRV_AGENT_BIN:-$repo/build/agent/netrv-agent}
[ -x "$agent" ] ||
	{ echo "demo --vm: build/agent/netrv-agent is missing: build first" >&2; exit 1; }
# Debian 12's 6.1 unless the agent can only map the ring buffer (6.10+).
if [ -z "$kernel" ]; then
	kernel=6.1
	"$agent" --print-example 2>/dev/null | grep -q '^#\{0,1\}read_mode' || kernel=6.12
fi

cl=$here/cluster.sh
# Everything long runs in the background and the script waits for it, so a
# signal is handled at once (bash runs traps only between commands): the
# child (cluster.sh itself, not a subshell) is ended by its PID, then the cluster is stopped.
# The trap may run while a command's output is redirected (the workload's
# goes to /dev/null): stop() writes to the script's own stdout and stderr.
exec 3>&1 4>&2
child=
run() {
	"$@" &
	child=$!
	local rc=0
	wait "$child" || rc=$?
	child=
	return $rc
}
stop() {
	trap - INT TERM EXIT
	if [ -n "$child" ]; then
		kill "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	{
		echo "demo: stopping the cluster"
		"$cl" --state "$state" stop || true
		echo "demo: stopped"
	} >&3 2>&4
}
trap stop EXIT
trap 'exit 0' INT TERM

run "$cl" --state "$state" start --nodes "$nodes" --kernel "$kernel" --ptp "$ptp" --collector \
	--http-port "$port" --timeout "$timeout"
echo
echo "demo: dashboard on http://127.0.0.1:$port/  (collector output in $state/collector)"
echo "demo: try 'deploy/vm/cluster.sh --state $state partition 3' in another shell"
if [ "$every" -eq 0 ]; then
	echo "demo: no workload (--workload-every 0); Ctrl-C stops the cluster"
	while :; do run sleep 3600; done
fi
echo "demo: running the DLM workload every $every s; Ctrl-C stops the cluster"
i=0
while :; do
	i=$((i + 1))
	run "$cl" --state "$state" dlm-run "demo$((i % 2))" --ops 200 --resources 8 >/dev/null 2>&1 ||
		echo "demo: workload round $i failed (a node partitioned?)"
	run sleep "$every"
done
