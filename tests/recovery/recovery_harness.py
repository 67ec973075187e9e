"""Helpers of the recovery tests: a `ringex serve` process tree, a Kafka order load, kills
by role, and the oracle of issue 5.

Roles are found through the ring registries (every producer and consumer registers its pid):
inbound producers are the bridges, inbound consumer ``engine`` slot the engine, outbound
consumer 0 the Kafka publisher and the last one the market-data publisher.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from ringex.records import COMMAND_DTYPE, EVENT_DTYPE, EventKind, Side
from ringex.ring.ring import Ring
from ringex.runtime.topology import read_ring_names, slots_for

ROLES = ("bridge", "engine", "kafka_publisher", "marketdata")


def base_env(var_dir, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGEX_")}
    env.update(RINGEX_RUNTIME_SEGMENT_PREFIX=prefix, RINGEX_RUNTIME_METRICS_PORT="0",
               RINGEX_RUNTIME_VAR_DIR=str(var_dir), RINGEX_GATEWAY_ENABLED="false",
               RINGEX_ENGINE_ORDER_CAPACITY=str(1 << 16),
               RINGEX_ENGINE_SNAPSHOT_EVERY_EVENTS="4000",
               RINGEX_ENGINE_SNAPSHOT_INTERVAL_MS="700", RINGEX_ENGINE_SNAPSHOTS_KEPT="3")
    return env


class Server:
    """One `ringex serve` tree in its own session (so the whole tree can be killed)."""

    def __init__(self, env: dict[str, str], var_dir: Path, log_path: Path):
        self.env, self.var_dir, self.log_path = env, Path(var_dir), Path(log_path)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> None:
        rings = self.var_dir / "run" / "rings.json"
        rings.unlink(missing_ok=True)
        log = open(self.log_path, "a")
        self.process = subprocess.Popen([sys.executable, "-m", "ringex.cli", "serve"],
                                        env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while not rings.exists():
            assert self.process.poll() is None, self.tail()
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.05)
        self.wait_roles(timeout=timeout)

    def tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text()[-chars:] if self.log_path.exists() else ""

    def pids(self) -> dict[str, list[int]]:
        names = read_ring_names(self.var_dir)
        slots = slots_for(names.embedded)
        found: dict[str, list[int]] = {role: [] for role in ROLES + ("journal",)}
        for ring_name, dtype in ((names.inbound, COMMAND_DTYPE), (names.outbound, EVENT_DTYPE)):
            try:
                ring = Ring.attach(ring_name, dtype)
            except FileNotFoundError:
                continue
            try:
                for peer in ring.peers():
                    if not peer.alive:
                        continue
                    if ring_name == names.inbound:
                        if peer.role == "producer":
                            found["bridge"].append(peer.pid)
                        elif peer.slot == slots.engine:
                            found["engine"].append(peer.pid)
                        elif peer.slot == slots.journal:
                            found["journal"].append(peer.pid)
                    elif peer.role == "consumer":
                        role = "kafka_publisher" if peer.slot == slots.kafka else "marketdata"
                        found[role].append(peer.pid)
            finally:
                ring.close()
        return found

    def wait_roles(self, roles=None, *, not_pid: int = 0, timeout: float = 120.0) -> None:
        names = read_ring_names(self.var_dir)
        wanted = roles or (("engine", "journal", "marketdata") if names.embedded else ROLES)
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if all(pids[r] and not_pid not in pids[r] for r in wanted):
                return
            assert self.process.poll() is None, self.tail()
            assert time.monotonic() < deadline, f"roles {wanted} not up: {pids}\n{self.tail()}"
            time.sleep(0.05)

    def kill(self, role: str, timeout: float = 120.0, *, recovered: bool = False) -> int:
        """kill -9 one process of ``role``; wait for its successor (with ``recovered``, for
        an engine that has also finished recovering)."""
        self.wait_roles([role], timeout=timeout)  # e.g. bridges restarted with the engine
        pid = self.pids()[role][0]
        os.kill(pid, signal.SIGKILL)
        self.wait_roles([role], not_pid=pid, timeout=timeout)
        if recovered and role == "engine":
            from ringex.recovery.positions import read_positions

            run = read_ring_names(self.var_dir).inbound
            deadline = time.monotonic() + timeout
            while True:
                content = read_positions(self.var_dir, run=run)
                if content and content["engine_pid"] in self.pids()["engine"]:
                    break
                assert time.monotonic() < deadline, f"engine did not recover\n{self.tail()}"
                time.sleep(0.05)
        return pid

    def kill_tree(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        deadline = time.monotonic() + 30
        while _session_alive(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self, timeout: float = 120.0) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
            raise AssertionError(f"serve did not stop on SIGTERM\n{self.tail()}")


def _session_alive(sid: int) -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                return True
    return False


class OrderLoad(threading.Thread):
    """Produces seed-style JSON orders (and some binary frames, cancels and client-id
    resends) to ``orders`` at about ``rate`` messages/s until stopped; counts acks."""

    def __init__(self, bootstrap: str, topic: str, registry, *, rate: int = 1500, seed: int = 7):
        super().__init__(daemon=True)
        from confluent_kafka import Producer

        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                                  "enable.idempotence": True, "linger.ms": 5,
                                  "message.timeout.ms": 0})
        self.topic, self.registry, self.rate = topic, registry, rate
        self.rng = np.random.default_rng(seed)
        self.stop_event = threading.Event()
        self.sent = self.acked = 0
        self.failures: list[str] = []
        self.next_frame_id = 10**15

    def _delivered(self, err, _message) -> None:
        if err is None:
            self.acked += 1
        else:
            self.failures.append(str(err))

    def _message(self, i: int):
        from ringex.commands import new, pack
        from ringex.wire.frames import encode_frame

        rng = self.rng
        pair, key, mid = (("ETH/USDT", b"ETH-USDT", 3000) if rng.random() < 0.5
                          else ("BTC-USDT", b"BTC-USDT", 65000))
        roll = rng.random()
        if roll < 0.04:
            eth = self.registry.get("ETH-USDT")
            records = []
            for k in range(3):
                self.next_frame_id += 1
                side = Side.BUY if k % 2 else Side.SELL
                records.append(new(self.next_frame_id, 9, side,
                                   eth.price_to_ticks(f"{3000 + int(rng.integers(-2, 3))}.25"),
                                   eth.qty_to_lots("1.5"), pair=1))
            return b"ETH-USDT", encode_frame(pack(records))
        if roll < 0.08 and i > 10:
            target = int(rng.integers(max(1, i - 200), i))
            return key, json.dumps({"action": "cancel", "order": {"id": target,
                                                                  "pair": pair}}).encode()
        client_id = i if roll > 0.12 else max(1, i - 1)  # ~4%: a resend of the previous id
        side = "buy" if rng.random() < 0.5 else "SELL"
        offset = int(rng.integers(-3, 8))
        price = mid + (-offset if side == "buy" else offset)
        order = {"id": client_id, "pair": pair, "side": side, "type": "LIMIT",
                 "price": f"{price}.25" if key == b"ETH-USDT" else f"{price}.50",
                 "amount": f"{int(rng.integers(1, 20))}.5" if key == b"ETH-USDT"
                 else f"0.{int(rng.integers(1, 99)):02d}"}
        if rng.random() < 0.05:
            order["type"] = "MARKET"
            del order["price"]
        return key, json.dumps({"action": "new", "order": order}).encode()

    def run(self) -> None:
        i = 0
        tick = 0.02
        per_tick = max(1, int(self.rate * tick))
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            for _ in range(per_tick):
                i += 1
                key, value = self._message(i)
                while True:
                    try:
                        self.producer.produce(self.topic, value, key, partition=0,
                                              on_delivery=self._delivered)
                        break
                    except BufferError:
                        self.producer.poll(0.05)
                self.sent += 1
            self.producer.poll(0)
            next_at += tick
            time.sleep(max(0.0, next_at - time.monotonic()))

    def finish(self, timeout: float = 120.0) -> None:
        self.stop_event.set()
        self.join(30)
        assert self.producer.flush(timeout) == 0, "orders not acknowledged"
        assert not self.failures, self.failures[:5]
        assert self.acked == self.sent


def read_topic(bootstrap: str, topic: str, timeout: float = 60.0, at_least: int = 0):
    """Every committed message of ``topic`` (read_committed), to the end of each partition;
    with ``at_least``, read again while fewer are there (``services.read_committed`` says
    why), then return what was read: a real loss still shows in the caller's comparison."""
    from services import read_committed

    return read_committed(bootstrap, topic, timeout=timeout,
                          enough=lambda messages: len(messages) >= at_least)


