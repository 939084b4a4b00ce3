#!/usr/bin/env bash
# cluster.sh - a cluster of QEMU VMs running the real Linux DLM, for netrv.
#
#   cluster.sh [--state DIR] start [--nodes N] [--kernel 6.1|6.12]
#                                  [--ptp sync|measure|off] [--no-ptp]
#                                  [--skew-ms MS] [--clocksource hpet|tsc]
#                                  [--accel auto|tcg|kvm] [--timeout S]
#                                  [--no-wait] [--collector|--no-collector]
#                                  [--http-port PORT] [--agent-ptp yes|no]
#   cluster.sh [--state DIR] stop
#   cluster.sh [--state DIR] status
#   cluster.sh [--state DIR] partition NODE | heal NODE
#   cluster.sh [--state DIR] exec [--timeout S] NODE COMMAND...
#   cluster.sh [--state DIR] dlm-run RUN [WORKLOAD OPTIONS...]
#   cluster.sh [--state DIR] wait-sync [--threshold-ns NS] [--timeout S]
#   cluster.sh [--state DIR] wait-ready [--timeout S]
#   cluster.sh [--state DIR] ns
#
# See deploy/vm/README.md.  Needs root.  State (pids, logs, the 9p share with
# the guests' results, the collector's output in DIR/collector) lives in DIR
# (default: run/vm in the repository, or $NETRV_VM_STATE); one cluster per
# state directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
state=${NETRV_VM_STATE:-$repo/run/vm}
cluster_net=10.77.0
agent_net=10.77.1
collector_ip=$agent_net.254
ptp_master_ip=$agent_net.253

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*" >&2; }
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--state) state=${2:?--state needs a directory}; shift ;;
	-h|--help) usage 0 ;;
	*) break ;;
	esac
	shift
done
[ $# -ge 1 ] || usage
cmd=$1
shift
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, taps, nftables): run it with sudo"
mkdir -p "$state"
state=$(cd "$state" && pwd)

load_state() {
	[ -f "$state/cluster.env" ] || die "no cluster in $state: run 'cluster.sh start' first"
	# shellcheck disable=SC1091
	. "$state/cluster.env"
}
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
node_pid() { cat "$state/node$1.pid" 2>/dev/null || true; }
check_node() {
	[[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$NODES" ] ||
		die "no node '$1' (nodes are 1..$NODES)"
}

# qemu's accelerator: KVM only when it really boots our kernel (a nested
# /dev/kvm may exist and still fail to run it); the answer is cached.
pick_accel() {
	local want=$1 probe
	case "$want" in
	tcg) echo "-accel tcg,thread=multi -cpu max"; return ;;
	kvm) echo "-enable-kvm -cpu host"; return ;;
	auto) ;;
	*) die "--accel must be auto, tcg or kvm" ;;
	esac
	probe="$here/cache/kvm-probe-$(basename "$INITRD" .cpio.gz)"
	if [ ! -f "$probe" ]; then
		local out=no
		if [ -w /dev/kvm ] &&
			timeout 30 qemu-system-x86_64 -enable-kvm -cpu host -m 256 \
				-display none -monitor none -serial stdio -no-reboot \
				-kernel "$VMLINUZ" -initrd "$INITRD" \
				-append "console=ttyS0 quiet netrv.probe=1" 2>/dev/null </dev/null |
			grep -q netrv-probe-ok; then
			out=yes
		fi
		echo "$out" >"$probe"
	fi
	if [ "$(cat "$probe")" = yes ]; then
		echo "-enable-kvm -cpu host"
	else
		echo "-accel tcg,thread=multi -cpu max"
	fi
}

