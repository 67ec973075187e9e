"""``ringex loadtest`` against a real ``ringex serve``, Kafka and Redis, with small flows.

Forbidden outcomes: a command with no outcome or two; a final event for an order that was
never accepted; `trades` that differ from a matcher run over the `orders` topic; and a check
that passes when the expected trades are wrong (a fast wrong run must fail). On the REST
route also: a command without an answer, an answer other than 2xx or 409, a 409 (no outcome
in `order-events`) for an order that was still open.
"""

import json

import numpy as np
import pytest

from perf.loadtest.cli import main as loadtest_main
from perf.loadtest.exchange import start_exchange
from perf.loadtest.flow import AMEND, CANCEL, Mix, generate_flow
from perf.loadtest.run import RunConfig, run_load
from ringex.pairs import default_pairs

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def test_flow_is_seeded_and_aims_each_cancel_and_amend_at_one_earlier_limit_order():
    registry = default_pairs()
    flow = generate_flow(20_000, registry, seed=5, run_tag=3)
    again = generate_flow(20_000, registry, seed=5, run_tag=3)
    assert flow.records.tobytes() == again.records.tobytes()
    ops = np.flatnonzero(flow.target >= 0)
    assert ops.size > 5000
    assert (flow.target[ops] < ops).all()
    assert (flow.records["pair_id"][flow.target[ops]] == flow.records["pair_id"][ops]).all()
    assert (flow.records["account"][flow.target[ops]] == flow.records["account"][ops]).all()
    for kind in (CANCEL, AMEND):
        aimed = flow.target[ops[flow.kind[ops] == kind]]
        assert np.unique(aimed).size == aimed.size
    marketable = flow.info["mix_realized"]["marketable"]
    assert 0.1 * 20_000 < marketable < 0.2 * 20_000
    skewed = generate_flow(10_000, registry, seed=5, mix=Mix(limit=1, marketable=0, cancel=0,
                                                             amend=0))
    assert (skewed.target < 0).all()


@pytest.fixture(scope="module")
def exchange(kafka_bootstrap, redis_url):
    started = start_exchange(kafka_bootstrap, redis_url, partitions=1, bridges=1)
    yield started
    code = started.stop()
    assert code == 0, started.log_tail()


def _run(exchange, **overrides):
    settings = exchange.settings()
    config = RunConfig(progress=False, ready_timeout=240, drain_timeout=120, stall_timeout=60,
                       **overrides)
    return run_load(config, exchange, settings.registry(),
                    order_capacity=settings.engine.order_capacity,
                    default_account=settings.runtime.default_account)


@pytest.mark.timeout(240)
def test_json_route_max_throughput_every_order_has_one_outcome_and_trades_equal_reference(
        exchange):
    result = _run(exchange, route="json", mode="max", orders=2000, seed=11)
    verification = result["verification"]
    assert verification["ok"], json.dumps(verification, default=str)[:3000]
    assert verification["outcomes"]["with_one_outcome"] == 2000
    assert verification["trades"]["comparison"] == "byte-exact"
    assert verification["trades"]["expected"] > 100
    latency = result["latency_ms"]
    assert latency["order_to_outcome"]["count"] == 2000
    assert latency["order_to_trade"]["count"] == result["orders_that_took"] > 50
    assert 0 < latency["order_to_trade"]["p50"] <= latency["order_to_trade"]["max"]
    market_data = result["market_data"]
    assert market_data["caught_up"] and market_data["order_events_last_seq"] > 2000


@pytest.mark.timeout(240)
def test_frame_route_open_loop_measures_from_the_schedule_and_verifies(exchange):
    result = _run(exchange, route="frame", mode="open", rate=2000, duration=1.0, seed=12,
                  frame_records=100)
    verification = result["verification"]
    assert verification["ok"], json.dumps(verification, default=str)[:3000]
    assert verification["outcomes"]["with_one_outcome"] == 2000
    assert result["sending"]["mode"] == "open-loop"
    assert result["latency_ms"]["order_to_outcome"]["count"] == 2000


@pytest.fixture(scope="module")
def frame_output_exchange(kafka_bootstrap, redis_url):
    started = start_exchange(kafka_bootstrap, redis_url, partitions=1, bridges=1,
                             extra_env={"RINGEX_KAFKA_EVENTS_FORMAT": "frame"})
    yield started
    code = started.stop()
    assert code == 0, started.log_tail()


