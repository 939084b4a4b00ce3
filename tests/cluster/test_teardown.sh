#!/usr/bin/env bash
# test_teardown.sh - deploy/cluster/local.sh removes everything it made on
# every way out: a start that fails half-way, a start killed with SIGKILL
# (then `stop` finds what was recorded), Ctrl-C in run mode, and `stop` of
# one cluster while another runs (names and subnets are per cluster).
#
#   test_teardown.sh BUILD_DIR
#
# Needs root.  Clusters are named f$$, k$$, a$$ and r$$ (PID-unique) and
# removed on exit whatever happens.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
NETRV_BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
export NETRV_BUILD
LOCAL=$SRC/deploy/cluster/local.sh
RUN_BASE=${NETRV_RUN_DIR:-/run/netrv-demo}
WORK=$(mktemp -d /tmp/netrv-teardown-test.XXXXXX)
failed=0 finished=0
bgpids=()

say() { printf 'test_teardown: %s\n' "$*"; }
check() {
	if "${@:2}"; then
		say "ok: $1"
	else
		say "FAILED: $1"
		failed=1
	fi
}

quiet() { "$@" >/dev/null 2>&1; }

cleanup() {
	[ $finished -eq 1 ] || failed=1
	for p in "${bgpids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for n in f$$ k$$ a$$ r$$; do "$LOCAL" stop --name "$n" >/dev/null 2>&1; done
	rm -rf "$WORK"
	if [ $failed -ne 0 ]; then
		say "FAILED"
		exit 1
	fi
	say "all passed"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" -eq 0 ] || { say "needs root"; exit 1; }

# What is left of cluster NAME: namespaces, links, nft table, state, and
# processes that name its state directory (ptp4l's socket path).
leftovers() {
	local name=$1 f
	ip netns list | grep "^netrv-$name-"
	ip -o link show | grep -Eo "(nvbr-$name|nv-$name-[0-9]+)[@:]"
	nft list tables 2>/dev/null | grep -w "netrv_$name"
	[ -e "$RUN_BASE/$name" ] && echo "$RUN_BASE/$name"
	for f in /proc/[0-9]*/cmdline; do
		{ tr '\0' ' ' <"$f"; } 2>/dev/null | grep -q -- "$RUN_BASE/$name/" && echo "$f"
	done
	return 0
}
clean() { [ -z "$(leftovers "$1")" ]; }

# wait_for COUNT CMD...: retry CMD every 0.5 s, at most COUNT times
wait_for() {
	local n=$1
	shift
	for ((; n > 0; n--)); do
		"$@" && return 0
		sleep 0.5
	done
	return 1
}
cluster_up() {
	local out
	out=$("$LOCAL" status --name "$1" 2>/dev/null)
	grep -q '^n1 .*MASTER' <<<"$out"
}

# --- a start that fails half-way removes what it made -------------------------
PTP4L=/bin/false "$LOCAL" start --name "f$$" --nodes 2 >"$WORK/f.out" 2>&1
check "start with a broken ptp4l fails" [ $? -ne 0 ]
check "and says why" grep -q 'ptp4l of n1 exited' "$WORK/f.out"
check "and leaves nothing behind" clean "f$$"

# --- a start killed with SIGKILL: stop removes what was recorded ---------------
"$LOCAL" start --name "k$$" --nodes 2 --no-workloads >/dev/null 2>&1 &
kpid=$!
bgpids+=("$kpid")
# kill it once its namespaces exist but before it finished
check "start made its namespaces" wait_for 60 test -s "$RUN_BASE/k$$/netns"
wait_for 60 test -e "/run/netns/netrv-k$$-n2"
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null
check "the killed start left something to clean" [ -n "$(leftovers "k$$")" ]
"$LOCAL" stop --name "k$$" >/dev/null
check "stop removed everything of the killed start" clean "k$$"

# --- two clusters side by side; stopping one leaves the other ------------------
"$LOCAL" start --name "a$$" --nodes 2 --no-workloads >/dev/null 2>&1
check "cluster a$$ started" [ $? -eq 0 ]
set -m # run mode gets its own process group, so SIGINT reaches it as Ctrl-C would
"$LOCAL" run --name "r$$" --nodes 2 --no-workloads >"$WORK/r.out" 2>&1 &
rpid=$!
set +m
bgpids+=("$rpid")
# up = run mode has finished starting and waits for Ctrl-C
check "cluster r$$ is up in run mode" wait_for 120 grep -q 'Ctrl-C stops' "$WORK/r.out"
check "status shows it with n1 as master" cluster_up "r$$"
suba=$(sed -n 's/^subnet=//p' "$RUN_BASE/a$$/info")
subr=$(sed -n 's/^subnet=//p' "$RUN_BASE/r$$/info")
check "the two clusters have their own subnets ($suba, $subr)" [ "$suba" != "$subr" ]
"$LOCAL" stop --name "a$$" >/dev/null
check "stop a$$ removed everything of a$$" clean "a$$"
check "cluster r$$ still runs" cluster_up "r$$"
check "and its nodes still talk" quiet ip netns exec "netrv-r$$-n1" ping -c 1 -W 2 \
	"10.231.$subr.2"

# --- Ctrl-C in run mode tears down ---------------------------------------------
kill -INT "$rpid"
check "run mode exits after SIGINT" wait_for 60 bash -c "! kill -0 $rpid 2>/dev/null"
wait "$rpid" 2>/dev/null
check "run mode said it was stopping" grep -q 'stopping' "$WORK/r.out"
check "and left nothing behind" clean "r$$"

"$LOCAL" stop --name "x$$" >/dev/null
check "stop of a cluster that does not exist succeeds" [ $? -eq 0 ]
finished=1
