#!/usr/bin/env bash
# A uprobe declared in the config delivers its fetch-arg values, and is
# removed when the agent exits.  A second probe in the same system (the
# local cluster's lock_acquired + lock_releasing) once crashed the agent in
# libtracefs's tracefs_dynevent_get() ("double free or corruption").  trace_marker_raw records with a layout
# from the config arrive as typed marker events.
. "$(dirname "$0")/lib.sh"

EV="probe_$$"
MID=$((0x4e520000 + $$ % 65536))
UPROBES+=("netrv_test/$EV" "netrv_test/${EV}b")
start_receiver --columns
write_config "$T/agent.conf" "[agent]" "events = none" \
	"[uprobe $EV]" "system = netrv_test" "binary = $UPROBE_TARGET" \
	"symbol = netrv_probe_me" \
	"fetchargs = node=%di:s32 seq=%si:s64 msg=+0(%dx):string" \
	"[uprobe ${EV}b]" "system = netrv_test" "binary = $UPROBE_TARGET" \
	"symbol = netrv_dlm_like" "fetchargs = lkid=%si:u32" \
	"[marker dlmlike]" "id = $MID" \
	"fields = node:u32,mode:u32,lkid:u64,res:str64"
start_agent "$T/agent.conf"
wait_session
grep -q "netrv_test/$EV " $TRACEFS/uprobe_events || fail "uprobe not created"
grep -q "netrv_test/${EV}b " $TRACEFS/uprobe_events || fail "second uprobe not created"
"$UPROBE_TARGET" probe 200 >/dev/null &
W=$!
wait $W
wait_for "netrv_test:$EV" 200 || fail "got $(grep -c "netrv_test:$EV" "$T/received") of 200 probe hits"
python3 - "$T/received" "$EV" "$W" <<'PY'
import sys
recv, ev, pid = sys.argv[1:]
hits = [dict(x.split('=', 1) for x in l.split()[5:])
        for l in open(recv) if l.startswith('event ') and f' netrv_test:{ev} ' in l]
assert len(hits) == 200, len(hits)
for i, h in enumerate(hits):
    assert h['common_pid'] == pid, h
    assert int(h['node']) == i, (i, h)
    assert int(h['seq']) == i * 1000 + 7, (i, h)
    assert h['msg'] == f'"msg-{i}"', (i, h)
print("uprobe: 200 hits with the right node, seq and msg")
PY
grep "^type .*netrv_test:$EV" "$T/received" | grep -q 'msg/1/4/0/1' ||
	fail "msg should be a dynamic string field in the schema"
# DLM-sized marker records, and one with another id that is not ours
"$UPROBE_TARGET" marker 100 $TRACEFS/instances/$NAME/trace_marker_raw $MID >/dev/null &
M=$!
wait $M
"$UPROBE_TARGET" marker 5 $TRACEFS/instances/$NAME/trace_marker_raw 12345 >/dev/null
wait_for " marker:dlmlike " 100 || fail "got $(grep -c " marker:dlmlike " "$T/received") of 100 markers"
python3 - "$T/received" "$M" <<'PY'
import sys
recv, pid = sys.argv[1:]
ms = [dict(x.split('=', 1) for x in l.split()[5:])
      for l in open(recv) if l.startswith('event ') and ' marker:dlmlike ' in l]
assert len(ms) == 100, len(ms)
for i, m in enumerate(ms):
    assert m['common_pid'] == pid and m['node'] == '3', m
    assert int(m['mode']) == i % 6 and int(m['lkid']) == i, (i, m)
    assert m['res'] == f'"resource-{i:08d}"', (i, m)
print("marker: 100 typed records, fields as written")
PY
stop_agent
grep -q "netrv_test/$EV " $TRACEFS/uprobe_events && fail "uprobe left behind"
grep -q "netrv_test/${EV}b " $TRACEFS/uprobe_events && fail "second uprobe left behind"
echo "uprobe: ok"
