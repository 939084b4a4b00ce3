#!/usr/bin/env bash
# The real babeltrace2 reads what the archive writer wrote: every record
# once, in merged order, with the same field values (python3-bt2), the CLI
# prints the whole trace, and with rotation every chunk reads on its own
# and the chunks together hold everything.
#   test_archive_babeltrace.sh ARCHIVE_GEN NETRV SRCDIR
set -euo pipefail
gen=$1 src=$3
dir=$(mktemp -d /tmp/netrv-test-bt2-$$.XXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# One chunk, 20000 records of 4 nodes.
"$gen" write "$dir/a" 7 20000 0 "$dir/a.jsonl"
out=$(/usr/bin/python3 "$src/bt2_check.py" "$dir/a" "$dir/a.jsonl") ||
	fail "bt2 check: $out"
echo "one chunk: $out"
records=$(echo "$out" | sed -n 's/^\([0-9]*\) records match.*internal \?\([0-9]*\).*/\1/p')
internal=$(echo "$out" | sed -n 's/.*, \([0-9]*\) internal.*/\1/p')
lines=$(babeltrace2 "$dir/a" | wc -l)
[ "$lines" -eq $((records + internal)) ] ||
	fail "babeltrace2 CLI printed $lines lines, want $((records + internal))"

# Rotation by size: several chunks.
"$gen" write "$dir/r" 8 20000 200000 "$dir/r.jsonl"
chunks=$(ls -d "$dir"/r/chunk-* | wc -l)
[ "$chunks" -gt 2 ] || fail "rotation made $chunks chunks"
out=$(/usr/bin/python3 "$src/bt2_check.py" "$dir/r" "$dir/r.jsonl") ||
	fail "bt2 check of the rotated archive: $out"
echo "$chunks chunks: $out"
records=$(echo "$out" | sed -n 's/^\([0-9]*\) records match.*/\1/p')
internal=$(echo "$out" | sed -n 's/.*, \([0-9]*\) internal.*/\1/p')
total=0
for c in "$dir"/r/chunk-*; do
	n=$(babeltrace2 "$c" | wc -l) || fail "babeltrace2 $c"
	[ "$n" -gt 0 ] || fail "$c is empty"
	total=$((total + n))
done
# Each chunk repeats the clock records of its nodes; nothing else repeats.
[ "$total" -ge $((records + internal)) ] ||
	fail "chunks alone hold $total lines, want >= $((records + internal))"
whole=$(babeltrace2 "$dir/r" | grep -vc 'netrv:clock\|netrv:late')
[ "$whole" -eq "$records" ] || fail "whole archive: $whole records, want $records"
echo "PASS"
