"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

No engine runs on these machines, so the deliverable is validated against the code instead:
every ringex service's command must parse with the real CLI, its environment must be settings
the real config loader accepts (unknown keys are refused), and the addresses, ports,
volumes and health checks must agree with each other.
"""

import re
import shlex
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from ringex.cli import build_parser, settings_from_args

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
RINGEX_SERVICES = [name for name, spec in SERVICES.items() if spec.get("build")]


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with VAR unset, which is what a fresh `compose up` sees."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def _environment(spec) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: _interpolate(value) for key, value in env.items()}


def _dockerfile_entrypoint() -> list[str]:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("ENTRYPOINT"):
            return yaml.safe_load(line.split(None, 1)[1])
    raise AssertionError("Dockerfile has no ENTRYPOINT")


def _args(name):
    return build_parser().parse_args(SERVICES[name]["command"])


def test_the_expected_services_exist():
    assert set(SERVICES) == {"kafka", "redis", "engine", "gateway"}
    assert RINGEX_SERVICES == ["engine", "gateway"]
    assert _dockerfile_entrypoint() == ["ringex"]


@pytest.mark.parametrize("name", ["engine", "gateway"])
def test_ringex_commands_and_environment_are_accepted_by_the_code(name):
    args = _args(name)  # argparse exits (SystemExit) on an unknown flag or sub-command
    settings = settings_from_args(args, environ=_environment(SERVICES[name]))
    assert not settings.embedded, "compose runs the distributed mode"
    assert args.command == {"engine": "serve", "gateway": "gateway"}[name]


def test_the_engine_runs_without_a_gateway_and_the_gateway_alone():
    engine = settings_from_args(_args("engine"), environ=_environment(SERVICES["engine"]))
    assert engine.gateway.enabled is False
    gateway = settings_from_args(_args("gateway"), environ=_environment(SERVICES["gateway"]))
    assert gateway.gateway.api_keys, "the gateway needs API keys in distributed mode"


@pytest.mark.parametrize("name", ["engine", "gateway"])
def test_kafka_and_redis_addresses_match_their_services(name):
    settings = settings_from_args(_args(name), environ=_environment(SERVICES[name]))
    kafka_env = SERVICES["kafka"]["environment"]
    advertised = kafka_env["KAFKA_ADVERTISED_LISTENERS"].split("://", 1)[1]
    assert settings.kafka.bootstrap == advertised
    assert settings.kafka.bootstrap.split(":")[0] == "kafka"
    redis_url = urlparse(settings.redis.url)
    assert (redis_url.hostname, redis_url.port or 6379) == ("redis", 6379)
    assert "--port" not in SERVICES["redis"]["command"]
    assert "redis-server" in SERVICES["redis"]["command"][0]
    assert "--appendonly" in SERVICES["redis"]["command"]


def test_ports_and_health_checks_agree():
    gateway = settings_from_args(_args("gateway"), environ=_environment(SERVICES["gateway"]))
    bind_port = gateway.gateway.bind.rsplit(":", 1)[1]
    published = [str(p).split(":") for p in SERVICES["gateway"]["ports"]]
    assert [container for _host, container in published] == [bind_port]
    assert f":{bind_port}/health" in " ".join(SERVICES["gateway"]["healthcheck"]["test"])
    engine = settings_from_args(_args("engine"), environ=_environment(SERVICES["engine"]))
    assert f":{engine.runtime.metrics_port}/metrics" in " ".join(
        SERVICES["engine"]["healthcheck"]["test"])
    for name, spec in SERVICES.items():
        assert "healthcheck" in spec, name
        for dependency, condition in (spec.get("depends_on") or {}).items():
            assert dependency in SERVICES
            assert condition["condition"] == "service_healthy"
            assert "healthcheck" in SERVICES[dependency]


def test_volumes_are_declared_and_data_lives_where_the_code_writes_it():
    declared = set(COMPOSE["volumes"])
    used = set()
    for spec in SERVICES.values():
        for volume in spec.get("volumes", []):
            source, target = volume.split(":")[:2]
            used.add(source)
    assert used == declared == {"kafka-data", "redis-data", "ringex-data"}
    kafka_dir = SERVICES["kafka"]["environment"]["KAFKA_LOG_DIRS"]
    assert f"kafka-data:{kafka_dir}" in SERVICES["kafka"]["volumes"]
    assert "redis-data:/data" in SERVICES["redis"]["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    var_dir = re.search(r"RINGEX_RUNTIME_VAR_DIR=(\S+)", dockerfile).group(1)
    assert f"ringex-data:{var_dir}" in SERVICES["engine"]["volumes"]
    assert SERVICES["engine"].get("shm_size"), "rings live in /dev/shm: the default 64 MB is too small"


def test_the_dockerfile_copies_what_exists_and_documents_its_commands():
    text = (ROOT / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY"):
            for source in shlex.split(line)[1:-1]:
                assert (ROOT / source).exists(), source
    command = yaml.safe_load(re.search(r"^CMD (.*)$", text, re.M).group(1))
    assert build_parser().parse_args(command).command == "serve"
    assert "RUN python -m ringex.warmup --pipeline" in text  # no minute of compiling at container start


# --- docker-compose.scale-out.yml, merged over docker-compose.yml ---------------------------
#
# `docker compose -f docker-compose.yml -f docker-compose.scale-out.yml` merges the override
# into the base (Compose specification, "Merge"). The subset of those rules this test models,
# which is all the override may rely on (_merge refuses anything else):
#   - a mapping merges key by key, recursively; a scalar of the override replaces the base's
#     (top-level `name`, environment values, depends_on entries, healthcheck fields);
#   - `environment` in list form ("K=V") is read as a mapping first;
#   - `command`, `entrypoint` and `healthcheck.test` are replaced whole;
#   - a service's `volumes` are unique by container path: an override entry replaces the base
#     entry with the same target, other entries are appended;
#   - any other sequence (ports, secrets, configs, dns, ...) is not modelled: the override may
#     not give one to a service the base already has (a new service may have anything).

SCALE_OUT = yaml.safe_load((ROOT / "docker-compose.scale-out.yml").read_text())
_REPLACED = {("command",), ("entrypoint",), ("healthcheck", "test")}


def _volume_target(entry) -> str:
    return entry["target"] if isinstance(entry, dict) else str(entry).split(":")[1]


def _merge(base, override, path=()):
    if path and path[-1] == "environment" and len(path) == 3:  # services.<name>.environment
        base, override = _environment_map(base), _environment_map(override)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value, path + (key,)) if key in base else value
        return merged
    if path[-2:] in _REPLACED or path[-1:] in _REPLACED:
        return override
    if isinstance(base, list) and isinstance(override, list) and len(path) == 3 \
            and path[0] == "services" and path[2] == "volumes":
        targets = {_volume_target(entry): entry for entry in override}
        kept = [entry for entry in base if _volume_target(entry) not in targets]
        return kept + list(override)
    if isinstance(base, list) or isinstance(override, list):
        raise AssertionError(f"{'.'.join(path)}: merging this sequence is not modelled by "
                             "tests/test_compose.py")
    return override


def _environment_map(env):
    if isinstance(env, list):
        return dict(str(item).split("=", 1) for item in env)
    return dict(env or {})


def test_the_merge_model_follows_the_compose_rules_it_claims():
    base = {"services": {"s": {"command": ["a", "b"], "environment": ["A=1", "B=2"],
                               "volumes": ["x:/data", "y:/logs"],
                               "healthcheck": {"test": ["CMD", "a"], "interval": "5s"},
                               "depends_on": {"k": {"condition": "service_healthy"}}}}}
    override = {"name": "other", "services": {"s": {
        "command": ["c"], "environment": {"B": "3", "C": "4"}, "volumes": ["z:/data"],
        "healthcheck": {"test": ["CMD", "b"]},
        "depends_on": {"r": {"condition": "service_healthy"}}}}}
    merged = _merge(base, override)
    assert merged["name"] == "other"
    service = merged["services"]["s"]
    assert service["command"] == ["c"]
    assert service["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert service["volumes"] == ["y:/logs", "z:/data"]
    assert service["healthcheck"] == {"test": ["CMD", "b"], "interval": "5s"}
    assert set(service["depends_on"]) == {"k", "r"}
    with pytest.raises(AssertionError, match="not modelled"):
        _merge({"services": {"s": {"ports": ["1:1"]}}}, {"services": {"s": {"ports": ["2:2"]}}})


MERGED = _merge(COMPOSE, SCALE_OUT)
MERGED_SERVICES = MERGED["services"]
MERGED_RINGEX = [name for name, spec in MERGED_SERVICES.items() if spec.get("build")]
ENGINES = ["engine", "engine-b"]


def _image_environment() -> dict[str, str]:
    """The Dockerfile's RINGEX_* ENV, which every container sees under its own environment."""
    return dict(re.findall(r"\b(RINGEX_[A-Z_]+)=(\S+)", (ROOT / "Dockerfile").read_text()))


