"""The ``ringex`` command: one console script, one sub-command per task."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

__all__ = ["main", "build_parser", "settings_from_args"]


def settings_from_args(args, environ=None):
    """The settings a ``serve`` or ``gateway`` command line asks for: its ``--config`` file,
    the environment, then its flags (``docker-compose.yml`` is checked through this)."""
    from ringex.config import load_settings

    given = vars(args)  # each command declares only its own flags; absent ones change nothing
    flags = {
        "kafka": {"bootstrap": given.get("kafka", ""),
                  "group_id": given.get("group_id", ""),
                  "orders_partitions": given.get("orders_partitions", ""),
                  **({"lease": True} if given.get("lease") else {})},
        "redis": {"url": given.get("redis", "")},
        "runtime": {"var_dir": given.get("var_dir", ""),
                    "log_level": given.get("log_level", "")},
        "gateway": {"bind": given.get("bind", ""),
                    "instances": given.get("instances", ""),
                    **({"enabled": False} if given.get("no_gateway") else {})},
    }
    return load_settings(given.get("config"), environ=environ, flags=flags)


def _add_service_flags(parser: argparse.ArgumentParser) -> None:
    """The flags ``serve`` and ``gateway`` share: where the settings and services are."""
    parser.add_argument("--config", help="TOML settings file")
    parser.add_argument("--kafka", default="", help="Kafka bootstrap servers (distributed mode)")
    parser.add_argument("--redis", default="", help="Redis URL (distributed mode)")
    parser.add_argument("--var-dir", default="", help="runtime directory (journal, ring names)")
    parser.add_argument("--bind", default="", help="gateway address, host:port")


def _serve(args) -> int:
    from ringex.runtime.serve import serve

    settings = settings_from_args(args)
    from ringex.runtime.process_common import configure_logging

    configure_logging(settings.runtime.log_level)
    return serve(settings)


def _gateway(args) -> int:
    """The REST gateway alone, for a distributed deployment (its own host or container):
    it needs only Kafka (orders) and Redis (market data, accounts, rate limits)."""
    from ringex.runtime.gateway_process import gateway_main
    from ringex.runtime.preflight import check_bind
    from ringex.runtime.topology import RingNames

    settings = settings_from_args(args)
    if settings.embedded:
        print("ringex gateway serves a distributed exchange (--kafka and --redis); an embedded "
              "exchange runs its gateway inside `ringex serve`", file=sys.stderr)
        return 2
    check_bind(settings.gateway.bind, "gateway.bind")
    gateway_main(settings, RingNames(inbound="", outbound="", books="", embedded=False))
    return 0


def _submit(args) -> int:
    from ringex.config import load_settings
    from ringex.runtime.submit import InboundClient
    from ringex.wire.json_commands import decode_command

    settings = load_settings(args.config, flags={"runtime": {"var_dir": args.var_dir}})
    registry = settings.registry()
    payloads = args.orders or [line for line in sys.stdin.read().splitlines() if line.strip()]
    client = InboundClient(settings.runtime.var_dir)
    try:
        for payload in payloads:
            # order_id=1 is a placeholder: the inbound client assigns embedded order ids
            command = decode_command(payload.encode(), registry, order_id=1, timestamp_ns=0,
                                     default_account=settings.runtime.default_account)
            sequence = int(client.submit(command)[0])
            print(json.dumps({"accepted_into_journal": True, "sequence": sequence,
                              "order_id": sequence + 1 if command["kind"][0] == 1 else None}))
    finally:
        client.close()
    return 0


def _rebuild_redis(args) -> int:
    from ringex.config import load_settings
    from ringex.runtime.rebuild_redis import rebuild_redis

    flags = {"kafka": {"bootstrap": args.kafka}, "redis": {"url": args.redis}}
    settings = load_settings(args.config, flags=flags)
    if settings.embedded:
        print("ringex: rebuild-redis needs --kafka and --redis (or their settings)",
              file=sys.stderr)
        return 2
    print(json.dumps(rebuild_redis(settings, flush=args.flush)))
    return 0


def _demo(args) -> int:
    from ringex.demo import run_demo

    return run_demo()


def _bench(args) -> int:
    script = Path(__file__).resolve().parents[1] / "perf" / "bench_engine.py"
    if not script.exists():
        print("perf/bench_engine.py is only in a source checkout", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(script), *args.bench_args])


def _loadtest(args) -> int:
    import os

    root = Path(__file__).resolve().parents[1]
    if not (root / "perf" / "loadtest" / "__main__.py").exists():
        print("perf/loadtest is only in a source checkout", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    return subprocess.call([sys.executable, "-m", "perf.loadtest", *args.loadtest_args], env=env)


def build_parser() -> argparse.ArgumentParser:
    from ringex.ring.cli import add_shm_commands

    parser = argparse.ArgumentParser(prog="ringex", description="ringex exchange engine")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the exchange (embedded unless --kafka/--redis)")
    _add_service_flags(serve)
    serve.add_argument("--log-level", default="")
    serve.add_argument("--no-gateway", action="store_true")
    serve.add_argument("--group-id", default="",
                       help="this instance's Kafka group id (its offsets; scale-out)")
    serve.add_argument("--orders-partitions", default="",
                       help="the orders partitions this instance owns, e.g. 0,2 (scale-out)")
    serve.add_argument("--lease", action="store_true",
                       help="run only while holding the lease of the group id; a standby "
                            "runs the same command (docs/deployment.md)")
    serve.set_defaults(func=_serve)

    gateway = commands.add_parser("gateway", help="run only the REST gateway (distributed mode)")
    _add_service_flags(gateway)
    gateway.add_argument("--instances", default="",
                         help="engine instances whose market data to read, "
                              "'<partitions>=<redis prefix>;...' (e.g. '0=ex:a:;1=ex:b:'); "
                              "default: one instance at redis.prefix")
    gateway.set_defaults(func=_gateway)

    submit = commands.add_parser("submit", help="send JSON orders to a running embedded exchange")
    submit.add_argument("orders", nargs="*", help="JSON orders (default: one per stdin line)")
    submit.add_argument("--config")
    submit.add_argument("--var-dir", default="")
    submit.set_defaults(func=_submit)

    rebuild = commands.add_parser("rebuild-redis",
                                  help="replay `order-events` into Redis (idempotent)")
    rebuild.add_argument("--config")
    rebuild.add_argument("--kafka", default="")
    rebuild.add_argument("--redis", default="")
    rebuild.add_argument("--flush", action="store_true", help="delete the prefix's keys first")
    rebuild.set_defaults(func=_rebuild_redis)

    demo = commands.add_parser("demo", help="match a small scripted session in-process")
    demo.set_defaults(func=_demo)

    bench = commands.add_parser("bench", help="run perf/bench_engine.py")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=_bench)

    loadtest = commands.add_parser("loadtest", help="run perf/loadtest (end-to-end load test: "
                                   "Kafka JSON, binary frames or the REST gateway)",
                                   add_help=False, prefix_chars="+")
    # prefix_chars="+": every "-" option after `loadtest` belongs to perf/loadtest
    loadtest.add_argument("loadtest_args", nargs=argparse.REMAINDER)
    loadtest.set_defaults(func=_loadtest)

    add_shm_commands(commands)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:  # the CLI reports, it does not dump a traceback at users
        from ringex.errors import RingexError

        if isinstance(exc, (RingexError, FileNotFoundError, TimeoutError)):
            print(f"ringex: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
