#!/usr/bin/env bash
# Builds Debug trees with sanitizers and runs the tests in them: every suite under
# AddressSanitizer + UndefinedBehaviorSanitizer (memory errors, leaks, undefined behaviour), and
# the suites where threads meet under ThreadSanitizer (data races): kb (ingest's two threads),
# index (concurrent vector searches), ingest and text (per-thread tokenisers), net and models
# (HTTP clients and embedders against a threaded loopback server). retrieve, rerank, generate,
# tools and bench run on one thread and only under ASan.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/fetch-models.sh  # the use-lite and bert parity tests need the models
jobs=${RAGLINE_JOBS:-2}

# FAISS (a static Debian library) and libgomp are not instrumented, and no ragline code runs
# inside FAISS's OpenMP teams (searches already run on the calling thread, and add/train take no
# callbacks), so a team adds nothing the sanitizers can check. It does cost: with ctest -j on
# few cores each team oversubscribes them, and its threads spin at every k-means barrier, which
# made the IVF-PQ tests several times slower (ASan ctest 102 s -> 27 s on 2 cores). For TSan it
# is also a matter of correctness: libgomp's barriers synchronise through futexes and atomics
# TSan cannot see, so every parallel FAISS region (HNSW insertion, k-means) is reported as a
# race between its worker threads and the caller. One OpenMP thread runs each region on the
# calling thread, so every thread TSan sees is one that ragline or a test started, and no
# suppression is needed that could also hide a real race between two of them inside FAISS.
export OMP_NUM_THREADS=1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
RAGLINE_BUILD_DIR=build-asan RAGLINE_BUILD_TYPE=Debug scripts/build.sh -DRAGLINE_SANITIZE=address,undefined
ctest --test-dir build-asan --output-on-failure -j "$jobs"

export TSAN_OPTIONS=halt_on_error=1
RAGLINE_BUILD_DIR=build-tsan RAGLINE_BUILD_TYPE=Debug \
  RAGLINE_TARGETS="ragline_kb_tests ragline_index_tests ragline_ingest_tests ragline_text_tests ragline_net_tests ragline_models_tests" \
  scripts/build.sh -DRAGLINE_SANITIZE=thread
# Left to ASan, being 5-7x slower under TSan for no race they could show: the SIGKILL crash loop
# (its subject is durability; its children run the same two-thread ingest as every other kb
# test), two exhaustive single-threaded sweeps, and the 100 MB single-line ingest (a memory bound
# TSan's shadow memory would swamp; ASan runs it), and the single-threaded parity runs of the
# real bert models over their 119 texts.
ctest --test-dir build-tsan --output-on-failure -j "$jobs" -L '^(kb|index|ingest|text|net|models)$' \
  -E '^(CrashSafety\.|FetchedModels/BertParity\.|TokenSpans\.AsciiFastPathMatchesIcuExhaustively$|ChunkerHierarchical\.ParentsThenContainedChildren$|HostileInput\.HundredMegabyteLine)'
