"""The L2 snapshot record the engine publishes on the book ring.

The engine writes one record per changed pair at most every ``book_interval``; a snapshot
that finds the book ring full is skipped and retried later (conflation), so market data can
never slow the matcher. ``seq`` is the last event sequence the snapshot includes: consumers
keep the snapshot with the highest ``seq`` per pair.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BOOK_LEVELS", "BOOK_DTYPE"]

#: Levels per side in a snapshot.
BOOK_LEVELS = 32

BOOK_DTYPE = np.dtype(
    [
        ("pair_id", "<i8"),
        ("seq", "<i8"),
        ("n_bids", "<i8"),
        ("n_asks", "<i8"),
        ("bids", "<i8", (BOOK_LEVELS, 3)),  # price ticks, total lots, order count; best first
        ("asks", "<i8", (BOOK_LEVELS, 3)),
    ],
    align=True,
)
