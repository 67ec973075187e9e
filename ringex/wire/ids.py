"""Order ids and client order ids, as the edges derive them.

Why it exists: the matcher needs int64 ids, and replaying Kafka must give the same ids again,
so the bridge derives each NEW order's id from where the message sits in Kafka instead of
drawing it from a counter. Clients, on the other hand, name their orders with strings or
integers of their own; :func:`client_id_to_int` folds those into the int64
``client_order_id`` that the matcher indexes per account.

Invariants:

* ``kafka_order_id`` is a bijection from ``partition in [0, 2**23)`` x
  ``offset in [0, 2**40 - 1)`` onto positive int64 ids, increasing in the offset within a
  partition; :func:`kafka_position` is its inverse. The top offset ``2**40 - 1`` is refused
  because it would overflow int64 in the last partition.
* ``client_id_to_int`` never returns 0 (0 means "no client id" in a record) and never a value
  above ``2**63 - 1``. A hashed string may collide with another string or with a numeric id
  (probability about ``n**2 / 2**64`` among ``n`` live ids of one account); the matcher then
  refuses the second order as ``DUPLICATE_CLIENT_ORDER_ID``, never mixes two orders up.

Pure functions; any process may call them.
"""

from __future__ import annotations

import hashlib

from ringex.errors import ValidationError

__all__ = [
    "PARTITION_BITS",
    "OFFSET_BITS",
    "MAX_CLIENT_ID_CHARS",
    "kafka_order_id",
    "kafka_position",
    "client_id_to_int",
]

PARTITION_BITS = 23
OFFSET_BITS = 40
MAX_CLIENT_ID_CHARS = 64

_INT64_MAX = 2**63 - 1
_OFFSET_LIMIT = (1 << OFFSET_BITS) - 1  # exclusive
_PARTITION_LIMIT = 1 << PARTITION_BITS  # exclusive
_OFFSET_MASK = (1 << OFFSET_BITS) - 1
_HASH_PERSON = b"ringex.coid.v1"  # domain separation; changing it changes every hashed id
_HASHER = hashlib.blake2b(digest_size=8, person=_HASH_PERSON)  # copied per call: cheaper


def kafka_order_id(partition: int, offset: int) -> int:
    """``(partition << 40) + offset + 1``: the order id of the message at ``partition/offset``.

    ``0 <= partition < 2**23`` and ``0 <= offset < 2**40 - 1``, else ``ValueError`` (these
    come from Kafka, not from a client, so a bad value is the caller's bug).
    """
    if not (type(partition) is int and 0 <= partition < _PARTITION_LIMIT):
        raise ValueError(f"partition {partition!r} is outside 0 .. 2**{PARTITION_BITS} - 1")
    if not (type(offset) is int and 0 <= offset < _OFFSET_LIMIT):
        raise ValueError(f"offset {offset!r} is outside 0 .. 2**{OFFSET_BITS} - 2")
    return (partition << OFFSET_BITS) + offset + 1


def kafka_position(order_id: int) -> tuple[int, int]:
    """The ``(partition, offset)`` that :func:`kafka_order_id` turned into ``order_id``."""
    if not (type(order_id) is int and 0 < order_id <= _INT64_MAX):
        raise ValueError(f"order id {order_id!r} is not a positive int64")
    position = order_id - 1
    offset = position & _OFFSET_MASK
    if offset == _OFFSET_MASK:
        raise ValueError(f"order id {order_id} is not one kafka_order_id produces")
    return position >> OFFSET_BITS, offset


def client_id_to_int(value: object, *, field: str = "client_order_id") -> int:
    """The int64 ``client_order_id`` for a client's own order id.

    * An ``int`` in ``1 .. 2**63 - 1``, or a string of ASCII digits with no sign and no
      leading zero whose value is in that range, maps to itself: ``7`` and ``"7"`` are one id.
    * Any other string of 1..64 printable ASCII characters (``0x20 .. 0x7e``) maps to
      BLAKE2b-64 of its bytes (personalized ``ringex.coid.v1``), top bit cleared; a hash of 0
      becomes 1.
    * Anything else raises ``ValidationError(field)``: ``bool``, other types, ints out of
      range, empty, too long, or non-printable strings.
    """
    if type(value) is int:
        if 0 < value <= _INT64_MAX:
            return value
        raise ValidationError(field, f"integer ids must be in 1 .. 2**63 - 1, not {value}")
    if type(value) is not str:
        raise ValidationError(
            field, f"expected a string or an integer, got {type(value).__name__}"
        )
    if not value:
        raise ValidationError(field, "must not be empty")
    if len(value) > MAX_CLIENT_ID_CHARS:
        raise ValidationError(field, f"longer than {MAX_CLIENT_ID_CHARS} characters")
    if not (value.isascii() and value.isprintable()):
        raise ValidationError(field, "only printable ASCII characters are accepted")
    if value.isdigit() and value[0] != "0" and len(value) <= 19:
        number = int(value)
        if number <= _INT64_MAX:
            return number
    hasher = _HASHER.copy()
    hasher.update(value.encode("ascii"))
    return (int.from_bytes(hasher.digest(), "little") & _INT64_MAX) or 1
