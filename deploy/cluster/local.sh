#!/usr/bin/env bash
# local.sh - a netrv cluster on one machine: N network namespaces on a
# bridge, a ptp4l in each (software time stamps, free_running), a netrv-agent
# in each, the collector in the root namespace, and demo workloads.
#
#   local.sh [run] [options]       start, wait for Ctrl-C, tear down
#   local.sh start [options]       start and return once the cluster is up
#   local.sh stop                  remove everything the cluster made
#   local.sh status                what runs where, PTP state, workloads
#   local.sh fault on|off          the lock service's fault switch
#   local.sh workload [--ops N] [--pause-us U] [--log-ops] [--wait]
#                                  (re)start the workloads (after --no-workloads
#                                  or once finite ones are done); --wait blocks
#                                  until they finish and fails if one failed
#   local.sh loss NODE PERCENT     drop PERCENT of NODE's packets at the bridge
#                                  (both ways, nftables); 0 = none
#   local.sh restart TAG [SECTION.KEY=VALUE...]
#                                  start nI.agent or collector again (after a
#                                  kill or stop), with config overrides
#   local.sh exec NODE CMD...      run CMD in node NODE's namespace (n1, n2...)
#   local.sh list                  the clusters that exist
#
# Options: --name NAME (default "demo", or $NETRV_CLUSTER; 1-8 of [a-z0-9]:
# it keeps several clusters apart), --nodes N (start; default 3, 2..32),
# --ops N (workload operations per node, 0 = endless; default 0),
# --no-workloads, --http-port P (dashboard; default 8400 + subnet index),
# --event-log (start: the collector logs every event, for tests).
# Environment: NETRV_BUILD (build dir), NETRV_RUN_DIR (default
# /run/netrv-demo), PTP4L and PMC (programs).  See deploy/cluster/README.md.
set -euo pipefail
shopt -s nullglob

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${NETRV_BUILD:-$ROOT/build}
RUN_BASE=${NETRV_RUN_DIR:-/run/netrv-demo}
PTP4L=${PTP4L:-ptp4l}
PMC=${PMC:-pmc}
PKI=$ROOT/deploy/pki/netrv-pki
PTP_CONF=$ROOT/deploy/ptp4l/ptp4l-sw.conf

COLLECTOR_BIN=$BUILD/collector/netrv-collector
AGENT_BIN=$BUILD/agent/netrv-agent
FLOCKLOAD_BIN=$BUILD/workloads/netrv-flockload
LOCKD_BIN=$(readlink -f "$BUILD/workloads/netrv-lockd" || echo "$BUILD/workloads/netrv-lockd")
LOCKC_BIN=$(readlink -f "$BUILD/workloads/netrv-lockc" || echo "$BUILD/workloads/netrv-lockc")

SUBNET_PREFIX=10.231 # 10.231.K.0/24 per cluster, K = 1..250
INGEST_PORT=7400     # collector, on the bridge address 10.231.K.254
LOCKD_PORT=7411      # lock service, in node n1

name=${NETRV_CLUSTER:-demo}
nodes=3
ops=0
pause_us=20000
log_ops=0
wait_workloads=0
workloads=1
http_port=""
event_log=0

say() { printf 'local.sh: %s\n' "$*"; }
die() { printf 'local.sh: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

# ---------------------------------------------------------------------------
# State: everything the cluster makes is recorded in $STATE before it is made,
# so stop (also after a failed start or a crash) removes exactly that.
#   netns, links, nft   one name per line
#   procs/TAG           "PID STARTTIME" of each process started
#   logs/TAG.log        each process's output
#   info                key=value facts (subnet, ports, URLs)
# ---------------------------------------------------------------------------
set_state() {
	[[ $name =~ ^[a-z0-9]{1,8}$ ]] ||
		die "bad cluster name '$name': 1 to 8 of [a-z0-9]"
	STATE=$RUN_BASE/$name
	NS_PREFIX=netrv-$name-
	BRIDGE=nvbr-$name
	NFT_TABLE=netrv_$name
}

info_get() { [ -f "$STATE/info" ] && sed -n "s/^$1=//p" "$STATE/info" | tail -n1 || true; }
info_set() { echo "$1=$2" >>"$STATE/info"; }
record() { echo "$2" >>"$STATE/$1"; }
node_ns() { echo "$NS_PREFIX$1"; }
node_addr() { echo "$SUBNET_PREFIX.$(info_get subnet).${1#n}"; }

# Start time of PID in clock ticks since boot (field 22 of /proc/PID/stat),
# empty when the process is gone or a zombie: with the PID it names one
# process for good, so a recycled PID is never signalled.
proc_start() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	set -- $stat
	[ "$1" = Z ] && return 0
	echo "${20}"
}

proc_alive() { # TAG
	local f=$STATE/procs/$1 pid st
	[ -f "$f" ] || return 1
	read -r pid st <"$f"
	[ -n "$st" ] && [ "$(proc_start "$pid")" = "$st" ]
}

