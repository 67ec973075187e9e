# Sourced by the project's scripts: logging, timing and process helpers shared by all of them.
# The sourcing script sets LOG_PREFIX (e.g. "kafka.sh: ") before calling log.

log() { printf '%s%s\n' "${LOG_PREFIX:-}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now_ms() { date +%s%3N; }
secs_since() { local d=$(( $(now_ms) - $1 )); printf '%d.%01d' $((d / 1000)) $(((d % 1000) / 100)); }

# alive PID: the process exists and is not a zombie.
alive() {
    local pid="$1" state
    [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
    state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null)" || return 1
    [[ "$state" != "Z" && "$state" != "X" ]]
}

# stop_pid PID TIMEOUT_S: SIGTERM, wait up to TIMEOUT_S, then SIGKILL; dies if it survives.
stop_pid() {
    local pid="$1" timeout="$2" deadline
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(($(date +%s) + timeout))
    while alive "$pid" && (($(date +%s) < deadline)); do sleep 0.1; done
    if alive "$pid"; then
        log "still alive after ${timeout}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$(($(date +%s) + 10))
        while alive "$pid" && (($(date +%s) < deadline)); do sleep 0.1; done
        alive "$pid" && die "pid $pid survived SIGKILL"
    fi
    return 0
}
