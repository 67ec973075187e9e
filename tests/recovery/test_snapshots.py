"""Snapshot files: atomic, checksummed, N kept; corrupt, partial and incompatible ones are
detected, reported clearly, set aside, and the previous one is used."""

from __future__ import annotations

import logging
import struct

import pytest

from ringex.commands import new, pack
from ringex.engine import MatchingEngine
from ringex.errors import SnapshotError
from ringex.pairs import default_pairs
from ringex.records import OrderType, Side, TimeInForce
from ringex.recovery.snapshots import SNAPSHOT_META_FORMAT, SnapshotStore
from ringex.snapshot import decode_snapshot, encode_snapshot, write_snapshot


def _engine(n: int) -> MatchingEngine:
    pairs = default_pairs()
    engine = MatchingEngine(pairs.pairs, order_capacity=4096)
    btc = pairs.get("BTC-USDT")
    engine.process(pack([new(i + 1, 1 + i % 3, Side.BUY if i % 2 else Side.SELL,
                             btc.price_to_ticks("65000") + (-(i % 7) - 1 if i % 2 else i % 7 + 1),
                             5, ts=i) for i in range(n)]))
    return engine


def _write(store: SnapshotStore, engine: MatchingEngine, **extra) -> None:
    meta = {"format": SNAPSHOT_META_FORMAT, "last_seq": engine.next_seq - 1,
            "inputs": {"journal": engine.next_command_index, "kafka": {}},
            "state_hash": engine.state_hash(), **extra}
    store.write(engine.pairs, engine.canonical_words(), meta)


def test_streamed_file_equals_the_encoded_bytes(tmp_path):
    engine = _engine(50)
    path = tmp_path / "s"
    with open(path, "wb") as f:
        write_snapshot(f, engine.pairs, engine.canonical_words(), {"x": 1}, chunk_words=7)
    assert path.read_bytes() == encode_snapshot(engine.pairs, engine.canonical_words(), {"x": 1})


def test_newest_valid_snapshot_is_loaded_and_n_are_kept(tmp_path):
    store = SnapshotStore(tmp_path, keep=2)
    engines = [_engine(n) for n in (10, 20, 30)]
    for engine in engines:
        _write(store, engine)
    assert len(store.files()) == 2
    recovered = store.load_latest(default_pairs().pairs, order_capacity=4096)
    assert recovered.engine.state_hash() == engines[-1].state_hash() == recovered.meta["state_hash"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_max_seq_picks_the_newest_snapshot_the_sinks_have_reached(tmp_path):
    """A new run recovers at or below what every sink holds; newer files are kept, not
    rejected; with none old enough it starts from the beginning (None)."""
    store = SnapshotStore(tmp_path, keep=3)
    engines = [_engine(n) for n in (10, 20, 30)]
    for engine in engines:
        _write(store, engine)
    seqs = [engine.next_seq - 1 for engine in engines]
    pairs = default_pairs().pairs
    recovered = store.load_latest(pairs, order_capacity=4096, max_seq=seqs[2] - 1)
    assert recovered.meta["last_seq"] == seqs[1]
    assert recovered.engine.state_hash() == engines[1].state_hash()
    assert store.load_latest(pairs, order_capacity=4096, max_seq=seqs[1]).meta["last_seq"] \
        == seqs[1]
    assert store.load_latest(pairs, order_capacity=4096, max_seq=seqs[0] - 1) is None
    assert [store.seq_of(p) for p in store.files()] == seqs[::-1]  # nothing set aside
    assert not list(tmp_path.glob("*.rejected"))


@pytest.mark.parametrize("damage", ["flip", "truncate", "version", "v1", "pairs", "empty"])
def test_a_bad_newest_snapshot_is_reported_and_the_previous_one_used(tmp_path, caplog, damage):
    store = SnapshotStore(tmp_path, keep=3)
    older, newer = _engine(10), _engine(40)
    _write(store, older)
    _write(store, newer)
    newest = store.files()[0]
    blob = bytearray(newest.read_bytes())
    if damage == "flip":
        blob[len(blob) // 2] ^= 0x40
    elif damage == "truncate":
        blob = blob[: len(blob) - 100]
    elif damage == "version":
        struct.pack_into("<I", blob, 8, 99)
    elif damage == "v1":  # the format before the client-order-id window joined the words
        struct.pack_into("<I", blob, 8, 1)
    elif damage == "empty":
        blob = bytearray()
    newest.write_bytes(bytes(blob))
    pairs = default_pairs().pairs
    if damage == "pairs":
        pairs = pairs[:2]  # the older one was written for 3 pairs too: both are incompatible
    caplog.set_level(logging.ERROR, logger="ringex.recovery")
    recovered = store.load_latest(pairs, order_capacity=4096)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert newest.name in messages and "unusable" in messages
    expected_reason = {"flip": "checksum mismatch", "truncate": "checksum mismatch",
                       "version": "version 99 is not supported",
                       "v1": "version 1 is not supported (this build reads 2) (version 1 "
                             "predates the client-order-id window", "pairs": "pairs differ",
                       "empty": "truncated"}[damage]
    assert expected_reason in messages
    assert newest.with_suffix(".rejected").exists()
    if damage == "pairs":
        assert recovered is None and "no usable snapshot" in messages
    else:
        assert recovered.engine.state_hash() == older.state_hash()
        assert recovered.rejected[0][0] == newest


def test_the_window_is_restored_at_the_configured_size(tmp_path):
    """load_latest restores the client-order-id window: the same hash at the same size; a
    smaller window keeps the newest keys."""
    pairs = default_pairs().pairs
    engine = MatchingEngine(pairs, order_capacity=64, client_id_window=8)
    # market IOCs on an empty book: each is done at once, its key enters the window
    engine.process(pack([new(i + 1, 1, Side.BUY, 0, 1, type=OrderType.MARKET,
                             tif=TimeInForce.IOC, client_order_id=100 + i) for i in range(12)]))
    assert engine.done_client_ids == 8
    store = SnapshotStore(tmp_path)
    _write(store, engine)
    same = store.load_latest(pairs, order_capacity=64, client_id_window=8).engine
    assert same.state_hash() == engine.state_hash() and same.done_client_ids == 8
    smaller = store.load_latest(pairs, order_capacity=64, client_id_window=3).engine
    assert smaller.client_id_window == 3 and smaller.done_client_ids == 3
    assert list(smaller.canonical_words()[-6:]) == [1, 109, 1, 110, 1, 111]
    smaller.check_invariants()


def test_meta_of_another_format_is_incompatible(tmp_path, caplog):
    store = SnapshotStore(tmp_path)
    engine = _engine(5)
    store.write(engine.pairs, engine.canonical_words(), {"format": 0, "last_seq": 1})
    caplog.set_level(logging.ERROR, logger="ringex.recovery")
    assert store.load_latest(engine.pairs, order_capacity=4096) is None
    assert "meta format 0" in caplog.text


def test_decode_rejects_garbage():
    with pytest.raises(SnapshotError, match="bad magic"):
        decode_snapshot(b"x" * 100)