proc_pid() { awk '{print $1}' "$STATE/procs/$1"; }

# spawn TAG NETNS|- CMD... : start CMD in its own session, output to its log.
spawn() {
	local tag=$1 ns=$2 pid
	shift 2
	mkdir -p "$STATE/procs" "$STATE/logs"
	if [ "$ns" = - ]; then
		setsid "$@" </dev/null >"$STATE/logs/$tag.log" 2>&1 &
	else
		setsid ip netns exec "$ns" "$@" </dev/null \
			>"$STATE/logs/$tag.log" 2>&1 &
	fi
	pid=$!
	echo "$pid $(proc_start "$pid")" >"$STATE/procs/$tag"
}

# spawn_append: as spawn, but the log keeps what the previous run wrote.
spawn_append() {
	local tag=$1 ns=$2 pid
	shift 2
	echo "--- restarted by local.sh ---" >>"$STATE/logs/$tag.log"
	if [ "$ns" = - ]; then
		setsid "$@" </dev/null >>"$STATE/logs/$tag.log" 2>&1 &
	else
		setsid ip netns exec "$ns" "$@" </dev/null \
			>>"$STATE/logs/$tag.log" 2>&1 &
	fi
	pid=$!
	echo "$pid $(proc_start "$pid")" >"$STATE/procs/$tag"
}

# Signal the processes of TAGs, give them up to 5 s, then SIGKILL.
stop_procs() {
	local tag pid st left i
	for tag in "$@"; do
		proc_alive "$tag" && kill -TERM "$(proc_pid "$tag")" 2>/dev/null
	done
	for ((i = 0; i < 50; i++)); do
		left=0
		for tag in "$@"; do
			proc_alive "$tag" && left=1
		done
		[ $left -eq 0 ] && break
		sleep 0.1
	done
	for tag in "$@"; do
		if proc_alive "$tag"; then
			read -r pid st <"$STATE/procs/$tag"
			say "$tag (pid $pid) ignored SIGTERM: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
}

