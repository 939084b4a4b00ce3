#!/usr/bin/env bash
# Crash safety: kill -9 a process that is writing an archive; everything up
# to its last flush reads back (babeltrace2 and netrv's reader, values
# compared with the generator), and a writer restarted on the same
# directory repairs it, starts a new chunk and leaves a readable archive.
#   test_archive_kill9.sh ARCHIVE_GEN NETRV SRCDIR
set -euo pipefail
gen=$1 netrv=$2 src=$3
dir=$(mktemp -d /tmp/netrv-test-kill9-$$.XXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$gen" crash "$dir/k" 9 > "$dir/progress" &
pid=$!
for _ in $(seq 1 300); do # at most 30 s
	[ "$(wc -l < "$dir/progress")" -ge 20 ] && break
	kill -0 "$pid" 2>/dev/null || fail "writer died before the kill"
	sleep 0.1
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=
flushed=$(tail -n 1 "$dir/progress")
[ "$flushed" -ge 20000 ] || fail "writer flushed only $flushed records"
echo "killed the writer after $flushed flushed records"

# A kill between two writes leaves whole packets that babeltrace2 reads as
# they are; a kill inside a write(2) leaves a torn packet that it refuses,
# and "netrv archive repair" must cut exactly that tail.
if ! babeltrace2 "$dir/k" > "$dir/k.txt" 2> "$dir/bt.err"; then
	echo "the kill tore a packet; repairing"
	"$netrv" archive repair "$dir/k" || fail "netrv archive repair"
	babeltrace2 "$dir/k" > "$dir/k.txt" || fail "babeltrace2 cannot read the repaired chunk"
fi
lines=$(grep -vc 'netrv:clock\|netrv:late' "$dir/k.txt")
read=$("$gen" check "$dir/k" 9 "$flushed") || fail "reader check after kill -9"
[ "$lines" -eq "$read" ] || fail "babeltrace2 shows $lines records, netrv's reader $read"
echo "after kill -9: $read records read back (babeltrace2 and netrv agree)"

# Restart on the same archive: repair, new chunk, everything readable.
"$gen" write "$dir/k" 10 3000 0 "$dir/restart.jsonl"
[ -d "$dir/k/chunk-00000002" ] || fail "restart did not start chunk 2"
out=$(/usr/bin/python3 "$src/bt2_check.py" "$dir/k/chunk-00000002" \
	"$dir/restart.jsonl") || fail "chunk 2: $out"
"$gen" check "$dir/k/chunk-00000001" 9 "$flushed" > /dev/null ||
	fail "chunk 1 changed after restart"
babeltrace2 "$dir/k" > /dev/null || fail "babeltrace2 on the restarted archive"
echo "restart: $out"
echo "PASS"
