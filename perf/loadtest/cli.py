"""``ringex loadtest`` (``python -m perf.loadtest``): options, and the run or sweep they ask for.

    ringex loadtest --start-exchange                     # 1M orders, JSON, max-throughput
    ringex loadtest --start-exchange --route frame
    ringex loadtest --start-exchange --mode open --rate 50000 --duration 20
    ringex loadtest --start-exchange --sweep --rates 10000,20000,50000 --duration 10
    ringex loadtest --start-exchange --route rest -n 20000            # through the gateway
    ringex loadtest --start-exchange --route rest --rest-batch 50 --mode open --rate 2000
    ringex loadtest --route rest --gateway-url http://127.0.0.1:8080 --api-keys k1,k2 ...
    ringex loadtest --bootstrap 127.0.0.1:9092 --redis redis://127.0.0.1:6379/0 \\
        --orders-topic orders --trades-topic trades --events-topic order-events

Exit status: 0 when every run verified, 1 when any check failed (a fast wrong run is a
failure), 2 for a usage or start-up error.
"""

from __future__ import annotations

import argparse
import sys

from perf.loadtest.flow import Mix
from perf.loadtest.run import RunConfig, run_load

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ringex loadtest",
        description="end-to-end load test through Kafka: seeded order flow into `orders` as "
                    "JSON or binary frames, or through the REST gateway (--route rest); "
                    "latency to `order-events` and `trades`; verified against a matcher")
    target = parser.add_argument_group("exchange")
    target.add_argument("--start-exchange", action="store_true",
                        help="start a ringex serve of our own (unique topics, temp var dir)")
    target.add_argument("--bootstrap", default="127.0.0.1:9092")
    target.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    target.add_argument("--partitions", type=int, default=1,
                        help="orders partitions of a started exchange (1: byte-exact check)")
    target.add_argument("--bridges", type=int, default=1, help="bridge processes (started)")
    target.add_argument("--orders-topic", default="orders")
    target.add_argument("--trades-topic", default="trades")
    target.add_argument("--events-topic", default="order-events")
    target.add_argument("--order-capacity", type=int, default=1 << 20,
                        help="engine.order_capacity of a running exchange (for the check)")
    target.add_argument("--keep", action="store_true", help="keep a started exchange's topics")
    target.add_argument("--gateway-url", default="",
                        help="REST route against a running exchange: its gateway's base URL")
    target.add_argument("--api-keys", default="",
                        help="REST route against a running exchange: comma-separated API keys; "
                             "flow account a uses key (a-1) %% count")
    target.add_argument("--gateway-workers", type=int, default=2,
                        help="gunicorn workers of a started exchange's gateway (REST route)")
    target.add_argument("--events-format", choices=["json", "frame"], default="json",
                        help="kafka.events_format of a started exchange: one JSON message per "
                             "event (the seed's payloads) or event frames (the receiver reads "
                             "either)")
    target.add_argument("--transaction-linger-ms", type=int, default=5,
                        help="kafka.transaction_linger_ms of a started exchange")
    target.add_argument("--transaction-idle-ms", type=int, default=0,
                        help="kafka.transaction_idle_ms of a started exchange")
    target.add_argument("--transactional-producers", type=int, choices=[1, 2], default=2,
                        help="kafka.transactional_producers of a started exchange")
    target.add_argument("--redis-apply-interval-ms", type=int, default=20,
                        help="redis.apply_interval_ms of a started exchange")
    target.add_argument("--events-compression", default="lz4",
                        choices=["none", "gzip", "snappy", "lz4", "zstd"],
                        help="kafka.events_compression of a started exchange")

    load = parser.add_argument_group("load")
    load.add_argument("--route", choices=["json", "frame", "rest"], default="json",
                      help="json, frame: produce into `orders`; rest: HTTP to the gateway "
                           "(POST /orders or /orders/batch, DELETE and PATCH /orders/{id}), "
                           "which produces into `orders`")
    load.add_argument("--mode", choices=["max", "open"], default="max")
    load.add_argument("-n", "--orders", type=int, default=1_000_000,
                      help="commands to send in max-throughput mode")
    load.add_argument("--rate", type=float, default=50_000, help="open-loop commands/s")
    load.add_argument("--duration", type=float, default=10.0, help="open-loop seconds")
    load.add_argument("--frame-records", type=int, default=1000)
    load.add_argument("--producer-linger-ms", type=float,
                      default=RunConfig.producer_linger_ms,
                      help="the sender's librdkafka linger.ms (json, frame routes); a tick's "
                           "messages are already one batch, so a longer linger only delays "
                           "them (docs/benchmarks.md)")
    load.add_argument("--tick-ms", type=float, default=0.5,
                      help="open-loop send interval (frames: one per pair per tick)")
    load.add_argument("--rest-batch", type=int, default=1,
                      help="REST: NEW orders per POST /orders/batch (1: one POST /orders each)")
    load.add_argument("--rest-senders", type=int, default=2, help="REST: sender processes")
    load.add_argument("--rest-connections", type=int, default=8,
                      help="REST: keep-alive connections over the senders; all commands of "
                           "one account go through one connection")
    load.add_argument("--md-freshness-ms", type=float, default=0.0,
                      help="sample Redis market data's last_seq every this many ms and report "
                           "candle freshness, trade produced -> in Redis (0: off)")
    load.add_argument("--seed", type=int, default=1)
    load.add_argument("--run-tag", type=int, default=0, help="client-id namespace (default: time)")
    load.add_argument("--pairs", default="", help="comma-separated pair names (default: all)")
    load.add_argument("--accounts", type=int, default=100)
    for name, default in (("limit", 0.50), ("marketable", 0.15), ("cancel", 0.25),
                          ("amend", 0.10)):
        load.add_argument(f"--{name}", type=float, default=default, help=f"share of {name}")
    load.add_argument("--market-share", type=float, default=0.2,
                      help="share of MARKET orders among marketable ones")

    out = parser.add_argument_group("output")
    out.add_argument("--verify", choices=["reference", "engine", "none"], default="reference")
    out.add_argument("--report", default="loadtest-report.json")
    out.add_argument("--png", default="")
    out.add_argument("--no-progress", action="store_true")
    out.add_argument("--sweep", action="store_true", help="open-loop rate sweep table")
    out.add_argument("--rates", default="", help="sweep rates, comma-separated")
    out.add_argument("--sweep-metric", choices=["order_to_trade", "order_to_outcome"],
                     default="order_to_trade")
    return parser