# ---------------------------------------------------------------------------
# Network: a bridge in the root namespace, a veth per node (eth0 inside),
# addresses 10.231.K.i/24 in the namespaces and 10.231.K.254 on the bridge
# for the collector.  An nftables table keeps the namespaces from reaching
# anything of the root namespace but the collector's ingest port, and
# from being routed anywhere else.
# ---------------------------------------------------------------------------
alloc_subnet() {
	local k used f addrs
	for ((k = 1; k <= 250; k++)); do
		used=0
		for f in "$RUN_BASE"/*/info; do
			[ "$(sed -n 's/^subnet=//p' "$f")" = "$k" ] && used=1
		done
		[ $used -eq 0 ] || continue
		addrs=$(ip -4 -o addr show)
		grep -q " $SUBNET_PREFIX\.$k\." <<<"$addrs" && continue
		echo "$k"
		return
	done
	die "no free subnet in $SUBNET_PREFIX.1-250.0/24"
}

make_network() {
	local k i ns host
	k=$(info_get subnet)
	record links "$BRIDGE"
	ip link add "$BRIDGE" type bridge mcast_snooping 0
	ip addr add "$SUBNET_PREFIX.$k.254/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	for ((i = 1; i <= nodes; i++)); do
		ns=$(node_ns "n$i")
		host=nv-$name-$i
		record netns "$ns"
		ip netns add "$ns"
		record links "$host"
		ip link add "$host" type veth peer name eth0 netns "$ns"
		ip link set "$host" master "$BRIDGE" up
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "$SUBNET_PREFIX.$k.$i/24" dev eth0
		ip -n "$ns" link set eth0 up
	done
	record nft "inet $NFT_TABLE"
	nft -f - <<-EOF
		table inet $NFT_TABLE {
			chain input {
				type filter hook input priority 0; policy accept;
				iifname "$BRIDGE" ct state established,related accept
				iifname "$BRIDGE" tcp dport $INGEST_PORT accept
				iifname "$BRIDGE" icmp type echo-request accept
				iifname "$BRIDGE" drop
			}
			chain forward {
				type filter hook forward priority 0; policy accept;
				iifname "$BRIDGE" oifname != "$BRIDGE" drop
				oifname "$BRIDGE" iifname != "$BRIDGE" drop
			}
		}
	EOF
}

# ---------------------------------------------------------------------------
# PTP: one ptp4l per node, software time stamps, n1 is the master by
# priority1.  free_running 1 is forced on the command line as well as in the
# config: all namespaces share this machine's clock, which must never move.
# ---------------------------------------------------------------------------
start_ptp() {
	local i prio
	for ((i = 1; i <= nodes; i++)); do
		prio=128
		[ "$i" -eq 1 ] && prio=127
		mkdir -p "$STATE/n$i"
		spawn "n$i.ptp4l" "$(node_ns "n$i")" "$PTP4L" -f "$PTP_CONF" \
			-i eth0 --free_running=1 --priority1=$prio \
			--uds_address="$STATE/n$i/ptp4l.sock"
	done
}

# pmc_get NODE WHAT : ptp4l's management answer (empty when it does not answer)
pmc_get() {
	timeout 5 "$PMC" -u -b 0 -s "$STATE/$1/ptp4l.sock" "GET $2" 2>/dev/null ||
		true
}
# (reads all its input: an early exit would SIGPIPE pmc and, with pipefail,
# fail the caller)
pmc_field() { awk -v k="$1" '$1 == k && !done { print $2; done = 1 }'; }

# Wait until every ptp4l answers and n1 is master with the others following
# it (bounded: 30 s).  Return 1 if that did not happen.
wait_ptp() {
	local i t ok state gm
	for ((t = 0; t < 60; t++)); do
		ok=1
		for ((i = 1; i <= nodes; i++)); do
			proc_alive "n$i.ptp4l" ||
				{ say "ptp4l of n$i exited: see $STATE/logs/n$i.ptp4l.log"; return 1; }
			state=$(pmc_get "n$i" PORT_DATA_SET | pmc_field portState)
			if [ "$i" -eq 1 ]; then
				[ "$state" = MASTER ] || ok=0
			else
				gm=$(pmc_get "n$i" TIME_STATUS_NP | pmc_field gmPresent)
				[[ $state =~ ^(SLAVE|UNCALIBRATED)$ && $gm = true ]] || ok=0
			fi
		done
		[ $ok -eq 1 ] && return 0
		sleep 0.5
	done
	return 1
}

# ---------------------------------------------------------------------------
# netrv component configuration, written against the option tables of
# `netrv-agent --help` and `netrv-collector --help`.  Each gen_* function
# writes one config file and prints the command line that runs it.
#
# The lock service is traced with uprobes that local.sh itself creates,
# once, before the agents start (make_uprobes): all nodes share one kernel,
# so one probe on netrv-lockc serves every client node; each agent enables
# it in its own tracefs instance and sees only its namespace's tasks
# (scope = netns).  One event per function means one [lock_user] rule per
# function and one [lock_pair] rule per message direction in the collector,
# whatever the number of nodes.  (Probes declared in each agent's config
# would need an event system per node: an agent replaces a probe of the
# same name.)
#   netrv_NAME_lockc:lock_acquired(name, mode)   a client holds name
#   netrv_NAME_lockc:lock_releasing(name)        ... is about to release it
#   netrv_NAME_lockc:lock_msg_sent(node, seq)    request seq of client node
#   netrv_NAME_lockc:lock_msg_received(node, seq) reply seq to client node
#   netrv_NAME_lockd:lockd_msg_received(node, seq), lockd_msg_sent(node, seq)
# ---------------------------------------------------------------------------
uprobe_system() { echo "netrv_${name}_$1"; } # lockc | lockd
# registers of the first two integer arguments, for uprobe fetch args
case "$(uname -m)" in
aarch64) ARG0=%x0 ARG1=%x1 ;;
*) ARG0=%di ARG1=%si ;; # x86-64
esac

tracefs_dir() {
	local t=/sys/kernel/tracing
	[ -d "$t/instances" ] || mount -t tracefs nodev "$t" 2>/dev/null || true
	[ -d "$t/instances" ] || t=/sys/kernel/debug/tracing
	[ -d "$t/instances" ] || return 1
	echo "$t"
}

# File offset of function $2 in ELF file $1: its address from nm, moved
# from the LOAD segment that holds it to that segment's file offset.
sym_offset() {
	local v off va sz
	v=$(nm "$1" | awk -v s="$2" '$3 == s { print $1; exit }')
	[ -n "$v" ] || return 1
	v=$((16#$v))
	while read -r off va sz; do
		((v >= va && v < va + sz)) && { printf '0x%x\n' $((v - va + off)); return 0; }
	done < <(readelf -lW "$1" | awk '$1 == "LOAD" { print $2, $3, $5 }')
	return 1
}

make_uprobes() {
	local t c d bin fn args off
	t=$(tracefs_dir) || die "tracefs is not available: mount -t tracefs nodev /sys/kernel/tracing"
	c=$(uprobe_system lockc)
	d=$(uprobe_system lockd)
	while read -r sys bin fn args; do
		off=$(sym_offset "$bin" "$fn") || die "no function $fn in $bin (rebuild the workloads)"
		record uprobes "$sys/$fn"
		echo "p:$sys/$fn $bin:$off $args" >>"$t/dynamic_events" ||
			die "cannot create uprobe $sys/$fn"
	done <<-EOF
		$c $LOCKC_BIN lock_acquired name=+0($ARG0):string mode=$ARG1:s32
		$c $LOCKC_BIN lock_releasing name=+0($ARG0):string
		$c $LOCKC_BIN lock_msg_sent node=+0($ARG0):string seq=$ARG1:u64
		$c $LOCKC_BIN lock_msg_received node=+0($ARG0):string seq=$ARG1:u64
		$d $LOCKD_BIN lockd_msg_received node=+0($ARG0):string seq=$ARG1:u64
		$d $LOCKD_BIN lockd_msg_sent node=+0($ARG0):string seq=$ARG1:u64
	EOF
}

gen_collector_config() { # FILE -> prints the command
	local conf=$1 k c d
	k=$(info_get subnet)
	c=$(uprobe_system lockc)
	d=$(uprobe_system lockd)
	mkdir -p "$STATE/collector/wal"
	cat >"$conf" <<-EOF
		# netrv-collector of local cluster '$name' (written by local.sh)
		[collector]
		listen = $SUBNET_PREFIX.$k.254:$INGEST_PORT
		ca = $STATE/pki/ca.crt
		cert = $STATE/pki/collector.crt
		key = $STATE/pki/collector.key
		liveness_timeout = 2s

		[wal]
		dir = $STATE/collector/wal

		[http]
		enable = yes
		listen = 127.0.0.1
		port = $(info_get http_port)

		[lock]
		adapters = flock,user
		user_modes = shared,exclusive
		user_compatible = shared:shared
		verdict_log = $STATE/collector/verdicts.jsonl
		# releases dated at flock(2)'s entry (the agents trace
		# syscalls:sys_enter_flock/sys_exit_flock); the nodes share one
		# kernel (one boot id): their trace times order them exactly
		flock_syscalls = on
		same_clock = on

		# the lock clients' own view: "I hold name in mode", "I release name"
		[lock_user acquired]
		event = $c:lock_acquired
		action = acquire
		name_field = name
		mode_field = mode

		[lock_user releasing]
		event = $c:lock_releasing
		action = release
		name_field = name

		# the lock protocol's messages, numbered per client: happens-before
		# edges that prove a hand-off (release -> U -> G -> acquire) safe
		[lock_pair request]
		send = $c:lock_msg_sent
		recv = $d:lockd_msg_received
		send_key = node, seq
		recv_key = node, seq

		[lock_pair reply]
		send = $d:lockd_msg_sent
		recv = $c:lock_msg_received
		send_key = node, seq
		recv_key = node, seq
	EOF
	# every released event as a JSON line (tests count them; grows forever)
	if [ "$(info_get event_log)" = 1 ]; then
		cat >>"$conf" <<-EOF

			[output]
			event_log = $STATE/collector/events.jsonl
			stats_file = $STATE/collector/stats.json
		EOF
	fi
	echo "$COLLECTOR_BIN --config $conf"
}

gen_agent_config() { # NODE FILE -> prints the command
	local node=$1 conf=$2 k events c d
	k=$(info_get subnet)
	c=$(uprobe_system lockc)
	d=$(uprobe_system lockd)
	# flock(2)'s entry and exit: the lock engine dates a release when its
	# holder asked for it (the filelock event comes after the lock was
	# dropped); they fire only for flock(2) calls of this namespace's tasks
	events="filelock:flock_lock_inode filelock:posix_lock_inode"
	events+=" syscalls:sys_enter_flock syscalls:sys_exit_flock"
	if [ "$node" = n1 ]; then # the lock server
		events+=" $d:lockd_msg_received $d:lockd_msg_sent"
	else # lock clients
		events+=" $c:lock_acquired $c:lock_releasing $c:lock_msg_sent $c:lock_msg_received"
	fi
	mkdir -p "$STATE/$node/spool"
	cat >"$conf" <<-EOF
		# netrv-agent of node $node in local cluster '$name' (written by local.sh)
		[agent]
		node = $node
		instance = netrv_${name}_$node
		events = $events
		trace_clock = mono
		# all nodes share one kernel: trace only this namespace's tasks
		scope = netns
		remove_instance = yes

		[collector]
		host = $SUBNET_PREFIX.$k.254
		port = $INGEST_PORT
		ca = $STATE/pki/ca.crt
		cert = $STATE/pki/$node.crt
		key = $STATE/pki/$node.key

		[spool]
		dir = $STATE/$node/spool

		[ptp]
		uds_address = $STATE/$node/ptp4l.sock
		self_address = $STATE/$node/agent-ptp.sock
	EOF
	echo "$AGENT_BIN --config $conf"
}
# --------------------------- end of netrv configuration --------------------

start_collector() {
	local cmd
	mkdir -p "$STATE/conf"
	cmd=$(gen_collector_config "$STATE/conf/collector.conf")
	if [ ! -x "$COLLECTOR_BIN" ]; then
		say "collector: $COLLECTOR_BIN is missing (not built yet): config written to $STATE/conf/collector.conf"
		return
	fi
	# shellcheck disable=SC2086 # the command is words by design
	spawn collector - $cmd
}

# Run in the node's namespace, then become the agent (same PID): `ip netns
# exec` gives a fresh /sys, where tracefs is not mounted: mount it there (it
# goes away with the agent).
# shellcheck disable=SC2016
AGENT_WRAP='mountpoint -q /sys/kernel/tracing ||
	mount -t tracefs nodev /sys/kernel/tracing
exec "$@"'

start_agents() {
	local i cmd
	mkdir -p "$STATE/conf"
	for ((i = 1; i <= nodes; i++)); do
		cmd=$(gen_agent_config "n$i" "$STATE/conf/n$i.agent.conf")
		[ -x "$AGENT_BIN" ] || continue
		# `ip netns exec` gives the command a private mount namespace with
		# a fresh /sys, where tracefs is not mounted: mount it there (it
		# goes away with the agent), then become the agent (same PID).
		# shellcheck disable=SC2086,SC2016
		spawn "n$i.agent" "$(node_ns "n$i")" sh -c "$AGENT_WRAP" \
			netrv-agent $cmd
	done
	[ -x "$AGENT_BIN" ] ||
		say "agent: $AGENT_BIN is missing (not built yet): configs written to $STATE/conf/nN.agent.conf"
}

# Warn about daemons that died right after start (wrong config keys, most
# likely: see gen_*_config above).  The cluster stays up without them.
check_started() {
	local tag
	sleep 1
	for tag in "$@"; do
		tag=${tag##*/}
		[ -f "$STATE/procs/$tag" ] || continue
		proc_alive "$tag" && continue
		say "WARNING: $tag exited at start: see $STATE/logs/$tag.log (config: $STATE/conf/)"
	done
	return 0
}

