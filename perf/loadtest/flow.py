"""Seeded, realistic order flow over several pairs, as ``COMMAND_DTYPE`` records.

Each pair has its own random-walk mid (in ticks). A command is one of:

- ``limit``: a GTC limit order a few ticks from the mid (geometric distance >= 1), so the
  book is dense near the touch;
- ``marketable``: an IOC limit order through the mid by a few ticks, or (a share
  ``market_share`` of them) a MARKET order: these take liquidity and make the trades;
- ``cancel``: cancels an earlier ``limit`` order of the same pair (recency-biased);
- ``amend``: an earlier ``limit`` order either halves its quantity (keeps priority) or moves
  away from the touch (loses priority). An amend never crosses, so only NEW orders take
  liquidity and every taker trade belongs to the NEW order that caused it.

Every order is cancelled at most once and amended at most once; a duplicate target, or an
operation with no earlier order to aim at, becomes a ``limit`` order instead.

Identity: NEW order ``i`` (its flow index) has ``client_order_id = coid_base + i + 1``; a
route that assigns its own order ids (binary frames) uses ``id_base + i + 1``. ``target[i]``
is the flow index of the order a cancel or amend aims at (``-1`` for a NEW). The records
leave ``order_id`` and ``client_order_id`` of cancels and amends at 0: each route names the
target its own way. Generation is never timed. Pure numpy; no IO.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ringex.records import COMMAND_DTYPE, CommandKind, OrderType, Side, TimeInForce

__all__ = ["Mix", "Flow", "generate_flow", "KIND_NAMES"]

KIND_NAMES = ("limit", "marketable", "cancel", "amend")
LIMIT, MARKETABLE, CANCEL, AMEND = range(4)


@dataclass(frozen=True)
class Mix:
    """Shares of each command kind (normalized), and of MARKET among marketable orders."""

    limit: float = 0.50
    marketable: float = 0.15
    cancel: float = 0.25
    amend: float = 0.10
    market_share: float = 0.2

    def shares(self) -> np.ndarray:
        raw = np.array([self.limit, self.marketable, self.cancel, self.amend], dtype=float)
        if (raw < 0).any() or raw.sum() <= 0:
            raise ValueError(f"bad mix {self}")
        return raw / raw.sum()


@dataclass
class Flow:
    records: np.ndarray  # COMMAND_DTYPE, one per command, in send order
    kind: np.ndarray  # uint8: LIMIT, MARKETABLE, CANCEL, AMEND
    target: np.ndarray  # int64: flow index of a cancel's / amend's order, -1 for NEW
    coid_base: int
    id_base: int
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.records.shape[0])

    @property
    def is_new(self) -> np.ndarray:
        return self.kind <= MARKETABLE

    def client_order_ids(self) -> np.ndarray:
        return self.coid_base + np.arange(len(self), dtype=np.int64) + 1

    def frame_order_ids(self) -> np.ndarray:
        return self.id_base + np.arange(len(self), dtype=np.int64) + 1


def _walk(rng, n: int, start: int, lo: int, hi: int, step_prob: float) -> np.ndarray:
    steps = np.where(rng.random(n) < step_prob, rng.choice(np.array([-1, 1]), n), 0)
    return np.clip(start + np.cumsum(steps), lo, hi)


def generate_flow(n: int, registry, *, seed: int = 1, mix: Mix = Mix(), pairs=None,
                  accounts: int = 100, run_tag: int = 1, recency: float = 50.0,
                  walk_prob: float = 0.05) -> Flow:
    """``n`` commands over ``pairs`` (names; default: every pair of ``registry``)."""
    if n < 1:
        raise ValueError("n must be >= 1")
    if not 1 <= run_tag < 1 << 20:
        raise ValueError("run_tag must be in 1 .. 2^20-1")
    rng = np.random.default_rng(seed)
    chosen = [registry.get(name) for name in pairs] if pairs else list(registry.pairs)
    pair_ids = np.array([p.pair_id for p in chosen], dtype=np.int32)
    pair = pair_ids[rng.integers(0, len(chosen), n)]
    kind = rng.choice(4, n, p=mix.shares()).astype(np.uint8)

    records = np.zeros(n, dtype=COMMAND_DTYPE)
    side = np.where(rng.random(n) < 0.5, Side.BUY, Side.SELL).astype(np.uint8)
    sign = np.where(side == Side.BUY, -1, 1)  # away from the mid for a passive order
    distance = rng.geometric(0.25, n).astype(np.int64)  # 1, 2, ... ticks from the mid
    through = rng.geometric(0.5, n).astype(np.int64)  # marketable: ticks through the mid
    price = np.zeros(n, dtype=np.int64)
    quantity = np.zeros(n, dtype=np.int64)
    for p in chosen:
        at = np.flatnonzero(pair == p.pair_id)
        margin = 1000
        lo, hi = p.band_lo_ticks + margin, p.band_hi_ticks - margin
        mid = _walk(rng, at.size, (p.band_lo_ticks + p.band_hi_ticks) // 2, lo, hi, walk_prob)
        passive = mid + sign[at] * distance[at]
        aggressive = mid - sign[at] * through[at]
        price[at] = np.where(kind[at] == MARKETABLE, aggressive, passive)
        unit = max(p.min_qty_lots, p.max_qty_lots // 10_000)
        quantity[at] = np.minimum(unit * rng.geometric(0.2, at.size), p.max_qty_lots)

    # cancels and amends aim at an earlier limit order of the same pair
    target = np.full(n, -1, dtype=np.int64)
    for pair_id in pair_ids:
        in_pair = pair == pair_id
        limits = np.flatnonzero(in_pair & (kind == LIMIT))
        ops = np.flatnonzero(in_pair & ((kind == CANCEL) | (kind == AMEND)))
        before = np.searchsorted(limits, ops)
        orphan = before == 0
        kind[ops[orphan]] = LIMIT
        ops, before = ops[~orphan], before[~orphan]
        back = np.minimum(rng.geometric(1.0 / recency, ops.size) - 1, before - 1)
        target[ops] = limits[before - 1 - back]
    for op in (CANCEL, AMEND):
        ops = np.flatnonzero(kind == op)
        _, first = np.unique(target[ops], return_index=True)
        duplicate = np.ones(ops.size, dtype=bool)
        duplicate[first] = False
        kind[ops[duplicate]] = LIMIT
        target[ops[duplicate]] = -1

    new = kind <= MARKETABLE
    account = rng.integers(1, accounts + 1, n)
    records["pair_id"] = pair
    records["kind"] = np.where(new, CommandKind.NEW,
                               np.where(kind == CANCEL, CommandKind.CANCEL, CommandKind.AMEND))
    market = (kind == MARKETABLE) & (rng.random(n) < mix.market_share)
    records["side"] = np.where(new, side, 0)
    records["order_type"] = np.where(new, np.where(market, OrderType.MARKET, OrderType.LIMIT), 0)
    records["tif"] = np.where(kind == LIMIT, TimeInForce.GTC,
                              np.where(kind == MARKETABLE, TimeInForce.IOC, 0))
    records["price"] = np.where(new & ~market, price, 0)
    records["quantity"] = np.where(new, quantity, 0)
    records["account"] = account

    ops = np.flatnonzero(~new)
    aimed = target[ops]
    records["account"][ops] = account[aimed]
    amends = ops[kind[ops] == AMEND]
    aimed = target[amends]
    halve = (rng.random(amends.size) < 0.5) & (quantity[aimed] >= 2)
    away = sign[aimed] * rng.geometric(0.3, amends.size)
    records["quantity"][amends] = np.where(halve, quantity[aimed] // 2, quantity[aimed])
    records["price"][amends] = np.where(halve, price[aimed], price[aimed] + away)
    for p in chosen:  # a move away stays inside the band
        at = amends[pair[amends] == p.pair_id]
        records["price"][at] = np.clip(records["price"][at], p.band_lo_ticks, p.band_hi_ticks)

    coid_base = run_tag << 32
    id_base = (1 << 62) + (run_tag << 32)
    counts = np.bincount(kind, minlength=4)
    info = {
        "commands": n, "seed": seed, "run_tag": run_tag,
        "pairs": [p.name for p in chosen], "accounts": accounts,
        "mix_requested": dict(zip(KIND_NAMES, np.round(mix.shares(), 4).tolist())),
        "mix_realized": {name: int(c) for name, c in zip(KIND_NAMES, counts)},
        "market_orders": int(market.sum()),
        "random_walk_step_prob": walk_prob, "cancel_amend_recency": recency,
    }
    return Flow(records=records, kind=kind, target=target, coid_base=coid_base,
                id_base=id_base, info=info)