@pytest.mark.timeout(300)
def test_event_frame_output_is_attributed_and_verified_like_json(kafka_bootstrap, redis_url,
                                                                   frame_output_exchange):
    """The same seeded flow against a fresh JSON-output and a fresh frame-output exchange
    (empty books: the shared ``exchange`` holds earlier tests' orders): the receiver reads the
    same outcomes and trades from either, and a damaged expectation still fails."""
    json_exchange = start_exchange(kafka_bootstrap, redis_url, partitions=1, bridges=1)
    try:
        results = [_run(target, route="json", mode="max", orders=2000, seed=15,
                        md_freshness_ms=1.0)
                   for target in (json_exchange, frame_output_exchange)]
    finally:
        assert json_exchange.stop() == 0, json_exchange.log_tail()
    for result in results:
        verification = result["verification"]
        assert verification["ok"], json.dumps(verification, default=str)[:3000]
        assert verification["outcomes"]["with_one_outcome"] == 2000
        assert verification["trades"]["comparison"] == "byte-exact"
        assert result["latency_ms"]["order_to_trade"]["count"] == result["orders_that_took"]
        # every trade read is timed against Redis, from either output format
        fresh = result["market_data"]["freshness_ms"]
        assert fresh["measured"] and fresh["not_covered"] == 0, fresh
        assert fresh["trades"] == result["trades_received"] > 0
        assert fresh["min"] <= fresh["p50"] <= fresh["p99"] <= fresh["max"]
    json_out, frame_out = results
    for key in ("events_received", "trades_received", "orders_that_took"):
        assert json_out[key] == frame_out[key] > 0, key
    # the per-hop split comes from event frames' Kafka timestamps: one pair per event of
    # this run's commands
    assert json_out["hops_ms"] is None
    hops = frame_out["hops_ms"]
    for hop in ("order_to_publish", "publish_to_read"):  # at least each command's outcome
        assert 2000 <= hops[hop]["count"] <= frame_out["events_received"], hop
    whole = frame_out["latency_ms"]["order_to_outcome"]
    assert hops["order_to_publish"]["p50"] + hops["publish_to_read"]["p50"] \
        <= whole["max"] + 2 * hops["resolution_ms"]
    for key in ("accepted", "finals", "rejected_new"):
        assert json_out["verification"]["outcomes"][key] == \
            frame_out["verification"]["outcomes"][key], key
    damaged = _run(frame_output_exchange, route="frame", mode="max", orders=300, seed=16,
                   corrupt_expected=lambda expected: expected[:-1])
    assert damaged["verification"]["outcomes"]["ok"]
    assert not damaged["verification"]["trades"]["ok"]


@pytest.mark.timeout(240)
def test_corrupted_expected_trades_fail_the_run(exchange):
    def corrupt(expected):
        changed = json.loads(expected[-1])
        changed["price"] = "1.00"
        return expected[:-1] + [json.dumps(changed, separators=(",", ":")).encode()]

    result = _run(exchange, route="json", mode="max", orders=500, seed=13,
                  corrupt_expected=corrupt)
    assert result["verification"]["outcomes"]["ok"]
    assert not result["verification"]["trades"]["ok"]
    assert not result["verification"]["ok"]
    missing = _run(exchange, route="frame", mode="max", orders=300, seed=14,
                   corrupt_expected=lambda expected: expected[:-1])
    assert not missing["verification"]["trades"]["ok"]


@pytest.fixture(scope="module")
def rest_exchange(kafka_bootstrap, redis_url):
    started = start_exchange(kafka_bootstrap, redis_url, partitions=1, bridges=1, gateway=True,
                             accounts=20)
    yield started
    code = started.stop()
    assert code == 0, started.log_tail()


def _rest_answers_are_consistent(result, commands):
    http = result["http"]
    verification = result["verification"]
    assert verification["ok"], json.dumps(verification, default=str)[:3000]
    assert http["answered"] == commands and http["errors"] == 0
    assert set(http["status_counts"]) <= {"202", "409"}
    outcomes = verification["outcomes"]
    # a 2xx command has exactly one outcome in order-events, a 409 none
    assert outcomes["with_one_outcome"] == http["status_counts"]["202"]
    assert outcomes["refused_without_outcome"] == http["refused_409"]
    assert outcomes["with_one_outcome"] + outcomes["refused_without_outcome"] == commands
    assert verification["http"]["refused_while_open"] == 0
    assert verification["trades"]["comparison"] == "byte-exact"
    assert http["latency_ms"]["http_response"]["count"] == http["status_counts"]["202"]
    assert result["latency_ms"]["order_to_outcome"]["count"] == http["status_counts"]["202"]


@pytest.mark.timeout(240)
def test_rest_route_max_throughput_with_gateway_ids_verifies_against_the_reference(
        rest_exchange):
    result = _run(rest_exchange, route="rest", mode="max", orders=1000, seed=21, accounts=20)
    _rest_answers_are_consistent(result, 1000)
    assert result["verification"]["trades"]["expected"] > 50
    # cancels and amends went out by the ids the gateway answered
    assert result["flow"]["mix_realized"]["cancel"] > 100
    assert result["http"]["http_requests"] >= 1000
    assert result["latency_ms"]["order_to_trade"]["count"] == result["orders_that_took"] > 20


