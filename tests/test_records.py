"""Golden layout of the wire records: a change here is a format change (bump RECORD_VERSION)."""

import pytest

from ringex.records import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    RECORD_VERSION,
    CommandKind,
    EventKind,
    OrderStatus,
    PairStatus,
    Reason,
    Side,
    StpMode,
    TimeInForce,
)

COMMAND_LAYOUT = [
    ("kind", 0, "|u1"), ("side", 1, "|u1"), ("order_type", 2, "|u1"), ("tif", 3, "|u1"),
    ("flags", 4, "|u1"), ("stp", 5, "|u1"), ("status", 6, "|u1"), ("_reserved", 7, "|u1"),
    ("pair_id", 8, "<i4"), ("source_partition", 12, "<i4"), ("account", 16, "<i8"),
    ("order_id", 24, "<i8"), ("client_order_id", 32, "<i8"), ("price", 40, "<i8"),
    ("quantity", 48, "<i8"), ("timestamp_ns", 56, "<i8"), ("source_offset", 64, "<i8"),
]

EVENT_LAYOUT = [
    ("kind", 0, "|u1"), ("reason", 1, "|u1"), ("side", 2, "|u1"), ("order_type", 3, "|u1"),
    ("tif", 4, "|u1"), ("flags", 5, "|u1"), ("order_status", 6, "|u1"),
    ("pair_status", 7, "|u1"), ("pair_id", 8, "<i4"), ("_reserved", 12, "<i4"),
    ("seq", 16, "<i8"), ("command_index", 24, "<i8"), ("timestamp_ns", 32, "<i8"),
    ("order_id", 40, "<i8"), ("account", 48, "<i8"), ("client_order_id", 56, "<i8"),
    ("price", 64, "<i8"), ("quantity", 72, "<i8"), ("filled_qty", 80, "<i8"),
    ("leaves_qty", 88, "<i8"), ("trade_qty", 96, "<i8"), ("maker_order_id", 104, "<i8"),
    ("maker_account", 112, "<i8"), ("maker_quantity", 120, "<i8"),
    ("maker_filled_qty", 128, "<i8"), ("maker_leaves_qty", 136, "<i8"),
]


def _layout(dtype):
    return [(name, dtype.fields[name][1], dtype.fields[name][0].str) for name in dtype.names]


@pytest.mark.parametrize(
    "dtype, layout, itemsize",
    [(COMMAND_DTYPE, COMMAND_LAYOUT, 72), (EVENT_DTYPE, EVENT_LAYOUT, 144)],
    ids=["command", "event"],
)
def test_record_layout_is_pinned(dtype, layout, itemsize):
    assert RECORD_VERSION == 1
    assert dtype.itemsize == itemsize
    assert dtype.isalignedstruct
    assert _layout(dtype) == layout


def test_zero_is_never_a_valid_enum_value_where_it_matters():
    # A zeroed record must be an invalid command, never a silent default order.
    for enum in (CommandKind, Side, TimeInForce, PairStatus, EventKind):
        assert 0 not in {member.value for member in enum}
    assert StpMode.NONE == 0 and OrderStatus.NONE == 0 and Reason.NONE == 0


def test_enum_codes_are_stable():
    assert [k.value for k in CommandKind] == [1, 2, 3, 4, 5]
    assert [k.value for k in EventKind] == [1, 2, 3, 4, 5, 6, 7]
    assert Reason.USER_CANCELED == 32 and Reason.CANCEL_ALL == 37
    assert all(r.value < 256 for r in Reason)
