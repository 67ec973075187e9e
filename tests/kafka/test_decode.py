"""The bridge's per-message rules, without a broker: format choice and the kind=0 stand-in."""

from __future__ import annotations

import pytest

from ringex.errors import ValidationError
from ringex.kafka.decode import decode_message, invalid_command, message_format, pair_id_of_key
from ringex.records import Reason
from ringex.wire import client_id_to_int, kafka_order_id
from ringex.wire.json_commands import message_identity


@pytest.mark.parametrize("payload, headers, expected", [
    (b'{"action":"new"}', None, "json"),
    (b"RGXF\x01\x00", None, "frame"),
    (b"RGXF\x01\x00", [("content-type", b"application/json")], "json"),  # the header wins
    (b"{}", [("Content-Type", b"application/x-ringex-frame")], "frame"),
    (b"{}", [("CONTENT-TYPE", b"application/json; charset=utf-8")], "json"),
    (b"{}", [("x-other", b"text/plain")], "json"),
])
def test_format_rule(payload, headers, expected):
    assert message_format(payload, headers) == expected


def test_an_unknown_content_type_is_a_malformed_message():
    with pytest.raises(ValidationError) as raised:
        message_format(b"{}", [("content-type", b"text/plain")])
    assert raised.value.field == "content-type"


def test_the_stand_in_of_a_malformed_message_is_rejected_by_kind_and_says_where_it_came_from():
    record = invalid_command(partition=3, offset=41, timestamp_ns=5_000_000, pair_id=1)[0]
    assert record["kind"] == 0
    assert record["order_id"] == kafka_order_id(3, 41)
    assert (record["source_partition"], record["source_offset"]) == (3, 41)
    assert (record["timestamp_ns"], record["pair_id"]) == (5_000_000, 1)


def test_the_stand_in_carries_the_decoders_reason_and_the_senders_ids(registry):
    payload = b'{"action":"new","order":{"id":"c6","pair":"BTC-USDT","side":"BUY",' \
              b'"type":"LIMIT","price":"65000.001","amount":"0.5"}}'
    with pytest.raises(ValidationError) as raised:
        decode_message(payload, None, registry, partition=0, offset=6, timestamp_ns=0,
                       default_account=4)
    record = invalid_command(partition=0, offset=6, timestamp_ns=0, error=raised.value,
                             payload=payload, default_account=4)[0]
    assert (record["kind"], record["status"]) == (0, Reason.INVALID_PRICE)
    assert (record["account"], record["client_order_id"]) == (4, client_id_to_int("c6"))
    native = b'{"type":"new","account":9,"client_order_id":"x-1","pair":"NOPE"}'
    assert message_identity(native, 4) == (9, client_id_to_int("x-1"))
    for unreadable in (b"{", b"[1]", b'{"order":{"id":""}}', b"", None):
        assert message_identity(unreadable, 4) in ((0, 0), (4, 0))
    assert message_identity(b'{"account":-1,"client_order_id":5}', 4) == (4, 5)


def test_the_key_names_the_pair_only_when_it_is_a_known_one(registry):
    assert pair_id_of_key(b"eth/usdt", registry) == 1
    assert pair_id_of_key(b"DOGE-USDT", registry) == -1
    assert pair_id_of_key(b"\xff", registry) == -1
    assert pair_id_of_key(None, registry) == -1