def reference_of_orders(bootstrap: str, orders_topic: str, settings):
    """The `orders` topic decoded as the bridge decodes it, through the reference matcher."""
    from ringex.errors import ValidationError
    from ringex.kafka.decode import decode_message, invalid_command, pair_id_of_key, \
        timestamp_ns_of
    from ringex.reference import ReferenceMatcher

    registry = settings.registry()
    chunks, order_ids = [], []
    messages = sorted(read_topic(bootstrap, orders_topic), key=lambda m: (m.partition(),
                                                                         m.offset()))
    for message in messages:
        stamp = timestamp_ns_of(message)
        try:
            records, _ = decode_message(message.value(), message.headers(), registry,
                                        partition=message.partition(), offset=message.offset(),
                                        timestamp_ns=stamp,
                                        default_account=settings.runtime.default_account)
        except ValidationError:
            records = invalid_command(partition=message.partition(), offset=message.offset(),
                                      timestamp_ns=stamp,
                                      pair_id=pair_id_of_key(message.key(), registry))
        chunks.append(records)
    commands = np.concatenate(chunks)
    reference = ReferenceMatcher(registry.pairs, order_capacity=settings.engine.order_capacity)
    expected = reference.process(commands)
    return commands, expected, reference, len(messages)


def wait_topic_seq(bootstrap: str, topic: str, last_seq: int, timeout: float = 120.0) -> None:
    from ringex.kafka.resume import read_resume_seqs

    deadline = time.monotonic() + timeout
    while max(read_resume_seqs(bootstrap, topic).values() or [0]) < last_seq:
        assert time.monotonic() < deadline, f"{topic} did not reach seq {last_seq}"
        time.sleep(0.5)


