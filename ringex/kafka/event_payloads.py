"""`order-events` messages back into ``EVENT_DTYPE`` records: the inverse of the publisher.

The Kafka publisher writes each event either as JSON (``kafka.events_format = "json"``,
:func:`ringex.wire.json_events.events_to_json`) or inside an event frame (``"frame"``);
readers of the topic take both, even mixed. JSON decimals are turned back into ticks and lots
exactly, through the pair registry; a value that is not a whole number of steps raises.

Callers: the market-data catch-up (:mod:`ringex.kafka.catchup`) and ``ringex rebuild-redis``
(:mod:`ringex.runtime.rebuild_redis`). Pure functions over payloads; no client is touched.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from ringex.records import (EVENT_DTYPE, EventKind, OrderFlag, OrderStatus, OrderType,
                            PairStatus, Reason, Side, TimeInForce)

__all__ = ["events_from_json", "events_from_payloads"]

_ENUMS = {"kind": EventKind, "reason": Reason, "side": Side, "order_type": OrderType,
          "tif": TimeInForce, "order_status": OrderStatus, "pair_status": PairStatus}
_PRICES = ("price",)
_QUANTITIES = ("quantity", "filled_qty", "leaves_qty", "trade_qty", "maker_quantity",
               "maker_filled_qty", "maker_leaves_qty")
_INTEGERS = ("seq", "command_index", "timestamp_ns", "pair_id", "order_id", "client_order_id",
             "account", "maker_order_id", "maker_account")


def events_from_json(payloads, registry) -> np.ndarray:
    """``order-events`` messages -> ``EVENT_DTYPE`` records (the inverse of events_to_json).

    Column by column (a structured row written field by field cost ~45 us per event), and
    decimals through each pair's integer scale: the encoder writes exactly the step's
    fractional digits, so ``int(digits) / multiplier`` is exact; anything else takes the
    ``Decimal`` path, which raises on a value that is not a whole number of steps.
    """
    import msgspec

    from ringex.wire.units import registry_units

    decode = msgspec.json.decode
    units = registry_units(registry).by_id
    n = len(payloads)
    columns = {name: [0] * n for name in (*_INTEGERS, *_ENUMS, *_PRICES, *_QUANTITIES,
                                          "flags")}
    enum_values = {name: {member.name: int(member) for member in enum_type}
                   for name, enum_type in _ENUMS.items()}
    for index, payload in enumerate(payloads):
        message = decode(payload)
        for name in _INTEGERS:
            value = message.get(name)
            if value is not None:
                columns[name][index] = int(value)
        for name, values in enum_values.items():
            value = message.get(name)
            if value is not None:
                columns[name][index] = values[value]
        if message.get("post_only"):
            columns["flags"][index] = int(OrderFlag.POST_ONLY)
        if columns["kind"][index] == EventKind.MASS_CANCELED:
            columns["trade_qty"][index] = int(message.get("canceled_count", 0))
        pair_id = columns["pair_id"][index]
        pair_units = units[pair_id] if 0 <= pair_id < len(units) else None
        if pair_units is None:
            continue
        for name in _PRICES:
            text = message.get(name)
            if text is not None:
                columns[name][index] = _units(text, pair_units.price, pair_units.pair.tick_size,
                                              name)
        for name in _QUANTITIES:
            text = message.get(name)
            if text is not None:
                columns[name][index] = _units(text, pair_units.quantity,
                                              pair_units.pair.lot_size, name)
    events = np.zeros(n, dtype=EVENT_DTYPE)
    for name, values in columns.items():
        events[name] = values
    return events


def _units(text: str, scale, step, name: str) -> int:
    """``text`` as a whole number of steps: the fast exact path, else :func:`_steps`."""
    whole, dot, fraction = text.partition(".")
    if (dot and len(fraction) == scale.places and fraction.isdigit()) or \
            (not dot and scale.places == 0):
        try:
            units, remainder = divmod(int(whole + fraction), scale.multiplier)
        except ValueError:
            return _steps(text, step, name)
        if not remainder:
            return units
    return _steps(text, step, name)


def events_from_payloads(payloads, registry) -> np.ndarray:
    """``order-events`` messages of either format (``kafka.events_format``) -> records.

    Event frames are taken as they are; JSON events go through :func:`events_from_json`. The
    result is in message order; the caller sorts by ``seq``.
    """
    from ringex.wire.frames import decode_event_frame, is_event_frame

    parts, texts = [], []
    for payload in payloads:
        if is_event_frame(payload):
            if texts:
                parts.append(events_from_json(texts, registry))
                texts = []
            parts.append(decode_event_frame(payload))
        else:
            texts.append(payload)
    if texts:
        parts.append(events_from_json(texts, registry))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=EVENT_DTYPE)


def _steps(text: str, step, name: str) -> int:
    """An exact decimal string as a whole number of ``step`` (zero allowed, unlike orders)."""
    value = Decimal(text) / Decimal(step)
    if value != value.to_integral_value():
        raise ValueError(f"{name} {text!r} is not a multiple of {step}")
    return int(value)
