"""Seeded command streams for ``bench_engine.py``. Generation is never timed.

Each builder returns ``(pairs, commands, info)``. ``info`` describes the stream as built
(sizes, parameters) so the benchmark can print its conditions.

- ``seed``: the original Go design's benchmark: buy limits at one price, nothing matches.
- ``ec-mix``: exchange-core's mix (9% GTC, 3% IOC, 6% cancel, 82% move) over ~1K resting
  orders, ~750 price slots and 1K accounts. Built by driving a generator engine one command
  at a time, so cancels and moves target orders that are really live, as exchange-core's
  generator does.
- ``ec-mix-coid``: ``ec-mix`` with a client order id on every new order (its order id), so
  every order that finishes puts its key in the client-order-id window: the window's cost.
- ``venue``: 1M new orders on a random-walk mid with power-law distances, 15% IOC, 20% of the
  rest amended, 95% eventually canceled; the schedule is built in numpy and merged by time.
- ``deep``: 1M resting orders over 1,000 pairs, then 5M mixed commands.
"""

from __future__ import annotations

import numpy as np

from ringex.book.index import index_find
from ringex.book.process import process_commands
from ringex.engine import MatchingEngine
from ringex.jit import njit
from ringex.pairs import Pair
from ringex.records import COMMAND_DTYPE, EVENT_DTYPE, CommandKind, EventKind, Side, TimeInForce

__all__ = ["build", "WORKLOADS"]


def _limit_orders(n: int) -> np.ndarray:
    commands = np.zeros(n, dtype=COMMAND_DTYPE)
    commands["kind"] = CommandKind.NEW
    commands["order_type"] = 1
    commands["tif"] = TimeInForce.GTC
    return commands


def seed_workload(n: int = 1_000_000, seed: int = 1):
    pairs = [Pair.for_ticks(0, "BTC-USDT", band=(1, 200_000))]
    commands = _limit_orders(n)
    commands["side"] = Side.BUY
    commands["price"] = 100_000
    commands["quantity"] = 1
    commands["account"] = np.arange(n) % 1000 + 1
    commands["order_id"] = np.arange(1, n + 1)
    commands["timestamp_ns"] = np.arange(n)
    return pairs, commands, {"orders": n, "price_levels": 1}


@njit(allocates=True)
def _drive_ec_mix(st, commands, events, seed, target_orders, half_width, n_accounts, center):
    np.random.seed(seed)
    live = np.zeros(commands.shape[0] + 1, dtype=np.int64)
    n_live = 0
    mid = center
    next_id = 1
    trading_commands = 0
    for i in range(commands.shape[0]):
        c = commands[i]
        c.timestamp_ns = i
        r = np.random.random()
        target = 0
        if r >= 0.12 and n_live >= target_orders:
            # cancel or move: find a live order (orders also die by being filled)
            for _attempt in range(8):
                pick = np.random.randint(0, n_live)
                slot = index_find(st.id_index, live[pick], 0)
                if slot >= 0:
                    target = live[pick]
                    break
                n_live -= 1
                live[pick] = live[n_live]
        if target != 0:
            slot = index_find(st.id_index, target, 0)
            c.pair_id = 0
            c.order_id = target
            c.account = st.orders[slot].account
            if r < 0.18:
                c.kind = CommandKind.CANCEL
            else:
                c.kind = CommandKind.AMEND
                c.quantity = st.orders[slot].quantity
                offset = np.random.randint(1, half_width + 1)
                if np.random.random() < 0.075:
                    offset = -np.random.randint(0, 4)  # an aggressive move that trades
                if st.orders[slot].side == Side.BUY:
                    c.price = mid - offset
                else:
                    c.price = mid + offset
                if c.price == st.orders[slot].price:
                    c.price += 1 if st.orders[slot].side == Side.SELL else -1
        else:
            c.kind = CommandKind.NEW
            c.pair_id = 0
            c.order_id = next_id
            next_id += 1
            c.account = np.random.randint(1, n_accounts + 1)
            c.side = Side.BUY if np.random.random() < 0.5 else Side.SELL
            c.order_type = 1
            c.quantity = np.random.randint(1, 100)
            if r < 0.03 and n_live >= target_orders:
                c.tif = TimeInForce.IOC
                offset = -np.random.randint(0, 6)
            else:
                c.tif = TimeInForce.GTC
                offset = np.random.randint(1, half_width + 1)
                if np.random.random() < 0.02:
                    offset = -np.random.randint(0, 4)
            if c.side == Side.BUY:
                c.price = mid - offset
            else:
                c.price = mid + offset
        _next, n_events, _need = process_commands(st, commands[i : i + 1], 0, events, 0)
        for e in range(n_events):
            if events[e].kind == EventKind.TRADE:
                trading_commands += 1
                break
        if c.kind == CommandKind.NEW and index_find(st.id_index, c.order_id, 0) >= 0:
            live[n_live] = c.order_id
            n_live += 1
        if i % 64 == 0:
            mid += np.random.randint(-1, 2)
    return trading_commands


