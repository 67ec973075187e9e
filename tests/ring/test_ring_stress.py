"""Cross-process stress: 1-4 compiled producers, 1-3 compiled consumers, real processes.

Every consumer must see every record exactly once (per-producer counters contiguous from 0,
total count exact), whole (checksum), never beyond the producers' published cursor or an
upstream consumer, and in each producer's order. Runs are bounded in records and in time.
"""

import numpy as np
import pytest
from tests.ring.ring_workers import (BAD_PRODUCER, OUT_OF_ORDER, OVERTAKEN, SEEN, STRESS_DTYPE,
                                     TORN, consumer_main, producer_main)

from ringex.ring import Ring

TOPOLOGIES = {
    # name: (producers, consumer dependencies by slot)
    "1p1c": (1, [[]]),
    "2p1c": (2, [[]]),
    "1p3c-chain": (1, [[], [0], [1]]),
    "4p3c-fan": (4, [[], [0], [0]]),
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_no_lost_duplicate_torn_overtaken_or_reordered_record(topology, spawn):
    producers, deps = TOPOLOGIES[topology]
    per_producer = 400_000 // producers
    total = per_producer * producers
    ring = Ring.create(STRESS_DTYPE, 1024, consumers=len(deps), producers=producers,
                       multi_producer=producers > 1, purpose="stress")
    results = spawn.Queue()
    try:
        peers = [spawn.Process(target=consumer_main,
                               args=(ring.name, slot, dep, total, producers, 30, results))
                 for slot, dep in enumerate(deps)]
        peers += [spawn.Process(target=producer_main,
                                args=(ring.name, p, per_producer, 64, 777 + p, 30, results))
                  for p in range(producers)]
        for peer in peers:
            peer.start()
        reports = [results.get(timeout=80) for _ in peers]
        for peer in peers:
            peer.join(10)
            assert peer.exitcode == 0
    finally:
        ring.halt()
        ring.unlink()
        ring.close()
    produced = sorted(r[1:] for r in reports if r[0] == "producer")
    assert produced == [(p, per_producer) for p in range(producers)]
    consumers = sorted(r[1:] for r in reports if r[0] == "consumer")
    assert len(consumers) == len(deps)
    for slot, stats, last in consumers:
        assert stats[TORN] == 0, f"consumer {slot}: torn records"
        assert stats[OVERTAKEN] == 0, f"consumer {slot}: read past a producer or dependency"
        assert stats[BAD_PRODUCER] == 0 and stats[OUT_OF_ORDER] == 0, f"consumer {slot}: order"
        assert stats[SEEN] == total, f"consumer {slot}: {stats[SEEN]} of {total} records"
        assert last == [per_producer - 1] * producers  # contiguous + exact count: no loss, no dup
