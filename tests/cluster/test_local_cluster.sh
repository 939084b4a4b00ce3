#!/usr/bin/env bash
# test_local_cluster.sh - end-to-end test of deploy/cluster/local.sh with the
# real parts: a 3-node cluster of network namespaces on a bridge, real ptp4l
# (software time stamps, free_running), the real workloads, a real uprobe on
# the lock client, and a clean stop.
#
#   test_local_cluster.sh BUILD_DIR
#
# Needs root.  Every resource is named after this PID (cluster t$$, tracefs
# instance and uprobe group netrv_test_$$) and removed on exit, also when a
# check fails.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
export NETRV_BUILD=$BUILD
LOCAL=$SRC/deploy/cluster/local.sh
NAME=t$$
STATE=${NETRV_RUN_DIR:-/run/netrv-demo}/$NAME
TRACEFS=/sys/kernel/tracing
GROUP=netrv_test_$$
INST=$TRACEFS/instances/$GROUP
LOCKC=$BUILD/workloads/netrv-lockc
WORK=$(mktemp -d /tmp/netrv-cluster-test.XXXXXX)
failed=0
finished=0 # an unexpected exit (syntax error, signal) is a failure too

say() { printf 'test_local_cluster: %s\n' "$*"; }
check() { # DESCRIPTION COMMAND...
	if "${@:2}"; then
		say "ok: $1"
	else
		say "FAILED: $1"
		failed=1
	fi
}
quiet() { "$@" >/dev/null 2>&1; }
fatal() {
	say "FATAL: $*"
	failed=1
	exit 1
}

cleanup() {
	[ $finished -eq 1 ] || failed=1
	if [ $failed -ne 0 ] && [ -d "$STATE/logs" ]; then
		for f in "$STATE"/logs/*.log; do
			echo "----- $f (last 20 lines)"
			tail -n 20 "$f"
		done
	fi
	if [ -d "$INST" ]; then
		echo 0 >"$INST/tracing_on" 2>/dev/null
		for e in "$INST"/events/"$GROUP"/*/enable; do echo 0 >"$e"; done
		rmdir "$INST" || say "could not remove tracefs instance $INST"
	fi
	for ev in acq rel; do
		grep -q "^p:$GROUP/$ev " "$TRACEFS/dynamic_events" 2>/dev/null &&
			echo "-:$GROUP/$ev" >>"$TRACEFS/dynamic_events"
	done
	"$LOCAL" stop --name "$NAME" >/dev/null 2>&1
	rmdir "$TRACEFS/instances/netrv_${NAME}_n2" 2>/dev/null
	grep -q "^p:netrv_${NAME}_n2/lock_acquired " "$TRACEFS/dynamic_events" &&
		echo "-:netrv_${NAME}_n2/lock_acquired" >>"$TRACEFS/dynamic_events"
	rm -rf "$WORK"
	if [ $failed -ne 0 ]; then
		say "FAILED"
		exit 1
	fi
	say "all passed"
}
trap cleanup EXIT
trap 'fatal "interrupted"' INT TERM

[ "$(id -u)" -eq 0 ] || fatal "needs root"
for b in netrv-flockload netrv-lockd netrv-lockc; do
	[ -x "$BUILD/workloads/$b" ] || fatal "$BUILD/workloads/$b is not built"
done
[ -d "$TRACEFS/instances" ] || mount -t tracefs nodev "$TRACEFS" ||
	fatal "no tracefs"

# --- start ------------------------------------------------------------------
"$LOCAL" start --name "$NAME" --nodes 3 --no-workloads >"$WORK/start.out" 2>&1 ||
	{ cat "$WORK/start.out"; fatal "local.sh start failed"; }
cat "$WORK/start.out"
# Everything stop must remove, remembered now (the state dir goes with stop).
cp "$STATE/netns" "$STATE/links" "$WORK/"
cat "$STATE"/procs/* | awk '{print $1, $2}' >"$WORK/procs"
grep -q 'dashboard: http://127.0.0.1:[0-9]*/' "$WORK/start.out"
check "start prints the dashboard URL" [ $? -eq 0 ]

