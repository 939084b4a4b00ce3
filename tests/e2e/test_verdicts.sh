#!/usr/bin/env bash
# e2e_verdicts: the whole product on a 3-node local cluster (real ptp4l,
# agents, collector, workloads, uprobes).
#  1. healthy, a fixed number of operations: every operation the workloads
#     logged reached the collector exactly once (check.py exact), every
#     node verified past the end, no definite / clock-bound / incomplete
#     verdict, none on the lock service and none of any class on the kernel
#     file locks (the nodes share one kernel: a flock release, dated at its
#     flock(2) call, and the next grant are ordered exactly by their trace
#     times; check.py); every lock-protocol message
#     matched its other end (causal pairs) and no pair contradicts the
#     nodes' eps (zero clock-bound).  Meanwhile an agent with a certificate
#     from another CA and one claiming another node's name are refused.
#  2. fault switch on: definite verdicts on the resources lockd granted
#     wrongly, naming the two nodes, in the verdict log and /api/verdicts.
#  3. n3's agent restarted with its times 2 ms off while its eps says tens
#     of us (ptp.test_skew_ns): clock-bound verdicts naming n3.  The skew
#     is in its trace-to-TAI mapping, not in the kernel's trace clock that
#     all nodes share, so the kernel file locks still get no possible or
#     definite verdict.
. "$(dirname "$0")/lib.sh"

start_cluster --nodes 3

# -- impostors, in n3's namespace, next to the real agents -------------------
"$SRC/deploy/pki/netrv-pki" "$TMP/otherca" ca >/dev/null
"$SRC/deploy/pki/netrv-pki" "$TMP/otherca" node n2 >/dev/null
# (instances netrv_NAME_n*: local.sh stop removes what a killed one leaves)
rogue_conf() { # FILE NODE CERT KEY
	sed -e "s|^node = .*|node = $2|" -e "s|^cert = .*|cert = $3|" \
		-e "s|^key = .*|key = $4|" -e "s|^instance = .*|instance = netrv_${NAME}_nr$RANDOM|" \
		-e "s|^events = .*|events = filelock:flock_lock_inode|" \
		-e "s|^scope = .*|scope = pids\npids = $$|" \
		-e "s|^dir = .*|dir = $TMP/spool-$RANDOM|" \
		-e '/^\[ptp\]/,$d' "$STATE/conf/n3.agent.conf" >"$1"
}
rogue_conf "$TMP/otherca.conf" n2 "$TMP/otherca/n2.crt" "$TMP/otherca/n2.key"
rogue_conf "$TMP/claim.conf" n2 "$STATE/pki/n3.crt" "$STATE/pki/n3.key"
for c in otherca claim; do
	ip netns exec "netrv-$NAME-n3" sh -c 'mountpoint -q /sys/kernel/tracing ||
		mount -t tracefs nodev /sys/kernel/tracing; exec "$@"' rogue \
		"$BUILD/agent/netrv-agent" --config "$TMP/$c.conf" >"$TMP/$c.log" 2>&1 &
	EXTRA_PIDS+=($!)
done

# -- 1. healthy -----------------------------------------------------------------
# the impostors are refused, by the collector, before and during the
# healthy run (they retry with back-off), and kept out
CLOG=$STATE/logs/collector.log
refused() {
	grep -q "TLS handshake failed: client certificate rejected" "$CLOG" &&
		grep -q "refused: hello names node 'n2' but the certificate is for 'n3'" "$CLOG"
}
for ((i = 0; i < 150; i++)); do # they retry with back-off (bounded: 30 s)
	refused && break
	sleep 0.2
done
refused || { tail -n 5 "$TMP"/otherca.log "$TMP"/claim.log >&2
	fail "no refusal of the other CA's certificate or of n3's certificate claiming n2 in the collector log"; }
grep -E "TLS handshake failed|refused" "$CLOG" | sed 's/^/collector log: /' | sort -u -k3 | head -n 4

run_workload 300 2000
python3 "$CHECK" exact "$STATE" || fail "exactly-once check"
python3 "$CHECK" verdicts "$STATE" "$(http_port)" healthy || fail "healthy verdicts"
for p in "${EXTRA_PIDS[@]}"; do
	kill -0 "$p" 2>/dev/null || fail "an impostor agent exited (it should keep retrying)"
done

# causal pairs: every message of the lock protocol matched, none against eps
python3 - "$STATE" "$(http_port)" <<'PY' || fail "causal pairs"
import json, sys, urllib.request
state, port = sys.argv[1:]
sent = sum(1 for l in open(f'{state}/collector/events.jsonl')
           if '_msg_sent"' in l)
m = urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=5).read().decode()
val = {l.split()[0]: float(l.split()[1]) for l in m.splitlines()
       if l and not l.startswith('#')}
matched = val['netrv_lock_messages_matched_total']
cb = val['netrv_verdicts_total{class="clock-bound"}']
causal = val['netrv_lock_pairs_safe_total{by="causal"}']
nodes = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/api/nodes', timeout=5))
eps = {n['name']: n['eps_ns'] for n in nodes}
print(f"causal pairs: {int(matched)} of {sent} messages matched, "
      f"{int(causal)} hand-offs proven by them, {int(cb)} clock-bound; eps {eps}")
assert matched == sent, (matched, sent)
assert cb == 0 and causal > 0
assert all(n['sync_source'] == 'ptp' for n in nodes), nodes
PY
for p in "${EXTRA_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done

# -- 2. fault on ------------------------------------------------------------------
lc fault on >/dev/null
run_workload 300 2000
lc fault off >/dev/null
python3 "$CHECK" verdicts "$STATE" "$(http_port)" fault || fail "fault verdicts"

# -- 3. a clock that lies ---------------------------------------------------------
# n3's agent again, its times 2 ms late while its eps stays at tens of us
# (ptp.test_skew_ns): the lock protocol's messages to and from n3 now
# contradict the claimed eps, and the collector must say so (clock-bound).
# (through local.sh, so that its workload gate waits for this agent too)
kill -TERM "$(pid_of n3.agent)"
timeout 20 tail --pid="$(pid_of n3.agent)" -f /dev/null || fail "n3's agent did not stop"
lc restart n3.agent ptp.test_skew_ns=2000000 >/dev/null
wait_nodes_up
run_workload 100 2000
python3 - "$STATE" <<'PY' || fail "clock-bound verdicts"
import json, sys
vs = [json.loads(l) for l in open(f'{sys.argv[1]}/collector/verdicts.jsonl')]
cb = [v for v in vs if v['class'] == 'clock-bound']
print(f"lying clock: {len(cb)} clock-bound verdicts, e.g. {json.dumps(cb[0]['message']) if cb else None}")
assert cb, "no clock-bound verdict from a node 2 ms off with eps of tens of us"
for v in cb:
    m = v['message']
    assert 'n3' in (m['send']['node'], m['recv']['node']), v
    assert m['excess_ns'] > 0, v
# (the restart itself may leave an incomplete verdict: a release whose
# grant fell into the agent's downtime)
fl = [v for v in vs if (v['resource'] or {}).get('domain') == 'flock'
      and v['class'] in ('possible', 'definite')]
assert not fl, f"violations on kernel file locks: {json.dumps(fl[0])[:800]}"
PY
echo "e2e_verdicts: ok"
