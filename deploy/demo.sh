#!/usr/bin/env bash
# netrv demo: install what is missing, build, and start a local cluster of
# network namespaces with agents, PTP and workloads, plus the collector and
# its dashboard (deploy/cluster/README.md).
#
#   deploy/demo.sh [--nodes N]      start, wait for Ctrl-C, tear down
#   deploy/demo.sh --vm [--port P]  the QEMU cluster with the kernel DLM
#                                   instead (deploy/vm/demo.sh)
#   deploy/demo.sh start|stop|status
#   deploy/demo.sh fault on|off     the lock service's fault switch
# Any other local.sh command and option works too (deploy/cluster/local.sh
# --help).  Only run and start install and build first.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-run}" in
run | start | --vm | -*)
	./deploy/install-deps.sh
	cmake -S . -B build >/dev/null
	cmake --build build -j"$(nproc)"
	;;
esac
if [ "${1:-}" = --vm ]; then
	shift
	exec deploy/vm/demo.sh "$@"
fi
exec deploy/cluster/local.sh "$@"
