#!/usr/bin/env bash
# The quick start: installs dependencies, builds, ingests the sample corpus into a fresh KB and
# answers a query, then prints the grounded prompt for it. Pass your own question as the first argument.
set -euo pipefail
cd "$(dirname "$0")/.."

question=${1:-"How do I get reimbursed for a taxi on a business trip?"}

scripts/install-deps.sh
scripts/fetch-models.sh  # use-lite and all-MiniLM-L6-v2, the local semantic embedders (models/, not committed)
build_dir=${RAGLINE_BUILD_DIR:-build}
mkdir -p "$build_dir"
echo "== building rag-query (log: $build_dir/demo-build.log)"
if ! RAGLINE_TARGETS=rag-query scripts/build.sh >"$build_dir/demo-build.log" 2>&1; then
  tail -n 40 "$build_dir/demo-build.log"
  echo "demo: the build failed; the whole log is in $build_dir/demo-build.log" >&2
  exit 1
fi
rag_query="$build_dir/tools/rag-query"

kb="$build_dir/demo-kb"
rm -rf "$kb"
echo "== ingesting corpora/handbook/corpus.jsonl into $kb"
"$rag_query" ingest corpora/handbook/corpus.jsonl --kb "$kb"
echo
"$rag_query" stats --kb "$kb"
echo
echo "== hybrid query (BM25 + lexical vectors, fused): $question"
"$rag_query" query "$question" --kb "$kb" -k 3 --explain
echo
echo "== the same, only English policies owned by Finance (a metadata filter, applied before ranking)"
"$rag_query" query "$question" --kb "$kb" -k 3 \
  --filter '{"andAll":[{"equals":{"key":"owner","value":"Finance"}},{"equals":{"key":"language","value":"en"}}]}'
echo
semantic_kb="$build_dir/demo-kb-minilm"
rm -rf "$semantic_kb"
echo "== semantic: the same corpus embedded in process by all-MiniLM-L6-v2 (int8 path), hybrid with its own fusion"
"$rag_query" ingest corpora/handbook/corpus.jsonl --kb "$semantic_kb" --embedder bert --embed-model all-MiniLM-L6-v2 \
  --precision int8
"$rag_query" query "$question" --kb "$semantic_kb" -k 3 --explain
echo
echo "== the grounded prompt a model would get: top passages within the budget, cited [n], with a sources list"
"$rag_query" prompt "$question" --kb "$kb" -k 3 --context-window 4096 --answer-reserve 1024 --expand sentences
