#!/usr/bin/env bash
# Chooses the default hybrid fusion from the judgments: runs `rag-bench --sweep` (every fusion
# method over a grid, from one pair of candidate lists per query) on the Cranfield, MED and CISI
# collections under the given folder, then prints the settings that lose to BM25 on neither
# nDCG@10 nor Recall@100 on any collection, best mean gain first. Extra arguments go to rag-bench
# (e.g. --embedder, --dimension for a KB the sweep creates).
#   scripts/fusion-sweep.sh ../shared/corpora
set -euo pipefail
cd "$(dirname "$0")/.."

corpora=${1:?usage: scripts/fusion-sweep.sh CORPORA_DIR [rag-bench options]}
shift
build_dir=${RAGLINE_BUILD_DIR:-build}
rag_bench="$build_dir/bench/rag-bench"
[ -x "$rag_bench" ] || RAGLINE_TARGETS=rag-bench scripts/build.sh >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
names=()
for name in cranfield med cisi; do
  [ -d "$corpora/$name" ] || { echo "fusion-sweep: $corpora/$name not found, skipped"; continue; }
  "$rag_bench" --dataset "$corpora/$name" --kb "$work/kb-$name" --sweep --sweep-json "$work/$name.json" "$@" \
    | grep -E "^(bm25|dense) alone|^best on"
  names+=("$name")
done

python3 - "$work" "${names[@]}" <<'PY'
import json, sys
work, names = sys.argv[1], sys.argv[2:]
def key(g):
    m = g["method"]
    if m == "rrf":
        return f"rrf k={g['rrf_k']:g} dense_weight={g['dense_weight']:g} candidates={g['candidates']}"
    if m == "weighted":
        return f"weighted {g['normalization']} alpha={g['alpha']:g} candidates={g['candidates']}"
    return f"dbsf alpha={g['alpha']:g} candidates={g['candidates']}"
gains = {}
for name in names:
    data = json.load(open(f"{work}/{name}.json"))
    for g in data["grid"]:
        gains.setdefault(key(g), {})[name] = (g["metrics"]["ndcg@10"] - data["bm25"]["ndcg@10"],
                                              g["metrics"]["recall@100"] - data["bm25"]["recall@100"])
safe = [(k, v) for k, v in gains.items()
        if len(v) == len(names) and all(n >= -1e-9 and r >= -1e-9 for n, r in v.values())]
safe.sort(key=lambda kv: -sum(n + r for n, r in kv[1].values()))
print(f"{len(safe)} of {len(gains)} settings lose to BM25 on no collection (nDCG@10 and Recall@100):")
for k, v in safe[:10]:
    print(f"  {k:48s} " + "  ".join(f"{n} {d[0]:+.4f}/{d[1]:+.4f}" for n, d in v.items()))
best = max(gains.items(), key=lambda kv: sum(n for n, _ in kv[1].values()))
print(f"best mean nDCG@10 regardless of losses: {best[0]} " +
      "  ".join(f"{n} {d[0]:+.4f}/{d[1]:+.4f}" for n, d in best[1].items()))
PY
