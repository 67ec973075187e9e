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
