"""Every golden scenario of ``tests/book/scenarios.py`` against every matcher.

The compiled engine (``ringex.engine.MatchingEngine``) is imported lazily by its factory, so its
cases fail, not skip, until it exists.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from ringex.commands import pack
from ringex.records import EVENT_DTYPE, EventKind, Reason
from ringex.testing.checks import assert_well_formed
from ringex.testing.matchers import MATCHER_FACTORIES
from tests.book.scenarios import SCENARIOS, Scenario, pairs


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]


def _describe(event: np.void) -> str:
    kind = EventKind(event["kind"]).name
    return f"{kind}(order={event['order_id']}, reason={Reason(event['reason']).name})"


@pytest.fixture(params=list(MATCHER_FACTORIES), ids=list(MATCHER_FACTORIES))
def factory(request):
    return MATCHER_FACTORIES[request.param]


def _run(factory, scenario: Scenario):
    matcher = factory(pairs(scenario.n_pairs), order_capacity=scenario.capacity,
                      client_id_window=scenario.client_id_window)
    commands = pack(cmd for cmd, _ in scenario.steps)
    return matcher, commands, matcher.process(commands)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[_slug(s.name) for s in SCENARIOS])
def test_scenario(factory, scenario: Scenario):
    matcher, commands, events = _run(factory, scenario)

    assert_well_formed(events, first_seq=1, first_command_index=0, n_commands=len(commands))
    for index, (cmd, expected_events) in enumerate(scenario.steps):
        actual = events[events["command_index"] == index]
        where = f"step {index} ({_describe_command(cmd)})"
        assert len(actual) == len(expected_events), (
            f"{where}: expected {len(expected_events)} events, got "
            f"{[_describe(e) for e in actual]}")
        for event, expected in zip(actual, expected_events):
            assert (event["timestamp_ns"] == cmd["timestamp_ns"][0]), f"{where}: timestamp"
            for name, value in expected.items():
                assert event[name] == value, (
                    f"{where}, {_describe(event)}: {name} = {event[name]}, expected {value}")

    for pair_id, (bids, asks) in scenario.book.items():
        assert matcher.depth(pair_id) == (bids, asks), f"book of pair {pair_id}"
    for order_id, fields in scenario.orders.items():
        live = matcher.order(order_id)
        if fields is None:
            assert live is None, f"order {order_id} should not be live: {live}"
        else:
            assert live is not None, f"order {order_id} should be live"
            assert {k: live[k] for k in fields} == fields, f"order {order_id}"
    matcher.check_invariants()


def _describe_command(cmd: np.ndarray) -> str:
    row = cmd[0]
    return (f"kind={row['kind']} pair={row['pair_id']} id={row['order_id']} "
            f"account={row['account']} price={row['price']} qty={row['quantity']}")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[_slug(s.name) for s in SCENARIOS])
def test_scenario_one_command_at_a_time_is_the_same(factory, scenario: Scenario):
    """Batching is invisible: one call per command gives the same bytes and the same hash."""
    batched, commands, batch_events = _run(factory, scenario)
    stepped = factory(pairs(scenario.n_pairs), order_capacity=scenario.capacity,
                      client_id_window=scenario.client_id_window)
    step_events = np.concatenate([stepped.process(commands[i:i + 1])
                                  for i in range(len(commands))])
    assert step_events.tobytes() == batch_events.tobytes()
    assert stepped.state_hash() == batched.state_hash()


def test_empty_batch(factory):
    matcher = factory(pairs(1))
    before = matcher.state_hash()
    events = matcher.process(pack([]))
    assert events.dtype == EVENT_DTYPE and len(events) == 0
    assert matcher.state_hash() == before


def test_state_hash_depends_on_counters_and_book(factory):
    from ringex.commands import cancel, new

    a, b = factory(pairs(1)), factory(pairs(1))
    assert a.state_hash() == b.state_hash()
    a.process(new(1, 11, 1, 100, 5))
    assert a.state_hash() != b.state_hash()
    b.process(new(1, 11, 1, 100, 5, ts=1))  # same book but for the order's timestamp
    assert a.state_hash() != b.state_hash()
    a.process(cancel(1, 11))
    b.process(cancel(1, 11))
    assert a.state_hash() == b.state_hash()  # both books empty again, same counters
