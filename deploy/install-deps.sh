#!/usr/bin/env bash
# Install every Debian package netrv needs to build, test and run its demo.
# Idempotent: installs only what is missing, and updates the package lists
# only when something is.  Needs root (or sudo).
set -euo pipefail

packages=(
	# build
	build-essential cmake pkg-config git clang clang-format
	# libraries (see README, "Building blocks")
	libtracefs-dev libtraceevent-dev protobuf-c-compiler libprotobuf-c-dev
	libevent-dev libssl-dev
	# run time and tests: tracing, time, network namespaces, archives
	linuxptp trace-cmd nftables iproute2 openssl procps psmisc
	babeltrace2 python3-bt2 python3
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