def ec_mix_workload(n: int = 1_000_000, seed: int = 2):
    center = 100_000
    pairs = [Pair.for_ticks(0, "BTC-USDT", band=(1, 200_000))]
    generator = MatchingEngine(pairs, order_capacity=1 << 16)
    commands = np.zeros(n, dtype=COMMAND_DTYPE)
    events = np.zeros(1 << 16, dtype=EVENT_DTYPE)
    trading = _drive_ec_mix(generator._state, commands, events, seed, 1000, 375, 1000, center)
    kinds = np.bincount(commands["kind"], minlength=4) / n
    is_new = commands["kind"] == CommandKind.NEW
    ioc_share = float((is_new & (commands["tif"] == TimeInForce.IOC)).sum()) / n
    return pairs, commands, {
        "mix": {"gtc": round(float(kinds[CommandKind.NEW]) - ioc_share, 4),
                "ioc": round(ioc_share, 4),
                "cancel": round(float(kinds[CommandKind.CANCEL]), 4),
                "move": round(float(kinds[CommandKind.AMEND]), 4)},
        "target_resting_orders": 1000,
        "price_slots": 750,
        "accounts": 1000,
        "trading_message_share": round(trading / n, 4),
        "resting_at_end": generator.live_orders,
        "generator_state_hash": generator.state_hash(),
    }


def ec_mix_coid_workload(n: int = 1_000_000, seed: int = 2):
    pairs, commands, info = ec_mix_workload(n, seed)
    is_new = commands["kind"] == CommandKind.NEW
    commands["client_order_id"][is_new] = commands["order_id"][is_new]
    info["client_order_ids"] = "order_id on every NEW"
    return pairs, commands, info


def venue_workload(n_orders: int = 1_000_000, seed: int = 3, volatility: float = 1.0):
    """``volatility``: standard deviation of the mid's move, in ticks, per 100 new orders."""
    rng = np.random.default_rng(seed)
    pairs = [Pair.for_ticks(0, "BTC-USDT", band=(1, 2_000_000))]
    steps = rng.normal(0.0, volatility / 10.0, n_orders)  # per order: sigma*sqrt(1/100)
    mid = np.rint(1_000_000 + np.cumsum(steps)).astype(np.int64)
    side = np.where(rng.random(n_orders) < 0.5, Side.BUY, Side.SELL).astype(np.uint8)
    sign = np.where(side == Side.BUY, -1, 1)
    # power-law depth: distance from the mid ~ Pareto, most orders near the touch
    distance = np.minimum(np.floor(rng.pareto(1.2, n_orders) * 3).astype(np.int64) + 1, 5000)
    ioc = rng.random(n_orders) < 0.15
    distance[ioc] = -rng.integers(0, 5, ioc.sum())  # IOCs cross the touch
    price = mid + sign * distance
    order_id = np.arange(1, n_orders + 1, dtype=np.int64)
    account = rng.integers(1, 5001, n_orders)
    quantity = np.minimum(np.floor(rng.pareto(1.5, n_orders) * 10).astype(np.int64) + 1, 10_000)
    t_new = np.arange(n_orders, dtype=np.float64)

    gtc = ~ioc
    amended = gtc & (rng.random(n_orders) < 0.20)
    canceled = gtc & (rng.random(n_orders) < 0.95)
    life = rng.exponential(2_000.0, n_orders)
    t_amend = t_new + life * rng.uniform(0.1, 0.9, n_orders)
    t_cancel = t_new + life
    amend_idx = np.flatnonzero(amended)
    amend_at = np.minimum(np.searchsorted(t_new, t_amend[amend_idx]), n_orders - 1)
    amend_distance = np.floor(rng.pareto(1.2, amend_idx.size) * 3).astype(np.int64) + 1
    amend_price = mid[amend_at] + sign[amend_idx] * np.minimum(amend_distance, 5000)
    same = amend_price == price[amend_idx]
    amend_price[same] += sign[amend_idx][same]
    cancel_idx = np.flatnonzero(canceled)

    total = n_orders + amend_idx.size + cancel_idx.size
    commands = np.zeros(total, dtype=COMMAND_DTYPE)
    times = np.concatenate([t_new, t_amend[amend_idx], t_cancel[cancel_idx]])
    block = np.concatenate([np.zeros(n_orders), np.ones(amend_idx.size), np.full(cancel_idx.size, 2)])
    order = np.lexsort((block, times))  # by time; a new order always precedes its own updates
    news = commands[:n_orders]
    news["kind"] = CommandKind.NEW
    news["order_type"] = 1
    news["tif"] = np.where(ioc, TimeInForce.IOC, TimeInForce.GTC)
    news["side"] = side
    news["price"] = price
    news["quantity"] = quantity
    news["order_id"] = order_id
    news["account"] = account
    amends = commands[n_orders : n_orders + amend_idx.size]
    amends["kind"] = CommandKind.AMEND
    amends["order_id"] = order_id[amend_idx]
    amends["account"] = account[amend_idx]
    amends["price"] = amend_price
    amends["quantity"] = quantity[amend_idx]
    cancels = commands[n_orders + amend_idx.size :]
    cancels["kind"] = CommandKind.CANCEL
    cancels["order_id"] = order_id[cancel_idx]
    cancels["account"] = account[cancel_idx]
    commands = commands[order]
    commands["timestamp_ns"] = np.arange(total)
    return pairs, commands, {
        "new_orders": n_orders,
        "ioc_share": 0.15,
        "amended_share_of_gtc": 0.20,
        "canceled_share_of_gtc": 0.95,
        "volatility_ticks_per_100_orders": volatility,
    }


