#!/usr/bin/env bash
# A burst held back by a long order_slack makes carries far larger than a
# spool segment (the records younger than order_slack are rewritten with
# every spool append).  Records without a batch once closed a segment and
# the next one got the same name: batches were read back from the wrong
# offsets and the receiver saw "bad frame magic", reconnected, and lost
# events.  Every one of the burst's calls must arrive exactly once, with
# its own values, over one session, with no stream error.
. "$(dirname "$0")/lib.sh"

EV="burst_$$"
N=200000
UPROBES+=("netrv_test/$EV")
start_receiver --deflate
write_config "$T/agent.conf" "segment_size = 64K" \
	"[agent]" "order_slack = 100ms" "buffer_size = 32M" "events = none" \
	"[uprobe $EV]" "system = netrv_test" "binary = $UPROBE_TARGET" \
	"symbol = netrv_probe_me" \
	"fetchargs = node=%di:s32 seq=%si:s64 msg=+0(%dx):string"
start_agent "$T/agent.conf"
wait_session
"$UPROBE_TARGET" probe $N >/dev/null &
W=$!
wait $W
for _ in $(seq 60); do
	got=$(grep -c "netrv_test:$EV" "$T/received" || true)
	[ "$got" -ge $N ] && break
	grep -q '^error' "$T/received" && break
	sleep 0.5
done
python3 - "$T/received" "$EV" $N <<'PY'
import sys
recv, ev, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(recv).read().splitlines()
errs = [l for l in lines if l.startswith(('error', 'dup', 'gap'))]
assert not errs, errs[:5]
hellos = sum(1 for l in lines if l.startswith('hello '))
assert hellos == 1, f'{hellos} sessions: the stream broke'
lost = sum(int(l.split('count=')[1].split()[0]) for l in lines
           if l.startswith('loss '))
assert lost == 0, f'{lost} events reported lost'
seen = {}
for l in lines:
    if not (l.startswith('event ') and f' netrv_test:{ev} ' in l):
        continue
    f = dict(x.split('=', 1) for x in l.split()[5:])
    i = int(f['node'])
    assert int(f['seq']) == i * 1000 + 7 and f['msg'] == f'"msg-{i}"', l
    seen[i] = seen.get(i, 0) + 1
dups = [i for i, c in seen.items() if c > 1]
assert not dups, f'{len(dups)} events twice, e.g. {dups[:5]}'
missing = [i for i in range(n) if i not in seen]
assert not missing, f'{len(missing)} of {n} missing, e.g. {missing[:5]}'
print(f'burst: {n} events exactly once over one session')
PY
stop_agent
echo "burst: ok"
