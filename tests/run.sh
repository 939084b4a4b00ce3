#!/usr/bin/env bash
# The whole test suite: install dependencies, build (normal, sanitizer and
# fuzz builds), check formatting, run every test with ctest.  Exits non-zero
# on any failure.  This is what CI runs (.ci/run).
#
#   tests/run.sh            everything
#   tests/run.sh --quick    normal build only, no sanitizer or fuzz run
#   tests/run.sh -L unit    only tests with that ctest label (repeatable)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
labels=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	-L) labels+=(-L "$2"); shift ;;
	-h|--help) sed -n '2,9p' "$0"; exit 0 ;;
	*) echo "tests/run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done

jobs=$(nproc)
step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
./deploy/install-deps.sh

step "format check (clang-format)"
mapfile -t sources < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
if [ ${#sources[@]} -gt 0 ]; then
	clang-format --dry-run --Werror "${sources[@]}"
fi

step "build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DNETRV_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

fail=0
step "tests"
(cd build && ctest --output-on-failure -LE fuzz "${labels[@]}") || fail=1

if [ $quick -eq 0 ]; then
	step "sanitizer build (ASan + UBSan)"
	cmake -S . -B build-asan -DNETRV_WERROR=ON -DNETRV_SANITIZE=ON >/dev/null
	cmake --build build-asan -j"$jobs"
	step "tests under ASan + UBSan"
	# vm and browser tests exercise other processes, not our memory;
	# e2e (kill -9, packet loss) tests durability, not memory.
	(cd build-asan && ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -LE 'fuzz|vm|browser|bench|e2e' "${labels[@]}") || fail=1

	step "fuzz build (clang, libFuzzer)"
	CC=clang cmake -S . -B build-fuzz -DNETRV_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j"$jobs"
	step "fuzz targets (bounded time)"
	(cd build-fuzz && ctest --output-on-failure -L fuzz) || fail=1
fi

if [ $fail -ne 0 ]; then
	echo "tests/run.sh: FAILED" >&2
	exit 1
fi
echo "tests/run.sh: all passed"
