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
# The use-lite and bert parity tests need the models; a missing one fails them (RAGLINE_ALLOW_MISSING_MODELS=1 skips).
scripts/fetch-models.sh
scripts/build.sh
build_dir=${RAGLINE_BUILD_DIR:-build}

# The example is a separate CMake project that only knows the installed package: built once
# against the static library and once against the shared one, which must run with the installed
# libragline.so (found through the executable's RPATH).
install_dir="$PWD/$build_dir/install"
rm -rf "$install_dir" "$build_dir/example" "$build_dir/example-shared"
cmake --install "$build_dir" --prefix "$install_dir" >/dev/null
example_kb=$(mktemp -d)
trap 'rm -rf "$example_kb"' EXIT
for linkage in static shared; do
  if [ "$linkage" = shared ]; then
    example_dir="$build_dir/example-shared" shared=ON
  else
    example_dir="$build_dir/example" shared=OFF
  fi
  cmake -S examples/hello -B "$example_dir" -DCMAKE_PREFIX_PATH="$install_dir" -DCMAKE_BUILD_TYPE=Release \
    -DRAGLINE_HELLO_SHARED=$shared >/dev/null
  cmake --build "$example_dir" -j "${RAGLINE_JOBS:-2}"
  if [ "$linkage" = shared ]; then
    resolved=$(ldd "$example_dir/hello" | awk '$1 == "libragline.so.0" { print $3 }')
    if [ -z "$resolved" ] || [ "$(realpath -m "$resolved")" != "$(realpath "$install_dir/lib/libragline.so.0")" ]; then
      echo "example application (shared): loads '$resolved', not the installed $install_dir/lib/libragline.so.0" >&2
      exit 1
    fi
  fi
  "$example_dir/hello" "$example_kb/kb-$linkage" corpora/handbook/corpus.jsonl "expense reimbursement"
  echo "example application ($linkage): OK"
done

# FAISS trains and builds with OpenMP: idle OpenMP threads that spin while two test processes
# share two cores slow both down several times over.
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} ctest --test-dir "$build_dir" --output-on-failure -j "${RAGLINE_JOBS:-2}"