# The agent hook: certificates (CN = nodeN) and a config per guest in the
# share's agent/ directory; the guests start netrv-agent with it.  The
# collector's certificate (for 10.77.1.254) stays in STATE/pki.
setup_agent() {
	local nodes=$1 n port=${NETRV_VM_COLLECTOR_PORT:-7400}
	local pki=$state/pki names=()
	for ((n = 1; n <= nodes; n++)); do
		names+=("node$n")
	done
	"$repo/deploy/pki/netrv-pki" "$pki" ca
	"$repo/deploy/pki/netrv-pki" "$pki" collector "$collector_ip" localhost
	"$repo/deploy/pki/netrv-pki" "$pki" node "${names[@]}"
	mkdir -p "$state/share/agent"
	cp "$pki/ca.crt" "$state/share/agent/"
	for ((n = 1; n <= nodes; n++)); do
		cp "$pki/node$n.crt" "$pki/node$n.key" "$state/share/agent/"
		sed -e "s|@NODE@|node$n|g" -e "s|@COLLECTOR_HOST@|$collector_ip|g" \
			-e "s|@COLLECTOR_PORT@|$port|g" -e "s|@DIR@|/netrv/agent|g" \
			-e "s|@OUT@|/netrv/node$n|g" \
			"$here/agent.conf.in" |
			if [ "$agent_ptp" = no ]; then
				# the agent is not told about ptp4l: it claims the
				# epsilon of its own clock reading only
				sed -e '/^uds_address/d' -e '/^self_address/d'
			else
				cat
			fi >"$state/share/agent/node$n.conf"
	done
	say "agent: configs in $state/share/agent, collector certificate in $pki"
}

# The collector, in the namespace on the agent link: WAL, event log, lock
# engine with its verdict log, the DLM models, archive and dashboard.
# Everything it writes is in STATE/collector/.
write_collector_conf() {
	local port=${NETRV_VM_COLLECTOR_PORT:-7400} d=$state/collector
	local rtclock=yes
	# agents kept away from ptp4l claim a tiny epsilon: the collector is to
	# trust it (and catch the lie), not replace it by its own round trips
	[ "$agent_ptp" = no ] && rtclock=no
	rm -rf "${d:?}" # a new cluster: no WAL, log or archive of an old one
	mkdir -p "$d"
	cat >"$d/collector.conf" <<-EOF
		# Generated by deploy/vm/cluster.sh start.
		[collector]
		listen = $collector_ip:$port
		ca = $state/pki/ca.crt
		cert = $state/pki/collector.crt
		key = $state/pki/collector.key
		# TCG guests stall for 100+ ms at times
		liveness_timeout = 10s
		roundtrip_clock = $rtclock
		[wal]
		dir = $d/wal
		sync = none
		[output]
		event_log = $d/events.jsonl
		stats_file = $d/stats.json
		[lock]
		adapters = dlm
		# PTP under TCG: ε of tens of ms when a vCPU stalls
		eps_floor = 200ms
		verdict_log = $d/verdicts.jsonl
		[archive]
		dir = $d/archive
		[http]
		listen = $collector_ip
		port = $http_port_ns
		[model dlm_lock]
		dot = $repo/models/dlm_lock.dot
		[model dlm_resource]
		dot = $repo/models/dlm_resource.dot
	EOF
}

start_collector() {
	local bin=${NETRV_COLLECTOR_BIN:-$repo/build/collector/netrv-collector}
	local d=$state/collector
	[ -x "$bin" ] || die "no collector at $bin: build it (cmake --build build) or use --no-collector"
	write_collector_conf
	"$bin" --check-config -c "$d/collector.conf" >/dev/null ||
		die "collector configuration $d/collector.conf is invalid (see above)"
	setsid ip netns exec "$NS" "$bin" -c "$d/collector.conf" \
		>"$d/collector.log" 2>&1 </dev/null &
	echo $! >"$state/collector.pid"
	if [ -n "$http_port" ]; then
		setsid /usr/bin/python3 "$here/netns-forward.py" "$NS" \
			"127.0.0.1:$http_port" "$collector_ip:$http_port_ns" \
			>"$d/forward.log" 2>&1 </dev/null &
		echo $! >"$state/forward.pid"
		sleep 0.5
		alive "$(cat "$state/forward.pid")" ||
			die "dashboard forward to 127.0.0.1:$http_port failed: $(cat "$d/forward.log")"
	fi
	say "collector pid $(cat "$state/collector.pid") on $collector_ip:${NETRV_VM_COLLECTOR_PORT:-7400}, log $d/collector.log"
	say "dashboard: $(http_url)"
}

