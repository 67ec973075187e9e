"""Load (or, with a cold cache, compile) the kernels of the Kafka edges before they are timed.

A bridge or a publisher calls :func:`warm_wire` before its first batch, so that numba's
compile (tens of seconds on a cold cache) does not land inside it; ``python -m ringex.warmup``
calls it with the other warm-ups of the package.
"""

from __future__ import annotations

import json

import numpy as np

from ringex.kafka.decode import decode_json_messages
from ringex.records import COMMAND_DTYPE, EVENT_DTYPE, EventKind
from ringex.wire.json_events import events_to_json, trades_to_json
from ringex.wire.record_checks import failed_checks

__all__ = ["warm_wire"]


def warm_wire(registry) -> None:
    """The JSON event encoders, the batched JSON order decoder and the frame record checks."""
    pair = next(iter(registry))
    events = np.zeros(2, dtype=EVENT_DTYPE)
    events["kind"] = [EventKind.ACCEPTED, EventKind.TRADE]
    events["pair_id"] = pair.pair_id
    events["seq"] = [1, 2]
    events["price"] = 1
    events["quantity"] = events["trade_qty"] = 1
    events_to_json(events, registry)
    trades_to_json(events[1:], registry)
    payload = json.dumps({"action": "new", "order": {
        "id": "warm", "pair": pair.name, "side": "BUY", "type": "LIMIT",
        "price": pair.ticks_to_price(1), "amount": pair.lots_to_qty(1)}}).encode()
    decode_json_messages([payload], registry, partition=0, offsets=[0], timestamps_ns=[0],
                         default_account=1)
    failed_checks(np.zeros(1, dtype=COMMAND_DTYPE), registry)
