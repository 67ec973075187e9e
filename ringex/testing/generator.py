"""Seeded random command streams that look like a venue's traffic, for differential tests.

Each pair's mid price is a random walk. New orders cluster near the touch: passive limits,
marketable limits, markets, IOC, FOK and post-only, with self-trade prevention modes across a
small set of accounts so that self-trades happen. Cancels and amends aim at *live* orders: the
stream follows them from the events the caller hands back through :meth:`CommandStream.observe`
(and from the GTC orders it issued earlier in the same batch). A small share of commands is
cancel-all, status changes, duplicates and invalid fields.

The same seed and the same observed events give the same commands, so two matchers fed from
one stream (observing the oracle's events) see identical input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ringex.pairs import Pair
from ringex.records import (
    ALL_PAIRS,
    COMMAND_DTYPE,
    CommandKind,
    OrderFlag,
    OrderType,
    PairStatus,
    Side,
    TimeInForce,
)
from ringex.testing.live_orders import LiveOrder, LiveOrders

__all__ = ["CommandStream", "MIX"]

#: Share of each action in a stream.
MIX = {
    "passive": 0.30,  # GTC limit a few ticks behind the mid
    "marketable": 0.08,  # GTC limit through the mid
    "market": 0.03,  # MARKET, IOC or FOK
    "ioc": 0.05,  # IOC limit near the mid
    "fok": 0.02,  # FOK limit near the mid
    "post_only": 0.06,  # post-only GTC near the mid, some cross and are rejected
    "cancel": 0.22,
    "amend": 0.15,
    "cancel_all": 0.001,
    "status": 0.0005,
    "duplicate": 0.005,  # a live order_id, or a live (account, client_order_id)
    "invalid": 0.01,  # one field broken
}
_ACTIONS = list(MIX)
_WEIGHTS = np.array(list(MIX.values())) / sum(MIX.values())
_NEW_ACTIONS = {"passive", "marketable", "market", "ioc", "fok", "post_only", "duplicate",
                "invalid"}
_STATUSES = [PairStatus.TRADING, PairStatus.POST_ONLY, PairStatus.CANCEL_ONLY, PairStatus.HALTED]
_STATUS_WEIGHTS = [0.85, 0.05, 0.05, 0.05]


class CommandStream:
    def __init__(self, pairs: Sequence[Pair], *, seed: int, n_accounts: int = 6,
                 max_qty: int = 50):
        self.pairs = list(pairs)
        self.rng = np.random.default_rng(seed)
        self.n_accounts = n_accounts
        self.max_qty = max_qty
        self.live = LiveOrders()
        self.mids = np.array([(p.band_lo_ticks + p.band_hi_ticks) // 2 for p in self.pairs])
        self.next_order_id = 1
        self.timestamp_ns = 1_700_000_000_000_000_000

    def observe(self, events: np.ndarray) -> None:
        """Hand back the events of the last batch (from the oracle)."""
        self.live.observe(events)

    def next_batch(self, n: int) -> np.ndarray:
        rng = self.rng
        n_pairs = len(self.pairs)
        out = np.zeros(n, dtype=COMMAND_DTYPE)
        actions = rng.choice(len(_ACTIONS), size=n, p=_WEIGHTS)
        pair = rng.integers(0, n_pairs, n)

        steps = rng.choice([-1, 0, 1], size=(n, n_pairs), p=[0.3, 0.4, 0.3])
        walk = self.mids + np.cumsum(steps, axis=0)
        lo = np.array([p.band_lo_ticks for p in self.pairs]) + 50
        hi = np.array([p.band_hi_ticks for p in self.pairs]) - 50
        walk = np.clip(walk, lo, hi)
        self.mids = walk[-1]
        mid = walk[np.arange(n), pair]

        side = rng.integers(Side.BUY, Side.SELL + 1, n)
        sign = np.where(side == Side.BUY, 1, -1)  # +1 moves a price toward the other side
        behind = rng.geometric(0.15, n)  # ticks behind the mid, 1..
        through = rng.integers(0, 4, n)  # ticks through the mid
        near = rng.integers(-3, 4, n)

        is_new = np.isin(actions, [_ACTIONS.index(a) for a in _NEW_ACTIONS])
        order_id = self.next_order_id + np.cumsum(is_new) - 1
        self.next_order_id += int(is_new.sum())
        self.timestamp_ns += int(rng.integers(1, 2_000, n).sum())

        out["kind"] = CommandKind.NEW
        out["pair_id"] = pair
        out["account"] = rng.integers(1, self.n_accounts + 1, n)
        out["order_id"] = order_id
        out["client_order_id"] = np.where(rng.random(n) < 0.5, order_id, 0)
        out["side"] = side
        out["order_type"] = OrderType.LIMIT
        out["tif"] = TimeInForce.GTC
        out["stp"] = rng.choice(5, size=n, p=[0.4, 0.15, 0.15, 0.15, 0.15])
        out["quantity"] = np.minimum(rng.geometric(0.12, n), self.max_qty)
        out["price"] = mid - sign * behind
        out["timestamp_ns"] = self.timestamp_ns - np.arange(n)[::-1]
        out["source_partition"] = -1
        out["source_offset"] = np.arange(n)

        def rows(action: str) -> np.ndarray:
            return actions == _ACTIONS.index(action)

        marketable = rows("marketable")
        out["price"][marketable] = (mid + sign * through)[marketable]
        market = rows("market")
        out["order_type"][market] = OrderType.MARKET
        out["price"][market] = 0
        out["tif"][market] = np.where(rng.random(n) < 0.7, TimeInForce.IOC, TimeInForce.FOK)[market]
        for action, tif in (("ioc", TimeInForce.IOC), ("fok", TimeInForce.FOK)):
            chosen = rows(action)
            out["tif"][chosen] = tif
            out["price"][chosen] = (mid + near)[chosen]
        post_only = rows("post_only")
        out["flags"][post_only] = OrderFlag.POST_ONLY
        out["price"][post_only] = (mid - sign * (near + 2))[post_only]

        self._fill_targeted_rows(out, actions, mid, rng.random((n, 5)))
        return out

    def _fill_targeted_rows(self, out: np.ndarray, actions: np.ndarray, mid: np.ndarray,
                            uniforms: np.ndarray) -> None:
        """Rows that depend on live orders: cancels, amends, duplicates; and the rare kinds."""
        live: list[LiveOrder] = list(self.live.by_id.values())  # at the start of the batch
        recent: list[LiveOrder] = []  # GTC orders issued in this batch; some already gone
        codes = {name: _ACTIONS.index(name) for name in _ACTIONS}
        for i in range(len(out)):
            action = actions[i]
            row = out[i]
            u = uniforms[i]
            if action in (codes["passive"], codes["marketable"], codes["post_only"]):
                recent.append(LiveOrder(int(row["order_id"]), int(row["pair_id"]),
                                            int(row["account"]), int(row["client_order_id"]),
                                            int(row["side"]), int(row["price"]),
                                            int(row["quantity"]), 0))
            elif action in (codes["cancel"], codes["amend"]):
                # Half the time a live order, else one of the latest few of this batch.
                candidates = live if (u[4] < 0.5 and live) or not recent else recent[-32:]
                self._target(row, action == codes["amend"], candidates, int(mid[i]), u)
                if candidates is not live and row["kind"] == CommandKind.CANCEL:
                    for j in range(len(recent) - 1, max(len(recent) - 33, -1), -1):
                        if recent[j].order_id == row["order_id"]:
                            del recent[j]
                            break
            elif action == codes["duplicate"] and live:
                victim = live[int(u[0] * len(live))]
                if u[1] < 0.5 or not victim.client_order_id:
                    row["order_id"] = victim.order_id
                else:
                    row["account"] = victim.account
                    row["client_order_id"] = victim.client_order_id
            elif action == codes["cancel_all"]:
                row["kind"] = CommandKind.CANCEL_ALL
                row["pair_id"] = ALL_PAIRS if u[0] < 0.4 else row["pair_id"]
            elif action == codes["status"]:
                row["kind"] = CommandKind.SET_STATUS
                row["status"] = _STATUSES[np.searchsorted(np.cumsum(_STATUS_WEIGHTS), u[0])]
            elif action == codes["invalid"]:
                self._break_one_field(row, u)

    def _target(self, row: np.void, is_amend: bool, candidates: list[LiveOrder], mid: int,
                u: np.ndarray) -> None:
        row["kind"] = CommandKind.AMEND if is_amend else CommandKind.CANCEL
        for name in ("side", "order_type", "tif", "flags", "stp", "client_order_id"):
            row[name] = 0
        if not candidates or u[0] < 0.03:
            row["order_id"] = self.next_order_id + 1_000_000 + int(u[1] * 1000)  # unknown
            return
        pick = int(u[1] * len(candidates))
        order = candidates[pick]
        if not is_amend:  # aim the next cancels elsewhere
            candidates[pick] = candidates[-1]
            candidates.pop()
        row["order_id"] = order.order_id
        row["pair_id"] = order.pair_id
        row["account"] = order.account if u[0] > 0.05 else order.account % self.n_accounts + 1
        if not is_amend:
            row["price"] = row["quantity"] = 0
            return
        leaves = order.quantity - order.filled_qty
        price, quantity = order.price, order.quantity
        if u[2] < 0.35 and leaves > 1:
            quantity = order.filled_qty + 1 + int(u[3] * (leaves - 1))  # reduce: keeps place
        elif u[2] < 0.7:
            price += int(u[3] * 7) - 3
        elif u[2] < 0.9:
            quantity += 1 + int(u[3] * 10)
        else:
            price = mid
        row["price"], row["quantity"] = price, quantity

    def _break_one_field(self, row: np.void, u: np.ndarray) -> None:
        pair = self.pairs[int(row["pair_id"])]
        breakers = [
            ("kind", [0, 6, 255]),
            ("side", [0, 3]),
            ("order_type", [0, 3]),
            ("tif", [0, 4]),
            ("flags", [2, 3]),
            ("stp", [5, 200]),
            ("pair_id", [len(self.pairs), -1, -7]),
            ("order_id", [0, -1]),
            ("account", [0, -5]),
            ("price", [0, -1, pair.band_hi_ticks + 1, pair.band_lo_ticks - 1]),
            ("quantity", [0, -1, pair.max_qty_lots + 1]),
        ]
        name, values = breakers[int(u[0] * len(breakers))]
        row[name] = values[int(u[1] * len(values))]
