"""``ringex rebuild-redis`` reads `order-events` in either output format, or both mixed (a
restart that changed ``kafka.events_format``), back into the very records the engine wrote."""

import numpy as np

from ringex import commands as cmd
from ringex.engine import MatchingEngine
from ringex.kafka.event_payloads import events_from_payloads
from ringex.pairs import default_pairs
from ringex.records import Side
from ringex.wire.frames import encode_event_frame
from ringex.wire.json_events import events_to_json


def _events(registry):
    mids = (6_500_000, 300_000)  # BTC-USDT, ETH-USDT in ticks
    rows = [cmd.new(index + 1, 1 + index % 3, Side.BUY if index % 3 else Side.SELL,
                    mids[index % 2] + index % 5, 10 + index % 7, pair=index % 2,
                    ts=index * 10**6)
            for index in range(400)]
    return MatchingEngine(registry.pairs).process(cmd.pack(rows))


def test_json_and_frames_mixed_give_back_the_engine_records():
    registry = default_pairs()
    events = _events(registry)
    assert (events["kind"] == 3).sum() > 20
    payloads = (events_to_json(events[:100], registry)
                + [encode_event_frame(events[100:250]), encode_event_frame(events[250:260])]
                + events_to_json(events[260:300], registry)
                + [encode_event_frame(events[300:])])
    got = events_from_payloads(payloads, registry)
    assert got.tobytes() == events.tobytes()
    assert events_from_payloads([], registry).shape == (0,)
    only_frames = events_from_payloads([encode_event_frame(events)], registry)
    assert np.array_equal(only_frames, events)
