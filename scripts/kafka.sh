#!/usr/bin/env bash
# scripts/kafka.sh start|stop|status|restart|logs
#
# A real Apache Kafka 4.x broker for development and tests: one combined KRaft node
# (broker + controller) on loopback, run from Maven Central artifacts (no Docker, no
# download site). See docs/operations.md ("Services for development and tests").
#
# start   collect the broker's classpath with Maven (cached), format the storage on first
#         use, launch the broker in the background and wait (bounded) until it answers.
#         Idempotent: a broker that already answers on KAFKA_PORT is reused (exit 0).
# stop    SIGTERM (controlled shutdown), then SIGKILL after KAFKA_STOP_TIMEOUT seconds.
#         Only stops the broker whose pid file is in KAFKA_VAR_DIR.
# status  exit 0 = answering, 1 = process alive or port open but not answering,
#         3 = not running.
#
# Environment (all optional):
#   KAFKA_HOST             listen/advertise address          127.0.0.1
#   KAFKA_PORT             PLAINTEXT (client) port           9092
#   KAFKA_CONTROLLER_PORT  KRaft controller port             9093
#   RINGEX_CACHE           cache root                        $HOME/.cache/ringex (<repo>/.cache/ringex without HOME)
#   KAFKA_LIBS_DIR         broker classpath (jars)           $RINGEX_CACHE/kafka/libs
#   RINGEX_VAR             runtime root                      <repo>/var
#   KAFKA_VAR_DIR          pid, logs, data, server.properties $RINGEX_VAR/kafka
#   KAFKA_CLUSTER_ID       force a cluster id (a data dir formatted with another id is wiped)
#   KAFKA_READY_TIMEOUT    seconds to wait for readiness      90
#   KAFKA_STOP_TIMEOUT     seconds to wait for a clean stop   30
#   KAFKA_MVN_TIMEOUT      seconds for the Maven download     900
#   KAFKA_HEAP_OPTS        JVM heap flags                     -Xms1g -Xmx1g
#   KAFKA_GC_OPTS          garbage collector flags            -XX:+UseZGC
#   KAFKA_JVM_OPTS         extra JVM flags                    (none)
#   JAVA                   java binary                        java
#   PYTHON                 a python with confluent-kafka for the readiness probe; if unset,
#                          <repo>/.venv/bin/python is tried; else a Java AdminClient probe
#                          (scripts/kafka/KafkaReady.java) is used.
#   KAFKA_PROBE            auto | java (force the Java probe)  auto
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
KAFKA_SRC="$SCRIPT_DIR/kafka"

KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
if [[ -z "${RINGEX_CACHE:-}" ]]; then
    if [[ -n "${HOME:-}" ]]; then RINGEX_CACHE="$HOME/.cache/ringex"; else RINGEX_CACHE="$REPO_DIR/.cache/ringex"; fi
fi
KAFKA_LIBS_DIR="${KAFKA_LIBS_DIR:-$RINGEX_CACHE/kafka/libs}"
RINGEX_VAR="${RINGEX_VAR:-$REPO_DIR/var}"
KAFKA_VAR_DIR="${KAFKA_VAR_DIR:-$RINGEX_VAR/kafka}"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_MVN_TIMEOUT="${KAFKA_MVN_TIMEOUT:-900}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms1g -Xmx1g}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
# ZGC collects concurrently: with G1 (Kafka's default) the broker's young pauses, stretched by
# sharing two cores with every ringex process, reached 50-250 ms in 50K orders/s runs and set
# their p99 (docs/benchmarks.md)
KAFKA_GC_OPTS="${KAFKA_GC_OPTS:--XX:+UseZGC}"
JAVA="${JAVA:-java}"
NODE_ID=1

BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
PID_FILE="$KAFKA_VAR_DIR/kafka.pid"
OUT_FILE="$KAFKA_VAR_DIR/kafka.out"
LOG_DIR="$KAFKA_VAR_DIR/logs"
DATA_DIR="$KAFKA_VAR_DIR/data"
PROPS="$KAFKA_VAR_DIR/server.properties"

LOG_PREFIX="kafka.sh: "
source "$SCRIPT_DIR/lib.sh"

# --- process helpers --------------------------------------------------------------------


# our_pid: prints the pid from the pid file if it is a live broker run with our properties.
our_pid() {
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $PROPS" || return 1
    echo "$pid"
}

# port_open PORT: something accepts TCP connections on KAFKA_HOST:PORT.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$KAFKA_HOST/$1" 2>/dev/null
}

listener_pid() {  # best effort, for messages only
    ss -Hltnp "sport = :$1" 2>/dev/null | sed -nE 's/.*pid=([0-9]+).*/\1/p' | head -n1
}

# --- readiness probe --------------------------------------------------------------------

