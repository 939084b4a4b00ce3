#!/usr/bin/env bash
# The exported Chrome JSON loads in headless Chromium's JSON parser (the
# one chrome://tracing and Perfetto's legacy importer use: JSON.parse) with
# the expected counts of slices and verdict instant events.
#   test_archive_chromium.sh ARCHIVE_GEN NETRV SRCDIR
set -euo pipefail
gen=$1 netrv=$2
command -v chromium > /dev/null || { echo "chromium is not installed (deploy/deps/archive.list)" >&2; exit 1; }
dir=$(mktemp -d /tmp/netrv-test-chromium-$$.XXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$gen" write "$dir/a" 13 20000 0 "$dir/a.jsonl"
counts=$(tail -n 1 "$dir/a.jsonl")
want() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])['$1'])" "$counts"; }
"$netrv" export --format chrome-json "$dir/a" > "$dir/out.json"

# The exporter escapes <, > and &, so the JSON can sit in a script block.
{
	echo '<!DOCTYPE html><html><body><script id="trace" type="application/json">'
	cat "$dir/out.json"
	echo '</script><script>'
	cat <<'JS'
let r;
try {
	const d = JSON.parse(document.getElementById("trace").textContent);
	const ev = d.traceEvents;
	const x = ev.filter(e => e.ph === "X").length;
	const v = ev.filter(e => e.ph === "i" && e.cat === "verdict").length;
	const p = ev.filter(e => e.ph === "M" && e.name === "process_name").length;
	r = "RESULT slices=" + x + " verdicts=" + v + " processes=" + p;
} catch (e) {
	r = "RESULT error=" + e;
}
document.body.textContent = r;
JS
	echo '</script></body></html>'
} > "$dir/page.html"

out=$(timeout 120 chromium --headless --no-sandbox --disable-gpu \
	--disable-background-networking --disable-component-update \
	--disable-sync --no-first-run --user-data-dir="$dir/profile" \
	--dump-dom "file://$dir/page.html" 2> "$dir/chromium.log") ||
	{ cat "$dir/chromium.log" >&2; fail "chromium failed"; }
result=$(echo "$out" | grep -o 'RESULT [^<]*') || fail "no result in: $out"
echo "chromium: $result"
want_result="RESULT slices=$(want holds) verdicts=$(want verdicts) processes=5"
[ "$result" = "$want_result" ] || fail "want $want_result"
echo "PASS"