@pytest.mark.timeout(240)
def test_rest_route_open_loop_with_batches(rest_exchange):
    result = _run(rest_exchange, route="rest", mode="open", rate=500, duration=2.0, seed=22,
                  accounts=20, rest_batch=20)
    _rest_answers_are_consistent(result, 1000)
    assert result["sending"]["mode"] == "open-loop"
    # NEW orders shared POST /orders/batch requests
    assert result["http"]["http_requests"] < 1000


@pytest.mark.timeout(240)
def test_rest_route_corrupted_expected_trades_fail_the_run(rest_exchange):
    def corrupt(expected):
        changed = json.loads(expected[0])
        changed["quantity"] = "99.00000"
        return [json.dumps(changed, separators=(",", ":")).encode()] + expected[1:]

    result = _run(rest_exchange, route="rest", mode="max", orders=400, seed=23, accounts=20,
                  corrupt_expected=corrupt)
    assert result["verification"]["outcomes"]["ok"]
    assert not result["verification"]["trades"]["ok"]
    assert result["verification"]["trades"]["first_difference"]["index"] == 0
    assert not result["verification"]["ok"]


def test_freshness_is_the_first_sample_covering_each_trade_minus_its_create_time():
    """Samples of Redis' last_seq (wall ns, value) against trades (seq, CreateTime ms)."""
    from perf.loadtest.freshness import freshness

    times_ns = np.array([1_000, 1_010, 1_030], dtype=np.int64) * 1_000_000
    values = np.array([0, 5, 9], dtype=np.int64)
    seqs = np.array([3, 5, 6, 9, 12], dtype=np.int64)  # 12: never covered
    created = np.array([1_000, 1_002, 1_020, 1_031, 1_030], dtype=np.int64)
    result = freshness(seqs, created, times_ns, values, 1.0)
    # 3 and 5 are covered at 1,010 ms; 6 and 9 at 1,030 (9 before its stamp: negative)
    assert result["not_covered"] == 1 and result["trades"] == 5
    assert (result["min"], result["max"]) == (-1.0, 10.0)
    assert result["p50"] == 9.0 and result["mean"] == 6.75
    assert not freshness(seqs, created, times_ns[:0], values[:0], 1.0)["measured"]


def test_refusal_accounting_fails_a_409_for_an_open_order_and_any_other_error():
    """A 409 stands for an outcome only if the order really was closed; any other non-2xx
    answer (here a 503) fails the run."""
    from perf.loadtest.latency import Attribution
    from perf.loadtest.rest import RestRoute, check_refusals

    registry = default_pairs()
    flow = generate_flow(200, registry, seed=24, run_tag=5)
    route = RestRoute("http://127.0.0.1:1", {1: "k"}, registry)
    route.prepare(flow)
    try:
        n = len(flow)
        accepted = flow.is_new.copy()
        closed = np.zeros(n, dtype=np.int64)
        attribution = Attribution(
            outcome_count=np.ones(n, dtype=np.int64), outcome_ns=np.zeros(n, dtype=np.int64),
            final_count=closed, accepted=accepted, taker_trades=np.zeros(n, dtype=np.int64),
            last_trade_ns=np.zeros(n, dtype=np.int64), foreign_events=0, foreign_trades=0,
            unmatched_op_events=0)
        status = route.results["status"]
        status[:] = 202
        assert check_refusals(route, flow, attribution)["ok"]
        op = int(np.flatnonzero(flow.target >= 0)[0])
        status[op] = 409
        refused_open = check_refusals(route, flow, attribution)
        assert not refused_open["ok"] and refused_open["first_refused_while_open"] == [op]
        closed[flow.target[op]] = 1  # its order filled or was cancelled: the 409 is its outcome
        assert check_refusals(route, flow, attribution)["ok"]
        status[0] = 503
        failed = check_refusals(route, flow, attribution)
        assert not failed["ok"] and failed["first_errors"] == [{"command": 0, "status": 503}]
        status[0] = 0
        assert check_refusals(route, flow, attribution)["unanswered"] == 1
    finally:
        route.close()


def test_rest_route_needs_a_gateway_and_bounded_senders(capsys):
    assert loadtest_main(["--route", "rest"]) == 2
    assert "--gateway-url and --api-keys" in capsys.readouterr().err
    assert loadtest_main(["--route", "rest", "--start-exchange", "--rest-connections",
                          "1000"]) == 2
    assert "--rest-connections must be" in capsys.readouterr().err