# probe_python: prints a python that can import confluent_kafka, if any.
probe_python() {
    local py
    [[ "${KAFKA_PROBE:-auto}" != java ]] || return 1
    for py in "${PYTHON:-}" "$REPO_DIR/.venv/bin/python"; do
        [[ -n "$py" ]] || continue
        if "$py" -c 'import confluent_kafka' >/dev/null 2>&1; then
            echo "$py"
            return 0
        fi
    done
    [[ -z "${PYTHON:-}" ]] || log "PYTHON=$PYTHON cannot import confluent_kafka; using the Java probe"
    return 1
}

# wait_ready TIMEOUT [PID]: 0 when the broker answers a metadata request, 1 on timeout,
# 2 when the watched process PID exits first.
wait_ready() {
    local timeout="$1" pid="${2:-0}" py
    if py="$(probe_python)"; then
        "$py" - "$BOOTSTRAP" "$timeout" "$pid" <<'PY'
import os, sys, time
from confluent_kafka.admin import AdminClient

bootstrap, timeout, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])

def alive(p):
    try:
        with open(f"/proc/{p}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False

deadline = time.monotonic() + timeout
admin = AdminClient({
    "bootstrap.servers": bootstrap,
    "socket.connection.setup.timeout.ms": 3000,
    "reconnect.backoff.max.ms": 500,
    "log_level": 0,                       # no librdkafka "Connection refused" noise
    "error_cb": lambda err: None,
})
last = "no answer yet"
while True:
    if pid and not alive(pid):
        print(f"broker process {pid} exited", file=sys.stderr)
        sys.exit(2)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        break
    try:
        md = admin.list_topics(timeout=max(0.5, min(3.0, remaining)))
        if md.brokers:
            print(f"ready: {len(md.brokers)} broker(s) at {bootstrap}")
            sys.exit(0)
        last = "metadata lists no brokers"
    except Exception as exc:  # KafkaException while the broker is not up yet
        last = str(exc)
    time.sleep(0.25)
print(f"not ready after {timeout:g}s: {last}", file=sys.stderr)
sys.exit(1)
PY
    else
        [[ -d "$KAFKA_LIBS_DIR" ]] || ensure_libs
        # Single-file source launch, with the broker's own jars (kafka-clients) on the classpath.
        "$JAVA" -Xmx128m -Dlog4j2.level=error -cp "$KAFKA_LIBS_DIR/*" \
            "$KAFKA_SRC/KafkaReady.java" "$BOOTSTRAP" "$timeout" "$pid"
    fi
}

# --- classpath --------------------------------------------------------------------------

ensure_libs() {
    local key tmp t0
    command -v mvn >/dev/null || die "mvn not found (Maven is needed to fetch the broker's jars)"
    key="$(cat "$KAFKA_SRC/pom.xml" | sha256sum | cut -c1-16)"
    if [[ -f "$KAFKA_LIBS_DIR/.pom-sha256" && "$(cat "$KAFKA_LIBS_DIR/.pom-sha256")" == "$key" ]] &&
        compgen -G "$KAFKA_LIBS_DIR/kafka_2.13-*.jar" >/dev/null; then
        return 0
    fi
    mkdir -p "$(dirname "$KAFKA_LIBS_DIR")"
    # Several checkouts may share the cache: serialize the download.
    exec 8>"$(dirname "$KAFKA_LIBS_DIR")/.libs.lock"
    flock -w "$KAFKA_MVN_TIMEOUT" 8 || die "timed out waiting for another Kafka download"
    if [[ -f "$KAFKA_LIBS_DIR/.pom-sha256" && "$(cat "$KAFKA_LIBS_DIR/.pom-sha256")" == "$key" ]]; then
        exec 8>&-
        return 0
    fi
    t0="$(now_ms)"
    tmp="$KAFKA_LIBS_DIR.tmp.$$"
    rm -rf "$tmp"
    log "collecting the broker classpath with Maven into $KAFKA_LIBS_DIR (first run only)..."
    if ! timeout "$KAFKA_MVN_TIMEOUT" mvn -B -q -f "$KAFKA_SRC/pom.xml" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        >"$tmp.mvn.log" 2>&1; then
        cat "$tmp.mvn.log" >&2
        rm -rf "$tmp" "$tmp.mvn.log"
        die "Maven could not collect the Kafka classpath (see above)"
    fi
    rm -f "$tmp.mvn.log"
    local j
    for j in 'kafka_2.13-*.jar' 'log4j-core-*.jar' 'log4j-slf4j2-impl-*.jar' 'slf4j-api-2.*.jar'; do
        compgen -G "$tmp/$j" >/dev/null || { rm -rf "$tmp"; die "classpath lacks $j: check scripts/kafka/pom.xml"; }
    done
    local api core
    api="$(cd "$tmp" && ls log4j-api-*.jar)"; core="$(cd "$tmp" && ls log4j-core-*.jar)"
    [[ "${api#log4j-api-}" == "${core#log4j-core-}" ]] ||
        log "WARNING: $api and $core differ: set log4j.version in scripts/kafka/pom.xml to the log4j-api version"
    echo "$key" >"$tmp/.pom-sha256"
    rm -rf "$KAFKA_LIBS_DIR"
    mv "$tmp" "$KAFKA_LIBS_DIR"
    exec 8>&-
    log "classpath ready: $(ls "$KAFKA_LIBS_DIR" | grep -c '\.jar$') jars in $(secs_since "$t0")s"
}

