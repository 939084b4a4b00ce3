#!/usr/bin/env bash
# The agent cuts batches so that no frame exceeds what the collector's
# HelloAck.max_frame allows (here 4096, the collector's smallest): a
# receiver that refuses larger frames, as the collector does, gets every
# event exactly once over one session, in plain and in column batches.
# Before, batches were cut by batch_events only and a drain of a few
# thousand events made one frame far above it: "frame larger than the
# agreed maximum", a reconnect loop, nothing delivered.
. "$(dirname "$0")/lib.sh"

N=3000
for codec in plain columns; do
	EV="mf_${codec}_$$"
	RECV_TAG=".$codec"
	UPROBES+=("netrv_test/$EV")
	args=(--max-frame 4096)
	[ $codec = columns ] && args+=(--columns)
	start_receiver "${args[@]}"
	SPOOL="$T/spool.$codec" write_config "$T/agent.$codec.conf" \
		"[agent]" "events = none" \
		"[uprobe $EV]" "system = netrv_test" "binary = $UPROBE_TARGET" \
		"symbol = netrv_probe_me" \
		"fetchargs = node=%di:s32 seq=%si:s64 msg=+0(%dx):string"
	start_agent "$T/agent.$codec.conf"
	wait_session
	"$UPROBE_TARGET" probe $N >/dev/null &
	W=$!
	wait $W
	for _ in $(seq 40); do
		got=$(grep -c "netrv_test:$EV" "$T/received$RECV_TAG" || true)
		[ "$got" -ge $N ] && break
		grep -q '^error' "$T/received$RECV_TAG" && break
		sleep 0.25
	done
	python3 - "$T/received$RECV_TAG" "$EV" $N <<'PY'
import sys
recv, ev, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(recv).read().splitlines()
errs = [l for l in lines if l.startswith(('error', 'dup', 'gap'))]
assert not errs, errs[:5]
hellos = sum(1 for l in lines if l.startswith('hello '))
assert hellos == 1, f'{hellos} sessions: the stream broke'
seen = {}
for l in lines:
    if not (l.startswith('event ') and f' netrv_test:{ev} ' in l):
        continue
    f = dict(x.split('=', 1) for x in l.split()[5:])
    i = int(f['node'])
    assert int(f['seq']) == i * 1000 + 7 and f['msg'] == f'"msg-{i}"', l
    seen[i] = seen.get(i, 0) + 1
assert not [i for i, c in seen.items() if c > 1], 'events twice'
missing = [i for i in range(n) if i not in seen]
assert not missing, f'{len(missing)} of {n} missing, e.g. {missing[:5]}'
batches = sum(1 for l in lines if l.startswith('batch '))
print(f'max_frame: {n} events exactly once in {batches} batches')
PY
	stop_agent
	kill $RECV_PID
	wait $RECV_PID 2>/dev/null || true
done
echo "max_frame: ok"