http_url() {
	if [ -n "${http_port:-}" ]; then
		echo "http://127.0.0.1:$http_port/ (forwarded into the namespace)"
	else
		echo "ip netns exec $NS curl http://$collector_ip:$http_port_ns/ (or start with --http-port P)"
	fi
}

# Stop a process we started, by the PID in STATE/NAME.pid: TERM, then KILL.
stop_pidfile() {
	local f=$state/$1.pid pid i
	pid=$(cat "$f" 2>/dev/null || true)
	if alive "$pid"; then
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		alive "$pid" && kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}

cmd_start() {
	local nodes=3 kernel=6.1 ptp=sync skew=350 accel=auto timeout=300 wait=1
	local clocksource=hpet collector=auto
	agent_ptp=yes
	http_port= http_port_ns=7480
	while [ $# -gt 0 ]; do
		case "$1" in
		--nodes) nodes=${2:?}; shift ;;
		--collector) collector=yes ;;
		--no-collector) collector=no ;;
		--http-port) http_port=${2:?}; shift ;;
		--agent-ptp) agent_ptp=${2:?}; shift ;;
		--kernel) kernel=${2:?}; shift ;;
		--ptp) ptp=${2:?}; shift ;;
		--no-ptp) ptp=off ;;
		--clocksource) clocksource=${2:?}; shift ;;
		--skew-ms) skew=${2:?}; shift ;;
		--accel) accel=${2:?}; shift ;;
		--timeout) timeout=${2:?}; shift ;;
		--no-wait) wait=0 ;;
		*) die "start: unknown option '$1'" ;;
		esac
		shift
	done
	[[ "$nodes" =~ ^[0-9]+$ ]] && [ "$nodes" -ge 2 ] && [ "$nodes" -le 16 ] ||
		die "--nodes must be 2..16"
	[[ "$skew" =~ ^[0-9]+$ ]] || die "--skew-ms must be a number of milliseconds"
	case "$ptp" in sync|measure|off) ;; *) die "--ptp must be sync, measure or off" ;; esac
	case "$clocksource" in hpet|tsc|acpi_pm) ;; *) die "--clocksource must be hpet, tsc or acpi_pm" ;; esac
	[ -z "$http_port" ] || [[ "$http_port" =~ ^[0-9]+$ ]] || die "--http-port must be a port number"
	case "$agent_ptp" in yes|no) ;; *) die "--agent-ptp must be yes or no" ;; esac
	if [ -f "$state/cluster.env" ]; then
		(
			load_state
			ip netns pids "$NS" >/dev/null 2>&1
		) && die "a cluster is running in $state: 'cluster.sh stop' first"
		rm -f "$state/cluster.env"
	fi
	for t in qemu-system-x86_64 ip nft ptp4l; do
		command -v $t >/dev/null || die "'$t' is missing: run deploy/install-deps.sh"
	done

	local t0 env
	t0=$(date +%s.%N)
	NODES=$nodes
	env=$("$here/build.sh" --kernel "$kernel") || die "image build failed"
	# shellcheck disable=SC1090
	. "$env"
	local qaccel
	qaccel=$(pick_accel "$accel")

	local id=$$
	NS=netrv-vm-$id
	TABLE=netrv_vm_$id
	NODES=$nodes
	rm -rf "$state/share" "$state"/node*.pid "$state"/node*.console
	mkdir -p "$state/share"
	cat >"$state/cluster.env" <<-EOF
		NS=$NS
		TABLE=$TABLE
		NODES=$nodes
		PTP=$ptp
		KERNEL=$KVER
		ACCEL="$qaccel"
		COLLECTOR=$collector
		HTTP_PORT=$http_port
		STARTED=$t0
	EOF
	cat >"$state/share/cluster.env" <<-EOF
		NODES=$nodes
		PTP=$ptp
		CLUSTER_NET=$cluster_net
		AGENT_NET=$agent_net
		COLLECTOR=$collector_ip
		PTP_MASTER=$ptp_master_ip
	EOF

	local agent=no
	if [ -x "$LAYER/usr/local/bin/netrv-agent" ]; then
		setup_agent "$nodes"
		agent=yes
	fi
	if [ "$collector" = auto ]; then
		collector=$agent
	elif [ "$collector" = yes ] && [ "$agent" = no ]; then
		die "--collector: the image has no agent (build build/agent/netrv-agent first)"
	fi

	# The namespace: brc carries the cluster links, bra the agent links and
	# the host side (collector address, PTP master).
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip -n "$NS" link add brc type bridge
	ip -n "$NS" link add bra type bridge
	ip -n "$NS" link set brc up
	ip -n "$NS" addr add "$collector_ip/24" dev bra
	ip -n "$NS" link set bra up
	ip netns exec "$NS" nft -f - <<-EOF
		table bridge $TABLE {
			set cut {
				type ifname
			}
			chain forward {
				type filter hook forward priority 0; policy accept;
				iifname @cut drop
				oifname @cut drop
			}
		}
	EOF

	[ "$collector" = yes ] && start_collector

	if [ "$ptp" != off ]; then
		ip -n "$NS" link add ptpm type veth peer name ptpm-br
		ip -n "$NS" link set ptpm-br master bra up
		ip -n "$NS" addr add "$ptp_master_ip/24" dev ptpm
		ip -n "$NS" link set ptpm up
		# The grandmaster on the host side: free_running, so it never
		# touches the host clock; masterOnly, so it never follows a guest.
		cat >"$state/ptp4l.conf" <<-EOF
			[global]
			free_running		1
			priority1		1
			time_stamping		software
			network_transport	UDPv4
			delay_mechanism		E2E
			uds_address		$state/ptp4l.sock
			logging_level		6
			logSyncInterval		-1
			logAnnounceInterval	-1
			logMinDelayReqInterval	-1
			[ptpm]
			masterOnly		1
		EOF
		setsid ip netns exec "$NS" ptp4l -f "$state/ptp4l.conf" -m \
			>"$state/ptp4l.log" 2>&1 </dev/null &
		echo $! >"$state/ptp4l.pid"
	fi

	local n hex skew_n
	for ((n = 1; n <= nodes; n++)); do
		hex=$(printf '%02x' "$n")
		ip -n "$NS" tuntap add dev "tc$n" mode tap
		ip -n "$NS" tuntap add dev "ta$n" mode tap
		ip -n "$NS" link set "tc$n" master brc up
		ip -n "$NS" link set "ta$n" master bra up
		skew_n=$(((n - 1) * skew % 1000))
		# shellcheck disable=SC2086
		ip netns exec "$NS" qemu-system-x86_64 -name "node$n" $qaccel \
			-smp 1 -m 384 -display none -monitor none -no-reboot \
			-serial "file:$state/node$n.console" \
			-kernel "$VMLINUZ" -initrd "$INITRD" \
			-append "console=ttyS0 quiet panic=-1 clocksource=$clocksource netrv.node=$n netrv.skew_ms=$skew_n" \
			-virtfs "local,path=$BASE,mount_tag=base,security_model=none,readonly=on" \
			-virtfs "local,path=$LAYER,mount_tag=layer,security_model=none,readonly=on" \
			-virtfs "local,path=$state/share,mount_tag=share,security_model=none" \
			-netdev "tap,id=c,ifname=tc$n,script=no,downscript=no" \
			-device "virtio-net-pci,netdev=c,mac=52:54:00:4e:00:$hex" \
			-netdev "tap,id=a,ifname=ta$n,script=no,downscript=no" \
			-device "virtio-net-pci,netdev=a,mac=52:54:00:4e:01:$hex" \
			-device virtio-rng-pci \
			-daemonize -pidfile "$state/node$n.pid" ||
			die "qemu for node$n failed to start (see above); 'cluster.sh stop' cleans up"
	done
	say "started $nodes VMs ($KVER, ${qaccel%% -cpu*}, ptp=$ptp) in netns $NS"
	[ $wait -eq 1 ] || return 0

	wait_ready "$timeout" "$t0"
}

