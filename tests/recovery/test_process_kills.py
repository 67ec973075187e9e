"""kill -9 of every process type of `ringex serve` (distributed) while orders stream in, then
the oracle of issue 5 (``recovery_harness``):

- `order-events` and `trades` equal, event for event, what the reference matcher produces from
  the `orders` topic; no seq is duplicated or missing; every command has its outcome;
- Redis candles equal the plain-Python fold of the trades;
- the engine's final state hash equals the reference's (an uninterrupted run).

``KILLS_PER_ROLE`` kills of each of bridge, engine, Kafka publisher and market-data publisher,
at random moments in a random order, and ``TREE_KILLS`` kills of the supervisor with all its
children (followed by a fresh `ringex serve` on the same var dir). The soak variant does more.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from ringex.config import load_settings
from ringex.ring.segment import list_segments
from tests.support.recovery_harness import (ROLES, OrderLoad, Server, base_env, check_kafka_oracle,
                                            check_redis_candles, newest_snapshot_hash,
                                            reference_of_orders, wait_topic_seq)

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def _setup(tmp_path, kafka_bootstrap, kafka_topics, redis_url, redis_prefix):
    topics = {"orders": kafka_topics(partitions=1, prefix="orders"),
              "dlq": kafka_topics(partitions=1, prefix="dlq"),
              "trades": kafka_topics(partitions=2, prefix="trades"),
              "events": kafka_topics(partitions=3, prefix="events")}
    prefix = f"rgxkill{os.getpid()}"
    env = base_env(tmp_path, prefix)
    env.update(RINGEX_KAFKA_BOOTSTRAP=kafka_bootstrap, RINGEX_REDIS_URL=redis_url,
               RINGEX_REDIS_PREFIX=redis_prefix, RINGEX_KAFKA_ORDERS_TOPIC=topics["orders"],
               RINGEX_KAFKA_DLQ_TOPIC=topics["dlq"], RINGEX_KAFKA_TRADES_TOPIC=topics["trades"],
               RINGEX_KAFKA_EVENTS_TOPIC=topics["events"], RINGEX_KAFKA_PARTITIONS="1",
               RINGEX_KAFKA_GROUP_ID=f"kill-{prefix}-{time.time_ns()}")
    return topics, prefix, env, load_settings(environ=env)


def _run(tmp_path, kafka_bootstrap, kafka_topics, redis_url, redis_prefix, *,
         kills_per_role: int, tree_kills: int, seed: int):
    topics, prefix, env, settings = _setup(tmp_path, kafka_bootstrap, kafka_topics, redis_url,
                                           redis_prefix)
    registry = settings.registry()
    rng = random.Random(seed)
    server = Server(env, tmp_path, tmp_path / "serve.log")
    load = OrderLoad(kafka_bootstrap, topics["orders"], registry, rate=1200, seed=seed)
    server.start()
    load.start()
    kills = [role for role in ROLES for _ in range(kills_per_role)] + ["tree"] * tree_kills
    rng.shuffle(kills)
    done = {role: 0 for role in ROLES + ("tree",)}
    try:
        for role in kills:
            time.sleep(rng.uniform(0.2, 1.0))
            if role == "tree":
                server.kill_tree()
                server.start()
            else:  # every other engine kill lands after recovery, the rest during it
                server.kill(role, recovered=done[role] % 2 == 1)
            done[role] += 1
        time.sleep(1.0)
        load.finish()
        commands, expected, reference, n_messages = reference_of_orders(
            kafka_bootstrap, topics["orders"], settings)
        assert n_messages == load.sent
        last_seq = int(expected["seq"][-1])
        wait_topic_seq(kafka_bootstrap, topics["events"], last_seq)
        check_kafka_oracle(kafka_bootstrap, topics, expected, commands, registry)
        check_redis_candles(redis_url, redis_prefix, registry, expected)
        assert (expected["reason"] == 12).sum() >= 0  # resends are in the load (see matcher)
    finally:
        load.stop_event.set()
        code = server.stop()
    log = server.tail(200_000)
    assert code == 0, log[-5000:]
    assert not list_segments(prefix), log[-5000:]
    state_hash, meta = newest_snapshot_hash(tmp_path, registry, settings.engine.order_capacity)
    assert meta["last_seq"] == last_seq
    assert state_hash == reference.state_hash() == meta["state_hash"]
    print({"kills": done, "orders": n_messages, "events": last_seq,
           "engine_restarts": server.log_path.read_text().count("restarting engine")})
    assert done == {**{r: kills_per_role for r in ROLES}, "tree": tree_kills}


@pytest.mark.timeout(300)
def test_kill_each_process_type_under_load(tmp_path, kafka_bootstrap, kafka_topics, redis_url,
                                           redis_prefix):
    _run(tmp_path, kafka_bootstrap, kafka_topics, redis_url, redis_prefix,
         kills_per_role=5, tree_kills=5, seed=int(os.environ.get("RINGEX_KILL_SEED", "1")))


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_kill_soak(tmp_path, kafka_bootstrap, kafka_topics, redis_url, redis_prefix):
    _run(tmp_path, kafka_bootstrap, kafka_topics, redis_url, redis_prefix,
         kills_per_role=25, tree_kills=15, seed=int(os.environ.get("RINGEX_KILL_SEED", "2")))