def check_kafka_oracle(bootstrap, topics, expected, commands, registry) -> None:
    """order-events and trades equal the reference; no seq duplicated or missing; every
    `orders` message has exactly one outcome."""
    from ringex.wire.json_events import events_to_json, trades_to_json

    events = sorted(read_topic(bootstrap, topics["events"], at_least=len(expected)),
                    key=lambda m: json.loads(m.value())["seq"])
    seqs = [json.loads(m.value())["seq"] for m in events]
    if seqs != list(range(1, len(seqs) + 1)):
        counts: dict[int, list] = {}
        for m, seq in zip(events, seqs):
            counts.setdefault(seq, []).append((m.partition(), m.offset()))
        duplicated = {s: at for s, at in counts.items() if len(at) > 1}
        missing = sorted(set(range(1, len(expected) + 1)) - set(counts))
        dump = Path(os.environ.get("RINGEX_ORACLE_DUMP", "/tmp")) / f"oracle-{os.getpid()}.json"
        dump.write_text(json.dumps({"duplicated": {str(k): v for k, v in duplicated.items()},
                                    "missing": missing[:1000],
                                    "events": [[m.partition(), m.offset(), m.value().decode()]
                                               for m in events]}))
        raise AssertionError(f"order-events: {len(duplicated)} seqs duplicated (first "
                             f"{sorted(duplicated)[:5]} at {[duplicated[k] for k in sorted(duplicated)[:5]]}), "
                             f"{len(missing)} missing (first {missing[:5]}); dump {dump}")
    assert len(events) == len(expected), (len(events), len(expected))
    assert [m.value() for m in events] == events_to_json(expected, registry)
    expected_trades = expected[expected["kind"] == EventKind.TRADE]
    trades = sorted(read_topic(bootstrap, topics["trades"], at_least=len(expected_trades)),
                    key=lambda m: json.loads(m.value())["seq"])
    trade_seqs = [json.loads(m.value())["seq"] for m in trades]
    assert len(set(trade_seqs)) == len(trade_seqs), "trades: a seq is duplicated"
    assert [m.value() for m in trades] == trades_to_json(expected_trades, registry)
    # every `orders` command has exactly one outcome: NEW an ACCEPTED or REJECTED, the others
    # at least one event; (the stream above is the one in Kafka, byte for byte)
    first = expected[(expected["kind"] == EventKind.ACCEPTED) |
                     (expected["kind"] == EventKind.REJECTED)]
    index, counts = np.unique(first["command_index"], return_counts=True)
    per_command = np.zeros(len(commands), dtype=np.int64)
    per_command[index] = counts
    is_new = commands["kind"] == 1
    assert (per_command[is_new] == 1).all(), "a NEW command without exactly one outcome"
    assert np.isin(np.arange(len(commands)), expected["command_index"]).all()


def check_redis_candles(redis_url, prefix, registry, expected, timeout=120.0) -> None:
    import redis

    from ringex.marketdata.interface import interval_ms
    from ringex.marketdata.ohlcv import fold_candles
    from ringex.marketdata.redis_store import RedisMarketData

    store = RedisMarketData(redis.Redis.from_url(redis_url), registry, prefix=prefix)
    try:
        deadline = time.monotonic() + timeout
        while store.last_seq() < int(expected["seq"][-1]):
            assert time.monotonic() < deadline, f"Redis stuck at seq {store.last_seq()}"
            time.sleep(0.2)
        trades = expected[expected["kind"] == EventKind.TRADE]
        for interval in ("1s", "1m"):
            folded = fold_candles(trades, interval_ms(interval))
            for pair in ("BTC-USDT", "ETH-USDT"):
                pair_id = registry.get(pair).pair_id
                got = {(c.pair_id, c.start_ms): c
                       for c in store.candles(pair, interval, limit=100_000)}
                want = {k: v for k, v in folded.items() if k[0] == pair_id}
                assert got == want, f"{pair} {interval} candles differ from the fold"
    finally:
        store.close()


def newest_snapshot_hash(var_dir, registry, order_capacity):
    from ringex.recovery.snapshots import SnapshotStore

    recovered = SnapshotStore(Path(var_dir) / "snapshots").load_latest(
        registry.pairs, order_capacity=order_capacity)
    assert recovered is not None, "no snapshot"
    return recovered.engine.state_hash(), recovered.meta
