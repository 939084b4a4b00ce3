#!/usr/bin/env bash
# e2e_crash: no event lost or duplicated through faults, on a 3-node local
# cluster under a running workload: kill -9 of n2's agent and its restart,
# kill -9 of the collector and its restart, then 10% packet loss on n3
# (nftables) for a while.  Oracle (check.py exact): every operation each
# workload logged is in the collector's event log exactly once and in
# order, and every lock-protocol message number 1..2*ops of every client
# is there once on both ends; no loss reported.
. "$(dirname "$0")/lib.sh"

start_cluster --nodes 3
lc workload --ops 2500 --pause-us 4000 --log-ops --wait >"$TMP/workload.log" 2>&1 &
W=$!
EXTRA_PIDS+=($W)
sleep 1.5

running() { kill -0 "$W" 2>/dev/null || fail "the workload ended before $1: make it longer"; }
# kill -9 an agent mid-run; its tracefs instance keeps recording
running "the agent's kill"
kill -KILL "$(pid_of n2.agent)"
sleep 1
lc restart n2.agent >/dev/null
sleep 1.5

# kill -9 the collector; agents spool and reconnect, the WAL and the
# checkpoint keep the event log exact
running "the collector's kill"
kill -KILL "$(pid_of collector)"
sleep 1
lc restart collector >/dev/null
wait_nodes_up

# 10% of n3's packets dropped at the bridge, both ways
lc loss n3 10 >/dev/null
sleep 4
running "the end of the packet loss"
lc loss n3 0 >/dev/null

wait "$W" || { cat "$TMP/workload.log" >&2; fail "a workload failed"; }
wait_nodes_up
wait_verified "$(tai_now)"
grep -q "restarted by local.sh" "$STATE/logs/n2.agent.log" || fail "n2's agent was not restarted"
grep -c "hello:" "$STATE/logs/collector.log" | grep -qv '^[0-3]$' ||
	fail "the agents did not reconnect after the collector's restart"
# The event log is flushed at checkpoints: poll the oracle (bounded); a
# duplicate or a hole never heals, so a pass is final.
for ((i = 0; i < 20; i++)); do
	python3 "$CHECK" exact "$STATE" >"$TMP/exact.out" 2>&1 && break
	sleep 1
done
cat "$TMP/exact.out"
grep -q '^exact:' "$TMP/exact.out" || fail "exactly-once check"
echo "e2e_crash: ok"