def _merged_settings(name):
    spec = MERGED_SERVICES[name]
    args = build_parser().parse_args(spec["command"])  # SystemExit on an unknown flag
    return args, settings_from_args(args, environ={**_image_environment(), **_environment(spec)})


def test_the_scale_out_runs_two_engines_and_one_gateway():
    assert MERGED_RINGEX == ["engine", "gateway", "engine-b"]
    assert set(MERGED_SERVICES) == {"kafka", "redis", "engine", "gateway", "engine-b"}
    for name in ("kafka", "redis"):
        assert MERGED_SERVICES[name] == SERVICES[name], "the override leaves the brokers alone"
    # the override changes no command of the base: engine and gateway keep theirs
    for name in ("engine", "gateway"):
        assert MERGED_SERVICES[name]["command"] == SERVICES[name]["command"]


@pytest.mark.parametrize("name", ["engine", "engine-b", "gateway"])
def test_scale_out_commands_and_environment_are_accepted_by_the_code(name):
    args, settings = _merged_settings(name)
    assert not settings.embedded
    assert args.command == ("gateway" if name == "gateway" else "serve")
    if name != "gateway":
        assert settings.gateway.enabled is False
        assert settings.kafka.lease is False, "no standby runs in this override"
    kafka_env = MERGED_SERVICES["kafka"]["environment"]
    assert settings.kafka.bootstrap == kafka_env["KAFKA_ADVERTISED_LISTENERS"].split("://")[1]
    redis_url = urlparse(settings.redis.url)
    assert (redis_url.hostname, redis_url.port or 6379) == ("redis", 6379)


