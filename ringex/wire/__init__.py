"""ringex.wire: the byte formats at the edges, as pure functions (no IO, no clock).

::

    Kafka `orders` / REST body                         outbound ring (EVENT_DTYPE)
      JSON  --json_commands.decode_command-->  ┐          │
      frame --frames.decode_frame-->           ├─► COMMAND_DTYPE ─► inbound ring
              record_checks.check_commands --> ┘          │
                                               json_events.trades_to_json --> `trades`
                                               json_events.events_to_json --> `order-events`

``ids`` derives order ids from Kafka positions and folds client ids into int64; ``units``
converts decimals exactly with integer arithmetic. Every rejection is a
:class:`ringex.errors.ValidationError` naming the field. ``docs/wire-format.md`` is the
specification of every byte.

The two JSON hot paths are compiled: ``json_event_kernel`` writes a batch of events into one
buffer (numbers and literals through ``ascii_kernel``, which the Redis store's encoder shares),
``json_scan`` + ``json_command_kernel`` (+ ``blake2b`` for string client ids)
decode the common orders and hand anything else to ``json_commands_fallback``, the plain
Python decoder they replaced. The plain Python encoder the event kernel replaced is the
specification :mod:`ringex.spec.json_events`. The fast paths must equal them
byte for byte (Hypothesis tests, ``perf/bench_wire.py``).
"""

from __future__ import annotations

from ringex.wire.frames import (
    DEFAULT_MAX_RECORDS,
    FRAME_MAGIC,
    FRAME_VERSION,
    decode_frame,
    encode_frame,
    is_frame,
)
from ringex.wire.ids import client_id_to_int, kafka_order_id, kafka_position
from ringex.wire.json_commands import (
    JSON_VERSION,
    decode_command,
    decode_commands,
    rejection_reason,
)
from ringex.wire.json_events import event_json, events_to_json, trade_json, trades_to_json
from ringex.wire.json_messages import DEFAULT_MAX_BYTES
from ringex.wire.record_checks import CHECKS, check_commands, command_errors

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_RECORDS",
    "FRAME_MAGIC",
    "FRAME_VERSION",
    "JSON_VERSION",
    "CHECKS",
    "decode_command",
    "decode_commands",
    "rejection_reason",
    "encode_frame",
    "decode_frame",
    "is_frame",
    "check_commands",
    "command_errors",
    "trade_json",
    "event_json",
    "trades_to_json",
    "events_to_json",
    "kafka_order_id",
    "kafka_position",
    "client_id_to_int",
]