# ---------------------------------------------------------------------------
# Workloads: netrv-flockload in every node on one shared directory,
# netrv-lockd in n1, netrv-lockc in n2..nN.
# ---------------------------------------------------------------------------
workload_tags() {
	local i
	for ((i = 1; i <= nodes; i++)); do
		echo "n$i.flockload"
		[ "$i" -gt 1 ] && echo "n$i.lockc"
	done
}

# Agents with scope = netns pick up a task that enters their namespace from
# outside (as `ip netns exec` does) only at their next /proc rescan
# (agent.scope_refresh), and its children through event-fork.  So every
# workload process first waits at a gate inside its namespace (same PID,
# then exec), until each running agent lists it in its instance's
# set_event_pid: nothing a workload does is missed.
# shellcheck disable=SC2016
GATE_SH='while [ ! -e "$0" ]; do sleep 0.02; done; exec "$@"'

open_gate() { # GATE TAG...
	local gate=$1 tag i node t pids ok
	shift
	t=$(tracefs_dir) || t=""
	for ((i = 0; i < 100; i++)); do
		ok=1
		for tag in "$@"; do
			node=${tag%%.*}
			proc_alive "$node.agent" || continue
			pids=" $(cat "$t/instances/netrv_${name}_$node/set_event_pid" 2>/dev/null | tr '\n' ' ') "
			[[ $pids == *" $(proc_pid "$tag") "* ]] || ok=0
		done
		[ $ok -eq 1 ] && break
		sleep 0.1
	done
	[ $ok -eq 1 ] || say "WARNING: an agent did not list every workload process within 10 s: its first operations may be missed"
	touch "$gate"
}