def test_instances_own_disjoint_partitions_covering_every_one_with_distinct_identities():
    engines = {name: _merged_settings(name)[1] for name in ENGINES}
    _, gateway = _merged_settings("gateway")
    partitions = {s.kafka.partitions for s in [*engines.values(), gateway]}
    assert len(partitions) == 1, "every topic and every process needs one partition count"
    (n,) = partitions
    owned = [p for s in engines.values() for p in s.kafka.orders_partitions]
    assert sorted(owned) == list(range(n)), "instances own disjoint partitions covering 0..n-1"
    for s in engines.values():
        assert len(s.kafka.orders_partitions) == 1, "one partition per instance (docs/recovery.md)"
    for attribute in (lambda s: s.kafka.group_id, lambda s: s.redis.prefix,
                      lambda s: s.runtime.metrics_port):
        values = [attribute(s) for s in engines.values()]
        assert len(set(values)) == len(values), values
    assert all(s.runtime.metrics_port for s in engines.values())
    # a changed partition count needs fresh topics (re-partitioning live books is not
    # supported): the override is then its own project, with its own volumes
    base = settings_from_args(_args("engine"), environ=_environment(SERVICES["engine"]))
    if n != base.kafka.partitions:
        assert MERGED["name"] != COMPOSE["name"]


