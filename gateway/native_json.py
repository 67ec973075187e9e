"""Command records -> the native JSON messages of Kafka ``orders`` (``docs/wire-format.md``).

Why it exists: in distributed mode the gateway validates a request completely (with
``ringex.wire.json_commands.decode_command``), then sends Kafka the canonical form of the
record it got: numbers re-formatted on the pair's tick and lot, enum names upper case, the
account set from the API key. The bridge decoding that message gets the same record back
(a test checks the round trip). Pure functions.
"""

from __future__ import annotations

import msgspec

from ringex.pairs import PairRegistry
from ringex.records import ALL_PAIRS, CommandKind, OrderFlag, OrderType, Side, StpMode, TimeInForce
from ringex.wire.units import registry_units

__all__ = ["command_json"]

_ENCODE = msgspec.json.Encoder().encode
_KIND = {int(k): k.name.lower() for k in CommandKind}


def command_json(record, registry: PairRegistry) -> bytes:
    """The native JSON message for one ``COMMAND_DTYPE`` record."""
    kind = int(record["kind"])
    pair_id = int(record["pair_id"])
    message: dict[str, object] = {"type": _KIND[kind], "version": 1}
    if kind == CommandKind.CANCEL_ALL:
        if pair_id != ALL_PAIRS:
            message["pair"] = registry.pairs[pair_id].name
        message["account"] = int(record["account"])
        return _ENCODE(message)
    units = registry_units(registry).by_id[pair_id]
    message["pair"] = units.pair.name
    if kind == CommandKind.NEW:
        order_type = int(record["order_type"])
        message["side"] = Side(int(record["side"])).name
        message["order_type"] = OrderType(order_type).name
        if order_type == OrderType.LIMIT:
            message["price"] = units.price.format(int(record["price"]))
        message["quantity"] = units.quantity.format(int(record["quantity"]))
        message["time_in_force"] = TimeInForce(int(record["tif"])).name
        if int(record["flags"]) & OrderFlag.POST_ONLY:
            message["post_only"] = True
        message["stp"] = StpMode(int(record["stp"])).name
        if int(record["client_order_id"]):
            message["client_order_id"] = int(record["client_order_id"])
    else:
        if int(record["order_id"]):
            message["order_id"] = int(record["order_id"])
        else:
            message["client_order_id"] = int(record["client_order_id"])
        if kind == CommandKind.AMEND:
            message["price"] = units.price.format(int(record["price"]))
            message["quantity"] = units.quantity.format(int(record["quantity"]))
    message["account"] = int(record["account"])
    return _ENCODE(message)