# Wait until every guest reports "ready" (quorate, its agent streaming), or
# fail when a VM died or after TIMEOUT seconds.  T0: when start began.
wait_ready() {
	local timeout=$1 t0=$2 end n ready
	end=$(($(date +%s) + timeout))
	while :; do
		ready=0
		for ((n = 1; n <= NODES; n++)); do
			alive "$(node_pid $n)" ||
				die "node$n died: see $state/node$n.console and $state/share/node$n/boot.log"
			[ "$(cat "$state/share/node$n/state" 2>/dev/null)" = ready ] &&
				ready=$((ready + 1))
		done
		[ $ready -eq "$NODES" ] && break
		[ "$(date +%s)" -lt $end ] ||
			die "only $ready of $NODES nodes ready after $timeout s (see $state/share/node*/boot.log)"
		sleep 0.5
	done
	say "cluster ready (quorate on all $NODES nodes) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
}

cmd_wait_ready() {
	local timeout=300
	while [ $# -gt 0 ]; do
		case "$1" in
		--timeout) timeout=${2:?}; shift ;;
		*) die "wait-ready: unknown option '$1'" ;;
		esac
		shift
	done
	load_state
	wait_ready "$timeout" "$STARTED"
}

cmd_stop() {
	[ -f "$state/cluster.env" ] || { say "no cluster in $state"; return 0; }
	load_state
	local n pid
	for ((n = 1; n <= NODES; n++)); do
		pid=$(node_pid $n)
		alive "$pid" || continue
		# no mailbox yet: the guest is still booting, nothing to lose
		{ echo netrv-vm-poweroff >"$state/share/node$n/exec/poweroff.cmd"; } 2>/dev/null ||
			kill "$pid" 2>/dev/null || true
	done
	for ((i = 0; i < 100; i++)); do # up to 10 s for a clean poweroff
		local left=0
		for ((n = 1; n <= NODES; n++)); do
			alive "$(node_pid $n)" && left=$((left + 1))
		done
		[ $left -eq 0 ] && break
		sleep 0.1
	done
	for ((n = 1; n <= NODES; n++)); do
		pid=$(node_pid $n)
		if alive "$pid"; then
			kill "$pid" 2>/dev/null || true
			sleep 0.5
			alive "$pid" && kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$state/node$n.pid"
	done
	pid=$(cat "$state/ptp4l.pid" 2>/dev/null || true)
	if alive "$pid"; then
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 20; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
	fi
	rm -f "$state/ptp4l.pid" "$state/ptp4l.sock"
	stop_pidfile forward
	stop_pidfile collector
	ip netns exec "$NS" nft delete table bridge "$TABLE" 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -f "$state/cluster.env"
	say "stopped (logs and results stay in $state/share)"
}

