#!/usr/bin/env bash
# Installs what is missing, builds mapigate with AddressSanitizer + UndefinedBehaviorSanitizer
# and runs every test (unit, integration over loopback sockets, fuzz drivers).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build=${MAPIGATE_TEST_BUILD_DIR:-build-asan}
jobs=${MAPIGATE_JOBS:-$(nproc)}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DMAPIGATE_SANITIZE=ON -DMAPIGATE_TESTS=ON >/dev/null
cmake --build "$build" -j "$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 300
