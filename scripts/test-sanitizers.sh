#!/usr/bin/env bash
# Builds a Debug tree with AddressSanitizer and UndefinedBehaviorSanitizer and runs every test in
# it: memory errors, leaks and undefined behaviour fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
export RAGLINE_BUILD_DIR=${RAGLINE_SANITIZER_BUILD_DIR:-build-sanitize}
RAGLINE_BUILD_TYPE=Debug scripts/build.sh -DRAGLINE_SANITIZE=address,undefined

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$RAGLINE_BUILD_DIR" --output-on-failure -j "${RAGLINE_JOBS:-2}"
