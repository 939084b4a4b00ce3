#!/usr/bin/env bash
# Install every Debian package netrv needs to build, test and run its demo.
# Each part lists its packages in deploy/deps/PART.list (one per line, '#'
# comments).  Idempotent: installs only what is missing, and updates the
# package lists only when something is.  Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")"

mapfile -t packages < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' deps/*.list | sort -u)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
# The browser tests need npm (for playwright-core); Debian ships it apart
# from nodejs, other nodejs builds include it.
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
