"""Scale-out: two `ringex serve` instances own disjoint `orders` partitions; a standby takes
over one of them after a kill -9 (docs/deployment.md).

Four pairs, two per partition of a 2-partition `orders` topic (`crc32(pair) % 2`): DOGE-USDT
and BNB-USDT in partition 0, BTC-USDT and ETH-USDT in partition 1. Instance A owns partition
0 (group `...-a`), instance B partition 1 (group `...-b`); both hold their lease
(`kafka.lease`). A standby A' runs A's settings with its own var dir and A's snapshot
directory (the shared volume of a real deployment), and waits for A's lease.

Orders flow all the time. A is killed with its whole process tree (kill -9). A' must get the
lease, recover A's state from A's snapshots, replay partition 0 from the snapshot positions
and carry on. Then, after a clean stop:

* each partition `p` of `order-events` and `trades` equals, byte for byte, what the reference
  matcher gives for partition `p` of `orders` alone: one instance matched it, nothing is lost
  or doubled across the takeover, and every `orders` message has exactly one outcome;
* the merged `trades`, per pair and without `seq`, equal the reference run over the whole
  `orders` topic, as a single instance would have matched it;
* each instance's final snapshot (A's written by A') has the reference's state hash;
* each instance's Redis candles equal the fold of its reference trades.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support.paced_producer import PacedProducer
from tests.support.recovery_harness import Server, base_env, reference_of_orders
from tests.support.services import read_committed

from ringex.commands import new, pack  # noqa: E402
from ringex.config import load_settings  # noqa: E402
from ringex.kafka.partitioning import partition_for  # noqa: E402
from ringex.records import EventKind, Side  # noqa: E402
from ringex.ring.segment import list_segments  # noqa: E402
from ringex.spec.matcher import ReferenceMatcher  # noqa: E402
from ringex.wire.frames import encode_frame  # noqa: E402
from ringex.wire.ids import kafka_order_id  # noqa: E402
from ringex.wire.json_events import events_to_json, trades_to_json  # noqa: E402

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

PAIRS_TOML = """
[[pairs]]
name = "DOGE-USDT"
tick_size = "0.00001"
lot_size = "1"
min_qty = "1"
max_qty = "1000000"
price_band = ["0.05000", "0.50000"]

[[pairs]]
name = "BNB-USDT"
tick_size = "0.01"
lot_size = "0.001"
min_qty = "0.001"
max_qty = "10000"
price_band = ["500.00", "700.00"]

[[pairs]]
name = "BTC-USDT"
tick_size = "0.01"
lot_size = "0.00001"
min_qty = "0.00001"
max_qty = "100"
price_band = ["60000.00", "70000.00"]

