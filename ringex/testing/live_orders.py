"""The live (resting) orders, followed from a matcher's events alone.

A GTC LIMIT order is live from its ACCEPTED event until a TRADE leaves it (as taker or maker)
with no leaves, or until any CANCELED event for it; AMENDED events change its price and sizes.
The generator uses this to aim cancels and amends at real orders, without asking a matcher.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ringex.records import EventKind, OrderType, TimeInForce

__all__ = ["LiveOrder", "LiveOrders"]


@dataclass(slots=True)
class LiveOrder:
    order_id: int
    pair_id: int
    account: int
    client_order_id: int
    side: int
    price: int
    quantity: int
    filled_qty: int


_COLUMNS = ("kind", "order_id", "pair_id", "account", "client_order_id", "side", "order_type",
            "tif", "price", "quantity", "filled_qty", "leaves_qty", "maker_order_id",
            "maker_filled_qty", "maker_leaves_qty")


class LiveOrders:
    def __init__(self) -> None:
        self.by_id: dict[int, LiveOrder] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def observe(self, events: np.ndarray) -> None:
        columns = [events[name].tolist() for name in _COLUMNS]
        for (kind, order_id, pair_id, account, client_order_id, side, order_type, tif, price,
             quantity, filled, leaves, maker_id, maker_filled, maker_leaves) in zip(*columns):
            if kind == EventKind.ACCEPTED:
                if order_type == OrderType.LIMIT and tif == TimeInForce.GTC:
                    self.by_id[order_id] = LiveOrder(order_id, pair_id, account, client_order_id,
                                                     side, price, quantity, filled)
            elif kind == EventKind.TRADE:
                taker = self.by_id.get(order_id)
                if taker is not None:
                    taker.filled_qty = filled
                    if leaves == 0:
                        del self.by_id[order_id]
                maker = self.by_id[maker_id]
                maker.filled_qty = maker_filled
                if maker_leaves == 0:
                    del self.by_id[maker_id]
            elif kind == EventKind.CANCELED:
                self.by_id.pop(order_id, None)
            elif kind == EventKind.AMENDED:  # also a DECREMENT of a taker that never rests
                order = self.by_id.get(order_id)
                if order is not None:
                    order.price, order.quantity, order.filled_qty = price, quantity, filled
