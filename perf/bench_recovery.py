"""Recovery benchmark: snapshot of a 1M-resting-order book, then load + replay of 1M commands.

    python perf/bench_recovery.py                  # 1,000,000 resting, 1,000,000 replayed
    python perf/bench_recovery.py --resting 200000 --replay 200000

What is measured (seeded, JSON lines, the first one describes the machine):

* ``snapshot``: the pause of matching (``canonical_words``: the copy taken at a batch
  boundary) and the background write (state hash + streamed file + fsync + rename), size;
* ``recovery``: the engine process's path after a crash: ``SnapshotStore.load_latest``
  (read, checksum, restore) + replay of the journal tail (``journal.read_range`` +
  ``engine_loop.apply_commands``, the functions the engine process calls), total vs the
  target of 5 s;
* baseline, same run: rebuilding the same state with no snapshot (replay of every command).

Verification: the recovered state hash must equal the hash of the engine that processed the
same commands without stopping, and so must the baseline's; otherwise exit code 1.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perf.machine import host, versions  # noqa: E402
from ringex.book.inspect import canonical_words  # noqa: E402
from ringex.engine import MatchingEngine  # noqa: E402
from ringex.engine_control import new_control, new_positions  # noqa: E402
from ringex.pairs import default_pairs  # noqa: E402
from ringex.records import COMMAND_DTYPE, EVENT_DTYPE, CommandKind, OrderType, TimeInForce  # noqa: E402
from ringex.recovery.snapshots import SNAPSHOT_META_FORMAT, SnapshotStore  # noqa: E402
from ringex.runtime import engine_loop as loop  # noqa: E402
from ringex.runtime.journal import JOURNAL_MAGIC, read_range  # noqa: E402
from ringex.statehash import hash_words  # noqa: E402

TARGET_S = 5.0


def machine_line() -> dict:
    return {"machine": {**host(), **versions("numpy", "numba")}}


def resting_orders(pairs, n: int, rng) -> np.ndarray:
    """GTC limits that never cross: bids below each pair's mid, asks above."""
    commands = np.zeros(n, dtype=COMMAND_DTYPE)
    pair_ids = rng.integers(0, len(pairs), n)
    is_buy = rng.random(n) < 0.5
    depth = rng.integers(1, 2000, n)
    mids = np.array([(p.band_lo_ticks + p.band_hi_ticks) // 2 for p in pairs])
    commands["kind"] = CommandKind.NEW
    commands["pair_id"] = pair_ids
    commands["side"] = np.where(is_buy, 1, 2)
    commands["order_type"] = OrderType.LIMIT
    commands["tif"] = TimeInForce.GTC
    commands["price"] = mids[pair_ids] + np.where(is_buy, -depth, depth)
    commands["quantity"] = [pairs[p].min_qty_lots for p in pair_ids.tolist()]
    commands["quantity"] *= rng.integers(1, 50, n)
    commands["account"] = rng.integers(1, 1000, n)
    commands["order_id"] = np.arange(1, n + 1)
    commands["timestamp_ns"] = 1_700_000_000_000_000_000 + np.arange(n)
    commands["source_partition"] = -1
    commands["source_offset"] = np.arange(n)
    return commands


def replay_commands(pairs, first_id: int, n: int, live: int, rng) -> np.ndarray:
    """A journal tail: 60% new resting limits, 30% cancels of resting orders, 10% IOC limits
    aimed at the other side (they trade when they reach the touch)."""
    commands = resting_orders(pairs, n, rng)
    commands["order_id"] = np.arange(first_id, first_id + n)
    commands["source_offset"] = np.arange(first_id - 1, first_id - 1 + n)
    roll = rng.random(n)
    is_cancel = (roll >= 0.6) & (roll < 0.9)
    commands["kind"][is_cancel] = CommandKind.CANCEL
    commands["order_id"][is_cancel] = rng.integers(1, live + 1, int(is_cancel.sum()))
    ioc = roll >= 0.9
    commands["tif"][ioc] = TimeInForce.IOC
    commands["side"][ioc] = 3 - commands["side"][ioc]
    return commands


def write_journal(path: Path, commands: np.ndarray) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<8sIIq8x", JOURNAL_MAGIC, 1, COMMAND_DTYPE.itemsize, 0))
        f.write(commands.tobytes())


def replay(engine, path: Path, start: int, stop: int, chunk: int = 1 << 16) -> int:
    positions = new_positions()
    positions[0] = start
    control = new_control(idle_timeout_ns=0, max_batches=1, max_commands=chunk,
                          book_interval_ns=0)
    scratch = np.zeros(1 << 18, dtype=EVENT_DTYPE)
    events = 0
    for first in range(start, stop, chunk):
        commands = read_range(path, first, min(stop, first + chunk))
        done = 0
        while done < commands.shape[0]:
            done, n_events, need = loop.apply_commands(engine.book_state, commands, done,
                                                       scratch, 0, positions, control)
            events += n_events
            if need:
                scratch = np.zeros(need, dtype=EVENT_DTYPE)
    return events


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resting", type=int, default=1_000_000)
    parser.add_argument("--replay", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dir", default="")
    args = parser.parse_args()
    print(json.dumps(machine_line()), flush=True)
    pairs = default_pairs().pairs
    rng = np.random.default_rng(args.seed)
    capacity = 1 << 21
    resting = resting_orders(pairs, args.resting, rng)
    tail = replay_commands(pairs, args.resting + 1, args.replay, args.resting, rng)
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="ringex-bench-recovery-"))
    journal = workdir / "commands.journal"
    write_journal(journal, np.concatenate([resting, tail]))

    live = MatchingEngine(pairs, order_capacity=capacity)
    replay(live, journal, 0, args.resting)  # warm-up compile on the first chunk, untimed
    started = time.perf_counter()
    words = canonical_words(live.book_state)
    pause = time.perf_counter() - started
    store = SnapshotStore(workdir / "snapshots", keep=1)
    started = time.perf_counter()
    meta = {"format": SNAPSHOT_META_FORMAT, "last_seq": live.next_seq - 1,
            "inputs": {"journal": args.resting, "kafka": {}}, "state_hash": hash_words(words)}
    path = store.write(pairs, words, meta)
    written = time.perf_counter() - started
    print(json.dumps({"bench": "snapshot", "resting_orders": live.live_orders,
                      "bytes": path.stat().st_size, "pause_s": round(pause, 4),
                      "write_s": round(written, 3)}), flush=True)
    del words
    replay(live, journal, args.resting, args.resting + args.replay)
    uninterrupted = live.state_hash()

    started = time.perf_counter()
    recovered = store.load_latest(pairs, order_capacity=capacity)
    loaded = time.perf_counter() - started
    engine = recovered.engine
    started = time.perf_counter()
    events = replay(engine, journal, int(recovered.meta["inputs"]["journal"]),
                    args.resting + args.replay)
    replayed = time.perf_counter() - started
    ok = engine.state_hash() == uninterrupted
    print(json.dumps({"bench": "recovery", "resting_orders": args.resting,
                      "replayed_commands": args.replay, "replayed_events": events,
                      "load_s": round(loaded, 3), "replay_s": round(replayed, 3),
                      "total_s": round(loaded + replayed, 3), "target_s": TARGET_S,
                      "within_target": loaded + replayed <= TARGET_S,
                      "state_hash_equal": ok}), flush=True)

    baseline = MatchingEngine(pairs, order_capacity=capacity)
    started = time.perf_counter()
    replay(baseline, journal, 0, args.resting + args.replay)
    full = time.perf_counter() - started
    ok = ok and baseline.state_hash() == uninterrupted
    print(json.dumps({"bench": "baseline_full_replay", "commands": args.resting + args.replay,
                      "seconds": round(full, 3),
                      "ratio_vs_recovery": round(full / (loaded + replayed), 2),
                      "state_hash_equal": baseline.state_hash() == uninterrupted}), flush=True)
    if not ok:
        print(json.dumps({"error": "state hash mismatch"}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
