"""``ringex loadtest`` against a real ``ringex serve``, Kafka and Redis, with small flows.

Forbidden outcomes: a command with no outcome or two; a final event for an order that was
never accepted; `trades` that differ from a matcher run over the `orders` topic; and a check
that passes when the expected trades are wrong (a fast wrong run must fail).
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


@pytest.mark.timeout(240)
def test_frame_route_open_loop_measures_from_the_schedule_and_verifies(exchange):
    result = _run(exchange, route="frame", mode="open", rate=2000, duration=1.0, seed=12,
                  frame_records=100)
    verification = result["verification"]
    assert verification["ok"], json.dumps(verification, default=str)[:3000]
    assert verification["outcomes"]["with_one_outcome"] == 2000
    assert result["sending"]["mode"] == "open-loop"
    assert result["latency_ms"]["order_to_outcome"]["count"] == 2000


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


def test_rest_route_says_it_is_unavailable(capsys):
    assert loadtest_main(["--route", "rest"]) == 2
    assert "REST route is not available" in capsys.readouterr().err
