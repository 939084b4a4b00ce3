#!/usr/bin/env bash
# A flock workload seen by the agent and by trace-cmd in the same run: the
# events the receiver gets equal trace-cmd report's, field by field.
. "$(dirname "$0")/lib.sh"

start_receiver
write_config "$T/agent.conf" "[agent]" "events = filelock:flock_lock_inode"
start_agent "$T/agent.conf"
wait_session

# trace-cmd writes "1" to /proc/sys/kernel/ftrace_enabled, which this
# kernel refuses (EPERM) although it is 1: give it a private mount
# namespace where that file is a plain file holding "1".  It records in the
# top-level instance, ours is separate.
echo 1 >"$T/ftrace_enabled"
unshare -m sh -c "mount --bind '$T/ftrace_enabled' /proc/sys/kernel/ftrace_enabled && exec trace-cmd record --no-filter -C mono -e filelock:flock_lock_inode -o '$T/trace.dat'" >"$T/tc.log" 2>&1 &
TC=$!
PIDS+=($TC)
for _ in $(seq 100); do [ "$(cat $TRACEFS/events/filelock/flock_lock_inode/enable)" = 1 ] && break; sleep 0.05; done
sleep 0.5
"$UPROBE_TARGET" flock 500 "$T/lockfile" >/dev/null &
W=$!
wait $W
sleep 0.3
kill -INT $TC
wait $TC || true
wait_for "pid=$W " 1000 || fail "receiver has $(grep -c "pid=$W " "$T/received") of 1000 events of pid $W"
stop_agent
trace-cmd report -R -t -i "$T/trace.dat" 2>/dev/null >"$T/report.txt"

python3 - "$T/received" "$T/report.txt" "$W" <<'PY'
import re, sys
recv, rep, pid = sys.argv[1], sys.argv[2], sys.argv[3]
mine = []
for l in open(recv):
    if not l.startswith('event ') or ' filelock:flock_lock_inode ' not in l:
        continue
    kv = dict(x.split('=', 1) for x in l.split()[1:] if '=' in x)
    if kv['common_pid'] != pid:
        continue
    mine.append(kv)
theirs = []
for l in open(rep):
    m = re.match(r'\s*(\S+)-(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+flock_lock_inode:\s+(.*)$', l)
    if not m or m.group(2) != pid:
        continue
    ts = int(m.group(4)) * 10**9 + int(m.group(5).ljust(9, '0')[:9])
    kv = dict(x.split('=', 1) for x in m.group(6).split() if '=' in x)
    kv['ts'] = str(ts); kv['cpu'] = str(int(m.group(3)))
    theirs.append(kv)
print(f"agent {len(mine)} events, trace-cmd {len(theirs)} events of pid {pid}")
assert len(mine) == 1000, len(mine)
assert len(mine) == len(theirs), (len(mine), len(theirs))
# Each instance stamps its own copy of an event when it writes it, so the
# two stamps differ by the time between the two writes (a few us); every
# other field must be equal.
skew = [int(a['ts']) - int(b['ts']) for a, b in zip(mine, theirs)]
print(f"stamp difference agent - trace-cmd: min {min(skew)} max {max(skew)} ns")
assert max(abs(x) for x in skew) < 100000, "stamps differ by more than 100 us"
assert [int(a['ts']) for a in mine] == sorted(int(a['ts']) for a in mine)
fields = ['cpu', 'i_ino', 's_dev', 'pid', 'flags', 'type', 'fl_start',
          'fl_end', 'ret', 'fl', 'blocker', 'owner']
bad = 0
for a, b in zip(mine, theirs):
    for f in fields:
        va, vb = a.get(f), b.get(f)
        if va is None or vb is None:
            raise SystemExit(f"field {f} missing: agent {va} trace-cmd {vb}")
        vb = '0' if vb == '(nil)' else vb
        if int(va) & (2**64 - 1) != int(vb, 0) & (2**64 - 1):
            bad += 1
            if bad < 5:
                print(f"mismatch {f}: agent {va} trace-cmd {vb}")
assert bad == 0, f"{bad} mismatching fields"
types = [a['type'] for a in mine]
assert types.count('1') == 500 and types.count('2') == 500, 'F_WRLCK/F_UNLCK'
print("flock: agent == trace-cmd, field by field")
PY
grep -q '^loss' "$T/received" && fail "unexpected loss"
grep -q '^error\|^gap\|^dup' "$T/received" && fail "protocol errors"
echo "flock: ok"