start_workloads() {
	local i tag lockd_addr gate extra=() tags=()
	for b in "$FLOCKLOAD_BIN" "$LOCKD_BIN" "$LOCKC_BIN"; do
		[ -x "$b" ] || die "$b is missing: build first (cmake --build $BUILD)"
	done
	for tag in $(workload_tags); do
		proc_alive "$tag" && die "$tag still runs: wait for it or stop the cluster"
	done
	[ "$log_ops" -eq 1 ] && extra=(--log-ops)
	gate=$STATE/workload.gate
	rm -f "$gate"
	lockd_addr=$(node_addr n1):$LOCKD_PORT
	if ! proc_alive n1.lockd; then
		spawn n1.lockd "$(node_ns n1)" sh -c "$GATE_SH" "$gate" "$LOCKD_BIN" --listen "$lockd_addr"
		tags+=(n1.lockd)
	fi
	mkdir -p "$STATE/shared"
	# No flockload runs now: drop holder counts a killed run may have left.
	rm -f "$STATE/shared/.flockload-state"
	for ((i = 1; i <= nodes; i++)); do
		spawn "n$i.flockload" "$(node_ns "n$i")" sh -c "$GATE_SH" "$gate" "$FLOCKLOAD_BIN" \
			--dir "$STATE/shared" --node "n$i" --ops "$ops" \
			--hold-us 2000 --pause-us "$pause_us" \
			--report-every 1000 "${extra[@]}"
		tags+=("n$i.flockload")
		[ "$i" -eq 1 ] && continue
		spawn "n$i.lockc" "$(node_ns "n$i")" sh -c "$GATE_SH" "$gate" "$LOCKC_BIN" \
			--server "$lockd_addr" --node "n$i" --ops "$ops" \
			--hold-us 2000 --pause-us "$pause_us" "${extra[@]}"
		tags+=("n$i.lockc")
	done
	open_gate "$gate" "${tags[@]}"
	if [ "$(cat "$STATE/fault" 2>/dev/null)" = on ] && [[ " ${tags[*]} " == *" n1.lockd "* ]]; then
		for ((i = 0; i < 50; i++)); do # until lockd handles signals
			grep -q 'lockd: listening' "$STATE/logs/n1.lockd.log" && break
			sleep 0.1
		done
		kill -USR1 "$(proc_pid n1.lockd)"
	fi
}

