#!/usr/bin/env bash
# scripts/test.sh [PYTEST ARGS...] — the project's test command (CI's .ci/run calls it).
#
#  1. creates .venv with python3.11 if it is missing (or broken);
#  2. pip install -e '.[all]' (skipped when pyproject.toml is unchanged since the last install);
#  3. starts Redis and Kafka with scripts/redis.sh and scripts/kafka.sh (reused if running);
#  4. runs pytest on tests/ with any extra arguments;
#  5. fails when pytest fails AND when no test ran (pytest exit 5, or everything skipped).
#
# The services are left running for the next run; stop them with
#   scripts/kafka.sh stop; scripts/redis.sh stop
# or set RINGEX_STOP_SERVICES=1 to stop the ones this run started.
#
# Environment: PYTHON311 (interpreter for the venv, default python3.11), RINGEX_VENV
# (default <repo>/.venv), RINGEX_VAR (runtime root, default <repo>/var), plus every variable
# of scripts/kafka.sh and scripts/redis.sh (ports, dirs, timeouts).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"

PYTHON311="${PYTHON311:-python3.11}"
VENV="${RINGEX_VENV:-$REPO_DIR/.venv}"
export RINGEX_VAR="${RINGEX_VAR:-$REPO_DIR/var}"
RESULTS_DIR="$RINGEX_VAR/test-results"

LOG_PREFIX="==> test.sh: "
source "$REPO_DIR/scripts/lib.sh"
T0="$(now_ms)"

# --- 1-2. environment -----------------------------------------------------------------------
source "$REPO_DIR/scripts/venv.sh"

# --- 3. services ----------------------------------------------------------------------------
kafka_pid_before="$(cat "${KAFKA_VAR_DIR:-$RINGEX_VAR/kafka}/kafka.pid" 2>/dev/null || true)"
redis_pid_before="$(cat "${REDIS_VAR_DIR:-$RINGEX_VAR/redis}/redis.pid" 2>/dev/null || true)"
log "starting Redis and Kafka"
t="$(now_ms)"
scripts/redis.sh start
PYTHON="$PY" scripts/kafka.sh start
log "services ready in $(secs_since "$t")s"

stop_services() {
    [[ "${RINGEX_STOP_SERVICES:-0}" == 1 ]] || return 0
    local k r
    k="$(cat "${KAFKA_VAR_DIR:-$RINGEX_VAR/kafka}/kafka.pid" 2>/dev/null || true)"
    r="$(cat "${REDIS_VAR_DIR:-$RINGEX_VAR/redis}/redis.pid" 2>/dev/null || true)"
    [[ -z "$k" || "$k" == "$kafka_pid_before" ]] || scripts/kafka.sh stop || true
    [[ -z "$r" || "$r" == "$redis_pid_before" ]] || scripts/redis.sh stop || true
}
trap stop_services EXIT

# The fixtures in tests/support/services.py read these.
export RINGEX_KAFKA_BOOTSTRAP="${KAFKA_HOST:-127.0.0.1}:${KAFKA_PORT:-9092}"
export RINGEX_REDIS_URL="redis://${REDIS_HOST:-127.0.0.1}:${REDIS_PORT:-6379}/0"

# A cold numba cache (a fresh clone) costs about a minute of compiling; pay it once here
# rather than inside the first timed test that touches a kernel (ringex/warmup.py).
log "warming the compiled kernels: $("$PY" -m ringex.warmup --pipeline)"

# --- 4. pytest ------------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
JUNIT="$RESULTS_DIR/junit.xml"
rm -f "$JUNIT"
# No path given: pytest runs pyproject's testpaths (= tests/). Extra args pass through.
log "pytest $*"
set +e
"$PY" -m pytest --junitxml="$JUNIT" "$@"
rc=$?
set -e

# --- 5. verdict -----------------------------------------------------------------------------
if [[ $rc -eq 5 ]]; then
    echo "test.sh: FAILED: pytest collected no tests (exit 5)" >&2
    exit 1
fi
if [[ $rc -ne 0 ]]; then
    echo "test.sh: FAILED: pytest exit code $rc (after $(secs_since "$T0")s)" >&2
    exit "$rc"
fi
if [[ -f "$JUNIT" ]]; then
    ran="$("$PY" - "$JUNIT" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
print(sum(int(s.get("tests", 0)) - int(s.get("skipped", 0)) for s in suites))
PY
)"
    if [[ "$ran" -le 0 ]]; then
        echo "test.sh: FAILED: no test ran (all collected tests were skipped or deselected)" >&2
        exit 1
    fi
fi
echo "test.sh: OK ($(secs_since "$T0")s)" >&2
