#!/usr/bin/env bash
# Creates the Python environment of the embedding benchmark's peers (ONNX Runtime, torch,
# sentence-transformers) with the versions pinned in requirements.txt, from PyPI.
#   bench/peers/setup-venv.sh [VENV_DIR]     (default: .venv-bench-peers in the repository root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-$here/../../.venv-bench-peers}
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -r "$here/requirements.txt"
echo "peers' environment ready: $venv/bin/python"
