"""The compiled engine against the reference matcher, command by command and at volume.

- ``TestStateMachine``: Hypothesis drives both with the same commands (news near the touch,
  cancels and amends of live and unknown ids and of live and done client ids, cancel-all,
  status changes, broken fields) and after every command requires identical event bytes,
  identical state hashes and intact invariants in both. Client order ids come from a handful
  per account and the client-id window is small (or 0), so retries of done keys are rejected
  and evicted keys come back.
- ``test_random_stream*``: seeded generated streams, small capacity so BOOK_FULL happens, with
  client order ids reused across orders so the window rejects, evicts and readmits keys.
- ``test_million_commands``: 1,000,000 commands over 4 pairs, in batches of 10,000.
- The harness itself is tested against a deliberately broken reference, so a silent harness
  cannot pass for agreement.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ringex.commands import amend, cancel, cancel_all, command, new, set_status
from ringex.pairs import Pair
from ringex.records import (
    ALL_PAIRS,
    COMMAND_DTYPE,
    CommandKind,
    EventKind,
    OrderType,
    Reason,
    Side,
    TimeInForce,
)
from ringex.spec.matcher import ReferenceMatcher
from ringex.testing.checks import assert_well_formed
from ringex.testing.differential import assert_same_events, compare_on_stream
from ringex.testing.generator import CommandStream
from ringex.testing.live_orders import LiveOrders
from ringex.testing.matchers import compiled_matcher, reference_matcher

#: The matcher compared with the reference oracle.
CANDIDATE = compiled_matcher


def stream_pairs(n: int) -> list[Pair]:
    return [Pair.for_ticks(i, band=(1, 100_000), min_qty_lots=1, max_qty_lots=1_000)
            for i in range(n)]


# ---------------------------------------------------------------- stateful


SM_PAIRS = [Pair.for_ticks(i, band=(90, 110), min_qty_lots=1, max_qty_lots=20) for i in range(2)]
SM_CAPACITY = 20
# Valid values dominate the "valid" rules; ``raw_command`` brings the broken fields.
ACCOUNTS = st.integers(1, 3)
PAIR_IDS = st.sampled_from([0, 1])
ANY_PAIR_IDS = st.sampled_from([0, 0, 1, 1, 2, -1])
QUANTITIES = st.sampled_from([1, 1, 2, 3, 4, 5, 8, 20, 21])
STATUSES = st.sampled_from([1, 1, 1, 1, 1, 2, 3, 4, 4, 0, 5])
SIDES = st.sampled_from([Side.BUY, Side.SELL])
STP_MODES = st.sampled_from([0, 0, 1, 2, 3, 4])
ID_CHOICES = st.sampled_from(["fresh"] * 8 + ["live", "dead"])
CLIENT_IDS = st.sampled_from([0, 0, 0, 0, 1, 2, 3, 4, 5, 6])


class MatcherComparison(RuleBasedStateMachine):
    """One reference and one candidate, fed identical commands."""

    @initialize(window=st.sampled_from([0, 1, 3, 8, 1_000_000]))
    def start(self, window):
        self.oracle = ReferenceMatcher(SM_PAIRS, order_capacity=SM_CAPACITY,
                                       client_id_window=window)
        self.candidate = CANDIDATE(SM_PAIRS, order_capacity=SM_CAPACITY,
                                   client_id_window=window)
        self.live = LiveOrders()
        self.timestamp_ns = 0
        self.next_order_id = 1
        self.used_ids: list[int] = []

    def run(self, cmd: np.ndarray) -> None:
        self.timestamp_ns += 1
        cmd["timestamp_ns"] = self.timestamp_ns
        first_seq, first_index = self.oracle.next_seq, self.oracle.next_command_index
        expected = self.oracle.process(cmd)
        actual = self.candidate.process(cmd)
        assert_well_formed(expected, first_seq, first_index, 1)
        assert_same_events(expected, actual)
        self.live.observe(expected)

    @invariant()
    def same_state(self):
        if not hasattr(self, "oracle"):
            return
        assert self.candidate.state_hash() == self.oracle.state_hash()
        self.oracle.check_invariants()
        self.candidate.check_invariants()
        assert set(self.live.by_id) == set(self.oracle.orders)

    def _touch(self, pair_id: int, side: int, *, own: bool) -> int:
        """Best price of ``side``'s own book or of the opposite one; 100 on an empty side."""
        bids, asks = self.oracle.depth(pair_id, 1)
        book = bids if (side == Side.BUY) == own else asks
        return book[0][0] if book else 100

    def _order_id(self, data, choice: str) -> int:
        if choice == "live" and self.live.by_id:
            return data.draw(st.sampled_from(sorted(self.live.by_id)))
        if choice == "dead" and self.used_ids:
            return data.draw(st.sampled_from(self.used_ids))
        self.next_order_id += 1
        self.used_ids.append(self.next_order_id)
        return self.next_order_id

    def _new(self, data, pair, side, price, qty, account, *, type=OrderType.LIMIT,
             tif=TimeInForce.GTC, post_only=False, stp=0):
        order_id = self._order_id(data, data.draw(ID_CHOICES))
        client_order_id = data.draw(CLIENT_IDS)
        self.run(new(order_id, account, side, price, qty, pair=pair, type=type, tif=tif,
                     post_only=post_only, stp=stp, client_order_id=client_order_id))

    @rule(data=st.data(), pair=PAIR_IDS, side=SIDES, behind=st.integers(0, 4), qty=QUANTITIES,
          account=ACCOUNTS, stp=STP_MODES)
    def rest(self, data, pair, side, behind, qty, account, stp):
        """A GTC limit at or behind the touch of its own side."""
        sign = 1 if side == Side.BUY else -1
        price = self._touch(pair, side, own=True) - sign * behind
        self._new(data, pair, side, price, qty, account, stp=stp)

    @rule(data=st.data(), pair=PAIR_IDS, side=SIDES, through=st.integers(-1, 4),
          qty=QUANTITIES, account=ACCOUNTS, stp=STP_MODES,
          how=st.sampled_from(["gtc", "ioc", "fok", "market_ioc", "market_fok"]))
    def take(self, data, pair, side, through, qty, account, stp, how):
        """An order priced at or through the opposite touch."""
        sign = 1 if side == Side.BUY else -1
        price = self._touch(pair, side, own=False) + sign * through
        tif = {"gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK,
               "market_ioc": TimeInForce.IOC, "market_fok": TimeInForce.FOK}[how]
        if how.startswith("market"):
            self._new(data, pair, side, 0, qty, account, type=OrderType.MARKET, tif=tif, stp=stp)
        else:
            self._new(data, pair, side, price, qty, account, tif=tif, stp=stp)

    @rule(data=st.data(), pair=PAIR_IDS, side=SIDES, offset=st.integers(-2, 2),
          qty=QUANTITIES, account=ACCOUNTS)
    def post_only(self, data, pair, side, offset, qty, account):
        """A post-only order around the opposite touch: rests or is rejected."""
        price = self._touch(pair, side, own=False) + offset
        self._new(data, pair, side, price, qty, account, post_only=True)

    @rule(data=st.data(), live_target=st.booleans(), wrong_account=st.booleans(),
          wrong_pair=st.booleans())
    def cancel_order(self, data, live_target, wrong_account, wrong_pair):
        if live_target and self.live.by_id:
            order = self.live.by_id[data.draw(st.sampled_from(sorted(self.live.by_id)))]
            account = order.account % 3 + 1 if wrong_account else order.account
            pair = 1 - order.pair_id if wrong_pair else order.pair_id
            self.run(cancel(order.order_id, account, pair=pair))
        else:
            self.run(cancel(data.draw(st.integers(-1, 1_000)), data.draw(ACCOUNTS),
                            pair=data.draw(ANY_PAIR_IDS)))

    @rule(account=ACCOUNTS, client_order_id=CLIENT_IDS, is_amend=st.booleans(),
          pair=PAIR_IDS, price=st.integers(88, 112), qty=QUANTITIES)
    def by_client_id(self, account, client_order_id, is_amend, pair, price, qty):
        """Cancel or amend by (account, client_order_id): live, done (in the window) or never
        used keys alike."""
        if is_amend:
            self.run(amend(0, account, price, qty, pair=pair, client_order_id=client_order_id))
        else:
            self.run(cancel(0, account, pair=pair, client_order_id=client_order_id))

    @rule(data=st.data(), how=st.sampled_from(["reduce", "increase", "move", "cross", "same"]),
          move=st.integers(1, 4), live_target=st.booleans(), wrong_account=st.booleans())
    def amend_order(self, data, how, move, live_target, wrong_account):
        if not (live_target and self.live.by_id):
            self.run(amend(data.draw(st.integers(-1, 1_000)), data.draw(ACCOUNTS), 100, 5,
                           pair=data.draw(ANY_PAIR_IDS)))
            return
        order = self.live.by_id[data.draw(st.sampled_from(sorted(self.live.by_id)))]
        account = order.account % 3 + 1 if wrong_account else order.account
        sign = 1 if order.side == Side.BUY else -1
        price, quantity = order.price, order.quantity
        if how == "reduce":
            quantity -= move  # may reach filled_qty or 0: INVALID_QUANTITY
        elif how == "increase":
            quantity += move
        elif how == "move":
            price -= sign * move
        elif how == "cross":
            price = self._touch(order.pair_id, order.side, own=False) + sign * (move - 1)
        self.run(amend(order.order_id, account, price, quantity, pair=order.pair_id))

    @rule(data=st.data(), what=st.sampled_from(["cancel_all", "status", "raw", "raw"]))
    def rare(self, data, what):
        """The rare kinds share one rule, so that they stay rare."""
        if what == "cancel_all":
            account = data.draw(st.sampled_from([1, 2, 3, 0]))
            pair = data.draw(st.sampled_from([ALL_PAIRS, 0, 1, 2, -2]))
            self.run(cancel_all(account, pair=pair))
        elif what == "status":
            self.run(set_status(data.draw(ANY_PAIR_IDS), data.draw(STATUSES)))
        else:
            self.run(command(
                kind=data.draw(st.sampled_from([1, 1, 1, 2, 3, 4, 5, 0, 6])), side=data.draw(st.integers(0, 3)),
                order_type=data.draw(st.integers(0, 3)), tif=data.draw(st.integers(0, 4)),
                flags=data.draw(st.integers(0, 3)), stp=data.draw(st.integers(0, 6)),
                status=data.draw(st.integers(0, 5)), pair_id=data.draw(ANY_PAIR_IDS),
                account=data.draw(st.integers(-1, 3)), order_id=data.draw(st.integers(-1, 40)),
                client_order_id=data.draw(st.integers(0, 3)),
                price=data.draw(st.integers(-1, 120)), quantity=data.draw(st.integers(-1, 25))))


