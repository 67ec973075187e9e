"""Fixed-size records that cross every boundary: commands in, events out.

These two numpy dtypes are the contract between the edges (bridges, gateway), the rings and
the compiled matcher. They are defined here once, aligned (``align=True``), and pinned by a
golden test (``tests/test_records.py``): changing a size or an offset is a wire-format change
and must bump :data:`RECORD_VERSION`.

Enums are small integers (``IntEnum``), usable as-is inside numba code. Zero is never a valid
enum value, so a zeroed record is always an invalid command rather than a silent default.

Units: ``price`` is an int64 count of the pair's ticks, ``quantity`` an int64 count of lots.
No float ever appears in a record.
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = [
    "RECORD_VERSION",
    "ALL_PAIRS",
    "CommandKind",
    "Side",
    "OrderType",
    "TimeInForce",
    "OrderFlag",
    "MESSAGE_START",
    "MESSAGE_END",
    "MESSAGE_MIDDLE",
    "MESSAGE_BITS",
    "LAST_REJECTION_REASON",
    "rejection_of_invalid_kind",
    "StpMode",
    "PairStatus",
    "EventKind",
    "OrderStatus",
    "Reason",
    "COMMAND_DTYPE",
    "EVENT_DTYPE",
]

#: Bumped whenever a dtype below changes size, offset or meaning.
RECORD_VERSION = 1

#: ``pair_id`` of a CANCEL_ALL command that applies to every pair.
ALL_PAIRS = -1


class CommandKind(enum.IntEnum):
    NEW = 1
    CANCEL = 2
    AMEND = 3
    CANCEL_ALL = 4
    SET_STATUS = 5


class Side(enum.IntEnum):
    BUY = 1
    SELL = 2


class OrderType(enum.IntEnum):
    LIMIT = 1
    MARKET = 2


class TimeInForce(enum.IntEnum):
    GTC = 1
    IOC = 2
    FOK = 3


class OrderFlag(enum.IntEnum):
    """Bits of ``flags``. An ``IntEnum`` rather than ``IntFlag`` because numba types only
    the former; combine bits with ``|`` on plain ints."""

    NONE = 0
    POST_ONLY = 1


class StpMode(enum.IntEnum):
    """Self-trade prevention, chosen by the incoming (taker) order."""

    NONE = 0  # self-trades are allowed
    EXPIRE_TAKER = 1
    EXPIRE_MAKER = 2
    EXPIRE_BOTH = 3
    DECREMENT = 4


class PairStatus(enum.IntEnum):
    TRADING = 1
    HALTED = 2
    CANCEL_ONLY = 3
    POST_ONLY = 4


class EventKind(enum.IntEnum):
    ACCEPTED = 1
    REJECTED = 2
    TRADE = 3
    CANCELED = 4
    AMENDED = 5
    PAIR_STATUS = 6
    MASS_CANCELED = 7


class OrderStatus(enum.IntEnum):
    NONE = 0
    NEW = 1
    PARTIALLY_FILLED = 2
    FILLED = 3
    CANCELED = 4
    REJECTED = 5


class Reason(enum.IntEnum):
    """Why a command was rejected, or why an order was canceled or amended."""

    NONE = 0
    # rejections
    INVALID_COMMAND = 1
    UNKNOWN_PAIR = 2
    UNKNOWN_ORDER = 3
    NOT_OWNER = 4
    INVALID_SIDE = 5
    INVALID_TYPE = 6
    INVALID_TIF = 7
    INVALID_FLAGS = 8
    INVALID_STP = 9
    INVALID_PRICE = 10
    INVALID_QUANTITY = 11
    PRICE_OUT_OF_BAND = 12
    INVALID_ORDER_ID = 13
    INVALID_ACCOUNT = 14
    DUPLICATE_ORDER_ID = 15
    DUPLICATE_CLIENT_ORDER_ID = 16
    POST_ONLY_WOULD_TAKE = 17
    PAIR_HALTED = 18
    PAIR_CANCEL_ONLY = 19
    PAIR_POST_ONLY = 20
    BOOK_FULL = 21
    INVALID_STATUS = 22
    NO_CHANGE = 23
    # cancellations
    USER_CANCELED = 32
    IOC_REMAINDER = 33
    FOK_UNFILLED = 34
    SELF_TRADE = 35
    NO_LIQUIDITY = 36
    CANCEL_ALL = 37


# The message marks a Kafka bridge sets in a command's ``_reserved`` byte (docs/recovery.md).
# A Kafka message becomes one record (JSON) or many (a binary frame) with the same partition
# and offset: the first is marked MESSAGE_START, the last MESSAGE_END (one record: both), the
# others MESSAGE_MIDDLE, so the engine applies every message exactly once although a
# restarted bridge may write it into the inbound ring again. A record with none of the bits
# (not from a bridge) is applied unconditionally. Clients never set them: the stateless record
# checks reject a frame record whose ``_reserved`` is not 0.
MESSAGE_START = 1
MESSAGE_END = 2
MESSAGE_MIDDLE = 4
MESSAGE_BITS = 7

#: A command whose ``kind`` is no :class:`CommandKind` is rejected. When its ``status`` holds a
#: rejection reason (``1 .. LAST_REJECTION_REASON``) that is the REJECTED event's reason, else
#: ``INVALID_COMMAND``: the bridge's stand-in for a message it could not decode (``kind = 0``)
#: carries the decoder's reason this way, with the message's client id and account.
LAST_REJECTION_REASON = Reason.NO_CHANGE


def rejection_of_invalid_kind(status: int) -> int:
    """The reason of the REJECTED event of a command with no valid ``kind`` (above)."""
    return status if 1 <= status <= LAST_REJECTION_REASON else Reason.INVALID_COMMAND


COMMAND_DTYPE = np.dtype(
    [
        ("kind", "u1"),  # CommandKind
        ("side", "u1"),  # Side (NEW)
        ("order_type", "u1"),  # OrderType (NEW)
        ("tif", "u1"),  # TimeInForce (NEW)
        ("flags", "u1"),  # OrderFlag bits (NEW)
        ("stp", "u1"),  # StpMode (NEW)
        ("status", "u1"),  # PairStatus (SET_STATUS); a Reason when kind is invalid
        ("_reserved", "u1"),  # the bridge's message marks (MESSAGE_* above); else 0
        ("pair_id", "<i4"),  # ALL_PAIRS only for CANCEL_ALL
        ("source_partition", "<i4"),  # Kafka partition, or -1 for the embedded journal
        ("account", "<i8"),
        ("order_id", "<i8"),  # assigned at the edge, unique, > 0
        ("client_order_id", "<i8"),  # 0 = none; unique per account among live orders
        ("price", "<i8"),  # ticks; 0 for MARKET; new price for AMEND
        ("quantity", "<i8"),  # lots; new total quantity for AMEND
        ("timestamp_ns", "<i8"),  # set at the edge; the matcher has no clock
        ("source_offset", "<i8"),  # Kafka offset or journal position of this command
    ],
    align=True,
)

EVENT_DTYPE = np.dtype(
    [
        ("kind", "u1"),  # EventKind
        ("reason", "u1"),  # Reason
        ("side", "u1"),  # side of the order (the taker, for TRADE)
        ("order_type", "u1"),
        ("tif", "u1"),
        ("flags", "u1"),
        ("order_status", "u1"),  # OrderStatus of the order after this event
        ("pair_status", "u1"),  # PairStatus, on PAIR_STATUS events
        ("pair_id", "<i4"),
        ("_reserved", "<i4"),
        ("seq", "<i8"),  # gap-free, starts at 1, one engine-wide sequence
        ("command_index", "<i8"),  # engine-wide index of the command that caused it
        ("timestamp_ns", "<i8"),  # copied from the command
        ("order_id", "<i8"),  # the order (the taker, for TRADE)
        ("account", "<i8"),
        ("client_order_id", "<i8"),
        ("price", "<i8"),  # limit price; the execution price on TRADE
        ("quantity", "<i8"),  # order quantity; quantity == filled_qty + leaves_qty
        ("filled_qty", "<i8"),
        ("leaves_qty", "<i8"),  # open quantity; on CANCELED/REJECTED, the part that never fills
        ("trade_qty", "<i8"),  # TRADE: executed lots; MASS_CANCELED: orders canceled
        ("maker_order_id", "<i8"),
        ("maker_account", "<i8"),
        ("maker_quantity", "<i8"),
        ("maker_filled_qty", "<i8"),
        ("maker_leaves_qty", "<i8"),
    ],
    align=True,
)
