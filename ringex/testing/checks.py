"""Properties every event stream has, whichever matcher produced it (docs/matching.md).

These are the forbidden outcomes: a gap or a repeat in ``seq``, an event for a command that
does not exist, a field an event does not use that is not 0, an order event where
``quantity != filled_qty + leaves_qty``, a negative quantity on an accepted order.
"""

from __future__ import annotations

import numpy as np

from ringex.records import EVENT_DTYPE, EventKind

__all__ = ["USED_FIELDS", "assert_well_formed"]

_HEADER = {"kind", "reason", "seq", "command_index", "timestamp_ns"}
_ORDER = _HEADER | {"side", "order_type", "tif", "flags", "order_status", "pair_id", "order_id",
                    "account", "client_order_id", "price", "quantity", "filled_qty", "leaves_qty"}
_MAKER = {"trade_qty", "maker_order_id", "maker_account", "maker_quantity", "maker_filled_qty",
          "maker_leaves_qty"}

#: Event kind -> the fields it may set; every other field must be 0.
USED_FIELDS = {
    EventKind.ACCEPTED: _ORDER,
    EventKind.REJECTED: _ORDER,
    EventKind.CANCELED: _ORDER,
    EventKind.AMENDED: _ORDER,
    EventKind.TRADE: _ORDER | _MAKER,
    EventKind.PAIR_STATUS: _HEADER | {"pair_id", "pair_status"},
    EventKind.MASS_CANCELED: _HEADER | {"pair_id", "account", "trade_qty"},
}


def assert_well_formed(events: np.ndarray, first_seq: int, first_command_index: int,
                       n_commands: int) -> None:
    """Check one ``process()`` result for a batch of ``n_commands`` commands."""
    assert events.dtype == EVENT_DTYPE, f"events have dtype {events.dtype}"
    expected_seq = np.arange(first_seq, first_seq + len(events))
    assert np.array_equal(events["seq"], expected_seq), (
        f"seq is not gap-free from {first_seq}: {events['seq'].tolist()}")
    command_index = events["command_index"]
    assert np.all(np.diff(command_index) >= 0), "command_index goes backwards"
    last = first_command_index + n_commands
    assert np.all((command_index >= first_command_index) & (command_index < last)), (
        f"command_index outside [{first_command_index}, {last}): {command_index.tolist()}")
    assert np.array_equal(np.unique(command_index), np.arange(first_command_index, last)), (
        "some command emitted no event")
    kinds = events["kind"]
    assert np.isin(kinds, list(USED_FIELDS)).all(), f"unknown event kinds {set(kinds.tolist())}"
    for kind, used in USED_FIELDS.items():
        of_kind = events[kinds == kind]
        for name in EVENT_DTYPE.names:
            if name not in used and of_kind[name].any():
                bad = of_kind[of_kind[name] != 0][0]
                raise AssertionError(f"seq {bad['seq']}: {kind.name} sets unused field {name}")
    trades = events[kinds == EventKind.TRADE]
    assert (trades["trade_qty"] > 0).all(), "a TRADE of zero lots"
    assert np.array_equal(trades["maker_quantity"],
                          trades["maker_filled_qty"] + trades["maker_leaves_qty"]), (
        "a TRADE where maker quantity != maker filled + maker leaves")
    order_kinds = [EventKind.ACCEPTED, EventKind.CANCELED, EventKind.AMENDED, EventKind.TRADE]
    orders = events[np.isin(kinds, order_kinds)]
    broken = orders["quantity"] != orders["filled_qty"] + orders["leaves_qty"]
    assert not broken.any(), (
        f"seq {orders[broken][0]['seq']}: quantity != filled_qty + leaves_qty")
    negative = (orders["leaves_qty"] < 0) | (orders["filled_qty"] < 0)
    assert not negative.any(), f"seq {orders[negative][0]['seq']}: negative quantities"
