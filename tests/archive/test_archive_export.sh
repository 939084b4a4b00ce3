#!/usr/bin/env bash
# netrv archive info / export / replay on a generated archive: counts match
# what the generator put in (events, verdicts, losses, lock holds), the
# export is valid JSON with a process per node, a slice per lock hold and an
# instant event per verdict.
#   test_archive_export.sh ARCHIVE_GEN NETRV SRCDIR
set -euo pipefail
gen=$1 netrv=$2 src=$3
dir=$(mktemp -d /tmp/netrv-test-export-$$.XXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$gen" write "$dir/a" 12 20000 300000 "$dir/a.jsonl"
counts=$(tail -n 1 "$dir/a.jsonl")
want() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])['$1'])" "$counts"; }

"$netrv" archive info "$dir/a" > "$dir/info.txt"
cat "$dir/info.txt"
grep -qx "events: $(want events)" "$dir/info.txt" || fail "info: events"
grep -qx "verdicts: $(want verdicts)" "$dir/info.txt" || fail "info: verdicts"
grep -qx "loss_reports: $(want losses)" "$dir/info.txt" || fail "info: losses"
[ "$(grep -c '^node: ' "$dir/info.txt")" -eq 4 ] || fail "info: nodes"
"$netrv" archive info "$dir/nonexistent" 2> /dev/null && fail "info of nothing succeeded"

"$netrv" export --format chrome-json "$dir/a" > "$dir/out.json"
/usr/bin/python3 "$src/chrome_check.py" "$dir/out.json" "$(want holds)" \
	"$(want verdicts)" 4 || fail "export check"
"$netrv" export --format nonsense "$dir/a" > /dev/null 2>&1 && fail "bad format accepted"

n=$("$netrv" replay --no-lock-engine "$dir/a" | grep -c '"source":"archive"')
[ "$n" -eq "$(want verdicts)" ] || fail "replay printed $n archived verdicts"
# The generator's verdicts are made up, not what the lock engine finds in
# its events: --compare must notice the difference.
set +e
"$netrv" replay --compare "$dir/a" > /dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 3 ] || fail "replay --compare exit $rc, want 3 (differs)"
"$netrv" replay --model x.dot "$dir/a" > /dev/null 2>&1 && fail "replay accepted a model it cannot load"
echo "PASS"
