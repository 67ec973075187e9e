"""Compile (or load from numba's on-disk cache) the compiled paths before they are timed.

numba compiles a function on its first call and, with ``cache=True``, writes the result next
to the module (``__pycache__``). A cold cache costs tens of seconds per kernel (the JSON
event encoder alone about 20–80 s on a busy 2-core box), which would otherwise land inside the
first batch of a publisher, the first poll of a bridge, or a timed test. ``warm()`` calls each
kernel once on a tiny input; ``python -m ringex.warmup`` does it for the whole package (the
test script and the Dockerfile run it), and each long-lived process warms what it uses before
it reports ready.
"""

from __future__ import annotations

import json
import time

__all__ = ["warm", "warm_wire"]


def warm_wire(registry) -> None:
    """The JSON event encoders and the batched JSON order decoder."""
    import numpy as np

    from ringex.kafka.decode import decode_json_messages
    from ringex.records import EVENT_DTYPE, EventKind
    from ringex.wire.json_events import events_to_json, trades_to_json

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


def warm_matcher(registry) -> None:
    """The matcher's batch entry point (``MatchingEngine.process``)."""
    from ringex import commands as cmd
    from ringex.engine import MatchingEngine
    from ringex.records import Side

    pair = next(iter(registry))
    engine = MatchingEngine(registry.pairs, order_capacity=16)
    engine.process(cmd.pack([cmd.new(1, 1, Side.BUY, 1, 1, pair=pair.pair_id)]))


def warm(registry=None) -> float:
    """Every compiled path a process of this package may use; returns the seconds it took."""
    from ringex.pairs import default_pairs

    registry = registry or default_pairs()
    started = time.perf_counter()
    warm_matcher(registry)
    warm_wire(registry)
    return time.perf_counter() - started


if __name__ == "__main__":
    print(json.dumps({"warmup_seconds": round(warm(), 2)}))
