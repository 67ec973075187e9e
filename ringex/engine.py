"""``MatchingEngine``: the Python face of the compiled book.

The API is batch-first: :meth:`MatchingEngine.process` takes an array of ``COMMAND_DTYPE``
records and returns the array of ``EVENT_DTYPE`` records they caused, calling compiled code
once per batch (not once per command). :meth:`MatchingEngine.process_into` is the zero-copy
form for loops that own their output buffer (the engine process, benchmarks).

A ``MatchingEngine`` is single-threaded and owns its state; the engine process is its only
writer. Semantics are specified in ``docs/matching.md``; ``ringex.spec.matcher`` implements the
same rules in plain Python and the two are compared in the tests.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ringex.book.inspect import INVARIANT_MESSAGES, canonical_words, check_book, depth_levels
from ringex.book.process import process_commands
from ringex.book.restore import load_canonical
from ringex.book.state import (
    META_CAPACITY,
    META_LIVE,
    META_NEXT_COMMAND,
    META_NEXT_SEQ,
    META_WINDOW_COUNT,
    BookState,
    allocate,
)
from ringex.errors import SnapshotError
from ringex.pairs import Pair
from ringex.records import COMMAND_DTYPE, EVENT_DTYPE
from ringex.snapshot import decode_snapshot, encode_snapshot
from ringex.statehash import hash_words

__all__ = ["MatchingEngine"]

DEFAULT_ORDER_CAPACITY = 1 << 20
DEFAULT_EVENT_CAPACITY = 1 << 16
#: Done client order ids held against retries (docs/matching.md, "Client-order-id window").
DEFAULT_CLIENT_ID_WINDOW = 1_000_000


class MatchingEngine:
    """The compiled matcher for a fixed set of pairs, a fixed order-pool capacity and a fixed
    client-order-id window (the number of done ``(account, client_order_id)`` keys a NEW may
    not reuse; 0: only live ones)."""

    def __init__(
        self,
        pairs: Sequence[Pair],
        *,
        order_capacity: int = DEFAULT_ORDER_CAPACITY,
        event_capacity: int = DEFAULT_EVENT_CAPACITY,
        client_id_window: int = DEFAULT_CLIENT_ID_WINDOW,
    ):
        self.pairs: tuple[Pair, ...] = tuple(pairs)
        self._state: BookState = allocate(self.pairs, order_capacity, client_id_window)
        self._events = np.zeros(max(event_capacity, 16), dtype=EVENT_DTYPE)

    # -- processing -------------------------------------------------------------------
    def process(self, commands: np.ndarray) -> np.ndarray:
        """Apply ``commands`` in order; return their events (a new array)."""
        commands = _as_commands(commands)
        chunks = []
        start = 0
        while True:
            start, n_events, blocked_need = self.process_into(commands, start, self._events)
            if n_events:
                chunks.append(self._events[:n_events].copy())
            if start == commands.shape[0]:
                break
            if n_events == 0:
                # One command may emit more than the buffer holds (a sweep of a deep book):
                # grow once to its worst case rather than split its events.
                self._events = np.zeros(blocked_need, dtype=EVENT_DTYPE)
        if not chunks:
            return np.zeros(0, dtype=EVENT_DTYPE)
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def process_into(
        self, commands: np.ndarray, start: int, events: np.ndarray, first_event: int = 0
    ) -> tuple[int, int, int]:
        """Apply ``commands[start:]`` while their events fit in ``events[first_event:]``.

        Returns ``(next_command, next_event, blocked_need)``; see
        :func:`ringex.book.process.process_commands`.
        """
        return process_commands(self._state, commands, start, events, first_event)

    # -- inspection -------------------------------------------------------------------
    @property
    def book_state(self) -> BookState:
        """The arrays of the book, for compiled loops that call the matcher directly
        (``ringex.runtime.engine_loop``). Read-only for everyone else."""
        return self._state

    @property
    def live_orders(self) -> int:
        return int(self._state.meta[META_LIVE])

    @property
    def order_capacity(self) -> int:
        return int(self._state.meta[META_CAPACITY])

    @property
    def client_id_window(self) -> int:
        """How many done client order ids the window holds at most."""
        return int(self._state.coid_window.shape[0])

    @property
    def done_client_ids(self) -> int:
        """How many done client order ids the window holds now."""
        return int(self._state.meta[META_WINDOW_COUNT])

    @property
    def next_seq(self) -> int:
        """The ``seq`` the next event will carry."""
        return int(self._state.meta[META_NEXT_SEQ])

    @property
    def next_command_index(self) -> int:
        return int(self._state.meta[META_NEXT_COMMAND])

    def canonical_words(self) -> np.ndarray:
        return canonical_words(self._state)

    def state_hash(self) -> str:
        return hash_words(canonical_words(self._state))

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` naming the first broken invariant."""
        code, where = check_book(self._state)
        if code:
            raise AssertionError(f"{INVARIANT_MESSAGES[code]} (at {where})")

    def depth(self, pair_id: int, levels: int = 10):
        """``(bids, asks)``: lists of ``(price_ticks, total_leaves, order_count)``, best first."""
        return tuple(
            [tuple(int(v) for v in row) for row in depth_levels(self._state, pair_id, side, levels)]
            for side in (0, 1)
        )

    def order(self, order_id: int) -> dict[str, int] | None:
        """The live order ``order_id`` as a dict, or ``None``."""
        from ringex.book.index import index_find

        slot = index_find(self._state.id_index, order_id, 0)
        if slot < 0:
            return None
        row = self._state.orders[slot]
        return {
            "order_id": int(row["order_id"]),
            "account": int(row["account"]),
            "client_order_id": int(row["client_order_id"]),
            "pair_id": int(row["pair_id"]),
            "side": int(row["side"]),
            "price": int(row["price"]),
            "quantity": int(row["quantity"]),
            "filled_qty": int(row["filled"]),
            "leaves_qty": int(row["leaves"]),
            "flags": int(row["flags"]),
            "stp": int(row["stp"]),
        }

    # -- snapshots --------------------------------------------------------------------
    def snapshot(self, meta: dict[str, Any] | None = None) -> bytes:
        """The whole state as bytes (format: ``ringex.snapshot``)."""
        return encode_snapshot(self.pairs, canonical_words(self._state), meta)

    @classmethod
    def restore(
        cls,
        blob: bytes,
        *,
        order_capacity: int = DEFAULT_ORDER_CAPACITY,
        event_capacity: int = DEFAULT_EVENT_CAPACITY,
        client_id_window: int = DEFAULT_CLIENT_ID_WINDOW,
    ) -> "MatchingEngine":
        """An engine in exactly the state ``blob`` was taken in. Into a smaller
        ``client_id_window`` than the snapshot's keys fill, only the newest keys are kept."""
        pairs, words, _meta = decode_snapshot(blob)
        engine = cls(pairs, order_capacity=order_capacity, event_capacity=event_capacity,
                     client_id_window=client_id_window)
        if load_canonical(engine._state, words) != 0:
            raise SnapshotError(
                "snapshot does not fit: its orders exceed order_capacity "
                f"{order_capacity}, or its pair table or client-order-id window is "
                "inconsistent"
            )
        return engine


def _as_commands(commands: np.ndarray) -> np.ndarray:
    if not isinstance(commands, np.ndarray) or commands.dtype != COMMAND_DTYPE:
        raise TypeError("commands must be a numpy array of ringex.records.COMMAND_DTYPE")
    if commands.ndim != 1:
        raise TypeError("commands must be one-dimensional")
    return np.ascontiguousarray(commands)