ns() { echo "netrv-$NAME-$1"; }
addr() { ip -n "$(ns "$1")" -4 -o addr show dev eth0 | awk '{sub("/.*", "", $4); print $4}'; }

# --- network ----------------------------------------------------------------
check "3 namespaces exist" [ "$(ip netns list | grep -c "^netrv-$NAME-n[123]\b")" -eq 3 ]
for pair in "n1 n2" "n2 n3" "n3 n1"; do
	set -- $pair
	check "ping $1 -> $2" quiet ip netns exec "$(ns "$1")" ping -c 1 -W 2 "$(addr "$2")"
done
for n in n1 n2 n3; do
	check "$n has no default route (cannot reach outside)" \
		[ -z "$(ip -n "$(ns "$n")" route show default)" ]
done
check "nftables table netrv_$NAME isolates the bridge" quiet nft list table inet "netrv_$NAME"

# --- PTP --------------------------------------------------------------------
pmc_get() { timeout 5 pmc -u -b 0 -s "$STATE/$1/ptp4l.sock" "GET $2" 2>/dev/null; }
field() { awk -v k="$1" '$1 == k { print $2; exit }'; }
for n in n1 n2 n3; do
	pid=$(awk '{print $1}' "$STATE/procs/$n.ptp4l")
	check "$n: ptp4l runs with --free_running=1" \
		grep -qx -- --free_running=1 <(tr '\0' '\n' <"/proc/$pid/cmdline")
	check "$n: ptp4l runs inside $(ns "$n")" \
		[ "$(readlink "/proc/$pid/ns/net")" = "$(ip netns exec "$(ns "$n")" readlink /proc/self/ns/net)" ]
done
gm=$(pmc_get n1 DEFAULT_DATA_SET | field clockIdentity)
check "n1 is MASTER" [ "$(pmc_get n1 PORT_DATA_SET | field portState)" = MASTER ]
for n in n2 n3; do
	state=$(pmc_get "$n" PORT_DATA_SET | field portState)
	check "$n follows a master (portState $state)" grep -Eqx 'UNCALIBRATED|SLAVE' <<<"$state"
	check "$n's grandmaster is n1 ($gm)" [ "$(pmc_get "$n" TIME_STATUS_NP | field gmIdentity)" = "$gm" ]
	# Offsets are live measurements of one shared clock: not all zero over
	# a few sync intervals, and small (same clock; no timing asserted).
	live=0 sane=1
	for ((i = 0; i < 8; i++)); do
		off=$(pmc_get "$n" TIME_STATUS_NP | field master_offset)
		[ "${off:-0}" != 0 ] && live=1
		[ "${off#-}" -lt 10000000 ] 2>/dev/null || sane=0
		[ $live -eq 1 ] && break
		sleep 1
	done
	check "$n reports a live master offset ($off ns)" [ $live -eq 1 ]
	check "$n's master offset is that of one clock (< 10 ms)" [ $sane -eq 1 ]
done