def deep_workload(n_pairs: int = 1_000, resting: int = 1_000_000, mixed: int = 5_000_000,
                  seed: int = 4):
    rng = np.random.default_rng(seed)
    center, half_band = 5_000, 1_000
    pairs = [Pair.for_ticks(p, f"P{p}-USDT", band=(center - half_band, center + half_band))
             for p in range(n_pairs)]
    n = resting + mixed
    commands = np.zeros(n, dtype=COMMAND_DTYPE)
    commands["timestamp_ns"] = np.arange(n)
    pair = rng.integers(0, n_pairs, n).astype(np.int32)
    side = np.where(rng.random(n) < 0.5, Side.BUY, Side.SELL).astype(np.uint8)
    sign = np.where(side == Side.BUY, -1, 1)
    distance = np.minimum(np.floor(rng.pareto(1.0, n) * 10).astype(np.int64) + 1, half_band - 10)
    account = rng.integers(1, 100_001, n)

    fill = commands[:resting]
    fill["kind"] = CommandKind.NEW
    fill["order_type"] = 1
    fill["tif"] = TimeInForce.GTC
    fill["pair_id"] = pair[:resting]
    fill["side"] = side[:resting]
    fill["price"] = center + sign[:resting] * distance[:resting]
    fill["quantity"] = rng.integers(1, 100, resting)
    fill["order_id"] = np.arange(1, resting + 1)
    fill["account"] = account[:resting]

    mix = commands[resting:]
    roll = rng.random(mixed)
    is_new = roll < 0.40
    is_cancel = (roll >= 0.40) & (roll < 0.75)
    is_amend = roll >= 0.75
    new_count = int(is_new.sum())
    new_ids = resting + 1 + np.arange(new_count)
    mix["kind"] = np.where(is_new, CommandKind.NEW,
                           np.where(is_cancel, CommandKind.CANCEL, CommandKind.AMEND))
    mix["order_id"][is_new] = new_ids
    mix["pair_id"][is_new] = pair[resting:][is_new]
    mix["side"][is_new] = side[resting:][is_new]
    mix["account"][is_new] = account[resting:][is_new]
    mix["order_type"][is_new] = 1
    marketable = rng.random(new_count) < 0.15
    mix["tif"][is_new] = np.where(marketable, TimeInForce.IOC, TimeInForce.GTC)
    new_distance = distance[resting:][is_new]
    new_distance[marketable] = -rng.integers(0, 3, marketable.sum())
    mix["price"][is_new] = center + sign[resting:][is_new] * new_distance
    mix["quantity"][is_new] = rng.integers(1, 100, new_count)

    # cancels and amends aim at an order issued earlier: one of the initial book or a new one
    issued_before = resting + np.cumsum(is_new)
    targets = np.floor(rng.random(mixed) * issued_before).astype(np.int64) + 1
    owner_pair = np.concatenate([pair[:resting], pair[resting:][is_new]])
    owner_account = np.concatenate([account[:resting], account[resting:][is_new]])
    owner_side = np.concatenate([side[:resting], side[resting:][is_new]])
    touch = ~is_new
    mix["order_id"][touch] = targets[touch]
    mix["pair_id"][touch] = owner_pair[targets[touch] - 1]
    mix["account"][touch] = owner_account[targets[touch] - 1]
    amend_sign = np.where(owner_side[targets[is_amend] - 1] == Side.BUY, -1, 1)
    mix["price"][is_amend] = center + amend_sign * distance[resting:][is_amend]
    mix["quantity"][is_amend] = rng.integers(1, 100, int(is_amend.sum()))
    return pairs, commands, {"pairs": n_pairs, "initial_resting": resting, "mixed": mixed}


WORKLOADS = {
    "seed": seed_workload,
    "ec-mix": ec_mix_workload,
    "ec-mix-coid": ec_mix_coid_workload,
    "venue": venue_workload,
    "deep": deep_workload,
}


def build(name: str, **kwargs):
    return WORKLOADS[name](**kwargs)
