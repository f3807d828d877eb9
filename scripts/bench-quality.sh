#!/usr/bin/env bash
# Retrieval-quality floor: runs rag-bench (BM25) on the Cranfield, MED and CISI collections
# found under the given folder and fails when nDCG@10 or Recall@100 falls below the reference
# Lucene-style BM25 figures (k1 1.2, b 0.75) published with those collections.
#   scripts/bench-quality.sh ../shared/corpora
set -euo pipefail
cd "$(dirname "$0")/.."

corpora=${1:?usage: scripts/bench-quality.sh CORPORA_DIR}
build_dir=${RAGLINE_BUILD_DIR:-build}
rag_bench="$build_dir/bench/rag-bench"
[ -x "$rag_bench" ] || scripts/build.sh >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# dataset  min nDCG@10  min Recall@100
floors=(
  "cranfield 0.3669 0.7345"
  "med 0.6950 0.7937"
  "cisi 0.3122 0.3875"
)

status=0
for floor in "${floors[@]}"; do
  read -r name min_ndcg min_recall <<<"$floor"
  dataset="$corpora/$name"
  if [ ! -d "$dataset" ]; then
    echo "bench-quality: $dataset not found, skipped"
    continue
  fi
  "$rag_bench" --dataset "$dataset" --kb "$work/$name" --json >"$work/$name.out"
  result=$(tail -n 1 "$work/$name.out")
  if python3 - "$name" "$min_ndcg" "$min_recall" "$result" <<'PY'; then :; else status=1; fi
import json, sys
name, min_ndcg, min_recall, line = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
metrics = json.loads(line)["metrics"]
ndcg, recall = metrics["ndcg@10"], metrics["recall@100"]
ok = ndcg >= min_ndcg and recall >= min_recall
print(f"{name:10s} nDCG@10 {ndcg:.4f} (floor {min_ndcg:.4f})  Recall@100 {recall:.4f} (floor {min_recall:.4f})  "
      f"MRR@10 {metrics['mrr@10']:.4f}  {'ok' if ok else 'BELOW FLOOR'}")
sys.exit(0 if ok else 1)
PY
done
exit $status