# --- a uprobe on the client, in our own tracefs instance ---------------------
# file offset of SYMBOL in BINARY: its address in the LOAD segment that holds it
sym_offset() {
	local vaddr off va sz
	vaddr=$(nm "$1" | awk -v s="$2" '$3 == s && ($2 == "T" || $2 == "t") { print $1 }')
	[ -n "$vaddr" ] || return 1
	vaddr=$((16#$vaddr))
	while read -r off va sz; do
		if ((vaddr >= va && vaddr < va + sz)); then
			printf '0x%x\n' $((vaddr - va + off))
			return 0
		fi
	done < <(readelf -lW "$1" | awk '$1 == "LOAD" { print $2, $3, $5 }')
	return 1
}
acq_off=$(sym_offset "$LOCKC" lock_acquired) || fatal "lock_acquired not found in $LOCKC"
rel_off=$(sym_offset "$LOCKC" lock_releasing) || fatal "lock_releasing not found in $LOCKC"
echo "p:$GROUP/acq $LOCKC:$acq_off name=+0(%di):string mode=%si:s32" >>"$TRACEFS/dynamic_events" ||
	fatal "could not create the uprobe"
echo "p:$GROUP/rel $LOCKC:$rel_off name=+0(%di):string" >>"$TRACEFS/dynamic_events" ||
	fatal "could not create the uprobe"
mkdir "$INST" || fatal "could not create tracefs instance $INST"
echo mono >"$INST/trace_clock"
echo 4096 >"$INST/buffer_size_kb"
echo 1 >"$INST/events/$GROUP/acq/enable"
echo 1 >"$INST/events/$GROUP/rel/enable"

# run_round OPS TAG: workloads for OPS operations; trace and logs to $WORK/TAG
run_round() {
	local ops=$1 tag=$2
	echo >"$INST/trace"
	"$LOCAL" workload --name "$NAME" --ops "$ops" --pause-us 0 --log-ops --wait
	check "$tag: every workload finished without error" [ $? -eq 0 ]
	cp "$INST/trace" "$WORK/$tag.trace"
	mkdir -p "$WORK/$tag"
	cp "$STATE"/logs/*.log "$WORK/$tag/"
	python3 "$SRC/tests/cluster/holds.py" "$WORK/$tag.trace" "$WORK/$tag/seq" >"$WORK/$tag.holds"
	say "$tag: uprobe trace: $(cat "$WORK/$tag.holds")"
}

# counts OPS TAG: what every workload reports adds up, and the uprobe saw
# exactly what each client says it did, in the same order.
counts() {
	local ops=$1 tag=$2 n log pid line sum
	for n in n1 n2 n3; do
		log=$WORK/$tag/$n.flockload.log
		line=$(grep '^flockload: done' "$log")
		check "$tag: $n flockload did $ops operations" grep -q " ops=$ops " <<<"$line"
		check "$tag: $n flockload saw zero violations" grep -q " violations=0$" <<<"$line"
		sum=$(grep -o '_[a-z]*=[0-9]*' <<<"$line" | awk -F= '{ s += $2 } END { print s }')
		check "$tag: $n flockload kinds add up to $ops" [ "$sum" = "$ops" ]
	done
	for n in n2 n3; do
		log=$WORK/$tag/$n.lockc.log
		line=$(grep '^lockc: done' "$log")
		check "$tag: $n lockc did $ops operations" grep -q "ops=$ops shared=" <<<"$line"
		pid=$(sed -n 's/^lockc: start .* pid=\([0-9]*\) .*/\1/p' "$log")
		sed -n 's/^lockc: acquired name=\(.*\) mode=\(.*\)$/\1 \2/p' "$log" >"$WORK/$tag/$n.expect"
		check "$tag: $n logged $ops acquisitions" [ "$(wc -l <"$WORK/$tag/$n.expect")" -eq "$ops" ]
		check "$tag: the uprobe saw $n's names and modes, in order" \
			cmp -s "$WORK/$tag/$n.expect" "$WORK/$tag/seq/$pid.seq"
		check "$tag: lockd granted $ops locks to $n" \
			grep -q "node=$n gone grants=$ops$" "$WORK/$tag/n1.lockd.log"
	done
	check "$tag: the uprobe saw every acquire and release" \
		grep -q "^acq=$((2 * ops)) rel=$((2 * ops)) unmatched=0 " "$WORK/$tag.holds"
}
faults() { grep -c '^lockd: fault granted' "$WORK/$1/n1.lockd.log"; }
overlaps() { sed 's/.*overlaps=//' "$WORK/$1.holds"; }

# --- healthy round ----------------------------------------------------------
run_round 200 healthy
counts 200 healthy
check "healthy: lockd granted nothing incompatible" [ "$(faults healthy)" -eq 0 ]
check "healthy: no incompatible holds overlap in the uprobe trace" [ "$(overlaps healthy)" -eq 0 ]

# --- fault on ---------------------------------------------------------------
"$LOCAL" fault on --name "$NAME" >/dev/null
run_round 300 fault
counts 300 fault
check "fault: lockd logged that the switch is on" grep -q '^lockd: fault on$' "$WORK/fault/n1.lockd.log"
nfault=$(($(faults fault) - $(faults healthy)))
check "fault: lockd granted incompatible locks ($nfault)" [ "$nfault" -gt 0 ]
check "fault: the uprobe trace shows overlapping incompatible holds ($(overlaps fault))" \
	[ "$(overlaps fault)" -gt 0 ]
check "fault: fault grants name both client nodes' holders" \
	bash -c "grep '^lockd: fault granted' '$WORK/fault/n1.lockd.log' | grep -q 'node=n[23] client=[0-9]* while node=n[23]'"

# --- fault off again ---------------------------------------------------------
"$LOCAL" fault off --name "$NAME" >/dev/null
run_round 200 repaired
counts 200 repaired
check "repaired: no new incompatible grants" [ "$(faults repaired)" -eq "$(faults fault)" ]
check "repaired: no overlapping holds" [ "$(overlaps repaired)" -eq 0 ]

# --- the flock checker is not blind -------------------------------------------
mkdir -p "$STATE/unlocked"
for n in n1 n2; do
	"$LOCAL" exec --name "$NAME" "$n" "$BUILD/workloads/netrv-flockload" \
		--dir "$STATE/unlocked" --node "$n" --ops 300 --unlocked >"$WORK/unlocked.$n" &
done
wait
check "flockload --unlocked (no kernel lock) reports violations" \
	grep -q 'violations=[1-9]' "$WORK/unlocked.n1" "$WORK/unlocked.n2"

# --- packet loss at the bridge ----------------------------------------------
"$LOCAL" loss --name "$NAME" n3 100 >/dev/null
check "loss n3 100: n1 cannot reach n3" bash -c "! ip netns exec '$(ns n1)' ping -c 2 -i 0.2 -W 1 '$(addr n3)' >/dev/null 2>&1"
check "loss n3 100: n1 still reaches n2" quiet ip netns exec "$(ns n1)" ping -c 1 -W 2 "$(addr n2)"
check "loss n3 100 made a bridge table" quiet nft list table bridge "netrv_${NAME}_n3"
"$LOCAL" loss --name "$NAME" n3 0 >/dev/null
check "loss n3 0: n1 reaches n3 again" quiet ip netns exec "$(ns n1)" ping -c 1 -W 2 "$(addr n3)"
"$LOCAL" loss --name "$NAME" n2 30 >/dev/null # left on: stop must remove it
check "loss n2 30 made a bridge table" quiet nft list table bridge "netrv_${NAME}_n2"

# --- what a crashed agent leaves in tracefs is removed by stop --------------------
# (made here the way an agent of node n2 names them: netrv_NAME_n2)
echo "p:netrv_${NAME}_n2/lock_acquired $LOCKC:$acq_off name=+0(%di):string" >>"$TRACEFS/dynamic_events"
mkdir "$TRACEFS/instances/netrv_${NAME}_n2"
echo 1 >"$TRACEFS/instances/netrv_${NAME}_n2/events/netrv_${NAME}_n2/lock_acquired/enable"

# --- status, stop, nothing left behind ----------------------------------------
"$LOCAL" status --name "$NAME" >"$WORK/status"
check "status names 3 nodes and the master" grep -q '^n1 .*MASTER' "$WORK/status"
"$LOCAL" stop --name "$NAME"
check "stop succeeded" [ $? -eq 0 ]
while read -r n; do
	check "netns $n is gone" [ ! -e "/run/netns/$n" ]
done <"$WORK/netns"
while read -r l; do
	check "link $l is gone" bash -c "! ip link show '$l' >/dev/null 2>&1"
done <"$WORK/links"
check "no nft table of the cluster is left" bash -c "! nft list tables | grep -q 'netrv_$NAME'"
check "state dir $STATE is gone" [ ! -e "$STATE" ]
check "the agents' tracefs instance is gone" [ ! -e "$TRACEFS/instances/netrv_${NAME}_n2" ]
check "the agents' uprobes are gone" bash -c "! grep -q 'netrv_${NAME}_' '$TRACEFS/dynamic_events'"
while read -r pid st; do
	now=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '$1 != "Z" { print $20 }')
	check "process $pid is gone" [ "$now" != "$st" ]
done <"$WORK/procs"
finished=1
