#!/usr/bin/env bash
# PTP status from real ptp4l processes: three network namespaces on a
# bridge (software time stamps over veth, UDPv4, E2E, free_running 1 - the
# clock is never adjusted), one master and two slaves, each ptp4l with its
# own uds_address.  An agent beside a slave and one beside the master report
# what ptp4l reports (checked against pmc), and follow a state change when
# the master's ptp4l is killed.
. "$(dirname "$0")/lib.sh"

P="nrp$$"
make_netns "$P-br"
ip -n "$P-br" link add br0 type bridge
ip -n "$P-br" link set br0 up
declare -A PTP
for i in 1 2 3; do
	make_netns "$P-$i"
	ip link add eth0 netns "$P-$i" type veth peer name v$i netns "$P-br"
	ip -n "$P-br" link set v$i master br0 up
	ip -n "$P-$i" addr add 10.213.0.$i/24 dev eth0
	ip -n "$P-$i" link set eth0 up
	cat >"$T/ptp$i.conf" <<CONF
[global]
free_running            1
time_stamping           software
network_transport       UDPv4
delay_mechanism         E2E
uds_address             $T/ptp$i.sock
priority1               $([ $i = 1 ] && echo 100 || echo 200)
slaveOnly               $([ $i = 1 ] && echo 0 || echo 1)
logAnnounceInterval     -2
announceReceiptTimeout  3
logSyncInterval         -3
logMinDelayReqInterval  -3
CONF
	ip netns exec "$P-$i" ptp4l -f "$T/ptp$i.conf" -i eth0 -q \
		>"$T/ptp4l-$i.log" 2>&1 &
	PTP[$i]=$!
	PIDS+=(${PTP[$i]})
done

pmc_get() { # node what -> the pmc answer
	ip netns exec "$P-$1" pmc -u -b 0 -s "$T/ptp$1.sock" \
		-i "$T/pmc$1-$$.sock" "GET $2" 2>/dev/null
}
state_num() { # ptp4l's name -> IEEE 1588 number
	case "$1" in
	INITIALIZING) echo 1 ;; FAULTY) echo 2 ;; DISABLED) echo 3 ;;
	LISTENING) echo 4 ;; PRE_MASTER) echo 5 ;; MASTER) echo 6 ;;
	PASSIVE) echo 7 ;; UNCALIBRATED) echo 8 ;; SLAVE) echo 9 ;;
	esac
}

for tag in 1 2; do # agent beside ptp4l 1 (master) and 2 (a slave)
	RECV_TAG=$tag RECV_NS="$P-$tag" start_receiver
	INSTANCE=$NAME-$tag SPOOL=$T/spool$tag write_config "$T/agent$tag.conf" \
		"[ptp]" \
		"uds_address = $T/ptp$tag.sock" "self_address = $T/agent$tag.ptp" \
		"poll = 100ms"
	RECV_TAG=$tag start_agent "$T/agent$tag.conf" "$P-$tag"
done

# Wait until the slave's ptp4l says UNCALIBRATED (free running: never SLAVE)
for _ in $(seq 200); do
	pmc_get 2 PORT_DATA_SET | grep -q 'portState.*UNCALIBRATED' && break
	sleep 0.1
done
pmc_get 2 PORT_DATA_SET | grep -q 'portState.*UNCALIBRATED' ||
	fail "slave never UNCALIBRATED: $(cat "$T/ptp4l-2.log")"
RECV_TAG=2 wait_for 'source=1 .* state=8 ' 5 || fail "agent 2 never reported UNCALIBRATED"
RECV_TAG=1 wait_for 'source=1 synced=1 .* state=6 ' 5 || fail "agent 1 never reported a synced MASTER"

# Offsets and delays as ptp4l reports them
pmc_off=$(pmc_get 2 TIME_STATUS_NP | awk '/master_offset/ {print $2}')
pmc_delay=$(pmc_get 2 CURRENT_DATA_SET | awk '/meanPathDelay/ {print $2}')
sleep 0.3
line=$(grep '^clock .*source=1 .* state=8 ' "$T/received2" | tail -n 1)
note "pmc: offset $pmc_off delay $pmc_delay; agent: $line"
python3 - "$line" "$pmc_off" "$pmc_delay" "$T/received2" <<'PY'
import sys
line, pmc_off, pmc_delay, recv = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
kv = dict(x.split('=') for x in line.split()[1:])
off, delay, eps = int(kv['offset']), int(kv['delay']), int(kv['eps'])
assert kv['synced'] == '0', 'a free-running slave is not synced'
assert off != 0 and abs(off) < 1000000, f'offset {off}'
assert abs(off - pmc_off) < 200000, f'agent offset {off} vs pmc {pmc_off}'
assert 0 < delay < 1000000 and abs(delay - pmc_delay) < max(50000, pmc_delay), \
    f'agent delay {delay} vs pmc {pmc_delay}'
assert eps >= abs(off) + delay, f'epsilon {eps} < |offset| + delay'
offs = {l.split()[5] for l in open(recv) if l.startswith('clock ') and ' state=8 ' in l}
assert len(offs) > 2, 'offsets never change: not live'
# epsilon covers the worst of the recent samples, not only the last one;
# a new grandmaster starts afresh
seen, gm = [], None
for l in open(recv):
    if not l.startswith('clock ') or ' state=8 ' not in l:
        continue
    c = dict(x.split('=') for x in l.split()[1:])
    if c['gm'] != gm:
        seen, gm = [], c['gm']
    o = abs(int(c['offset']))
    if not seen or seen[-1] != o:
        seen.append(o)
    worst = max(seen[-2:])  # this sample and the one before
    assert int(c['eps']) >= worst + int(c['delay']), \
        f"epsilon {c['eps']} < {worst} (of the last two samples) + delay {c['delay']}"
print(f'agent: offset {off} ns, delay {delay} ns, epsilon {eps} ns; pmc {pmc_off}/{pmc_delay}')
PY

# State change: the master goes away; the slaves stop hearing announces.
kill -9 "${PTP[1]}"
for _ in $(seq 100); do
	st=$(pmc_get 2 PORT_DATA_SET | awk '/portState/ {print $2}')
	[ -n "$st" ] && [ "$st" != UNCALIBRATED ] && break
	sleep 0.1
done
note "slave's ptp4l now says $st"
[ "$st" != UNCALIBRATED ] || fail "slave kept UNCALIBRATED without a master"
RECV_TAG=2 wait_for "source=1 .* state=$(state_num "$st") " 1 ||
	fail "agent did not report the new state $st"
# agent 1 lost its ptp4l: it must say so (no source) within a few polls
RECV_TAG=1 wait_for 'source=0 synced=0' 1 || fail "agent 1 still claims PTP after ptp4l died"
echo "ptp: ok"
