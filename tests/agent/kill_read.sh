#!/usr/bin/env bash
# Restarts in read mode (agent.read_mode = read, as on kernels before
# 6.10), while a uprobe fires with a running number (the oracle, as in
# kill_loop.sh):
#  1. SIGTERM and restart, TERMS times: every number arrives exactly once,
#     in order, and no loss is reported at all.
#  2. kill -9 and restart, KILLS times: no number arrives twice or out of
#     order; read() consumed what the killed agent had read but not
#     spooled, so numbers may be missing, but each missing run lies inside
#     a loss report of unknown count (count=0, reason=2 AGENT_DOWN) that
#     the restarted agent sent, and no other loss is reported.  Random
#     kill times rarely hit the window between a round's read() and its
#     spool write, so every other kill is made inside it: gdb stops the
#     agent at encoder_run() (records read, not yet spooled) and kills it
#     there; those kills must lose numbers, and the reports cover them.
#     The stamps of the lost hits come from a second instance of ours that
#     records the same uprobe (a reference, read at the end): each lost
#     hit's stamp must lie inside a count-0 report's range.
#  3. and 4. the same with read_mode switching between read and mmap at
#     every restart, on the same instance and spool: a mapped agent after
#     a read() one must not send again what read() consumed, and after a
#     kill -9 of either the next one reports what the kernel counts as
#     consumed but the spool does not hold.  Here records that arrive late
#     (after a watermark that excluded them) are noted, not failed: a
#     known weakness of this switch, see agent/README.md.
. "$(dirname "$0")/lib.sh"

export NETRV_TEST_READ_MODE=read
TERMS=${TERMS:-5}
KILLS=${KILLS:-15}
HITS=${HITS:-100000}
EV="kr_$$"
make_seq_uprobe "$EV"
start_receiver --columns
write_config "$T/agent.conf" "[agent]" "events = netrv_test:$EV" "buffer_size = 16M"
start_agent "$T/agent.conf"
wait_session
SESSIONS=1

