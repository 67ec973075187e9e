"""The engine process over real rings and real processes, against the in-process matcher.

Commands enter through the embedded inbound client (journal first, then engine); the test
plays the market-data publisher: it reads the outbound ring and the book ring. The event
stream must equal, byte for byte, what ``MatchingEngine.process`` gives for the same commands,
the journal must hold every command, and shutdown must drain every ring and unlink them.
"""

import dataclasses
import time

import numpy as np
import pytest

from ringex.commands import cancel, new, pack
from ringex.config import Settings, load_settings
from ringex.engine import MatchingEngine
from ringex.records import EVENT_DTYPE, EventKind, Side
from ringex.ring.ring import Ring
from ringex.ring.segment import list_segments
from ringex.runtime.booksnap import BOOK_DTYPE
from ringex.runtime.engine_process import engine_main
from ringex.runtime.journal import journal_main, journal_path, read_journal
from ringex.runtime.submit import InboundClient
from ringex.runtime.supervisor import Child, Supervisor


def _settings(tmp_path, prefix) -> Settings:
    settings = load_settings(environ={}, flags={"runtime": {"var_dir": str(tmp_path)}})
    return dataclasses.replace(
        settings,
        runtime=dataclasses.replace(settings.runtime, segment_prefix=prefix, journal_fsync=True),
        engine=dataclasses.replace(settings.engine, order_capacity=4096, inbound_capacity=256,
                                   outbound_capacity=512, book_interval_ms=1),
    )


def _orders(registry, n):
    pair = registry.get("BTC-USDT")
    lo = pair.band_lo_ticks + 1000
    rng = np.random.default_rng(5)
    rows = []
    for i in range(n):
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        price = lo + int(rng.integers(0, 40)) * (1 if side == Side.SELL else -1) + 20
        rows.append(new(0, 1 + i % 5, side, price, int(rng.integers(1, 50)), pair=0,
                        ts=1_000 + i))
        if i % 7 == 6:
            rows.append(cancel(i - 3, 1 + (i - 4) % 5, ts=1_000 + i))
    return pack(rows)


@pytest.mark.timeout(180)
def test_embedded_pipeline_matches_the_in_process_engine(tmp_path):
    prefix = f"rgxtest{time.monotonic_ns() % 10**9}"
    settings = _settings(tmp_path, prefix)
    registry = settings.registry()
    supervisor = Supervisor(settings, lambda s: [Child("journal", journal_main),
                                                 Child("engine", engine_main, essential=True)])
    supervisor.create_segments()
    outbound = Ring.attach(supervisor.names.outbound, EVENT_DTYPE)
    books = Ring.attach(supervisor.names.books, BOOK_DTYPE)
    event_consumer = outbound.consumer(0)
    book_consumer = books.consumer(0)
    supervisor.start()
    try:
        commands = _orders(registry, 600)
        client = InboundClient(str(tmp_path), timeout=60)
        sequences = np.concatenate([client.submit(commands[i:i + 50])
                                    for i in range(0, len(commands), 50)])
        assert np.array_equal(sequences, np.arange(len(commands)))
        client.close()

        expected_commands = commands.copy()
        is_new = expected_commands["kind"] == 1
        expected_commands["order_id"][is_new] = sequences[is_new] + 1
        expected_commands["source_partition"] = -1
        expected_commands["source_offset"] = sequences
        reference = MatchingEngine(registry.pairs, order_capacity=4096)
        expected = reference.process(expected_commands)

        received = []
        latest_books = {}
        deadline = time.monotonic() + 60
        while sum(len(c) for c in received) < len(expected) and time.monotonic() < deadline:
            batch = event_consumer.wait(timeout=1.0)
            if batch is not None:
                received.extend(view.copy() for view in batch.views)
                event_consumer.release(batch)
            book_batch = book_consumer.poll()
            if book_batch is not None:
                for view in book_batch.views:
                    for record in view:
                        latest_books[int(record["pair_id"])] = record.copy()
                book_consumer.release(book_batch)
        events = np.concatenate(received)
        assert events.tobytes() == expected.tobytes()
        assert (events["kind"] == EventKind.TRADE).sum() > 0

        # the last snapshot of the pair, once no more commands arrive, is the real book
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            book_batch = book_consumer.wait(timeout=0.2)
            if book_batch is None:
                break
            for view in book_batch.views:
                for record in view:
                    latest_books[int(record["pair_id"])] = record.copy()
            book_consumer.release(book_batch)
        snapshot = latest_books[0]
        bids, asks = reference.depth(0, 32)
        assert snapshot["seq"] == reference.next_seq - 1
        assert [tuple(r) for r in snapshot["bids"][: snapshot["n_bids"]].tolist()] == bids
        assert [tuple(r) for r in snapshot["asks"][: snapshot["n_asks"]].tolist()] == asks
    finally:
        event_consumer.close()
        book_consumer.close()
        supervisor._stopping = True
        code = supervisor.run(poll_interval=0.05)
        outbound.close()
        books.close()

    assert code == 0
    assert [c.process.exitcode for c in supervisor.children] == [0, 0]
    first, journaled = read_journal(journal_path(settings))
    assert first == 0 and journaled.tobytes() == expected_commands.tobytes()
    assert not [s for s in list_segments(prefix)]
