"""The one configuration object of a running exchange.

``Settings`` is frozen and built in layers, later ones winning: defaults, an optional TOML
file, environment variables ``RINGEX_<SECTION>_<KEY>`` (e.g. ``RINGEX_KAFKA_BOOTSTRAP``), then
command-line flags. Unknown sections or keys, in the file or the environment, are a
``ConfigError`` that names them: a typo never silently falls back to a default.

With no Kafka bootstrap and no Redis URL the exchange runs in **embedded mode** (journal file
for durability, shared-memory market data); with both it runs **distributed**.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ringex.errors import ConfigError
from ringex.pairs import PairRegistry, default_pairs
from ringex.ring.wait import NAMES as WAIT_STRATEGIES

__all__ = ["Settings", "EngineSettings", "KafkaSettings", "RedisSettings", "RuntimeSettings",
           "GatewaySettings", "load_settings", "parse_gateway_instances"]


@dataclass(frozen=True)
class EngineSettings:
    order_capacity: int = 1 << 20
    inbound_capacity: int = 1 << 16
    outbound_capacity: int = 1 << 17
    book_ring_capacity: int = 1 << 10
    max_batch: int = 4096
    book_interval_ms: int = 50
    wait_strategy: str = "blocking"
    # recovery (docs/recovery.md): a snapshot once this many events, or this much time, have
    # passed since the last one (0 turns either trigger off; both 0: no periodic snapshots)
    snapshot_every_events: int = 1_000_000
    snapshot_interval_ms: int = 60_000
    snapshots_kept: int = 3
    snapshot_dir: str = ""  # default <runtime.var_dir>/snapshots
    # done client order ids a NEW may not reuse (docs/matching.md, "Client-order-id window")
    client_id_window: int = 1_000_000


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str = ""
    group_id: str = "ringex-engine"
    orders_topic: str = "orders"
    dlq_topic: str = "orders.dlq"
    trades_topic: str = "trades"
    events_topic: str = "order-events"
    partitions: int = 3
    bridges: int = 1
    # scale-out (docs/deployment.md): the `orders` partitions this instance owns, assigned
    # statically (empty: all of them, spread over the bridges by the consumer group)
    orders_partitions: tuple[int, ...] = ()
    # takeover: run only while this process holds the lease of `group_id`, a Kafka consumer
    # group (`<group_id>-lease`); a standby runs the same settings and waits for it
    lease: bool = False
    lease_session_ms: int = 6000
    # the publisher's output (docs/wire-format.md): "json", one message per event (the seed's
    # payloads), or "frame", one binary event frame per partition and ring batch
    events_format: str = "json"
    # librdkafka compression.type of the publisher's producer ("none", "lz4", "zstd", ...)
    events_compression: str = "lz4"
    # a publisher transaction takes the ring batches that arrive within this many ms of its
    # first one (0: one transaction per ring batch); bounds the broker's commits per second
    transaction_linger_ms: int = 5
    # ...but commits sooner once no batch has come for this many ms (0, the default: always
    # the whole linger); see docs/kafka.md for what it bought and cost when measured
    transaction_idle_ms: int = 0
    # transactional producers that take the publisher's transactions in turn (1 or 2): with
    # 2, a transaction never waits for the previous one's markers (docs/kafka.md)
    transactional_producers: int = 2


@dataclass(frozen=True)
class RedisSettings:
    url: str = ""
    prefix: str = "ringex:"
    # the market-data publisher reads the outbound ring without holding the engine back; when
    # the engine has run a whole ring ahead, it reads the missing events from order-events
    # (docs/marketdata.md). false: it gates the ring like the Kafka publisher.
    catch_up_from_kafka: bool = True
    # CPU niceness (0-19) of that non-gating market-data publisher: on a small box the
    # matching path (bridge, engine, Kafka publisher) gets the CPU first, and market data
    # catches up. Not applied when the publisher gates the ring.
    catch_up_nice: int = 10
    # once caught up, that publisher reads the ring at most once per this many ms, so each
    # Redis script call takes what came in the meantime: fewer calls at moderate rates
    # (market data is that much later; 0: read as soon as anything comes)
    apply_interval_ms: int = 20


#: the publisher's output formats (``kafka.events_format``).
EVENTS_FORMATS = ("json", "frame")
#: librdkafka's ``compression.type`` values (``kafka.events_compression``).
EVENTS_COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")

#: gunicorn worker classes the gateway runs under (both ship with gunicorn).
GATEWAY_WORKER_CLASSES = ("gthread", "sync")


@dataclass(frozen=True)
class GatewaySettings:
    bind: str = "127.0.0.1:8080"
    workers: int = 2
    # gunicorn worker class: "gthread" (threads wait for the sequencer together) or "sync"
    worker_class: str = "gthread"
    threads: int = 16  # per gthread worker: requests of one worker waiting for durability at once
    enabled: bool = True
    # "key1:account1,key2:account2"; empty in embedded mode = one demo key printed at start-up
    api_keys: str = ""
    rate_limit_per_s: int = 200  # per API key; shared through Redis in distributed mode
    rate_limit_burst: int = 400
    max_body_bytes: int = 1 << 20
    max_batch_orders: int = 100
    sequencer_timeout_ms: int = 5000  # a write not durable by then answers 503
    # scale-out (docs/deployment.md): the engine instances whose market data this gateway
    # reads, "<owned orders partitions>=<redis prefix>;..." (e.g. "0,2=ex:a:;1=ex:b:"), over
    # kafka.partitions partitions; empty: one instance, whose prefix is redis.prefix
    instances: str = ""


@dataclass(frozen=True)
class RuntimeSettings:
    var_dir: str = "var"
    segment_prefix: str = "ringex"
    journal_fsync: bool = True
    metrics_port: int = 9464
    log_level: str = "info"
    default_account: int = 1


@dataclass(frozen=True)
class Settings:
    engine: EngineSettings = field(default_factory=EngineSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    pairs: tuple[Mapping[str, Any], ...] = ()

    @property
    def embedded(self) -> bool:
        return not self.kafka.bootstrap

    def registry(self) -> PairRegistry:
        return PairRegistry.from_configs(self.pairs) if self.pairs else default_pairs()

    def validate(self) -> "Settings":
        if bool(self.kafka.bootstrap) != bool(self.redis.url):
            raise ConfigError("kafka.bootstrap and redis.url go together: set both "
                              "(distributed mode) or neither (embedded mode)")
        if self.gateway.worker_class not in GATEWAY_WORKER_CLASSES:
            raise ConfigError(f"gateway.worker_class must be one of {GATEWAY_WORKER_CLASSES}, "
                              f"got {self.gateway.worker_class!r}")
        if self.gateway.workers < 1 or self.gateway.threads < 1:
            raise ConfigError("gateway.workers and gateway.threads must be >= 1")
        for name in ("inbound_capacity", "outbound_capacity", "book_ring_capacity"):
            value = getattr(self.engine, name)
            if value < 2 or value & (value - 1):
                raise ConfigError(f"engine.{name} must be a power of two, got {value}")
        if self.engine.wait_strategy not in WAIT_STRATEGIES:
            raise ConfigError(f"engine.wait_strategy must be one of {sorted(WAIT_STRATEGIES)}")
        if min(self.engine.snapshot_every_events, self.engine.snapshot_interval_ms) < 0 or \
                self.engine.snapshots_kept < 1:
            raise ConfigError("engine.snapshot_every_events and engine.snapshot_interval_ms "
                              "must be >= 0, engine.snapshots_kept >= 1")
        if self.engine.order_capacity < 1 or self.engine.max_batch < 1:
            raise ConfigError("engine.order_capacity and engine.max_batch must be >= 1")
        if self.engine.client_id_window < 0:
            raise ConfigError(f"engine.client_id_window must be >= 0 (0 turns the window off), "
                              f"got {self.engine.client_id_window}")
        owned = self.kafka.orders_partitions
        if any(p < 0 for p in owned) or len(set(owned)) != len(owned):
            raise ConfigError(f"kafka.orders_partitions must be distinct partition numbers "
                              f">= 0, got {list(owned)}")
        if (owned or self.kafka.lease) and self.embedded:
            raise ConfigError("kafka.orders_partitions and kafka.lease need the distributed "
                              "mode (kafka.bootstrap and redis.url)")
        if self.kafka.lease_session_ms < 1000:
            raise ConfigError(f"kafka.lease_session_ms must be >= 1000, got "
                              f"{self.kafka.lease_session_ms}")
        if not 0 <= self.redis.apply_interval_ms <= 1000:
            raise ConfigError(f"redis.apply_interval_ms must be 0..1000, got "
                              f"{self.redis.apply_interval_ms}")
        if not 0 <= self.redis.catch_up_nice <= 19:
            raise ConfigError(f"redis.catch_up_nice must be 0..19, got "
                              f"{self.redis.catch_up_nice}")
        if self.kafka.transaction_idle_ms < 0:
            raise ConfigError(f"kafka.transaction_idle_ms must be >= 0, got "
                              f"{self.kafka.transaction_idle_ms}")
        if self.kafka.transactional_producers not in (1, 2):
            raise ConfigError(f"kafka.transactional_producers must be 1 or 2, got "
                              f"{self.kafka.transactional_producers}")
        if self.kafka.transaction_linger_ms < 0:
            raise ConfigError(f"kafka.transaction_linger_ms must be >= 0, got "
                              f"{self.kafka.transaction_linger_ms}")
        if self.kafka.events_format not in EVENTS_FORMATS:
            raise ConfigError(f"kafka.events_format must be one of {EVENTS_FORMATS}, got "
                              f"{self.kafka.events_format!r}")
        if self.kafka.events_compression not in EVENTS_COMPRESSIONS:
            raise ConfigError(f"kafka.events_compression must be one of "
                              f"{EVENTS_COMPRESSIONS}, got {self.kafka.events_compression!r}")
        if self.gateway.instances:
            if self.embedded:
                raise ConfigError("gateway.instances needs the distributed mode "
                                  "(kafka.bootstrap and redis.url)")
            parse_gateway_instances(self.gateway.instances, self.kafka.partitions)
        self.registry()  # raises ConfigError for bad pairs
        return self


def parse_gateway_instances(text: str, partitions: int) -> tuple[tuple[tuple[int, ...], str], ...]:
    """``"0,2=ex:a:;1=ex:b:"`` -> ``(((0, 2), "ex:a:"), ((1,), "ex:b:"))``, in the text's order.

    Invariants checked (``ConfigError`` naming ``gateway.instances`` otherwise): every entry is
    ``<partitions>=<prefix>``; each prefix is non-empty and appears once (an instance's
    ``last_seq`` is its own seq space, docs/deployment.md); the partition sets are disjoint and
    together cover exactly ``0 .. partitions - 1``, so every pair (``crc32(name) % partitions``)
    has exactly one instance. A prefix is everything after the first ``=`` up to the ``;``,
    without surrounding spaces.
    """
    where = "gateway.instances"
    if partitions < 1:
        raise ConfigError(f"{where} needs kafka.partitions >= 1, got {partitions}")
    instances: list[tuple[tuple[int, ...], str]] = []
    owner: dict[int, str] = {}
    for entry in (part.strip() for part in text.split(";")):
        if not entry:
            continue
        numbers, sep, prefix = entry.partition("=")
        prefix = prefix.strip()
        if not sep or not prefix:
            raise ConfigError(f"{where}: {entry!r} is not '<partitions>=<redis prefix>' with a "
                              "non-empty prefix (e.g. '0,2=ex:a:;1=ex:b:')")
        if any(prefix == seen for _, seen in instances):
            raise ConfigError(f"{where}: prefix {prefix!r} appears twice; each instance "
                              "writes its own prefix")
        owned = []
        for item in (n.strip() for n in numbers.split(",")):
            if not (item.isascii() and item.isdigit()):
                raise ConfigError(f"{where}: {entry!r}: {item!r} is not a partition number")
            partition = int(item)
            if partition >= partitions:
                raise ConfigError(f"{where}: partition {partition} of {prefix!r} is not below "
                                  f"kafka.partitions ({partitions})")
            if partition in owner:
                raise ConfigError(f"{where}: partition {partition} is owned by both "
                                  f"{owner[partition]!r} and {prefix!r}")
            owner[partition] = prefix
            owned.append(partition)
        instances.append((tuple(sorted(owned)), prefix))
    if not instances:
        raise ConfigError(f"{where}: {text!r} names no instance")
    missing = [p for p in range(partitions) if p not in owner]
    if missing:
        raise ConfigError(f"{where}: no instance owns partition(s) {missing} of "
                          f"kafka.partitions ({partitions})")
    return tuple(instances)


_SECTIONS = {f.name: f.type for f in dataclasses.fields(Settings) if f.name != "pairs"}
_SECTION_TYPES = {"engine": EngineSettings, "kafka": KafkaSettings, "redis": RedisSettings,
                  "gateway": GatewaySettings, "runtime": RuntimeSettings}


def _coerce(section: str, key: str, raw: Any, target: Any) -> Any:
    where = f"{section}.{key}"
    if isinstance(target, bool):
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("1", "true", "yes", "on", "0", "false",
                                                      "no", "off"):
            return raw.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where} must be a boolean, got {raw!r}")
    if isinstance(target, tuple):  # a list of ints: a TOML array, or "0,2" from the environment
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{where} must be a list of integers, got {raw!r}")
        values = []
        for item in items:
            if isinstance(item, str) and item.strip().lstrip("-").isdigit():
                values.append(int(item))
            elif type(item) is int:
                values.append(item)
            elif not (isinstance(item, str) and not item.strip()):
                raise ConfigError(f"{where} must be a list of integers, got {raw!r}")
        return tuple(sorted(values))
    if isinstance(target, int):
        if isinstance(raw, bool):
            raise ConfigError(f"{where} must be an integer, got {raw!r}")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be an integer, got {raw!r}") from None
    if not isinstance(raw, str):
        raise ConfigError(f"{where} must be a string, got {raw!r}")
    return raw


def _apply(settings: Settings, overrides: Mapping[str, Mapping[str, Any]], origin: str):
    changes: dict[str, Any] = {}
    for section, values in overrides.items():
        if section == "pairs":
            if not isinstance(values, list):
                raise ConfigError(f"{origin}: 'pairs' must be an array of tables")
            changes["pairs"] = tuple(values)
            continue
        if section not in _SECTION_TYPES:
            raise ConfigError(f"{origin}: unknown section {section!r}")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{origin}: [{section}] must be a table")
        current = getattr(settings, section)
        known = {f.name for f in dataclasses.fields(current)}
        updates = {}
        for key, raw in values.items():
            if key not in known:
                raise ConfigError(f"{origin}: unknown key {section}.{key}")
            updates[key] = _coerce(section, key, raw, getattr(current, key))
        changes[section] = dataclasses.replace(current, **updates)
    return dataclasses.replace(settings, **changes)


def _from_environment(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    overrides: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith("RINGEX_") or name in _IGNORED_ENV:
            continue
        rest = name[len("RINGEX_"):].lower()
        section, _, key = rest.partition("_")
        fields = {f.name for f in dataclasses.fields(_SECTION_TYPES.get(section, Settings))}
        if section not in _SECTION_TYPES or key not in fields:
            raise ConfigError(f"environment: unknown setting {name}")
        overrides.setdefault(section, {})[key] = value
    return overrides


# Variables of the project's scripts and tests, not settings of the exchange.
_IGNORED_ENV = {"RINGEX_VAR", "RINGEX_CACHE", "RINGEX_VENV", "RINGEX_STOP_SERVICES"}


def load_settings(path: str | os.PathLike | None = None, *,
                  environ: Mapping[str, str] | None = None,
                  flags: Mapping[str, Mapping[str, Any]] | None = None) -> Settings:
    """Defaults ← TOML file ← environment ← flags; validated."""
    settings = Settings()
    if path is not None:
        try:
            document = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        settings = _apply(settings, document, str(path))
    settings = _apply(settings, _from_environment(os.environ if environ is None else environ),
                      "environment")
    if flags:
        given = {section: {key: value for key, value in values.items() if value not in ("", None)}
                 for section, values in flags.items()}
        settings = _apply(settings, {s: v for s, v in given.items() if v}, "flags")
    return settings.validate()
