# Sourced by scripts/test.sh and scripts/ringex.sh: make sure $VENV exists and has ringex
# installed with every extra. Needs: REPO_DIR, VENV, PYTHON311, and log/now_ms/secs_since.
# Sets PY. The install is skipped while pyproject.toml is unchanged since the last one.
if ! "$VENV/bin/python" -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1; then
    command -v "$PYTHON311" >/dev/null || { echo "ringex: $PYTHON311 not found" >&2; exit 1; }
    log "creating $VENV with $PYTHON311"
    rm -rf "$VENV"
    "$PYTHON311" -m venv "$VENV"
fi
PY="$VENV/bin/python"

STAMP="$VENV/.ringex-install-stamp"
want_stamp="$(sha256sum "$REPO_DIR/pyproject.toml" | cut -c1-16)"
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$want_stamp" ]] || ! "$PY" -c 'import ringex, pytest' >/dev/null 2>&1; then
    log "pip install -e '.[all]'"
    t="$(now_ms)"
    (cd "$REPO_DIR" && "$PY" -m pip install -q --disable-pip-version-check -e '.[all]')
    echo "$want_stamp" >"$STAMP"
    log "installed in $(secs_since "$t")s"
fi
