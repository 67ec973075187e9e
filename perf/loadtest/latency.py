"""Attribution of received events and trades to the flow's commands, and latency histograms.

Every event names its order by ``client_order_id`` (JSON route: this run's range) or by
``order_id`` (frame route: this run's id range; JSON route: the ids learnt from this run's
ACCEPTED and REJECTED events). Then, with ``t`` the order's flow index:

| event | is the outcome of |
|---|---|
| ACCEPTED; REJECTED with a side | the NEW order ``t`` |
| REJECTED without a side (a cancel's or amend's copy): price 0 / price > 0 | the cancel / amend aimed at ``t`` |
| AMENDED | the amend aimed at ``t`` |
| CANCELED with reason USER_CANCELED | the cancel aimed at ``t`` (and ``t``'s final event) |
| CANCELED otherwise; TRADE leaving 0 for the taker / the maker | ``t``'s final event |

This is exact because every order is cancelled at most once and amended at most once
(:mod:`perf.loadtest.flow`). Latencies: **outcome** = first outcome's arrival minus the
command's send time; **trade** = arrival in ``trades`` of the last trade a NEW order took as
taker, minus its send time (amends never cross, so only NEW orders take). The send time is
the *scheduled* time in open-loop mode (no coordinated omission) and the time the message
was handed to the producer in max-throughput mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perf.loadtest.flow import AMEND, CANCEL
from perf.loadtest.receiver import LEAVES_ZERO, MAKER_LEAVES_ZERO, PRICE_ZERO, SIDE_NULL, \
    USER_CANCELED

__all__ = ["Attribution", "attribute", "percentiles", "PERCENTILES"]

PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99)
_NEVER = np.iinfo(np.int64).max


@dataclass
class Attribution:
    outcome_count: np.ndarray  # per command: outcomes seen (must be exactly 1)
    outcome_ns: np.ndarray  # per command: first outcome arrival (_NEVER if none)
    final_count: np.ndarray  # per NEW order: final events (filled or cancelled): 0 or 1
    accepted: np.ndarray  # per NEW order: bool
    taker_trades: np.ndarray  # per NEW order: trades taken, seen in `trades`
    last_trade_ns: np.ndarray  # per NEW order: last taker trade arrival (0 if none)
    foreign_events: int
    foreign_trades: int
    unmatched_op_events: int  # cancel/amend outcomes for orders no cancel/amend aimed at


def _index_of_ids(ids: np.ndarray, known_ids: np.ndarray, known_index: np.ndarray):
    """Flow index of each id in ``ids`` (-1 if unknown), through a sorted lookup."""
    if known_ids.size == 0:
        return np.full(ids.shape, -1, dtype=np.int64)
    order = np.argsort(known_ids, kind="stable")
    sorted_ids = known_ids[order]
    at = np.clip(np.searchsorted(sorted_ids, ids), 0, sorted_ids.size - 1)
    hit = sorted_ids[at] == ids
    return np.where(hit, known_index[order][at], -1)


def attribute(flow, received: dict) -> Attribution:
    n = len(flow)
    kind = received["event_kind"]
    flags = received["event_flags"]
    arrival = received["event_arrival_ns"]
    coid = received["event_client_order_id"]
    order_id = received["event_order_id"]

    by_coid = coid - flow.coid_base - 1
    by_coid = np.where((by_coid >= 0) & (by_coid < n), by_coid, -1)
    by_frame_id = order_id - flow.id_base - 1
    by_frame_id = np.where((by_frame_id >= 0) & (by_frame_id < n), by_frame_id, -1)
    t = np.where(by_coid >= 0, by_coid, by_frame_id)

    # order ids this run's NEW orders got from the bridge (JSON route), from their outcomes
    new_outcome = (t >= 0) & ((kind == 1) | ((kind == 2) & ((flags & SIDE_NULL) == 0)))
    known_ids = np.concatenate([order_id[new_outcome], flow.frame_order_ids()])
    known_index = np.concatenate([t[new_outcome], np.arange(n, dtype=np.int64)])
    t = np.where(t >= 0, t, _index_of_ids(order_id, known_ids, known_index))

    cancel_of = np.full(n, -1, dtype=np.int64)
    amend_of = np.full(n, -1, dtype=np.int64)
    ops = np.flatnonzero(flow.target >= 0)
    cancel_of[flow.target[ops[flow.kind[ops] == CANCEL]]] = ops[flow.kind[ops] == CANCEL]
    amend_of[flow.target[ops[flow.kind[ops] == AMEND]]] = ops[flow.kind[ops] == AMEND]

    mine = t >= 0
    rejected_op = (kind == 2) & ((flags & SIDE_NULL) != 0)
    is_cancel_outcome = mine & (((kind == 4) & ((flags & USER_CANCELED) != 0))
                                | (rejected_op & ((flags & PRICE_ZERO) != 0)))
    is_amend_outcome = mine & ((kind == 5) | (rejected_op & ((flags & PRICE_ZERO) == 0)))
    command = np.full(kind.shape, -1, dtype=np.int64)
    command[new_outcome] = t[new_outcome]
    command[is_cancel_outcome] = cancel_of[t[is_cancel_outcome]]
    command[is_amend_outcome] = amend_of[t[is_amend_outcome]]
    unmatched = int(((is_cancel_outcome | is_amend_outcome) & (command < 0)).sum())

    outcome_count = np.bincount(command[command >= 0], minlength=n)
    outcome_ns = np.full(n, _NEVER, dtype=np.int64)
    np.minimum.at(outcome_ns, command[command >= 0], arrival[command >= 0])

    final = mine & (((kind == 4)) | ((kind == 3) & ((flags & LEAVES_ZERO) != 0)))
    final_count = np.bincount(t[final], minlength=n)
    maker = _index_of_ids(received["event_maker_order_id"], known_ids, known_index)
    maker_final = (kind == 3) & ((flags & MAKER_LEAVES_ZERO) != 0) & (maker >= 0)
    final_count += np.bincount(maker[maker_final], minlength=n)
    accepted = np.zeros(n, dtype=bool)
    accepted[t[mine & (kind == 1)]] = True

    taker = _index_of_ids(received["trade_taker_order_id"], known_ids, known_index)
    taken = taker >= 0
    taker_trades = np.bincount(taker[taken], minlength=n)
    last_trade_ns = np.zeros(n, dtype=np.int64)
    np.maximum.at(last_trade_ns, taker[taken], received["trade_arrival_ns"][taken])
    maker_trade = _index_of_ids(received["trade_maker_order_id"], known_ids, known_index)
    foreign_trades = int(((~taken) & (maker_trade < 0)).sum())
    return Attribution(outcome_count=outcome_count, outcome_ns=outcome_ns,
                       final_count=final_count, accepted=accepted, taker_trades=taker_trades,
                       last_trade_ns=last_trade_ns, foreign_events=int((~mine).sum()),
                       foreign_trades=foreign_trades, unmatched_op_events=unmatched)


def percentiles(latencies_ns: np.ndarray) -> dict:
    """HdrHistogram (1 µs .. 1 h, 3 significant digits) of ``latencies_ns``; values in ms."""
    from hdrh.histogram import HdrHistogram

    histogram = HdrHistogram(1, 3_600_000_000, 3)
    micros = np.maximum(latencies_ns // 1000, 1)
    for value, count in zip(*np.unique(micros, return_counts=True)):
        histogram.record_value(int(value), int(count))
    result = {"count": int(latencies_ns.size)}
    if latencies_ns.size == 0:
        return result
    for p in PERCENTILES:
        result[f"p{p:g}"] = histogram.get_value_at_percentile(p) / 1000.0
    result["max"] = histogram.get_max_value() / 1000.0
    result["mean"] = round(histogram.get_mean_value() / 1000.0, 3)
    return result
