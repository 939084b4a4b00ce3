#!/usr/bin/env bash
# The dashboard in Debian's headless Chromium, driven by playwright-core.
#   run-browser.sh ARTIFACT_DIR COLLECTOR LOADGEN NETRV_PKI MODELS_DIR
# The page is served by the real collector fed by the real load generator
# (live_collector.py).
# Installs playwright-core (pinned in package-lock.json) into
# tests/http/node_modules (git-ignored) the first time; uses /usr/bin/chromium,
# never a downloaded browser.  The screenshot lands in ARTIFACT_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x /usr/bin/chromium ]; then
	echo "browser test: /usr/bin/chromium is missing: deploy/install-deps.sh (or apt-get install chromium)" >&2
	exit 1
fi
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
	(cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
artifacts=$1
shift
exec node "$here/browser.mjs" "$artifacts" /usr/bin/python3 "$here/live_collector.py" "$@"
