#!/usr/bin/env bash
# golden.sh - black-box tests of netrv-model against tests/golden.
#
#   golden.sh NETRV_MODEL SPECS_DIR GOLDEN_DIR
#
# For every SPECS_DIR/NAME.dot, each of these golden files that exists is a
# check, and at least one must exist:
#   NAME.h      "compile" exits 0 and writes exactly this header
#   NAME.err    "compile" exits 1, prints exactly this on stderr and writes
#               no output file
#   NAME.check  "check" exits 0 and prints exactly this on stdout ...
#   NAME.warn   ... and this on stderr (empty file: nothing)
# Commands run inside SPECS_DIR with bare file names, so the FILE:LINE in
# messages is stable.
set -u
tool=$(realpath "$1")
specs=$(realpath "$2")
golden=$(realpath "$3")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netrv-golden.$$.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
cd "$specs" || exit 1

bad() {
	echo "FAIL $*" >&2
	fail=$((fail + 1))
}

for dot in *.dot; do
	name=${dot%.dot}
	checks=0
	if [ -f "$golden/$name.h" ]; then
		checks=$((checks + 1))
		if ! "$tool" compile "$dot" -o "$tmp/$name.h" 2>"$tmp/err"; then
			bad "$name: compile failed: $(cat "$tmp/err")"
		elif ! diff -u "$golden/$name.h" "$tmp/$name.h" >&2; then
			bad "$name: header differs from $name.h"
		else
			pass=$((pass + 1))
		fi
	fi
	if [ -f "$golden/$name.err" ]; then
		checks=$((checks + 1))
		"$tool" compile "$dot" -o "$tmp/$name.out.h" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 1 ]; then
			bad "$name: exit status $rc, expected 1"
		elif [ -e "$tmp/$name.out.h" ]; then
			bad "$name: an output file was written for invalid input"
		elif ! diff -u "$golden/$name.err" "$tmp/err" >&2; then
			bad "$name: error text differs from $name.err"
		else
			pass=$((pass + 1))
		fi
	fi
	if [ -f "$golden/$name.check" ]; then
		checks=$((checks + 1))
		"$tool" check "$dot" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 0 ]; then
			bad "$name: check exit status $rc, expected 0"
		elif ! diff -u "$golden/$name.check" "$tmp/out" >&2; then
			bad "$name: check output differs from $name.check"
		elif ! diff -u "$golden/$name.warn" "$tmp/err" >&2; then
			bad "$name: check warnings differ from $name.warn"
		else
			pass=$((pass + 1))
		fi
	fi
	[ $checks -gt 0 ] || bad "$name: no golden file for $dot"
done
echo "golden: $pass passed, $fail failed"
[ $fail -eq 0 ]
