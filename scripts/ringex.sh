#!/usr/bin/env bash
# scripts/ringex.sh [ringex arguments...] — run the `ringex` command from a fresh clone.
#
# Creates .venv and installs ringex with every extra on first use (as scripts/test.sh does),
# then runs `ringex` with the given arguments (default: `serve`, the embedded exchange).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON311="${PYTHON311:-python3.11}"
VENV="${RINGEX_VENV:-$REPO_DIR/.venv}"
LOG_PREFIX="==> ringex.sh: "
source "$REPO_DIR/scripts/lib.sh"

source "$REPO_DIR/scripts/venv.sh"
cd "$REPO_DIR"
if [[ $# -eq 0 ]]; then
    set -- serve
fi
exec "$VENV/bin/ringex" "$@"