# Wait for the finite workloads started by this shell; 1 if one failed.
wait_workloads() {
	local tag rc fail=0
	for tag in $(workload_tags); do
		rc=0
		wait "$(proc_pid "$tag")" || rc=$?
		if [ $rc -ne 0 ]; then
			say "$tag exited with status $rc: see $STATE/logs/$tag.log"
			fail=1
		fi
	done
	return $fail
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------
teardown() {
	local tag ns link pid pids t i tags=()
	[ -d "$STATE" ] || return 0
	# workloads and agents first, so the collector sees them go
	for tag in $(workload_tags) n1.lockd; do tags+=("$tag"); done
	[ ${#tags[@]} -gt 0 ] && stop_procs "${tags[@]}"
	tags=()
	for tag in "$STATE"/procs/*.agent; do tags+=("$(basename "$tag")"); done
	[ ${#tags[@]} -gt 0 ] && stop_procs "${tags[@]}"
	tags=()
	for tag in "$STATE"/procs/*; do tags+=("$(basename "$tag")"); done
	[ ${#tags[@]} -gt 0 ] && stop_procs "${tags[@]}"
	clean_tracefs
	# The host ends of the veths first: that removes both ends at once,
	# while a deleted namespace takes its devices away asynchronously.
	while read -r link; do
		[ "$link" = "$BRIDGE" ] && continue
		ip link show "$link" >/dev/null 2>&1 &&
			{ ip link del "$link" 2>/dev/null || say "could not delete link $link"; }
	done < <(cat "$STATE/links" 2>/dev/null)
	# anything else still inside our namespaces is ours too
	while read -r ns; do
		[ -e "/run/netns/$ns" ] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		for pid in $pids; do
			say "killing leftover pid $pid in $ns"
			kill -KILL "$pid" 2>/dev/null || true
		done
		for ((i = 0; i < 50; i++)); do
			[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
			sleep 0.1
		done
		ip netns del "$ns" 2>/dev/null || say "could not delete netns $ns"
	done < <(cat "$STATE/netns" 2>/dev/null)
	if grep -qx "$BRIDGE" "$STATE/links" 2>/dev/null &&
		ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link del "$BRIDGE" 2>/dev/null || say "could not delete bridge $BRIDGE"
	fi
	while read -r family t; do
		nft list table "$family" "$t" >/dev/null 2>&1 &&
			{ nft delete table "$family" "$t" || say "could not delete nft table $family $t"; }
	done < <(cat "$STATE/nft" 2>/dev/null)
	rm -rf "$STATE"
}

# What the cluster leaves in tracefs under its names: the workload uprobes
# (netrv_NAME_lockc, netrv_NAME_lockd) and what a killed agent leaves (its
# instance netrv_NAME_nI, probes of an agent-declared system netrv_NAME_nI).
clean_tracefs() {
	local t d ev
	t=$(tracefs_dir) || return 0
	for d in "$t/instances/netrv_${name}_n"*; do
		rmdir "$d" 2>/dev/null || say "could not remove tracefs instance $d"
	done
	while read -r ev; do
		echo "-:$ev" >>"$t/dynamic_events" 2>/dev/null ||
			say "could not remove dynamic event $ev"
	done < <(sed -n "s/^[pr]:\(netrv_${name}_\(n[0-9]*\|lockc\|lockd\)\/[^ ]*\) .*/\1/p" \
		"$t/dynamic_events" 2>/dev/null)
}

cmd_start() {
	local k ok=0
	[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces): run with sudo"
	[[ $nodes =~ ^[0-9]+$ ]] && [ "$nodes" -ge 2 ] && [ "$nodes" -le 32 ] ||
		die "--nodes: 2 to 32"
	command -v "$PTP4L" >/dev/null || die "ptp4l not found: apt-get install linuxptp"
	mkdir -p "$RUN_BASE"
	exec {lockfd}>"$RUN_BASE/.lock"
	flock "$lockfd"
	[ -e "$STATE" ] &&
		die "cluster '$name' exists ($STATE): '$0 stop --name $name' first, or pick another --name"
	k=$(alloc_subnet)
	mkdir -p "$STATE"
	# From here on a failure or Ctrl-C removes what was made.
	trap '[ $ok -eq 1 ] || { say "start failed: removing cluster $name"; teardown; }' EXIT
	trap 'exit 130' INT TERM
	info_set subnet "$k"
	info_set nodes "$nodes"
	info_set http_port "${http_port:-$((8400 + k))}"
	info_set event_log "$event_log"
	flock -u "$lockfd"
	exec {lockfd}>&-

	make_network
	"$PKI" "$STATE/pki" ca
	"$PKI" "$STATE/pki" collector localhost 127.0.0.1 "$SUBNET_PREFIX.$k.254"
	# shellcheck disable=SC2046
	"$PKI" "$STATE/pki" node $(seq -f 'n%g' 1 "$nodes")
	start_ptp
	wait_ptp || {
		say "PTP did not settle (n1 MASTER, others following it) within 30 s"
		exit 1
	}
	make_uprobes
	start_collector
	start_agents
	check_started collector "$STATE"/procs/*.agent
	[ $workloads -eq 1 ] && start_workloads
	ok=1
	trap - EXIT INT TERM
	cmd_status
}

cmd_status() {
	local i tag st line off state k fault
	[ -f "$STATE/info" ] || { say "no cluster '$name' (try: $0 list)"; return 3; }
	nodes=$(info_get nodes)
	k=$(info_get subnet)
	echo "cluster $name: $nodes nodes on bridge $BRIDGE, $SUBNET_PREFIX.$k.0/24, state in $STATE"
	printf '%-4s %-18s %-14s %-30s %-8s %s\n' node netns address ptp4l agent workloads
	for ((i = 1; i <= nodes; i++)); do
		state=$(pmc_get "n$i" PORT_DATA_SET | pmc_field portState)
		off=$(pmc_get "n$i" TIME_STATUS_NP | pmc_field master_offset)
		if proc_alive "n$i.ptp4l"; then
			st="${state:-?}"
			[ "$i" -gt 1 ] && st+=" offset ${off:-?} ns"
		else
			st="not running"
		fi
		line=""
		for tag in flockload lockd lockc; do
			[ -f "$STATE/procs/n$i.$tag" ] || continue
			if proc_alive "n$i.$tag"; then
				line+="$tag(running) "
			else
				line+="$tag($(grep -o 'ops=[0-9]*' "$STATE/logs/n$i.$tag.log" | tail -n1 || true) done) "
			fi
		done
		if proc_alive "n$i.agent"; then
			tag=running
		elif [ -x "$AGENT_BIN" ]; then
			tag=stopped
		else
			tag=missing
		fi
		printf '%-4s %-18s %-14s %-30s %-8s %s\n' "n$i" "$(node_ns "n$i")" \
			"$(node_addr "n$i")" "$st" "$tag" "$line"
	done
	if proc_alive collector; then
		echo "collector: running (pid $(proc_pid collector)), ingest $SUBNET_PREFIX.$k.254:$INGEST_PORT"
	elif [ -x "$COLLECTOR_BIN" ]; then
		echo "collector: not running (see $STATE/logs/collector.log)"
	else
		echo "collector: missing ($COLLECTOR_BIN is not built yet)"
	fi
	echo "dashboard: http://127.0.0.1:$(info_get http_port)/"
	fault=$(cat "$STATE/fault" 2>/dev/null || echo off)
	echo "lock service: $(node_addr n1):$LOCKD_PORT in n1, fault switch $fault"
	echo "logs: $STATE/logs/"
}

cmd_fault() {
	local what=${1:-}
	[[ $what =~ ^(on|off)$ ]] || die "usage: $0 fault on|off [--name NAME]"
	[ -f "$STATE/info" ] || die "no cluster '$name'"
	proc_alive n1.lockd || die "the lock service (n1.lockd) is not running: '$0 workload' starts it"
	if [ "$what" = on ]; then
		kill -USR1 "$(proc_pid n1.lockd)"
	else
		kill -USR2 "$(proc_pid n1.lockd)"
	fi
	echo "$what" >"$STATE/fault"
	say "fault switch $what (lockd log: $STATE/logs/n1.lockd.log)"
}

# Packet loss for one node: a bridge-family nftables table that drops a
# random share of the frames the bridge forwards from and to the node's
# veth.  Dropping at the bridge (not in the node's own output path) keeps
# the sender's transmit time stamps, so ptp4l sees lost messages, as on a
# real lossy link, instead of failing on a missing TX time stamp.
cmd_loss() {
	local node=${1:-} pct=${2:-} port table match
	[[ $node =~ ^n[0-9]+$ && $pct =~ ^[0-9]+$ ]] && [ "$pct" -le 100 ] ||
		die "usage: $0 loss NODE PERCENT [--name NAME] (PERCENT 0..100)"
	[ -e "/run/netns/$(node_ns "$node")" ] || die "no node $node in cluster $name"
	port=nv-$name-${node#n}
	table=${NFT_TABLE}_$node
	nft list table bridge "$table" >/dev/null 2>&1 &&
		nft delete table bridge "$table"
	match="numgen random mod 100 < $pct"
	[ "$pct" -eq 100 ] && match=""
	if [ "$pct" -gt 0 ]; then
		grep -qx "bridge $table" "$STATE/nft" || record nft "bridge $table"
		nft -f - <<-EOF
			table bridge $table {
				chain forward {
					type filter hook forward priority 0; policy accept;
					iifname "$port" $match drop
					oifname "$port" $match drop
				}
			}
		EOF
	fi
	say "$node loses $pct% of its packets"
}

# (Re)start one daemon with its recorded config after it died (tests kill
# them with SIGKILL): nI.agent or collector, with SECTION.KEY=VALUE
# overrides of its config after the tag (e.g. ptp.test_skew_ns=2000000).
cmd_restart() {
	local tag=${1:-} i cmd o
	shift || true
	for o in "$@"; do
		[[ $o =~ ^[a-z_]+(:[A-Za-z0-9_-]+)?\.[a-z_]+=.*$ ]] ||
			die "restart: '$o' is not SECTION.KEY=VALUE"
	done
	[ -f "$STATE/info" ] || die "no cluster '$name'"
	nodes=$(info_get nodes)
	proc_alive "$tag" && die "$tag still runs (pid $(proc_pid "$tag"))"
	case "$tag" in
	collector)
		cmd=$(gen_collector_config "$STATE/conf/collector.conf")
		# shellcheck disable=SC2086
		spawn_append collector - $cmd "$@"
		;;
	n[0-9]*.agent)
		i=${tag%.agent}
		i=${i#n}
		[ "$i" -ge 1 ] && [ "$i" -le "$nodes" ] || die "no node n$i"
		cmd=$(gen_agent_config "n$i" "$STATE/conf/n$i.agent.conf")
		# shellcheck disable=SC2086,SC2016
		spawn_append "$tag" "$(node_ns "n$i")" sh -c "$AGENT_WRAP" \
			netrv-agent $cmd "$@"
		;;
	*) die "usage: $0 restart nI.agent|collector [SECTION.KEY=VALUE...] [--name NAME]" ;;
	esac
	say "$tag restarted (pid $(proc_pid "$tag"))"
}

cmd_workload() {
	[ -f "$STATE/info" ] || die "no cluster '$name'"
	nodes=$(info_get nodes)
	start_workloads
	if [ "$ops" -eq 0 ]; then
		say "workloads started, endless"
	else
		say "workloads started: $ops operations per process"
	fi
	if [ $wait_workloads -eq 1 ]; then
		wait_workloads
		say "workloads done"
	fi
}

cmd_run() {
	cmd_start
	trap 'echo; say "stopping"; teardown; exit 0' INT TERM
	say "running; Ctrl-C stops and removes the cluster"
	while :; do sleep 1; done
}

cmd=run
case "${1:-}" in
run | start | stop | status | fault | loss | workload | restart | exec | list)
	cmd=$1
	shift
	;;
-h | --help) usage 0 ;;
esac
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--name) name=$2; shift ;;
	--nodes) nodes=$2; shift ;;
	--ops) ops=$2; shift ;;
	--pause-us) pause_us=$2; shift ;;
	--http-port) http_port=$2; shift ;;
	--no-workloads) workloads=0 ;;
	--event-log) event_log=1 ;;
	--log-ops) log_ops=1 ;;
	--wait) wait_workloads=1 ;;
	-h | --help) usage 0 ;;
	--) shift; args+=("$@"); break ;;
	-*) die "unknown option '$1' (try --help)" ;;
	*)
		args+=("$1")
		# exec NODE CMD...: everything after NODE belongs to CMD
		if [ "$cmd" = exec ]; then
			shift
			args+=("$@")
			break
		fi
		;;
	esac
	shift
done
set_state
[[ $ops =~ ^[0-9]+$ && $pause_us =~ ^[0-9]+$ ]] || die "--ops and --pause-us take numbers"

case "$cmd" in
run) cmd_run ;;
start) cmd_start ;;
stop)
	[ -d "$STATE" ] || { say "no cluster '$name'"; exit 0; }
	nodes=$(info_get nodes)
	nodes=${nodes:-0}
	teardown
	say "cluster $name removed"
	;;
status) cmd_status ;;
fault) cmd_fault "${args[0]:-}" ;;
loss) cmd_loss "${args[0]:-}" "${args[1]:-}" ;;
workload) cmd_workload ;;
restart) cmd_restart "${args[@]}" ;;
exec)
	[ ${#args[@]} -ge 2 ] || die "usage: $0 exec NODE CMD..."
	[ -e "/run/netns/$(node_ns "${args[0]}")" ] || die "no node ${args[0]} in cluster $name"
	exec ip netns exec "$(node_ns "${args[0]}")" "${args[@]:1}"
	;;
list)
	for d in "$RUN_BASE"/*/info; do
		d=$(dirname "$d")
		echo "$(basename "$d") nodes=$(sed -n 's/^nodes=//p' "$d/info") subnet=$SUBNET_PREFIX.$(sed -n 's/^subnet=//p' "$d/info").0/24"
	done
	;;
esac