[[pairs]]
name = "ETH-USDT"
tick_size = "0.01"
lot_size = "0.0001"
min_qty = "0.0001"
max_qty = "1000"
price_band = ["2000.00", "4000.00"]
"""
MIDS = {"DOGE-USDT": "0.12345", "BNB-USDT": "600.00", "BTC-USDT": "65000.00",
        "ETH-USDT": "3000.00"}
PARTITIONS = 2


class Instance(Server):
    """A `ringex serve --config <pairs>` tree; ``launch`` does not wait (a standby waits for
    its lease before it creates anything)."""

    def __init__(self, env, var_dir: Path, config: Path, log_path: Path):
        super().__init__(env, var_dir, log_path)
        self.config = config

    def launch(self) -> None:
        (self.var_dir / "run" / "rings.json").unlink(missing_ok=True)
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ringex.cli", "serve", "--config", str(self.config)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_up(self, timeout: float = 120.0) -> None:
        rings = self.var_dir / "run" / "rings.json"
        deadline = time.monotonic() + timeout
        while not rings.exists():
            assert self.process.poll() is None, self.tail()
            assert time.monotonic() < deadline, f"serve did not come up\n{self.tail()}"
            time.sleep(0.05)
        self.wait_roles(timeout=timeout)

    def start(self, timeout: float = 120.0) -> None:
        self.launch()
        self.wait_up(timeout)


class PairLoad(PacedProducer):
    """Seeded JSON orders (limit near the mid, some market), cancels of delivered orders,
    binary frames and one malformed message per partition, each keyed by its pair into
    partition ``crc32(pair) % 2`` (librdkafka's default for keyed messages)."""

    finish_timeout = 60.0

    def __init__(self, bootstrap: str, topic: str, registry, *, rate: int, seed: int = 11,
                 pairs=tuple(MIDS)):
        super().__init__(bootstrap, topic, rate=rate, seed=seed)
        self.pairs = list(pairs)
        self.registry = registry
        self.resting: dict[str, list[int]] = {name: [] for name in MIDS}  # delivered NEW ids
        self.frame_ids = 10**15
        self.poisoned: set[int] = set()

    def acknowledged(self, message, pair: str | None) -> None:
        if pair is not None:
            self.resting[pair].append(kafka_order_id(message.partition(), message.offset()))

    def message(self, i: int):
        rng = self.rng
        name = self.pairs[int(rng.integers(0, len(self.pairs)))]
        pair = self.registry.get(name)
        key = name.encode()
        partition = partition_for(key, PARTITIONS)
        mid = pair.price_to_ticks(MIDS[name])
        roll = rng.random()
        if partition not in self.poisoned and i > 50:
            self.poisoned.add(partition)
            return key, partition, b'{"action":"new","order":{"pair":', None
        if roll < 0.03:
            records = []
            for k in range(3):
                self.frame_ids += 1
                side = Side.BUY if k % 2 else Side.SELL
                records.append(new(self.frame_ids, 9, side, mid + int(rng.integers(-2, 3)),
                                   pair.min_qty_lots * int(rng.integers(1, 20)),
                                   pair=pair.pair_id))
            return key, partition, encode_frame(pack(records)), None
        if roll < 0.10 and self.resting[name]:
            target = self.resting[name][int(rng.integers(0, len(self.resting[name])))]
            body = {"action": "cancel", "order": {"id": target, "pair": name}}
            return key, partition, json.dumps(body).encode(), None
        side = "buy" if rng.random() < 0.5 else "SELL"
        offset = int(rng.integers(-3, 8))
        order = {"id": i, "pair": name, "side": side, "type": "LIMIT",
                 "price": pair.ticks_to_price(mid - offset if side == "buy" else mid + offset),
                 "amount": pair.lots_to_qty(pair.min_qty_lots * int(rng.integers(1, 50)))}
        if rng.random() < 0.05:
            order["type"] = "MARKET"
            del order["price"]
        return key, partition, json.dumps({"action": "new", "order": order}).encode(), name


def _wait_partition_counts(bootstrap: str, topic: str, wanted: dict[int, int],
                           timeout: float = 90.0) -> list:
    """The topic once each partition holds at least ``wanted[p]`` committed messages. Each
    topic is waited for on its own (``services.read_committed`` says why); more messages than
    wanted fail the byte comparison later."""
    def counts(messages) -> dict[int, int]:
        return {p: sum(1 for m in messages if m.partition() == p) for p in wanted}

    messages = read_committed(bootstrap, topic, timeout=timeout,
                              enough=lambda ms: all(n >= wanted[p] for p, n in counts(ms).items()))
    got = counts(messages)
    assert all(n >= wanted[p] for p, n in got.items()), f"{topic}: {got}, expected {wanted}"
    return messages


def _trade_count(events: np.ndarray) -> int:
    return int((events["kind"] == EventKind.TRADE).sum())


def _check_candles(redis_url: str, prefix: str, registry, trades: np.ndarray,
                   pairs: list[str], last_seq: int, timeout: float = 60.0) -> None:
    import redis

    from ringex.marketdata.interface import interval_ms
    from ringex.marketdata.redis_store import RedisMarketData
    from ringex.spec.ohlcv import fold_candles

    store = RedisMarketData(redis.Redis.from_url(redis_url), registry, prefix=prefix)
    try:
        deadline = time.monotonic() + timeout
        while store.last_seq() < last_seq:
            assert time.monotonic() < deadline, f"{prefix}: Redis stuck at {store.last_seq()}"
            time.sleep(0.2)
        assert store.last_seq() == last_seq
        for interval in ("1s", "1m"):
            folded = fold_candles(trades, interval_ms(interval))
            for name in pairs:
                pair_id = registry.get(name).pair_id
                got = {(c.pair_id, c.start_ms): c
                       for c in store.candles(name, interval, limit=100_000)}
                want = {k: v for k, v in folded.items() if k[0] == pair_id}
                assert want, f"no {name} trades: the load is too thin"
                assert got == want, f"{prefix}: {name} {interval} candles differ from the fold"
    finally:
        store.close()


def _failover_steps(log: str, killed_wall: float) -> dict[str, float]:
    """Seconds from the kill to each step of the standby's takeover, from its JSON log."""
    from datetime import datetime

    steps = {"lease_held_s": "lease ", "engine_recovered_s": "engine recovered",
             "bridge_assigned_s": "assigned [", "publisher_resumed_s": "resumes after"}
    found = {}
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        for name, words in steps.items():
            if name not in found and words in entry.get("msg", "") and (
                    name != "lease_held_s" or entry["msg"].endswith(": held")):
                stamp = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()
                found[name] = round(stamp - killed_wall, 2)
    return found


def _without_seq(payloads) -> dict[str, list[dict]]:
    per_pair: dict[str, list[dict]] = {}
    for payload in payloads:
        trade = json.loads(payload)
        trade.pop("seq", None)
        trade.pop("command_index", None)
        per_pair.setdefault(trade["pair"], []).append(trade)
    return per_pair


def _topics(kafka_topics) -> dict[str, str]:
    return {"orders": kafka_topics(partitions=PARTITIONS, prefix="orders"),
            "dlq": kafka_topics(partitions=1, prefix="dlq"),
            "trades": kafka_topics(partitions=PARTITIONS, prefix="trades"),
            "events": kafka_topics(partitions=PARTITIONS, prefix="events")}


def _instance_env(var_dir: Path, segment_prefix: str, topics, group: str, partition: int,
                  snapshot_dir: Path, bootstrap: str, redis_url: str, redis_prefix: str):
    """One instance's environment: its group, partition, snapshots and Redis prefix."""
    env = base_env(var_dir, segment_prefix)
    env.update(RINGEX_KAFKA_BOOTSTRAP=bootstrap, RINGEX_REDIS_URL=redis_url,
               RINGEX_REDIS_PREFIX=redis_prefix, RINGEX_KAFKA_ORDERS_TOPIC=topics["orders"],
               RINGEX_KAFKA_DLQ_TOPIC=topics["dlq"], RINGEX_KAFKA_TRADES_TOPIC=topics["trades"],
               RINGEX_KAFKA_EVENTS_TOPIC=topics["events"],
               RINGEX_KAFKA_PARTITIONS=str(PARTITIONS), RINGEX_KAFKA_GROUP_ID=group,
               RINGEX_KAFKA_ORDERS_PARTITIONS=str(partition), RINGEX_KAFKA_LEASE="true",
               RINGEX_ENGINE_SNAPSHOT_DIR=str(snapshot_dir),
               # a standby recovers from a snapshot at or below what the sinks hold
               # (docs/recovery.md): keep enough of them that one is old enough
               RINGEX_ENGINE_SNAPSHOTS_KEPT="20")
    var_dir.mkdir(parents=True, exist_ok=True)
    return env


def _check_partition(p: int, own, want, events, trades, registry, malformed: int = 1) -> None:
    """Partition ``p`` of the output is exactly the reference over partition ``p`` of
    `orders`, byte for byte, and every command of it has its outcome."""
    got = [m.value() for m in sorted((m for m in events if m.partition() == p),
                                     key=lambda m: m.offset())]
    assert got == events_to_json(want, registry), f"order-events partition {p}"
    got_trades = [m.value() for m in sorted((m for m in trades if m.partition() == p),
                                            key=lambda m: m.offset())]
    assert got_trades == trades_to_json(want[want["kind"] == EventKind.TRADE], registry), \
        f"trades partition {p}"
    first = want[(want["kind"] == EventKind.ACCEPTED) | (want["kind"] == EventKind.REJECTED)]
    index, counts = np.unique(first["command_index"], return_counts=True)
    outcomes = np.zeros(len(own), dtype=np.int64)
    outcomes[index] = counts
    assert (outcomes[own["kind"] == 1] == 1).all(), f"partition {p}: a NEW without one outcome"
    assert np.isin(np.arange(len(own)), want["command_index"]).all()
    assert (own["kind"] == 0).sum() == malformed, "one malformed message per partition"


def _reference_per_partition(commands, settings, registry) -> dict:
    per_partition = {}
    for p in range(PARTITIONS):
        own = commands[commands["source_partition"] == p]
        reference = ReferenceMatcher(registry.pairs, order_capacity=settings.engine.order_capacity)
        per_partition[p] = (own, reference.process(own), reference)
    return per_partition


def _wait_usable_snapshot(directory: Path, settings, registry, server, timeout=90.0) -> None:
    """Until the instance has a snapshot (seq > 0) that its sinks already cover, which is what
    a standby may recover from (``ringex/runtime/delivered.py``, docs/recovery.md)."""
    from ringex.recovery.snapshots import SnapshotStore
    from ringex.runtime.delivered import delivered_seq

    store = SnapshotStore(directory)
    deadline = time.monotonic() + timeout
    while True:
        seqs = [store.seq_of(path) for path in store.files()]
        if any(seq > 0 for seq in seqs) and \
                any(0 < seq <= delivered_seq(settings, registry) for seq in seqs):
            return
        assert time.monotonic() < deadline, f"no delivered snapshot: {seqs}\n{server.tail()}"
        time.sleep(0.3)


def _check_newest_snapshot(directory: Path, p: int, per_partition, settings, registry):
    from ringex.recovery.snapshots import SnapshotStore

    recovered = SnapshotStore(directory).load_latest(
        registry.pairs, order_capacity=settings.engine.order_capacity)
    want = per_partition[p][1]
    assert recovered.meta["last_seq"] == int(want["seq"][-1])
    assert recovered.engine.state_hash() == per_partition[p][2].state_hash() \
        == recovered.meta["state_hash"], f"partition {p}: state differs from the reference"
    assert set(recovered.meta["inputs"]["kafka"]) == {str(p)}


@pytest.mark.timeout(180)
def test_two_instances_split_the_partitions_and_a_standby_takes_one_over(
        tmp_path, kafka_bootstrap, kafka_topics, redis_url, redis_prefix):
    from tests.support.services import delete_topics

    topics = _topics(kafka_topics)
    config = tmp_path / "pairs.toml"
    config.write_text(PAIRS_TOML)
    tag = f"rgxscale{os.getpid()}"
    groups = {"a": f"{tag}-{time.time_ns()}-a", "b": f"{tag}-{time.time_ns()}-b"}
    snapshots_a = tmp_path / "shared" / "a-snapshots"

    def env_of(name: str, group: str, partition: int, snapshot_dir: Path):
        return _instance_env(tmp_path / name, f"{tag}{group[-1]}", topics, group, partition,
                             snapshot_dir, kafka_bootstrap, redis_url,
                             f"{redis_prefix}{group[-1]}:")

    env_a = env_of("a", groups["a"], 0, snapshots_a)
    env_b = env_of("b", groups["b"], 1, tmp_path / "b" / "snapshots")
    env_standby = env_of("a2", groups["a"], 0, snapshots_a)  # A's settings, its own var dir
    settings = load_settings(config, environ=env_a)
    registry = settings.registry()
    assert [partition_for(p.name.encode(), PARTITIONS) for p in registry] == [0, 0, 1, 1]
    a = Instance(env_a, tmp_path / "a", config, tmp_path / "a.log")
    b = Instance(env_b, tmp_path / "b", config, tmp_path / "b.log")
    standby = Instance(env_standby, tmp_path / "a2", config, tmp_path / "a2.log")
    load = PairLoad(kafka_bootstrap, topics["orders"], registry, rate=600)
    timings = {}
    try:
        a.start()
        b.start()
        standby.launch()
        load.start()
        time.sleep(4.0)
        assert not (tmp_path / "a2" / "run" / "rings.json").exists(), standby.tail()
        assert "waiting for the lease" in standby.tail(), standby.tail()
        _wait_usable_snapshot(snapshots_a, settings, registry, a)

        killed, killed_wall = time.monotonic(), time.time()
        a.kill_tree()
        standby.wait_up(timeout=90)
        timings["standby_up_s"] = round(time.monotonic() - killed, 2)
        standby.wait_recovered(timeout=90)
        timings["standby_recovered_s"] = round(time.monotonic() - killed, 2)
        time.sleep(3.0)  # orders keep flowing into both partitions after the takeover
        load.finish()

        commands, expected, _, n_messages = reference_of_orders(
            kafka_bootstrap, topics["orders"], settings)
        assert n_messages == load.sent
        per_partition = _reference_per_partition(commands, settings, registry)
        events = _wait_partition_counts(kafka_bootstrap, topics["events"],
                                        {p: len(v[1]) for p, v in per_partition.items()})
        trades = _wait_partition_counts(kafka_bootstrap, topics["trades"],
                                        {p: _trade_count(v[1]) for p, v in per_partition.items()})
    finally:
        load.stop_event.set()
        codes = {"b": b.stop(), "standby": standby.stop()}
        if a.process is not None and a.process.poll() is None:
            a.kill_tree()
        delete_topics(kafka_bootstrap, [f"{topics['orders']}.lease"])
    logs = {name: server.tail(400_000) for name, server in
            (("a", a), ("b", b), ("a2", standby))}
    assert codes == {"b": 0, "standby": 0}, {k: v[-4000:] for k, v in logs.items()}
    for letter in ("a", "b"):  # the standby removed the segments the killed A left
        assert not list_segments(f"{tag}{letter}"), letter

    # each partition of the output is exactly its own instance's reference, byte for byte
    for p, (own, want, _) in per_partition.items():
        _check_partition(p, own, want, events, trades, registry)

    # the merged trades equal a single engine's over the whole topic, per pair, without seq
    single = trades_to_json(expected[expected["kind"] == EventKind.TRADE], registry)
    assert _without_seq(m.value() for m in trades) == _without_seq(single)

    # state: A's final snapshot (written by the standby) and B's equal the reference's
    for p, directory in ((0, snapshots_a), (1, tmp_path / "b" / "snapshots")):
        _check_newest_snapshot(directory, p, per_partition, settings, registry)
    recovered_line = [line for line in logs["a2"].splitlines() if "engine recovered" in line][0]
    assert "snapshot snapshot-" in recovered_line, recovered_line  # from A's snapshot
    timings.update(_failover_steps(logs["a2"], killed_wall))

    for p, letter, pairs in ((0, "a", ["DOGE-USDT", "BNB-USDT"]),
                             (1, "b", ["BTC-USDT", "ETH-USDT"])):
        want = per_partition[p][1]
        _check_candles(redis_url, f"{redis_prefix}{letter}:", registry,
                       want[want["kind"] == EventKind.TRADE], pairs, int(want["seq"][-1]))
    print(json.dumps({"orders": n_messages, "events": {p: len(v[1])
                                                      for p, v in per_partition.items()},
                      "trades": len(trades), **timings,
                      "lease_session_ms": settings.kafka.lease_session_ms}))


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.timeout(150)
def test_an_instance_that_loses_its_lease_kills_its_children_and_exits(
        tmp_path, kafka_bootstrap, kafka_topics, redis_url, redis_prefix):
    """A's supervisor is paused (SIGSTOP) past its lease session while its children run on:
    the standby takes the lease. When A's supervisor wakes up it finds the lease lost,
    SIGKILLs every child at once and exits with 1. Partition 0's output stays exact."""
    from tests.support.services import delete_topics

    topics = _topics(kafka_topics)
    config = tmp_path / "pairs.toml"
    config.write_text(PAIRS_TOML)
    tag = f"rgxzombie{os.getpid()}"
    group = f"{tag}-{time.time_ns()}-a"
    snapshots = tmp_path / "shared" / "a-snapshots"
    envs = [_instance_env(tmp_path / name, tag, topics, group, 0, snapshots, kafka_bootstrap,
                          redis_url, f"{redis_prefix}a:") for name in ("a", "a2")]
    settings = load_settings(config, environ=envs[0])
    registry = settings.registry()
    a = Instance(envs[0], tmp_path / "a", config, tmp_path / "a.log")
    standby = Instance(envs[1], tmp_path / "a2", config, tmp_path / "a2.log")
    load = PairLoad(kafka_bootstrap, topics["orders"], registry, rate=400,
                    pairs=("DOGE-USDT", "BNB-USDT"))
    paused = False
    try:
        a.start()
        standby.launch()
        load.start()
        time.sleep(3.0)
        children = sorted(pid for pids in a.pids().values() for pid in pids)
        assert len(children) == 4, a.pids()
        os.kill(a.process.pid, signal.SIGSTOP)
        paused = True
        deadline = time.monotonic() + 60
        while "holding the lease" not in standby.tail():
            assert time.monotonic() < deadline, standby.tail()
            time.sleep(0.1)
        assert all(_running(pid) for pid in children), "A's children should still be running"
        woke = time.monotonic()
        os.kill(a.process.pid, signal.SIGCONT)
        paused = False
        assert a.process.wait(30) == 1, a.tail()
        stopped_in = time.monotonic() - woke
        assert "lease lost" in a.tail(), a.tail()
        assert not any(_running(pid) for pid in children), "a child of A survived"
        standby.wait_up(timeout=90)
        standby.wait_recovered(timeout=90)
        time.sleep(2.0)
        load.finish()
        commands, _, _, n_messages = reference_of_orders(kafka_bootstrap, topics["orders"],
                                                         settings)
        assert n_messages == load.sent
        per_partition = _reference_per_partition(commands, settings, registry)
        assert len(per_partition[1][0]) == 0
        events = _wait_partition_counts(kafka_bootstrap, topics["events"],
                                        {0: len(per_partition[0][1])})
        trades = _wait_partition_counts(kafka_bootstrap, topics["trades"],
                                        {0: _trade_count(per_partition[0][1])})
    finally:
        load.stop_event.set()
        if paused:
            os.kill(a.process.pid, signal.SIGCONT)
        code = standby.stop()
        if a.process is not None and a.process.poll() is None:
            a.kill_tree()
        delete_topics(kafka_bootstrap, [f"{topics['orders']}.lease"])
    assert code == 0, standby.tail()
    assert not list_segments(tag)
    own, want, _ = per_partition[0]
    _check_partition(0, own, want, events, trades, registry)
    _check_newest_snapshot(snapshots, 0, per_partition, settings, registry)
    print(json.dumps({"orders": n_messages, "events": len(want),
                      "zombie_stopped_after_wake_s": round(stopped_in, 2)}))


@pytest.mark.timeout(180)
def test_one_gateway_reads_the_market_data_of_both_instances(
        tmp_path, kafka_bootstrap, kafka_topics, redis_url, redis_prefix):
    """Instances A (partition 0: DOGE-USDT, BNB-USDT, prefix ``...a:``) and B (partition 1:
    BTC-USDT, ETH-USDT, prefix ``...b:``), and one ``ringex gateway --instances`` with two
    gunicorn workers in front of both (its own state under ``...gw:``). Orders for pairs of
    both instances go in through the gateway; every read answers from the owner's prefix,
    owner checks hold, and nothing of either instance's market data is under the other's
    prefix."""
    from tests.support.services import delete_topics
    from tests.support.exchange import free_port, gateway_request, until

    topics = _topics(kafka_topics)
    config = tmp_path / "pairs.toml"
    config.write_text(PAIRS_TOML)
    tag = f"rgxgwso{os.getpid()}"
    prefixes = {letter: f"{redis_prefix}{letter}:" for letter in "ab"}
    envs = {letter: _instance_env(tmp_path / letter, f"{tag}{letter}", topics,
                                  f"{tag}-{time.time_ns()}-{letter}", partition,
                                  tmp_path / letter / "snapshots", kafka_bootstrap, redis_url,
                                  prefixes[letter])
            for letter, partition in (("a", 0), ("b", 1))}
    instances = {letter: Instance(env, tmp_path / letter, config, tmp_path / f"{letter}.log")
                 for letter, env in envs.items()}
    alice_key, bob_key, alice, bob = "alice-so-key", "bob-so-key", 301, 302
    port = free_port()
    gateway_env = {k: v for k, v in os.environ.items() if not k.startswith("RINGEX_")}
    gateway_env.update(RINGEX_KAFKA_ORDERS_TOPIC=topics["orders"],
                       RINGEX_KAFKA_PARTITIONS=str(PARTITIONS),
                       RINGEX_REDIS_PREFIX=f"{redis_prefix}gw:",
                       RINGEX_RUNTIME_VAR_DIR=str(tmp_path / "gw"),
                       RINGEX_GATEWAY_WORKERS="2",
                       RINGEX_GATEWAY_API_KEYS=f"{alice_key}:{alice},{bob_key}:{bob}")
    gateway_log = tmp_path / "gateway.log"
    gateway = None
    deadline = time.monotonic() + 150
    try:
        for instance in instances.values():
            instance.start()
        with open(gateway_log, "wb") as log:
            gateway = subprocess.Popen(
                [sys.executable, "-m", "ringex.cli", "gateway", "--config", str(config),
                 "--kafka", kafka_bootstrap, "--redis", redis_url,
                 "--bind", f"127.0.0.1:{port}",
                 "--instances", f"0={prefixes['a']};1={prefixes['b']}"],
                env=gateway_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        def healthy():
            assert gateway.poll() is None, gateway_log.read_text()[-4000:]
            try:
                status, health = gateway_request(port, "GET", "/health")
            except OSError:
                return None
            return health if status == 200 else None

        health = until(healthy, deadline, "a healthy gateway")
        assert [(i["partitions"], i["prefix"]) for i in health["market_data"]["instances"]] == \
            [([0], prefixes["a"]), ([1], prefixes["b"])]

        # a DOGE trade on A, a BTC trade on B, each with a rest left on the book
        placed = {}
        for pair, price, sell_qty, buy_qty in (("DOGE-USDT", "0.12345", "500", "200"),
                                               ("BTC-USDT", "65000.00", "0.50000", "0.20000")):
            for key, side, quantity in ((alice_key, "SELL", sell_qty), (bob_key, "BUY", buy_qty)):
                status, answer = gateway_request(port, "POST", "/orders", {
                    "pair": pair, "side": side, "order_type": "LIMIT", "price": price,
                    "quantity": quantity}, key)
                assert status == 202, answer
                placed[pair, side] = answer["order_id"]
        assert {k: v >> 40 for k, v in placed.items()} == {
            ("DOGE-USDT", "SELL"): 0, ("DOGE-USDT", "BUY"): 0,
            ("BTC-USDT", "SELL"): 1, ("BTC-USDT", "BUY"): 1}

        def order_of(key, order_id, status_name):
            code, order = gateway_request(port, "GET", f"/orders/{order_id}", key=key)
            return order if code == 200 and order.get("status") == status_name else None

        for pair, rest in (("DOGE-USDT", "300"), ("BTC-USDT", "0.30000")):
            sell, buy = placed[pair, "SELL"], placed[pair, "BUY"]
            until(lambda: order_of(bob_key, buy, "FILLED"), deadline, f"{pair} fill")
            maker = until(lambda: order_of(alice_key, sell, "PARTIALLY_FILLED"), deadline,
                           f"{pair} maker")
            assert maker["leaves_quantity"] == rest and maker["pair"] == pair
            for key, order_id in ((bob_key, sell), (alice_key, buy)):  # not their orders
                assert gateway_request(port, "GET", f"/orders/{order_id}", key=key)[0] == 404

            def book_shows_rest(pair=pair, rest=rest):
                code, book = gateway_request(port, "GET", f"/book/{pair}")
                return code == 200 and [level[1] for level in book["asks"]] == [rest]

            # the L2 snapshot follows the events by up to engine.book_interval_ms
            until(book_shows_rest, deadline, f"{pair} book")
            # several reads, so that both gunicorn workers answer some of them
            for _ in range(4):
                code, book = gateway_request(port, "GET", f"/book/{pair}")
                assert code == 200 and book["bids"] == [] and \
                    [level[1] for level in book["asks"]] == [rest], book
                code, trades = gateway_request(port, "GET", f"/trades/{pair}")
                assert code == 200 and [(t["taker_order_id"], t["maker_order_id"])
                                        for t in trades["trades"]] == [(buy, sell)]
                code, candles = gateway_request(port, "GET", f"/candles/{pair}?interval=1m")
                assert code == 200 and [c["trades"] for c in candles["candles"]] == [1]
        for pair in ("BNB-USDT", "ETH-USDT"):  # quiet pairs of each instance
            assert gateway_request(port, "GET", f"/book/{pair}")[1]["asks"] == []
        code, listing = gateway_request(port, "GET", "/orders", key=alice_key)
        assert code == 200 and [o["order_id"] for o in listing["orders"]] == \
            [placed["BTC-USDT", "SELL"], placed["DOGE-USDT", "SELL"]]
        code, pairs = gateway_request(port, "GET", "/pairs")
        assert {p["status"] for p in pairs["pairs"]} == {"TRADING"}

        # each instance wrote only its own pairs, under its own prefix
        import redis

        client = redis.Redis.from_url(redis_url)
        try:
            for letter, own, other in (("a", "DOGE-USDT", "BTC-USDT"),
                                       ("b", "BTC-USDT", "DOGE-USDT")):
                assert client.exists(f"{prefixes[letter]}book:{own}")
                assert not client.exists(f"{prefixes[letter]}book:{other}")
            assert client.exists(f"{redis_prefix}gw:gateway:account-orders:{alice}")
        finally:
            client.close()
    finally:
        if gateway is not None and gateway.poll() is None:
            gateway.send_signal(signal.SIGTERM)
            try:
                gateway.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(gateway.pid, signal.SIGKILL)
                gateway.wait(10)
        codes = {letter: instance.stop() for letter, instance in instances.items()}
        delete_topics(kafka_bootstrap, [f"{topics['orders']}.lease"])
    assert codes == {"a": 0, "b": 0}, {k: v.tail() for k, v in instances.items()}
    for letter in "ab":
        assert not list_segments(f"{tag}{letter}"), letter