MatcherComparison.TestCase.settings = settings(
    max_examples=200, stateful_step_count=80, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStateMachine = MatcherComparison.TestCase


# ---------------------------------------------------------------- generated streams


class ClientIdReuse(CommandStream):
    """A ``CommandStream`` whose fresh client order ids are drawn from ``distinct`` values, so
    orders of one account keep reusing the keys of live and done orders (the plain stream
    gives every order its own id)."""

    def __init__(self, pairs, *, seed: int, distinct: int):
        super().__init__(pairs, seed=seed)
        self.distinct = distinct

    def next_batch(self, n: int) -> np.ndarray:
        out = super().next_batch(n)
        fresh = ((out["kind"] == CommandKind.NEW) & (out["client_order_id"] != 0)
                 & (out["client_order_id"] == out["order_id"]))
        out["client_order_id"][fresh] = 1 + self.rng.integers(0, self.distinct, int(fresh.sum()))
        return out


class _KeyTally(ReferenceMatcher):
    """The reference, counting what happened to NEWs that reuse a key used before."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.used: set[tuple[int, int]] = set()
        self.tally = collections.Counter()

    def process(self, commands):
        events = super().process(commands)
        for e in events[(events["kind"] == EventKind.ACCEPTED) | (
                (events["kind"] == EventKind.REJECTED)
                & (events["reason"] == Reason.DUPLICATE_CLIENT_ORDER_ID))]:
            key = (int(e["account"]), int(e["client_order_id"]))
            if not key[1]:
                continue
            if e["kind"] == EventKind.REJECTED:
                self.tally["rejected_reuse"] += 1
            elif key in self.used:
                self.tally["accepted_reuse"] += 1
            self.used.add(key)
        return events


@pytest.mark.parametrize("seed, window", [(1, 1_000_000), (2, 64), (3, 0)])
def test_random_stream(seed, window):
    pairs = stream_pairs(3)
    oracle = _KeyTally(pairs, order_capacity=150, client_id_window=window)
    counts = compare_on_stream(
        oracle, CANDIDATE(pairs, order_capacity=150, client_id_window=window),
        ClientIdReuse(pairs, seed=seed, distinct=40), n_commands=30_000, batch_size=1_000)
    assert counts["commands"] == 30_000 and counts["trades"] > 1_000
    # the window is exercised: reused keys are refused, and (small or no window) readmitted
    assert oracle.tally["rejected_reuse"] > 500
    if window <= 64:
        assert oracle.tally["accepted_reuse"] > 500
    else:
        assert oracle.tally["accepted_reuse"] == 0


@pytest.mark.slow
def test_million_commands():
    pairs = stream_pairs(4)
    counts = compare_on_stream(reference_matcher(pairs, client_id_window=20_000),
                               CANDIDATE(pairs, client_id_window=20_000),
                               ClientIdReuse(pairs, seed=20_240_601, distinct=10_000),
                               n_commands=1_000_000, batch_size=10_000)
    assert counts["commands"] == 1_000_000
    assert counts["trades"] > 100_000


# ---------------------------------------------------------------- the harness has teeth


class _LifoReference(ReferenceMatcher):
    """Wrong on purpose: newest first within a level."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for book in self.books:
            for side in book.values():
                side.head = lambda side=side: side.levels[side.best_price()].orders[-1]


def test_harness_reports_a_divergence():
    pairs = stream_pairs(2)
    with pytest.raises(AssertionError, match="differs|state hashes differ"):
        compare_on_stream(reference_matcher(pairs), _LifoReference(pairs),
                          CommandStream(pairs, seed=5), n_commands=20_000, batch_size=1_000)


def test_harness_accepts_two_references():
    pairs = stream_pairs(2)
    counts = compare_on_stream(reference_matcher(pairs), reference_matcher(pairs),
                               CommandStream(pairs, seed=5), n_commands=5_000, batch_size=500)
    assert counts["events"] > counts["commands"]


def test_assert_same_events_names_the_field():
    oracle = ReferenceMatcher(stream_pairs(1))
    events = oracle.process(new(1, 1, Side.BUY, 100, 5))
    tampered = events.copy()
    tampered["leaves_qty"][0] += 1
    with pytest.raises(AssertionError, match="leaves_qty: expected 5 got 6"):
        assert_same_events(events, tampered)


# ---------------------------------------------------------------- the generator


def test_generator_is_seeded():
    pairs = stream_pairs(2)
    a, b = CommandStream(pairs, seed=9), CommandStream(pairs, seed=9)
    assert a.next_batch(2_000).tobytes() == b.next_batch(2_000).tobytes()
    assert CommandStream(pairs, seed=10).next_batch(2_000).tobytes() != \
        CommandStream(pairs, seed=9).next_batch(2_000).tobytes()


def test_generator_mix_and_live_model():
    """The stream reaches every event kind and the interesting reasons; the live-order model
    it aims with agrees with the reference's book."""
    pairs = stream_pairs(4)
    oracle = ReferenceMatcher(pairs, order_capacity=150)
    stream = CommandStream(pairs, seed=11)
    kinds, reasons = collections.Counter(), collections.Counter()
    for _ in range(40):
        commands = stream.next_batch(1_000)
        assert commands.dtype == COMMAND_DTYPE
        events = oracle.process(commands)
        stream.observe(events)
        kinds.update(events["kind"].tolist())
        reasons.update(events["reason"].tolist())
        assert set(stream.live.by_id) == set(oracle.orders)
        for order_id, order in stream.live.by_id.items():
            live = oracle.order(order_id)
            assert (order.price, order.quantity, order.filled_qty) == (
                live["price"], live["quantity"], live["filled_qty"])
    assert set(kinds) == set(EventKind)
    wanted = {Reason.SELF_TRADE, Reason.IOC_REMAINDER, Reason.FOK_UNFILLED, Reason.USER_CANCELED,
              Reason.CANCEL_ALL, Reason.POST_ONLY_WOULD_TAKE, Reason.BOOK_FULL,
              Reason.UNKNOWN_ORDER, Reason.NOT_OWNER, Reason.DUPLICATE_ORDER_ID,
              Reason.NO_CHANGE, Reason.INVALID_COMMAND, Reason.PRICE_OUT_OF_BAND}
    assert wanted <= set(reasons), f"never produced: {wanted - set(reasons)}"
    amended_ok = kinds[EventKind.AMENDED]
    assert amended_ok > 1_000 and kinds[EventKind.TRADE] > 3_000