cmd_status() {
	load_state
	local n pid
	echo "netns $NS, nftables table bridge $TABLE, kernel $KERNEL, ptp $PTP"
	for ((n = 1; n <= NODES; n++)); do
		pid=$(node_pid $n)
		printf 'node%d qemu %s %s, guest %s\n' "$n" "${pid:-?}" \
			"$(alive "$pid" && echo running || echo dead)" \
			"$(cat "$state/share/node$n/state" 2>/dev/null || echo unknown)"
	done
	if [ "${COLLECTOR:-no}" = yes ]; then
		printf 'collector pid %s %s, output in %s\n' \
			"$(cat "$state/collector.pid" 2>/dev/null || echo '?')" \
			"$(alive "$(cat "$state/collector.pid" 2>/dev/null)" && echo running || echo dead)" \
			"$state/collector"
		http_port=${HTTP_PORT:-} http_port_ns=7480
		echo "dashboard: $(http_url)"
	fi
	echo "partitioned: $(ip netns exec "$NS" nft list set bridge "$TABLE" cut |
		sed -n 's/.*elements = { \(.*\) }.*/\1/p' | tr -d '"')"
}

cmd_cut() {
	local op=$1
	load_state
	[ $# -eq 2 ] || die "usage: cluster.sh $op NODE"
	check_node "$2"
	if [ "$op" = partition ]; then
		ip netns exec "$NS" nft add element bridge "$TABLE" cut "{ \"tc$2\" }"
	else
		ip netns exec "$NS" nft delete element bridge "$TABLE" cut "{ \"tc$2\" }" 2>/dev/null ||
			say "node$2 was not partitioned"
	fi
}

# Run a command line in a guest through its mailbox on the 9p share.
cmd_exec() {
	local timeout=300
	if [ "${1:-}" = --timeout ]; then
		timeout=${2:?}
		shift 2
	fi
	load_state
	[ $# -ge 2 ] || die "usage: cluster.sh exec [--timeout S] NODE COMMAND..."
	check_node "$1"
	local n=$1 box id end rc
	shift
	alive "$(node_pid "$n")" || die "node$n is not running"
	box=$state/share/node$n/exec
	[ -d "$box" ] || die "node$n has not booted yet (no $box)"
	id=$box/x$$-$RANDOM
	echo "$*" >"$id.tmp"
	mv "$id.tmp" "$id.cmd"
	end=$(($(date +%s) + timeout))
	while [ ! -f "$id.rc" ]; do
		if [ "$(date +%s)" -ge $end ] || ! alive "$(node_pid "$n")"; then
			cat "$id.out" 2>/dev/null || true
			die "exec on node$n: no result after $timeout s (or the VM died)"
		fi
		sleep 0.1
	done
	cat "$id.out"
	rc=$(cat "$id.rc")
	rm -f "$id.run" "$id.out" "$id.rc"
	return "$rc"
}

# The workload on every node at once, each recording its dlm:* events.
cmd_dlm_run() {
	load_state
	[ $# -ge 1 ] || die "usage: cluster.sh dlm-run RUN [workload options]"
	local run=$1 n fail=0
	shift
	[[ "$run" =~ ^[A-Za-z0-9._-]+$ ]] || die "RUN must be a plain name"
	rm -rf "${state:?}/share/$run"
	local pids=()
	for ((n = 1; n <= NODES; n++)); do
		"$0" --state "$state" exec "$n" netrv-vm-dlm-run "$run" "$@" \
			>"$state/dlm-run-$run-node$n.out" 2>&1 &
		pids+=($!)
	done
	for ((n = 1; n <= NODES; n++)); do
		if ! wait "${pids[n - 1]}"; then
			say "dlm-run on node$n failed: $(tail -n 3 "$state/dlm-run-$run-node$n.out")"
			fail=1
		fi
	done
	[ $fail -eq 0 ] && say "dlm-run $run: results in $state/share/$run"
	return $fail
}

# Wait until every guest's ptp4l reports |master offset| below the
# threshold for 3 consecutive samples.
cmd_wait_sync() {
	local threshold=100000 timeout=120
	while [ $# -gt 0 ]; do
		case "$1" in
		--threshold-ns) threshold=${2:?}; shift ;;
		--timeout) timeout=${2:?}; shift ;;
		*) die "wait-sync: unknown option '$1'" ;;
		esac
		shift
	done
	load_state
	[ "$PTP" = sync ] || die "this cluster does not synchronise its clocks (--ptp $PTP)"
	local end=$(($(date +%s) + timeout)) n ok
	while :; do
		ok=0
		for ((n = 1; n <= NODES; n++)); do
			awk -v t="$threshold" '
				/master offset/ {
					for (i = 1; i < NF; i++)
						if ($i == "offset") o = $(i + 1)
					o = o < 0 ? -o : o
					good = ($0 ~ / s2 / && o < t) ? good + 1 : 0
				}
				END { exit !(good >= 3) }' \
				"$state/share/node$n/ptp4l.log" 2>/dev/null && ok=$((ok + 1))
		done
		[ $ok -eq "$NODES" ] && break
		if [ "$(date +%s)" -ge $end ]; then
			die "PTP: only $ok of $NODES nodes within $threshold ns after $timeout s"
		fi
		sleep 1
	done
	say "PTP: all $NODES guests within $threshold ns of the master"
}

case "$cmd" in
start) cmd_start "$@" ;;
stop) cmd_stop ;;
status) cmd_status ;;
partition|heal) cmd_cut "$cmd" "$@" ;;
exec) cmd_exec "$@" ;;
dlm-run) cmd_dlm_run "$@" ;;
wait-sync) cmd_wait_sync "$@" ;;
wait-ready) cmd_wait_ready "$@" ;;
ns) load_state; echo "$NS" ;;
*) die "unknown command '$cmd' (try --help)" ;;
# "; exit" on the esac line: bash reads no further, so editing this file
# while a command runs cannot break that command.
esac; exit
