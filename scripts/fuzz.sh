#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into ${RAGLINE_FUZZ_BUILD_DIR:-build-fuzz} and
# runs each for a bounded time: scripts/fuzz.sh [seconds per target, default 30] [target ...].
# Each run starts from a fresh copy of its committed seeds (fuzz/corpus/<target>/), so the
# committed corpus never changes behind git's back. Any finding fails the script: a crash, a
# sanitizer report (ASan, UBSan, LeakSanitizer), an input that takes over 10 s, or more than
# 2 GB of RSS. The input that caused it is kept in <build dir>/fuzz-artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
build_dir=${RAGLINE_FUZZ_BUILD_DIR:-build-fuzz}

scripts/install-deps.sh
RAGLINE_BUILD_DIR="$build_dir" RAGLINE_BUILD_TYPE=RelWithDebInfo RAGLINE_TARGETS=fuzzers scripts/build.sh \
  -DCMAKE_CXX_COMPILER=clang++ -DRAGLINE_BUILD_FUZZERS=ON \
  -DRAGLINE_BUILD_TESTS=OFF -DRAGLINE_BUILD_BENCH=OFF -DRAGLINE_BUILD_TOOLS=OFF

# Every target CMake built (fuzz/CMakeLists.txt), unless some are named.
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for binary in "$build_dir"/fuzz/fuzz_*; do
    if [ -x "$binary" ]; then targets+=("${binary##*/fuzz_}"); fi
  done
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0"
if command -v llvm-symbolizer-14 >/dev/null 2>&1; then export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer-14); fi
export OMP_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
summary=()
for target in "${targets[@]}"; do
  binary="$build_dir/fuzz/fuzz_$target"
  if [ ! -x "$binary" ]; then
    echo "fuzz: no binary for target $target ($binary)" >&2
    failed+=("$target")
    continue
  fi
  mkdir -p "$work/$target"
  if [ -d "fuzz/corpus/$target" ]; then cp -r "fuzz/corpus/$target/." "$work/$target/"; fi
  artifacts="$build_dir/fuzz-artifacts/$target"
  mkdir -p "$artifacts"
  log="$work/$target.log"
  echo "fuzz: $target for ${seconds}s"
  # fuzz/<target>.options: extra libFuzzer flags for one target (fuzz/README.md says why).
  extra=()
  if [ -f "fuzz/$target.options" ]; then read -r -a extra <"fuzz/$target.options"; fi
  status=0
  TMPDIR="$work" "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${extra[@]}" "$work/$target" >"$log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ -z "$executions" ]; then  # fork mode prints no final stats: its last status line has the total
    executions=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  fi
  if [ "$status" -ne 0 ]; then
    tail -60 "$log" >&2
    failed+=("$target")
    summary+=("$target: FAILED (exit $status; input kept in $artifacts)")
  else
    summary+=("$target: ${executions:-?} executions in ${seconds}s, corpus $(ls "$work/$target" | wc -l) inputs")
  fi
done

printf 'fuzz: %s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