def test_each_instance_keeps_its_snapshots_on_its_own_volume():
    declared = set(MERGED["volumes"])
    volumes = {}
    for name in ENGINES:
        _, settings = _merged_settings(name)
        snapshots = settings.engine.snapshot_dir or f"{settings.runtime.var_dir}/snapshots"
        mounts = [str(v).split(":")[:2] for v in MERGED_SERVICES[name]["volumes"]]
        covering = [source for source, target in mounts
                    if snapshots == target or snapshots.startswith(target.rstrip("/") + "/")]
        assert len(covering) == 1, (name, snapshots, mounts)
        assert covering[0] in declared
        volumes[name] = covering[0]
        targets = [target for _, target in mounts]
        assert len(set(targets)) == len(targets), (name, mounts)
        assert MERGED_SERVICES[name].get("shm_size")
    assert len(set(volumes.values())) == len(volumes), volumes
    for spec in MERGED_SERVICES.values():
        for volume in spec.get("volumes", []):
            assert str(volume).split(":")[0] in declared


def test_the_gateway_reads_each_partition_from_its_owner():
    from ringex.config import parse_gateway_instances

    _, gateway = _merged_settings("gateway")
    routes = parse_gateway_instances(gateway.gateway.instances, gateway.kafka.partitions)
    expected = sorted((s.kafka.orders_partitions, s.redis.prefix)
                      for s in (_merged_settings(name)[1] for name in ENGINES))
    assert sorted(routes) == expected
    assert gateway.gateway.api_keys


def test_engine_b_is_the_base_engine_but_for_the_instance_settings():
    """engine-b is written out whole (compose cannot extend a service with depends_on):
    everything but the instance's identity must stay what the base engine runs with."""
    instance_keys = {"RINGEX_KAFKA_ORDERS_PARTITIONS", "RINGEX_KAFKA_GROUP_ID",
                     "RINGEX_REDIS_PREFIX", "RINGEX_RUNTIME_METRICS_PORT"}
    a, b = MERGED_SERVICES["engine"], MERGED_SERVICES["engine-b"]
    env_a, env_b = _environment(a), _environment(b)
    assert set(env_a) == set(env_b)
    assert {k: v for k, v in env_a.items() if k not in instance_keys} == \
        {k: v for k, v in env_b.items() if k not in instance_keys}
    for key in ("build", "command", "shm_size", "depends_on", "restart"):
        assert a[key] == b[key], key
    check_a, check_b = dict(a["healthcheck"]), dict(b["healthcheck"])
    assert check_a.pop("test") != check_b.pop("test")
    assert check_a == check_b


def test_scale_out_health_checks_and_dependencies_agree():
    for name in ENGINES:
        _, settings = _merged_settings(name)
        test = " ".join(MERGED_SERVICES[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{settings.runtime.metrics_port}/metrics" in test, name
    _, gateway = _merged_settings("gateway")
    bind_port = gateway.gateway.bind.rsplit(":", 1)[1]
    assert [str(p).split(":")[-1] for p in MERGED_SERVICES["gateway"]["ports"]] == [bind_port]
    assert f":{bind_port}/health" in " ".join(MERGED_SERVICES["gateway"]["healthcheck"]["test"])
    assert set(MERGED_SERVICES["gateway"]["depends_on"]) == set(ENGINES)
    for name, spec in MERGED_SERVICES.items():
        assert "healthcheck" in spec, name
        for dependency, condition in (spec.get("depends_on") or {}).items():
            assert dependency in MERGED_SERVICES, (name, dependency)
            assert condition["condition"] == "service_healthy"
            assert "healthcheck" in MERGED_SERVICES[dependency]


def test_the_broker_runs_the_heap_and_collector_of_the_measured_one():
    """The compose broker gets the JVM flags scripts/kafka.sh starts the benchmarked broker
    with (docs/operations.md: G1's pauses set the end-to-end p99)."""
    script = (ROOT / "scripts" / "kafka.sh").read_text()
    defaults = {name: re.search(rf'^{name}="\$\{{{name}:-(.*)\}}"$', script, re.M).group(1)
                for name in ("KAFKA_HEAP_OPTS", "KAFKA_GC_OPTS")}
    kafka_env = _environment(SERVICES["kafka"])
    assert kafka_env["KAFKA_HEAP_OPTS"] == defaults["KAFKA_HEAP_OPTS"]
    assert set(defaults["KAFKA_GC_OPTS"].split()) <= set(
        kafka_env["KAFKA_JVM_PERFORMANCE_OPTS"].split())
