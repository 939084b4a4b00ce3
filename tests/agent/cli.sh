#!/usr/bin/env bash
# The agent's command line: --help, --print-example, --check-config, errors
# that name FILE:LINE, overrides on the command line.  Needs no root.
set -euo pipefail
: "${AGENT:?}"
T=$(mktemp -d /tmp/netrv-agent-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$AGENT" --help >"$T/help"
for k in drain_interval buffer_size trace_clock scope uds_address max_size \
	backoff_max fetchargs '\[uprobe NAME\]' '\[marker NAME\]'; do
	grep -q "$k" "$T/help" || fail "--help does not mention $k"
done

"$AGENT" --print-example >"$T/example.conf"
"$AGENT" -c "$T/example.conf" --check-config >"$T/out" ||
	fail "the printed example does not pass --check-config"
grep -q 'configuration OK' "$T/out" || fail "no OK from --check-config"

cat >"$T/bad.conf" <<'CFG'
[agent]
node = n1

drain_interval = 5 parsecs
CFG
if "$AGENT" -c "$T/bad.conf" --check-config 2>"$T/err"; then
	fail "bad duration accepted"
fi
grep -q "bad.conf:4: .*drain_interval" "$T/err" || fail "no file:line: $(cat "$T/err")"

printf '[agent]\nbogus = 1\n' >"$T/bad2.conf"
"$AGENT" -c "$T/bad2.conf" --check-config 2>"$T/err" && fail "unknown key accepted"
grep -q "bad2.conf:2: .*bogus" "$T/err" || fail "unknown key error: $(cat "$T/err")"

printf '[collector]\nport = 70000\n' >"$T/bad3.conf"
"$AGENT" -c "$T/bad3.conf" --check-config 2>"$T/err" && fail "out of range accepted"
grep -q "bad3.conf:2: .*port" "$T/err" || fail "range error: $(cat "$T/err")"

# overrides beat the file, and are checked the same way
"$AGENT" -c "$T/bad.conf" agent.drain_interval=2ms --check-config >/dev/null 2>&1 &&
	fail "the file's error must still count" || true
printf '[agent]\nscope = host\n' >"$T/ok.conf"
"$AGENT" -c "$T/ok.conf" -o agent.scope=pids --check-config 2>"$T/err" &&
	fail "scope=pids without pids accepted"
grep -q "pids" "$T/err" || fail "scope=pids error: $(cat "$T/err")"
"$AGENT" -c "$T/ok.conf" agent.scope=pids agent.pids=1 --check-config >/dev/null ||
	fail "override agent.pids not applied"
"$AGENT" -c "$T/ok.conf" agent.nosuch=1 --check-config 2>"$T/err" && fail "bad override accepted"
grep -q nosuch "$T/err" || fail "override error: $(cat "$T/err")"
"$AGENT" 'uprobe:lk.binary=/bin/true' 'uprobe:lk.symbol=main' --check-config >/dev/null ||
	fail "multi-section override rejected"
"$AGENT" --no-such-option 2>/dev/null && fail "unknown option accepted"
[ $? -eq 2 ] || true
echo "cli: ok"
