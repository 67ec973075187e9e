"""The bridge's batch decode gives, message by message, what the per-message path gives: the
decoded record, or the kind=0 stand-in with the key's pair and the same ValidationError."""

from __future__ import annotations

import numpy as np
import pytest

from ringex.errors import ValidationError
from ringex.kafka.decode import (
    decode_json_messages,
    decode_message,
    invalid_command,
    pair_id_of_key,
)

PAYLOADS = [
    b'{"type":"new","pair":"BTC-USDT","side":"buy","order_type":"limit","price":"65000.01",'
    b'"quantity":"0.5","client_order_id":"abc-1"}',
    b'{"action":"new","order":{"id":7,"pair":"eth/usdt","side":"SELL","type":"market",'
    b'"amount":"1.5"}}',
    b"",
    None,
    b'{"type":"new","pair":"BTC-USDT","side":"up"}',
    b"not json",
    b'{"type":"cancel","pair":"SOL-USDT","order_id":"12"}',
    b'{"type":"cancel_all","account":3}',
    b'{"type":"new","pair":"BTC-USDT","side":"buy","order_type":"limit","price":"1",'
    b'"quantity":"0.5"}',
]
KEYS = [b"BTC-USDT", b"ETH-USDT", b"SOL-USDT", None, b"btc-usdt", b"DOGE-USDT", b"SOL-USDT",
        None, b"BTC-USDT"]


def one_by_one(registry, partition, offsets, timestamps):
    records, errors = [], []
    for index, payload in enumerate(PAYLOADS):
        try:
            record, wire_format = decode_message(
                payload, None, registry, partition=partition, offset=offsets[index],
                timestamp_ns=timestamps[index], default_account=4)
            assert wire_format == "json"
        except ValidationError as exc:
            errors.append((index, exc.field, exc.message))
            record = invalid_command(partition=partition, offset=offsets[index],
                                     timestamp_ns=timestamps[index],
                                     pair_id=pair_id_of_key(KEYS[index], registry))
        records.append(record)
    return np.concatenate(records), errors


def test_a_batch_is_the_messages_one_by_one(registry):
    offsets = list(range(500, 500 + len(PAYLOADS)))
    timestamps = [1_700_000_000_000_000_000 + k for k in range(len(PAYLOADS))]
    expected, expected_errors = one_by_one(registry, 2, offsets, timestamps)
    records, errors = decode_json_messages(PAYLOADS, registry, partition=2, offsets=offsets,
                                           timestamps_ns=timestamps, default_account=4,
                                           keys=KEYS)
    assert [(i, e.field, e.message) for i, e in errors] == expected_errors
    assert [index for index, _ in errors] == [2, 3, 4, 5, 8]
    assert records.tobytes() == expected.tobytes()


def test_lengths_must_match(registry):
    with pytest.raises(ValueError):
        decode_json_messages([b"{}"], registry, partition=0, offsets=[], timestamps_ns=[0],
                             default_account=1)
