#!/usr/bin/env bash
# Makes the virtual environment of tools/model-parity/ (default .venv-parity at the repository
# root, git-ignored) with the pinned reference stack of requirements.txt. Idempotent.
#   tools/model-parity/make-venv.sh [VENV_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv=${1:-"$here/../../.venv-parity"}
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" || { echo "make-venv: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -c "import sentence_transformers, torch; print('reference stack ready:', torch.__version__)"
