"""One load-test run against one exchange: generate, send, receive, attribute, verify.

::

    flow ─► route (json | frame) ─► Kafka `orders` ─► ringex serve ─► `order-events`, `trades`
      │      route rest ─► HTTP ─► gateway ─┘                              │
      │        ▲ mode decides when                                        │
      │        └ send_ns[i]                                  receiver process (arrival_ns)
      └──────────────────────── attribution, latency, verification ◄──────┘

On the REST route the mode only *releases* commands to the route's sender processes; the
run then waits for their answers (``RestRoute.finish``), expects an outcome for each 2xx
command and none for a 409, and in max-throughput mode takes the moment a lane wrote the
request as the send time.

The exchange is started (or named) by the caller; this module never stops it. Every wait
is bounded: the probe (``ready_timeout``), the drain after sending (``drain_timeout``, and
``stall_timeout`` without any new outcome), and the receiver's own drain.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from perf.loadtest.cpu import CpuSampler
from perf.loadtest.flow import Mix, generate_flow
from perf.loadtest.latency import attribute, percentiles
from perf.loadtest.modes import max_throughput, open_loop
from perf.loadtest.progress import Progress, SenderCounters
from perf.loadtest.receiver import Shared, end_offsets, run_receiver
from perf.loadtest.routes import ROUTES, producer_config
from ringex.runtime.process_common import settle_heap

__all__ = ["RunConfig", "run_load"]


@dataclass
class RunConfig:
    route: str = "json"
    mode: str = "max"  # "max" | "open"
    orders: int = 1_000_000
    rate: float = 50_000.0
    duration: float = 10.0
    seed: int = 1
    mix: Mix = field(default_factory=Mix)
    pairs: tuple = ()
    accounts: int = 100
    frame_records: int = 1000
    tick_ms: float = 0.5  # open-loop: how often due commands go out (one frame per pair)
    rest_batch: int = 1  # REST: NEW orders per POST /orders/batch (1: POST /orders)
    rest_senders: int = 2  # REST: sender processes
    rest_connections: int = 8  # REST: keep-alive connections (lanes), over the senders
    producer_linger_ms: float = 1.0  # the sender's librdkafka linger.ms (Kafka routes)
    md_freshness_ms: float = 0.0  # poll Redis' last_seq this often for candle freshness (0: off)
    rest_retry_404_s: float = 5.0
    run_tag: int = 0
    verify: str = "reference"  # "reference" | "engine" | "none"
    progress: bool = True
    ready_timeout: float = 120.0
    drain_timeout: float = 900.0
    stall_timeout: float = 60.0
    corrupt_expected: object = None  # tests: damage the expected trades

    @property
    def commands(self) -> int:
        return self.orders if self.mode == "max" else max(1, int(self.rate * self.duration))


def _probe(producer, exchange, registry, shared, coid: int, timeout: float) -> float:
    """Send one harmless command (a cancel of an order that does not exist) and wait for its
    REJECTED event: the bridge, engine and publisher are all up. Returns the seconds taken."""
    pair = registry.pairs[0]
    body = (f'{{"type":"cancel","pair":"{pair.name}","client_order_id":{coid},'
            f'"account":1}}').encode()
    from ringex.kafka.partitioning import partition_for

    key = pair.name.encode()
    started = time.monotonic()
    producer.produce(exchange.topics["orders"], body, key,
                     partition=partition_for(key, exchange.partitions))
    producer.flush(30)
    while shared[Shared.FOREIGN] < 1:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"no event for the probe order after {timeout}s: is the "
                               f"exchange consuming {exchange.topics['orders']}? Its log "
                               f"ends:\n{exchange.log_tail(3000)}")
        time.sleep(0.05)
    return time.monotonic() - started


def _throughput(times_ns: np.ndarray, start_ns: int, bin_s: float) -> list[int]:
    if times_ns.size == 0:
        return []
    offsets = (times_ns - start_ns) / 1e9
    bins = int(np.ceil(max(offsets.max(), bin_s) / bin_s))
    counts, _ = np.histogram(offsets, bins=bins, range=(0, bins * bin_s))
    return counts.tolist()


def _sustained(times_ns: np.ndarray, start_ns: int) -> dict:
    """Completion rate between 10% and 90% of completions (the steady part of the run)."""
    if times_ns.size < 10:
        return {}
    ordered = np.sort(times_ns)
    lo, hi = ordered[int(0.1 * ordered.size)], ordered[int(0.9 * ordered.size) - 1]
    middle = max(1, int(0.9 * ordered.size) - int(0.1 * ordered.size))
    return {"completed_per_s_10_to_90pct": round(middle / max(1e-9, (hi - lo) / 1e9)),
            "all_completed_s": round((ordered[-1] - start_ns) / 1e9, 3)}


def _route(config: RunConfig, exchange, registry):
    if config.route == "rest":
        from perf.loadtest.rest import RestRoute

        return RestRoute(exchange.gateway_url, exchange.api_keys, registry,
                         batch=config.rest_batch, senders=config.rest_senders,
                         connections=config.rest_connections,
                         retry_404_s=config.rest_retry_404_s)
    kwargs = {"frame_records": config.frame_records} if config.route == "frame" else {}
    return ROUTES[config.route](exchange.topics["orders"], exchange.partitions, registry,
                                **kwargs)


def _gateway_workers(gateway_pid: int | None) -> dict[str, int]:
    """The gunicorn workers under the gateway (the supervisor logs only the master)."""
    if not gateway_pid:
        return {}
    import psutil

    try:
        children = psutil.Process(gateway_pid).children()
    except psutil.Error:
        return {}
    return {f"gateway-worker-{i}": child.pid for i, child in enumerate(children)}


def run_load(config: RunConfig, exchange, registry, *, order_capacity: int = 1 << 20,
             default_account: int = 1) -> dict:
    from confluent_kafka import Consumer, Producer

    from perf.loadtest.verify import (check_outcomes, check_trades, expected_trades, read_topic,
                                      trade_payloads)

    n = config.commands
    run_tag = config.run_tag or (time.time_ns() // 1000) % ((1 << 20) - 1) + 1
    generated = time.perf_counter()
    flow = generate_flow(n, registry, seed=config.seed, mix=config.mix,
                         pairs=list(config.pairs) or None, accounts=config.accounts,
                         run_tag=run_tag)
    route = _route(config, exchange, registry)
    route.prepare(flow)
    prepare_s = time.perf_counter() - generated

    probe_consumer = Consumer({"bootstrap.servers": exchange.bootstrap,
                               "group.id": f"loadtest-offsets-{time.time_ns()}", "log_level": 3})
    starts = end_offsets(probe_consumer, [exchange.topics["events"], exchange.topics["trades"]])
    probe_consumer.close()

    context = multiprocessing.get_context("spawn")
    shared = context.RawArray("q", Shared.SIZE)
    workdir = tempfile.mkdtemp(prefix="ringex-loadtest-receiver-")
    out_path = os.path.join(workdir, "received.npz")
    ours = (flow.coid_base + 1, flow.coid_base + n + 1, flow.id_base + 1, flow.id_base + n + 1)
    receiver = context.Process(target=run_receiver, name="loadtest-receiver", args=(
        exchange.bootstrap, exchange.topics["events"], exchange.topics["trades"], starts,
        shared, out_path, ours))
    receiver.start()
    sampler, sampler_path = _start_sampler(config, exchange, context, shared, workdir)
    samples = market_data = completed_ns = None
    producer = Producer(producer_config(exchange.bootstrap, config.producer_linger_ms))
    rest = route.name == "rest"
    try:
        route.open(producer, SenderCounters())
        counters = route.counters
        deadline = time.monotonic() + 60
        while not shared[Shared.READY]:
            if not receiver.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the receiver process did not start")
            time.sleep(0.05)
        probe_s = _probe(producer, exchange, registry, shared, flow.coid_base,
                         config.ready_timeout)
        if rest:
            probe_s += route.wait_ready(config.ready_timeout)

        roles = exchange.roles()
        roles["loadtest-receiver"] = receiver.pid
        if rest:
            roles.update(_gateway_workers(roles.get("gateway")))
        cpu = CpuSampler(roles)
        send_ns = np.zeros(n, dtype=np.int64)
        progress = Progress(n, counters, shared, enabled=config.progress).start()
        cpu.start()
        settle_heap()  # a full collection over the imports would stall the schedule 30-90 ms
        if config.mode == "max":
            chunk = config.frame_records * max(1, len(flow.info["pairs"])) \
                if config.route == "frame" else 1000
            sending = max_throughput(route, n, send_ns, chunk=chunk)
        else:
            sending = open_loop(route, n, send_ns, config.rate, tick_s=config.tick_ms / 1000)
        sent = int(sending.get("sent", n))

        drain_deadline = time.monotonic() + config.drain_timeout
        expected_outcomes = sent
        if rest:  # the answers: 2xx commands have one outcome each, 409s none
            route.finish(drain_deadline)
            sent = int(route.answered().sum())
            expected_outcomes = int(route.succeeded().sum())
            if config.mode == "max":  # the send time is when the lane wrote the request
                send_ns[:] = route.results["request_ns"]
        while len(producer) > 0 and time.monotonic() < drain_deadline:
            producer.flush(1.0)
        acked_ns = time.monotonic_ns()
        last_outcomes, last_change = -1, time.monotonic()
        stalled = False
        while shared[Shared.OUTCOMES] < expected_outcomes:
            now = time.monotonic()
            if shared[Shared.OUTCOMES] != last_outcomes:
                last_outcomes, last_change = shared[Shared.OUTCOMES], now
            if now > drain_deadline or now - last_change > config.stall_timeout:
                stalled = True
                break
            time.sleep(0.05)
        completed_ns = time.monotonic_ns()
        cpu_share = cpu.stop()
        if rest:  # the senders have exited: they measured themselves
            shares = dict(cpu_share["share_of_one_core"])
            for role, seconds in route.cpu_seconds().items():
                shares[role] = round(seconds / cpu_share["wall_s"], 3)
            cpu_share["share_of_one_core"] = dict(sorted(shares.items(), key=lambda kv: -kv[1]))
            cpu_share["sum"] = round(sum(shares.values()), 3)
        shared[Shared.STOP] = 1
        receiver.join(timeout=config.drain_timeout)
        progress.stop()
    finally:
        producer.flush(10)
        if rest:
            route.close()
        if receiver.is_alive():
            receiver.terminate()
            receiver.join(10)
        received = None
        if shared[Shared.DONE]:
            with np.load(out_path) as npz:
                received = {name: npz[name] for name in npz.files}
        if received is not None and completed_ns is not None:
            market_data = _market_data_lag(exchange, completed_ns)
        samples = _stop_sampler(sampler, sampler_path, shared)
        shutil.rmtree(workdir, ignore_errors=True)
    if received is None:
        raise RuntimeError("the receiver did not finish")
    if samples is not None:
        from perf.loadtest.freshness import freshness

        market_data["freshness_ms"] = freshness(
            received["fresh_seq"], received["fresh_created_ms"], samples["times_ns"],
            samples["values"], config.md_freshness_ms)
    attribution = attribute(flow, received)
    start_ns = int(sending["start_ns"])
    has_outcome = attribution.outcome_count > 0
    outcome_latency = (attribution.outcome_ns - send_ns)[has_outcome[:n]]
    took = (attribution.taker_trades > 0) & flow.is_new
    trade_latency = (attribution.last_trade_ns - send_ns)[took]
    outcome_times = attribution.outcome_ns[has_outcome]
    bin_s = 1.0 if (completed_ns - start_ns) > 5e9 else 0.1
    if rest:
        http = route.stats(send_ns, start_ns)
        # what the mode measured is the release of commands to the lanes; the lanes' answers
        # are the sending
        sending.update(send_s=http["answered_s"], send_rate=http["commands_2xx_per_s"])
    results = {
        "commands": n, "sent": sent, "acked": counters.acked, "producer_errors": counters.errors,
        "prepare_s": round(prepare_s, 2), "probe_s": round(probe_s, 3),
        "sending": {k: (round(v, 3) if isinstance(v, float) else v)
                    for k, v in sending.items() if k != "start_ns"},
        "acked_s": round((acked_ns - start_ns) / 1e9, 3),
        "completed_s": round((completed_ns - start_ns) / 1e9, 3),
        "stalled": stalled,
        "end_to_end_per_s": round(int(has_outcome.sum()) / max(1e-9, (
            (outcome_times.max() if outcome_times.size else completed_ns) - start_ns) / 1e9)),
        **_sustained(outcome_times, start_ns),
        "events_received": int(received["event_kind"].size),
        "trades_received": int(received["trade_arrival_ns"].size),
        "orders_that_took": int(took.sum()),
        "latency_ms": {"order_to_outcome": percentiles(outcome_latency),
                       "order_to_trade": percentiles(trade_latency)},
        "hops_ms": _hops(received),
        "throughput_over_time": {
            "bin_s": bin_s,
            "sent": _throughput(send_ns[:sent], start_ns, bin_s),
            "completed": _throughput(outcome_times, start_ns, bin_s),
            "trades": _throughput(received["trade_arrival_ns"], start_ns, bin_s)},
        "cpu": cpu_share,
        "market_data": market_data,
        "flow": flow.info,
    }
    if config.mode == "open":
        results["latency_samples_for_plot_ms"] = None  # filled by the report when plotting
    results["_latencies_ns"] = {"order_to_outcome": outcome_latency,
                                "order_to_trade": trade_latency}
    if rest:
        results["http"] = http
        good = route.succeeded()
        results["_latencies_ns"]["http_response"] = (route.results["response_ns"]
                                                     - send_ns)[good]

    outcome_check = check_outcomes(flow, attribution,
                                   refused=route.refused() if rest else None)
    if sent < n:
        outcome_check["note"] = f"only {sent} of {n} commands were sent"
    verification = {"outcomes": outcome_check}
    if rest:
        from perf.loadtest.rest import check_refusals

        verification["http"] = check_refusals(route, flow, attribution)
        outcome_check["ok"] = outcome_check["ok"] and verification["http"]["ok"]
    if config.verify != "none":
        order_partitions = read_topic(exchange.bootstrap, exchange.topics["orders"])
        expected, info = expected_trades(order_partitions, registry,
                                         default_account=default_account,
                                         order_capacity=order_capacity, matcher=config.verify)
        actual = trade_payloads([m.value() for part in read_topic(
            exchange.bootstrap, exchange.topics["trades"]) for m in part], registry)
        trade_check = check_trades(actual, expected, exact=len(order_partitions) == 1,
                                   corrupt=config.corrupt_expected)
        verification["trades"] = {**trade_check, **info}
    verification["ok"] = bool(outcome_check["ok"] and not stalled and sent == n
                              and counters.errors == 0
                              and verification.get("trades", {"ok": True})["ok"])
    results["verification"] = verification
    return results


def _start_sampler(config: RunConfig, exchange, context, shared, workdir: str):
    """The Redis ``last_seq`` sampler (:mod:`perf.loadtest.freshness`), if asked for and the
    exchange's prefix is known; ``(process, out_path)`` or ``(None, "")``."""
    prefix = getattr(exchange, "redis_prefix", "")
    if not config.md_freshness_ms or not prefix:
        return None, ""
    from perf.loadtest.freshness import run_sampler

    path = os.path.join(workdir, "freshness.npz")
    process = context.Process(target=run_sampler, name="loadtest-freshness", args=(
        exchange.redis_url, prefix + "last_seq", shared, Shared.SAMPLER_STOP,
        Shared.SAMPLER_DONE, path, config.md_freshness_ms))
    process.start()
    return process, path


