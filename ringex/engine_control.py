"""The engine loop's two mailboxes: the ``control`` cells and the input ``positions``.

Both are int64 arrays of the engine process, passed to the compiled loop
(:func:`ringex.runtime.engine_loop.run_batches`) on every call; their cell numbers are defined
here and nowhere else. Python (the engine process and its
:class:`ringex.recovery.snapshotter.Snapshotter`) and the compiled loop take turns on them,
never at the same time, so no cell needs atomics.

``control`` (``new_control``); "in" cells are set by Python, "loop" cells by the compiled loop::

    0  IDLE_TIMEOUT_NS   in    return IDLE after waiting this long for a command
    1  MAX_BATCHES       in    batches per call (0: only compile or load the loop)
    2  MAX_COMMANDS      in    commands per batch at most
    3  BOOK_INTERVAL_NS  in    L2 books of changed pairs at most this often
    4  LAST_BOOK_NS      loop  when the L2 books were last published
    5  NEED              loop  with NEED_BUFFER: events one command may emit
    6  N_DIRTY           loop  pairs waiting for an L2 book
    7  PUBLISH_FROM_SEQ  in    events below this seq are matched but not published
    8  SNAPSHOT_AT_SEQ   in    return SNAPSHOT_DUE once the last seq reaches it (0: never)
    9  SNAPSHOT_AT_NS    in    ... or once monotonic_ns() reaches it (0: never)
    10 PREV_PARTITION    loop  the Kafka message whose start was the last record applied, or -1
    11 PREV_OFFSET       loop  ... and its offset (both restored from a snapshot)
    12 OPEN_MESSAGE      loop  1 while a Kafka message's END record has not been applied
    13 SKIPPED           loop  duplicate and filler records not applied (diagnostics)
    14, 15               spare

``positions`` (``new_positions``): ``[0]`` the next embedded journal position, ``[1 + p]`` the
next offset of Kafka partition ``p`` (0: nothing applied); written by the loop, restored
from a snapshot (``docs/recovery.md``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "IDLE_TIMEOUT_NS", "MAX_BATCHES", "MAX_COMMANDS", "BOOK_INTERVAL_NS", "LAST_BOOK_NS",
    "NEED", "N_DIRTY", "PUBLISH_FROM_SEQ", "SNAPSHOT_AT_SEQ", "SNAPSHOT_AT_NS",
    "PREV_PARTITION", "PREV_OFFSET", "OPEN_MESSAGE", "SKIPPED", "MAX_PARTITIONS",
    "new_control", "new_positions",
]

IDLE_TIMEOUT_NS = 0
MAX_BATCHES = 1
MAX_COMMANDS = 2
BOOK_INTERVAL_NS = 3
LAST_BOOK_NS = 4
NEED = 5
N_DIRTY = 6
PUBLISH_FROM_SEQ = 7
SNAPSHOT_AT_SEQ = 8
SNAPSHOT_AT_NS = 9
PREV_PARTITION = 10
PREV_OFFSET = 11
OPEN_MESSAGE = 12
SKIPPED = 13
_CONTROL_SIZE = 16

#: Kafka partitions of `orders` the engine tracks (``positions`` has one more cell).
MAX_PARTITIONS = 1024


def new_control(*, idle_timeout_ns: int, max_batches: int, max_commands: int,
                book_interval_ns: int) -> np.ndarray:
    control = np.zeros(_CONTROL_SIZE, dtype=np.int64)
    control[IDLE_TIMEOUT_NS] = idle_timeout_ns
    control[MAX_BATCHES] = max_batches
    control[MAX_COMMANDS] = max_commands
    control[BOOK_INTERVAL_NS] = book_interval_ns
    control[PUBLISH_FROM_SEQ] = 1
    control[PREV_PARTITION] = -1
    return control


def new_positions() -> np.ndarray:
    return np.zeros(MAX_PARTITIONS + 1, dtype=np.int64)
