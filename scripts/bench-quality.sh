#!/usr/bin/env bash
# Retrieval-quality floor: runs rag-bench on the Cranfield, MED and CISI collections found under
# the given folder, in bm25, dense and hybrid mode on one KB per collection, and fails when BM25's
# nDCG@10 or Recall@100 falls below the reference Lucene-style BM25 figures (k1 1.2, b 0.75)
# published with those collections, or when hybrid (default fusion) is below BM25 on either.
#   scripts/bench-quality.sh ../shared/corpora
set -euo pipefail
cd "$(dirname "$0")/.."

corpora=${1:?usage: scripts/bench-quality.sh CORPORA_DIR}
build_dir=${RAGLINE_BUILD_DIR:-build}
rag_bench="$build_dir/bench/rag-bench"
[ -x "$rag_bench" ] || scripts/build.sh >/dev/null

export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
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
  for mode in bm25 dense hybrid; do
    "$rag_bench" --dataset "$dataset" --kb "$work/$name" --mode "$mode" --json >"$work/$name-$mode.out"
  done
  if python3 - "$name" "$min_ndcg" "$min_recall" "$work/$name" <<'PY'; then :; else status=1; fi
import json, sys
name, min_ndcg, min_recall, prefix = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
def metrics(mode):
    with open(f"{prefix}-{mode}.out") as out:
        return json.loads(out.read().strip().splitlines()[-1])["metrics"]
bm25, dense, hybrid = metrics("bm25"), metrics("dense"), metrics("hybrid")
ok = bm25["ndcg@10"] >= min_ndcg and bm25["recall@100"] >= min_recall
# Hybrid may not lose to BM25 beyond float noise on either headline figure.
hybrid_ok = hybrid["ndcg@10"] >= bm25["ndcg@10"] - 1e-9 and hybrid["recall@100"] >= bm25["recall@100"] - 1e-9
for mode, m in (("bm25", bm25), ("dense", dense), ("hybrid", hybrid)):
    print(f"{name:10s} {mode:6s} nDCG@10 {m['ndcg@10']:.4f}  Recall@100 {m['recall@100']:.4f}  MRR@10 {m['mrr@10']:.4f}")
print(f"{name:10s} floors nDCG@10 {min_ndcg:.4f} Recall@100 {min_recall:.4f}: {'ok' if ok else 'BM25 BELOW FLOOR'}; "
      f"hybrid vs bm25: {'ok' if hybrid_ok else 'HYBRID BELOW BM25'}")
sys.exit(0 if ok and hybrid_ok else 1)
PY
done
exit $status