# --- configuration and storage ----------------------------------------------------------

write_properties() {
    mkdir -p "$LOG_DIR" "$DATA_DIR"
    cat >"$PROPS.tmp" <<EOF
# Generated by scripts/kafka.sh on every start; edit the script, not this file.
# One combined KRaft node (broker + controller) on loopback, for development and tests.
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$NODE_ID@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR

# One node: every internal topic has one replica, min ISR 1, and few partitions.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true

# Small footprint on a 2-core machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=134217728
EOF
    mv "$PROPS.tmp" "$PROPS"
}

wipe_data() {
    log "wiping $DATA_DIR ($1)"
    rm -rf "$DATA_DIR"
    mkdir -p "$DATA_DIR"
}

ensure_formatted() {
    local meta="$DATA_DIR/meta.properties" existing node cluster_id t0
    if [[ -f "$meta" ]]; then
        existing="$(sed -n 's/^cluster\.id=//p' "$meta")"
        node="$(sed -n 's/^node\.id=//p' "$meta")"
        if [[ "$node" != "$NODE_ID" ]]; then
            wipe_data "it was formatted for node.id=$node"
        elif [[ -n "${KAFKA_CLUSTER_ID:-}" && "$existing" != "$KAFKA_CLUSTER_ID" ]]; then
            wipe_data "it was formatted with cluster id $existing, KAFKA_CLUSTER_ID=$KAFKA_CLUSTER_ID"
        elif [[ -n "$existing" ]]; then
            # Already formatted: reuse its id (a different id would make the broker refuse to start).
            echo "$existing" >"$KAFKA_VAR_DIR/cluster.id"
            return 0
        else
            wipe_data "meta.properties has no cluster.id"
        fi
    elif [[ -n "$(ls -A "$DATA_DIR" 2>/dev/null)" ]]; then
        wipe_data "it holds files but no meta.properties (an interrupted format?)"
    fi
    cluster_id="${KAFKA_CLUSTER_ID:-}"
    if [[ -z "$cluster_id" && -s "$KAFKA_VAR_DIR/cluster.id" ]]; then
        cluster_id="$(cat "$KAFKA_VAR_DIR/cluster.id")"
    fi
    if [[ -z "$cluster_id" ]]; then
        cluster_id="$("$JAVA" -cp "$KAFKA_LIBS_DIR/*" -Dlog4j2.configurationFile="$KAFKA_SRC/log4j2.properties" \
            -Dkafka.logs.dir="$LOG_DIR" kafka.tools.StorageTool random-uuid | tail -n1)"
    fi
    [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "bad cluster id '$cluster_id'"
    echo "$cluster_id" >"$KAFKA_VAR_DIR/cluster.id"
    t0="$(now_ms)"
    # Static controller.quorum.voters: no --standalone here.
    if ! "$JAVA" -Xmx256m -cp "$KAFKA_LIBS_DIR/*" -Dlog4j2.configurationFile="$KAFKA_SRC/log4j2.properties" \
        -Dkafka.logs.dir="$LOG_DIR" kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" \
        --ignore-formatted >"$KAFKA_VAR_DIR/format.log" 2>&1; then
        cat "$KAFKA_VAR_DIR/format.log" >&2
        die "formatting $DATA_DIR failed"
    fi
    log "formatted $DATA_DIR (cluster id $cluster_id) in $(secs_since "$t0")s"
}

# --- commands ---------------------------------------------------------------------------

lock_var() {
    mkdir -p "$KAFKA_VAR_DIR"
    exec 9>"$KAFKA_VAR_DIR/.lock"
    flock -w $((KAFKA_READY_TIMEOUT + KAFKA_STOP_TIMEOUT + 60)) 9 || die "timed out waiting for $KAFKA_VAR_DIR/.lock"
}

show_failure() {
    log "last lines of $OUT_FILE:"
    tail -n 20 "$OUT_FILE" >&2 2>/dev/null || true
    if [[ -f "$LOG_DIR/server.log" ]]; then
        log "errors in $LOG_DIR/server.log:"
        grep -E ' (ERROR|FATAL) ' "$LOG_DIR/server.log" | tail -n 15 >&2 || true
    fi
}

cmd_start() {
    local t0 pid rc
    t0="$(now_ms)"
    lock_var
    if pid="$(our_pid)"; then
        if wait_ready "$KAFKA_READY_TIMEOUT" "$pid" >/dev/null; then
            log "already running (pid $pid), answering at $BOOTSTRAP"
            return 0
        fi
        show_failure
        die "broker pid $pid is running but does not answer at $BOOTSTRAP; try: $0 stop && $0 start"
    fi
    rm -f "$PID_FILE"
    if port_open "$KAFKA_PORT" || port_open "$KAFKA_CONTROLLER_PORT"; then
        if port_open "$KAFKA_PORT" && wait_ready "$KAFKA_READY_TIMEOUT" >/dev/null; then
            log "reusing the broker already answering at $BOOTSTRAP" \
                "(pid $(listener_pid "$KAFKA_PORT"), not started from $KAFKA_VAR_DIR: stop it from its own checkout)"
            return 0
        fi
        die "port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT on $KAFKA_HOST is taken by something that is not" \
            "an answering Kafka broker (pid $(listener_pid "$KAFKA_PORT")$(listener_pid "$KAFKA_CONTROLLER_PORT")); set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
    fi

    command -v "$JAVA" >/dev/null || die "java not found (Java 17+ is needed)"
    ensure_libs
    write_properties
    ensure_formatted

    [[ -f "$OUT_FILE" ]] && mv -f "$OUT_FILE" "$OUT_FILE.1"
    local t1
    t1="$(now_ms)"
    # shellcheck disable=SC2086  # heap/JVM opts are word lists
    # The broker must not inherit the lock descriptors (8, 9): it would hold the locks.
    setsid "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_GC_OPTS -Djava.awt.headless=true $KAFKA_JVM_OPTS \
        -Dkafka.logs.dir="$LOG_DIR" -Dlog4j2.configurationFile="$KAFKA_SRC/log4j2.properties" \
        -cp "$KAFKA_LIBS_DIR/*" kafka.Kafka "$PROPS" >"$OUT_FILE" 2>&1 </dev/null 8>&- 9>&- &
    pid=$!
    echo "$pid" >"$PID_FILE"
    log "started broker pid $pid (log: $LOG_DIR/server.log); waiting up to ${KAFKA_READY_TIMEOUT}s for $BOOTSTRAP..."
    set +e
    wait_ready "$KAFKA_READY_TIMEOUT" "$pid" >/dev/null
    rc=$?
    set -e
    if [[ $rc -ne 0 ]]; then
        show_failure
        if [[ $rc -eq 2 ]]; then
            rm -f "$PID_FILE"
            die "the broker exited during startup"
        fi
        die "the broker did not answer within ${KAFKA_READY_TIMEOUT}s (still running as pid $pid; '$0 stop' to end it)"
    fi
    log "ready at $BOOTSTRAP: broker up in $(secs_since "$t1")s, start total $(secs_since "$t0")s"
}

cmd_stop() {
    local pid
    lock_var
    if ! pid="$(our_pid)"; then
        rm -f "$PID_FILE"
        if port_open "$KAFKA_PORT"; then
            log "no broker started from $KAFKA_VAR_DIR, but pid $(listener_pid "$KAFKA_PORT") listens on" \
                "$KAFKA_HOST:$KAFKA_PORT (started elsewhere; stop it from there)"
        else
            log "not running"
        fi
        return 0
    fi
    log "stopping broker pid $pid (SIGTERM, up to ${KAFKA_STOP_TIMEOUT}s)..."
    stop_pid "$pid" "$KAFKA_STOP_TIMEOUT"
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local pid
    if pid="$(our_pid)"; then
        if wait_ready 5 "$pid" >/dev/null 2>&1; then
            echo "running: pid $pid, answering at $BOOTSTRAP (data $DATA_DIR)"
            return 0
        fi
        echo "running: pid $pid, NOT answering at $BOOTSTRAP (starting, or unhealthy: see $LOG_DIR/server.log)"
        return 1
    fi
    if port_open "$KAFKA_PORT"; then
        if wait_ready 5 >/dev/null 2>&1; then
            echo "running: a broker answers at $BOOTSTRAP (pid $(listener_pid "$KAFKA_PORT"), not started from $KAFKA_VAR_DIR)"
            return 0
        fi
        echo "port $KAFKA_PORT is open but nothing answers as Kafka at $BOOTSTRAP"
        return 1
    fi
    echo "stopped"
    return 3
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop && cmd_start ;;
    status) cmd_status ;;
    logs) tail -n "${2:-100}" "$LOG_DIR/server.log" ;;
    *)
        echo "usage: $0 start|stop|status|restart|logs [N]" >&2
        exit 2
        ;;
esac
