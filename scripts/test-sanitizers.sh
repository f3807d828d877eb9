#!/usr/bin/env bash
# Builds Debug trees with sanitizers and runs the tests in them: every suite under
# AddressSanitizer + UndefinedBehaviorSanitizer (memory errors, leaks, undefined behaviour), and
# the core suite, where ingest runs its two threads, under ThreadSanitizer (data races).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
jobs=${RAGLINE_JOBS:-2}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
RAGLINE_BUILD_DIR=build-asan RAGLINE_BUILD_TYPE=Debug scripts/build.sh -DRAGLINE_SANITIZE=address,undefined
ctest --test-dir build-asan --output-on-failure -j "$jobs"

export TSAN_OPTIONS=halt_on_error=1
RAGLINE_BUILD_DIR=build-tsan RAGLINE_BUILD_TYPE=Debug RAGLINE_TARGETS=ragline_core_tests \
  scripts/build.sh -DRAGLINE_SANITIZE=thread
ctest --test-dir build-tsan --output-on-failure -j "$jobs" -L core