# check_hits PHASE SKIP PID... : after the first SKIP lines of the output, the numbers of each writer, with their stamps,
# against the loss reports (python below)
check_hits() {
	python3 - "$T/received" "$EV" "$HITS" "$T/ref.txt" "$@" <<'PY'
import re, sys
recv, ev, hits, ref, phase, skip, *pids = sys.argv[1:]
hits, skip = int(hits), int(skip)
kind = phase.split('-')[0]
# the reference instance's text: "  comm-PID  [CPU] flags  SEC.USEC: EV: (ip) seq=N"
stamp = {}
if kind == 'kill':
    pat = re.compile(r'-(\d+)\s+\[\d+\].*?(\d+)\.(\d{6}): ' + ev + r': .* seq=(\d+)')
    for l in open(ref):
        m = pat.search(l)
        if m and m.group(1) in pids:
            stamp[(m.group(1), (int(m.group(4)) - 7) // 1000)] = \
                int(m.group(2)) * 10**9 + int(m.group(3)) * 1000
got = {p: [] for p in pids}
losses = []
for i, l in enumerate(open(recv)):
    if i < skip:  # lines of the phases before
        continue
    if l.startswith('event ') and f' netrv_test:{ev} ' in l:
        w = l.split()
        f = dict(x.split("=", 1) for x in w[2:3] + w[5:])
        if f['common_pid'] in got:
            got[f['common_pid']].append(((int(f['seq']) - 7) // 1000,
                                         int(f['ts'])))
    elif l.startswith('loss '):
        losses.append(dict(x.split('=', 1) for x in l.split()[1:]))
bad, lost = False, 0
for pid, s in got.items():
    nums = [n for n, _ in s]
    dup = len(nums) - len(set(nums))
    late = sum(b < a for a, b in zip(nums, nums[1:]))
    if dup or (late and not phase.endswith('-switch')):
        print(f"{phase}: pid {pid}: {dup} numbers twice, {late} out of order")
        bad = True
        continue
    if late:
        # known, see agent/README.md: after a read() agent's kill -9 a
        # mapped agent may hand out a CPU's records late
        print(f"# {phase}: pid {pid}: {late} numbers out of order (late)")
        s.sort()
        nums.sort()
    if kind == 'term':
        if nums != list(range(hits)):
            print(f"{phase}: pid {pid}: {len(nums)} of {hits}, "
                  f"missing {sorted(set(range(hits)) - set(nums))[:10]}")
            bad = True
        continue
    # every missing run [prev + 1, next - 1] lies inside a count-0 report
    ext = [(-1, 0)] + s + [(hits, 1 << 64)]
    for (a, ta), (b, tb) in zip(ext, ext[1:]):
        if b == a + 1:
            continue
        lost += b - a - 1
        # stamps from the reference differ by the us between the two
        # instances' writes and are truncated to us: 20 us of slack
        for n in range(a + 1, b):
            t = stamp.get((pid, n))
            if t is None:
                print(f"{phase}: pid {pid}: {n} missing, also in the reference")
                bad = True
                break
            if not any(l['count'] == '0' and l['reason'] == '2' and
                       int(l['from']) - 20000 <= t <= int(l['to']) + 20000
                       for l in losses):
                print(f"{phase}: pid {pid}: {n} (stamp {t}) missing "
                      f"and no loss report covers it")
                bad = True
                break
if kind == 'term' and losses:
    print(f"{phase}: loss reported: {losses[:3]}")
    bad = True
other = [l for l in losses if l['count'] != '0' or l['reason'] != '2']
if other:
    print(f"{phase}: other losses reported: {other[:3]}")
    bad = True
print(f"# {phase}: {lost} numbers lost, {len(losses)} loss reports")
if kind == 'kill' and not lost:
    print(f"{phase}: nothing lost: the kills in the window did not hit it")
    bad = True
sys.exit(1 if bad else 0)
PY
}

# restart_loop STOP N [SWITCH]: N times STOP (TERM or 9) the agent and
# restart it (with SWITCH: in the other read_mode), while two writers
# (usually on different CPUs) run; sets W1 W2
restart_loop() {
	local sig=$1 n=$2 switch=${3:-} i
	"$UPROBE_TARGET" probe "$HITS" 20000 >/dev/null &
	W1=$!
	"$UPROBE_TARGET" probe "$HITS" 20000 >/dev/null &
	W2=$!
	PIDS+=($W1 $W2)
	for ((i = 1; i <= n; i++)); do
		sleep "0.$((RANDOM % 3 + 1))$((RANDOM % 10))"
		kill -0 $W1 2>/dev/null || break
		if [ "$sig" = TERM ]; then
			stop_agent
		elif ((i % 2 == 1)); then
			timeout 30 gdb -q -batch -p "$AGENT_PID" \
				-ex 'break encoder_run' -ex continue -ex kill \
				>>"$T/gdb.log" 2>&1 || true
			kill -9 "$AGENT_PID" 2>/dev/null || true
			wait "$AGENT_PID" 2>/dev/null || true
		else
			kill -9 "$AGENT_PID"
			wait "$AGENT_PID" 2>/dev/null || true
		fi
		if [ -n "$switch" ]; then
			[ "$NETRV_TEST_READ_MODE" = read ] &&
				NETRV_TEST_READ_MODE=mmap || NETRV_TEST_READ_MODE=read
			write_config "$T/agent.conf" "[agent]" "events = netrv_test:$EV" "buffer_size = 16M"
		fi
		sleep "0.0$((RANDOM % 10))"
		start_agent "$T/agent.conf"
		SESSIONS=$((SESSIONS + 1))
		wait_session $SESSIONS
	done
	note "$sig: $((i - 1)) restarts"
	wait $W1 $W2
}

# phase NAME STOP N [SWITCH]: a restart loop and its check
phase() {
	local name=$1 skip o cur prev=-1
	skip=$(wc -l <"$T/received")
	NETRV_TEST_READ_MODE=read
	write_config "$T/agent.conf" "[agent]" "events = netrv_test:$EV" "buffer_size = 16M"
	stop_agent
	start_agent "$T/agent.conf"
	SESSIONS=$((SESSIONS + 1))
	wait_session $SESSIONS
	echo >"$REF/trace"
	echo 1 >"$REF/events/netrv_test/$EV/enable"
	restart_loop "${@:2}"
	echo 0 >"$REF/events/netrv_test/$EV/enable"
	cat "$REF/trace" >"$T/ref.txt"
	# wait until all hits are in, or nothing new comes
	for _ in $(seq 100); do
		cur=$(tail -n +$((skip + 1)) "$T/received" | grep -c " netrv_test:$EV " || true)
		[ "$cur" -ge $((2 * HITS)) ] || [ "$cur" -eq "$prev" ] && break
		prev=$cur
		sleep 0.3
	done
	for s in $TRACEFS/instances/$NAME/per_cpu/cpu*/stats; do
		o=$(awk '/^overrun:/ {print $2}' "$s")
		[ "$o" -eq 0 ] || fail "the buffer overflowed ($s: $o): test invalid"
	done
	check_hits "$name" "$skip" "$W1" "$W2" || fail "phase $name"
}

REF=$TRACEFS/instances/$NAME-ref
mkdir "$REF"
echo mono >"$REF/trace_clock"
echo 16384 >"$REF/buffer_size_kb"

phase term TERM "$TERMS"
grep -q 'did not exit cleanly' "$T/agent.log" &&
	fail "a restart after SIGTERM was taken for an unclean exit"
phase kill 9 "$KILLS"
n=$(grep -c 'did not exit cleanly' "$T/agent.log" || true)
note "restarts that warned about an unclean exit: $n"
[ "$n" -ge 1 ] || fail "no restart after kill -9 warned about the unclean exit"
phase term-switch TERM "$TERMS" switch
[ "$(grep -c 'did not exit cleanly' "$T/agent.log")" -eq "$n" ] ||
	fail "a restart after SIGTERM was taken for an unclean exit"
grep -q 'reading the buffers through their mapping' "$T/agent.log" ||
	fail "no agent used the mapping"
phase kill-switch 9 "$KILLS" switch
stop_agent
echo "kill_read: ok"
