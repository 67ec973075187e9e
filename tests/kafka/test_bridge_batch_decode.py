"""The bridge's batched JSON decode gives the same records, DLQ copies and counts as decoding
each message on its own, for a poll that mixes good and bad JSON, frames, headers, empty
values, partitions, and (with owned partitions) misrouted pairs. No broker: the messages are
stand-ins with confluent-kafka's accessor methods."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ringex import commands as cmd
from ringex.kafka.bridge import BridgeStats, _decode_batch, _decode_one, home_partitions
from ringex.kafka.metrics import NO_METRICS
from ringex.pairs import default_pairs
from ringex.records import COMMAND_DTYPE, Side
from ringex.wire.frames import encode_frame


class Message:
    def __init__(self, value, key, partition, offset, headers=None, timestamp_ms=1_700_000):
        self._value, self._key, self._partition, self._offset = value, key, partition, offset
        self._headers, self._timestamp = headers, timestamp_ms

    def value(self): return self._value
    def key(self): return self._key
    def partition(self): return self._partition
    def offset(self): return self._offset
    def headers(self): return self._headers
    def topic(self): return "orders"
    def error(self): return None
    def timestamp(self): return (1, self._timestamp + self._offset)


class Letters:
    def __init__(self):
        self.copies = []

    def copy(self, message, problem, extra=None):
        self.copies.append((message.partition(), message.offset(), problem.field, str(problem),
                            extra))


def _poll():
    def order(pair, side, price, amount):
        return json.dumps({"action": "new", "order": {
            "id": f"c-{price}", "pair": pair, "side": side, "type": "LIMIT", "price": price,
            "amount": amount}}).encode()

    frame = encode_frame(cmd.pack([cmd.new(9_000_001, 7, Side.BUY, 6_500_000, 3, pair=0),
                                   cmd.new(9_000_002, 7, Side.SELL, 6_500_000, 0, pair=0)]))
    payloads = [
        (order("BTC/USDT", "BUY", "65000.00", "0.010"), b"BTC-USDT", None),
        (order("ETH/USDT", "sell", "3000.01", "1.5"), b"ETH-USDT", None),
        (b'{"pair": "BTC/USDT", "side": "BUY"', b"BTC-USDT", None),  # truncated
        (order("BTC/USDT", "BUY", "65000.001", "0.010"), b"BTC-USDT", None),  # off tick
        (None, b"SOL-USDT", None),
        (frame, b"BTC-USDT", None),
        (order("SOL/USDT", "BUY", "150.00", "2"), b"SOL-USDT",
         [("content-type", b"application/json")]),
        (order("SOL/USDT", "BUY", "150.00", "2"), b"SOL-USDT", None),
        (order("ETH/USDT", "BUY", "NaN", "2"), b"ETH-USDT", None),
        (order("DOGE/USDT", "BUY", "1", "2"), b"DOGE-USDT", None),
        (order("ETH/USDT", "BUY", "2999.99", "0.5"), b"ETH-USDT", None),
    ]
    messages = []
    for index, (value, key, headers) in enumerate(payloads):
        partition = index % 2 if index > 6 else 0
        messages.append(Message(value, key, partition, 100 + index, headers))
    return messages


@pytest.mark.parametrize("owned", [False, True])
def test_batched_decode_equals_one_by_one(owned):
    registry = default_pairs()
    homes = home_partitions(registry, 2) if owned else None
    messages = _poll()

    batch_letters, batch_stats = Letters(), BridgeStats()
    records, positions = _decode_batch(messages, registry, 5, batch_letters, NO_METRICS,
                                       batch_stats, homes)
    one_letters, one_stats = Letters(), BridgeStats()
    expected = np.concatenate([_decode_one(m, registry, 5, one_letters, NO_METRICS, one_stats,
                                           homes) for m in messages])
    assert records.dtype == COMMAND_DTYPE
    assert records.tobytes() == expected.tobytes()
    assert batch_letters.copies == one_letters.copies
    assert batch_stats.rejected == one_stats.rejected >= 5
    assert (records["kind"] != 0).sum() >= (1 if owned else 5)  # good orders decoded too
    assert batch_stats.messages == len(messages)
    assert positions == {("orders", 0): 110, ("orders", 1): 109}
    if owned:
        assert any(field == "pair" for _, _, field, _, _ in batch_letters.copies)