def _stop_sampler(process, path: str, shared) -> dict | None:
    if process is None:
        return None
    shared[Shared.SAMPLER_STOP] = 1
    process.join(30)
    if process.is_alive():
        process.terminate()
        process.join(10)
    if not shared[Shared.SAMPLER_DONE]:
        return None
    with np.load(path) as npz:
        return {name: npz[name] for name in npz.files}


def _market_data_lag(exchange, completed_ns: int, timeout: float = 600.0) -> dict:
    """How far Redis market data trailed `order-events` when the run completed, and when it
    caught up: the market-data publisher does not hold the engine back (docs/marketdata.md),
    so a run faster than Redis leaves it behind; this says by how much."""
    prefix = getattr(exchange, "redis_prefix", "")
    if not prefix:
        return {"measured": False, "why": "not our exchange: its Redis prefix is unknown"}
    import redis

    from ringex.kafka.resume import read_resume_seqs

    client = redis.Redis.from_url(exchange.redis_url, socket_timeout=10)
    try:
        last = max(read_resume_seqs(exchange.bootstrap, exchange.topics["events"]).values(),
                   default=0)
        at_completion = int(client.get(prefix + "last_seq") or 0)
        deadline = time.monotonic() + timeout
        applied = at_completion
        while applied < last and time.monotonic() < deadline:
            time.sleep(0.05)
            applied = int(client.get(prefix + "last_seq") or 0)
        caught_up_ns = time.monotonic_ns()
    finally:
        client.close()
    return {"measured": True, "order_events_last_seq": last,
            "redis_last_seq_at_completion": at_completion,
            "caught_up": applied >= last,
            "caught_up_s_after_completion": round(max(0, caught_up_ns - completed_ns) / 1e9, 3)
            if applied >= last else None}


def _hops(received: dict) -> dict | None:
    """Percentiles of the receiver's per-event hops (event frames only; None otherwise):
    ``order_to_publish`` and ``publish_to_read``, from whole-millisecond Kafka timestamps."""
    if received.get("hop_in_ms", np.zeros(0)).size == 0:
        return None
    return {"order_to_publish": percentiles(received["hop_in_ms"] * 1_000_000),
            "publish_to_read": percentiles(received["hop_out_ms"] * 1_000_000),
            "resolution_ms": 1}