def _config(args) -> RunConfig:
    mix = Mix(limit=args.limit, marketable=args.marketable, cancel=args.cancel,
              amend=args.amend, market_share=args.market_share)
    return RunConfig(route=args.route, mode=args.mode, orders=args.orders, rate=args.rate,
                     duration=args.duration, seed=args.seed, mix=mix,
                     pairs=tuple(p for p in args.pairs.split(",") if p),
                     accounts=args.accounts, frame_records=args.frame_records, tick_ms=args.tick_ms,
                     run_tag=args.run_tag, verify=args.verify, progress=not args.no_progress,
                     rest_batch=args.rest_batch, rest_senders=args.rest_senders,
                     rest_connections=args.rest_connections,
                     producer_linger_ms=args.producer_linger_ms,
                     md_freshness_ms=args.md_freshness_ms)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    rest = args.route == "rest"
    if rest and not args.start_exchange and not (args.gateway_url and args.api_keys):
        print("ringex loadtest: --route rest needs --start-exchange, or --gateway-url and "
              "--api-keys of a running exchange", file=sys.stderr)
        return 2
    if rest:
        from perf.loadtest.rest import check_options

        try:
            check_options(args.rest_batch, args.rest_senders, args.rest_connections)
        except ValueError as exc:
            print(f"ringex loadtest: {exc}", file=sys.stderr)
            return 2
    from perf.loadtest.exchange import attach_exchange, start_exchange
    from perf.loadtest.report import machine, write_png, write_report
    from perf.loadtest.sweep import DEFAULT_RATES, format_table, sweep_rates

    config = _config(args)
    if args.start_exchange:
        extra_env = {"RINGEX_KAFKA_EVENTS_FORMAT": args.events_format,
                     "RINGEX_KAFKA_TRANSACTION_LINGER_MS": str(args.transaction_linger_ms),
                     "RINGEX_KAFKA_TRANSACTION_IDLE_MS": str(args.transaction_idle_ms),
                     "RINGEX_KAFKA_TRANSACTIONAL_PRODUCERS": str(args.transactional_producers),
                     "RINGEX_REDIS_APPLY_INTERVAL_MS": str(args.redis_apply_interval_ms),
                     "RINGEX_KAFKA_EVENTS_COMPRESSION": args.events_compression}
        if rest:
            extra_env["RINGEX_GATEWAY_WORKERS"] = str(args.gateway_workers)
        exchange = start_exchange(
            args.bootstrap, args.redis, partitions=args.partitions, bridges=args.bridges,
            gateway=rest, accounts=args.accounts, extra_env=extra_env)
    else:
        exchange = attach_exchange(args.bootstrap, args.redis, orders=args.orders_topic,
                                   trades=args.trades_topic, events=args.events_topic,
                                   gateway_url=args.gateway_url,
                                   api_keys=tuple(k for k in args.api_keys.split(",") if k))
    runs = []
    try:
        settings = exchange.settings() if exchange.owned else None
        registry = settings.registry() if settings else _registry()
        capacity = settings.engine.order_capacity if settings else args.order_capacity
        account = settings.runtime.default_account if settings else 1
        if args.sweep:
            rates = [float(r) for r in args.rates.split(",") if r] or list(DEFAULT_RATES)
            runs = sweep_rates(config, exchange, registry, rates, run=run_load,
                               order_capacity=capacity, default_account=account)
        else:
            result = run_load(config, exchange, registry, order_capacity=capacity,
                              default_account=account)
            result["label"] = f"{config.route} {config.mode}"
            runs = [result]
    finally:
        if exchange.owned:
            code = exchange.stop(keep=args.keep)
            if code not in (0, None):
                print(f"ringex serve exited with {code}:\n{exchange.log_tail()}",
                      file=sys.stderr)
    report = {"machine": machine(exchange.bootstrap, exchange.redis_url),
              "config": {**vars(args), "api_keys": len(exchange.api_keys), "exchange": {
                  "started": exchange.owned, "topics": exchange.topics,
                  "partitions": exchange.partitions, "bridges": args.bridges,
                  "gateway_url": exchange.gateway_url}},
              "runs": runs}
    if args.png:
        problem = write_png(runs, args.png)
        report["png"] = problem or args.png
    print(write_report(report, args.report))
    if args.sweep:
        print(format_table(runs, args.sweep_metric), file=sys.stderr)
    failed = [run.get("label") for run in runs if not run["verification"]["ok"]]
    if failed:
        print(f"ringex loadtest: FAILED verification: {failed}", file=sys.stderr)
        return 1
    return 0


def _registry():
    from ringex.pairs import default_pairs

    return default_pairs()
