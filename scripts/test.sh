#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, builds and runs the example
# application against the installed package, then runs every test through ctest.
# `scripts/test.sh --sanitize` runs the suites under the sanitizers instead
# (scripts/test-sanitizers.sh: ASan+UBSan for every suite, TSan for the threaded ones).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--sanitize" ]; then
  exec scripts/test-sanitizers.sh
fi

scripts/install-deps.sh
# The use-lite tests need the model; a missing one fails them (RAGLINE_ALLOW_MISSING_MODELS=1 skips).
scripts/fetch-models.sh
scripts/build.sh
build_dir=${RAGLINE_BUILD_DIR:-build}

# The example is a separate CMake project that only knows the installed package.
install_dir="$PWD/$build_dir/install"
rm -rf "$install_dir" "$build_dir/example"
cmake --install "$build_dir" --prefix "$install_dir" >/dev/null
cmake -S examples/hello -B "$build_dir/example" -DCMAKE_PREFIX_PATH="$install_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir/example" -j "${RAGLINE_JOBS:-2}"
example_kb=$(mktemp -d)
trap 'rm -rf "$example_kb"' EXIT
"$build_dir/example/hello" "$example_kb/kb" corpora/handbook/corpus.jsonl "expense reimbursement"
echo "example application: OK"

# FAISS trains and builds with OpenMP: idle OpenMP threads that spin while two test processes
# share two cores slow both down several times over.
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} ctest --test-dir "$build_dir" --output-on-failure -j "${RAGLINE_JOBS:-2}"
