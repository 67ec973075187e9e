"""kill -9 of the Kafka broker and of the Redis server in the middle of a load, each restarted
with the project's scripts; the exchange resumes by itself and the oracle holds. Then
`ringex rebuild-redis --flush` rebuilds the same candles from `order-events`, and a second
run changes nothing (idempotent).

The broker and Redis are shared with other tests: this test leaves both running. Redis runs
with ``appendfsync everysec`` (scripts/redis.sh): a kill -9 may lose the last second of
writes, and the market-data publisher has already released those events. The test therefore
switches the running server to ``appendfsync always`` first (the setting to use when Redis
must not lose an applied batch; the restart brings back the file's setting), and checks the
rebuild path separately.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from ringex.ring.segment import list_segments
from tests.support.recovery_harness import (OrderLoad, Server, check_kafka_oracle,
                                            check_redis_candles, newest_snapshot_hash,
                                            reference_of_orders, wait_topic_seq)
from tests.recovery.test_process_kills import _setup

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]


def _service_pid(script: str) -> int:
    out = subprocess.run([str(ROOT / "scripts" / script), "status"], capture_output=True,
                         text=True, timeout=60).stdout
    match = re.search(r"pid (\d+)", out)
    assert match, out
    return int(match.group(1))


def _restart(script: str) -> float:
    pid = _service_pid(script)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the load keeps running against a dead service
    started = time.monotonic()
    subprocess.run([str(ROOT / "scripts" / script), "start"], check=True, timeout=240,
                   capture_output=True)
    return time.monotonic() - started


@pytest.mark.timeout(420)
def test_broker_and_redis_kill_9_mid_load(tmp_path, kafka_bootstrap, kafka_topics, redis_url,
                                          redis_prefix):
    topics, prefix, env, settings = _setup(tmp_path, kafka_bootstrap, kafka_topics, redis_url,
                                           redis_prefix)
    registry = settings.registry()
    client = redis.Redis.from_url(redis_url)
    client.config_set("appendfsync", "always")
    client.close()
    server = Server(env, tmp_path, tmp_path / "serve.log")
    load = OrderLoad(kafka_bootstrap, topics["orders"], registry, rate=800, seed=11)
    server.start()
    load.start()
    timings = {}
    try:
        time.sleep(3)
        timings["kafka_restart_s"] = _restart("kafka.sh")
        time.sleep(3)
        client = redis.Redis.from_url(redis_url)
        client.config_set("appendfsync", "always")  # already set; kept explicit
        client.close()
        timings["redis_restart_s"] = _restart("redis.sh")
        time.sleep(3)
        load.finish(timeout=180)
        commands, expected, reference, n_messages = reference_of_orders(
            kafka_bootstrap, topics["orders"], settings)
        assert n_messages == load.sent
        wait_topic_seq(kafka_bootstrap, topics["events"], int(expected["seq"][-1]),
                       timeout=180)
        check_kafka_oracle(kafka_bootstrap, topics, expected, commands, registry)
        check_redis_candles(redis_url, redis_prefix, registry, expected, timeout=180)
    finally:
        load.stop_event.set()
        code = server.stop()
        subprocess.run([str(ROOT / "scripts" / "redis.sh"), "start"], timeout=120)
        subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "start"], timeout=240)
    assert code == 0, server.tail()
    assert not list_segments(prefix)
    state_hash, _meta = newest_snapshot_hash(tmp_path, registry, settings.engine.order_capacity)
    assert state_hash == reference.state_hash()

    rebuild = [sys.executable, "-m", "ringex.cli", "rebuild-redis"]

    def run(*extra):
        done = subprocess.run(rebuild + list(extra), env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = run("--flush")
    assert first["last_seq"] == int(expected["seq"][-1]) and first["seq_gaps"] == 0
    check_redis_candles(redis_url, redis_prefix, registry, expected)
    second = run()
    assert second["applied"] == 0 and second["last_seq"] == first["last_seq"]
    check_redis_candles(redis_url, redis_prefix, registry, expected)
    print(timings)
