#!/usr/bin/env bash
# Configures and builds ragline into ${RAGLINE_BUILD_DIR:-build}. Extra arguments go to CMake's
# configure step (e.g. -DRAGLINE_SANITIZE=address,undefined); RAGLINE_TARGETS names the targets
# to build (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${RAGLINE_BUILD_DIR:-build}
jobs=${RAGLINE_JOBS:-2}
generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f "$build_dir/Makefile" ]; then
  generator=(-G Ninja)
fi
# ccache, when installed, makes rebuilds in several checkouts share compiled objects.
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

cmake -S . -B "$build_dir" "${generator[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE="${RAGLINE_BUILD_TYPE:-RelWithDebInfo}" \
  -DRAGLINE_WARNINGS_AS_ERRORS=ON "$@"
targets=()
for target in ${RAGLINE_TARGETS:-}; do targets+=(--target "$target"); done
cmake --build "$build_dir" -j "$jobs" "${targets[@]}"
