"""Open-addressing hash indexes from integer keys to order-pool slots.

An index is an int64 table of shape ``(capacity, width)``: each row is ``[key_a, slot + 1]``
(width 2, the order-id index) or ``[key_a, key_b, slot + 1]`` (width 3, the
``(account, client_order_id)`` index). A value column of 0 marks an empty row; any other value,
negative ones included, marks a used row (the client-order-id index stores ``slot = -2`` for a
key held by the dedup window, see ``ringex.book.client_ids``). Capacity is a power of two and
at least twice the number of keys it may hold, so probes stay short.

Robin Hood linear probing: an insert displaces any entry that sits closer to its own home
row, so every probe run is ordered by home row. That ordering lets a lookup stop as soon as it
meets an entry closer to home than itself, and lets a deletion shift back only the displaced
entries that follow the hole, stopping at the first entry that sits at its home row. There are
no tombstones, so a long-running engine never degrades; and a run of consecutive order ids
(each at its home row) costs a delete O(1) rather than a scan of the whole run. Order ids are assigned by the edges, monotonically, so the order-id index hashes
by folding rather than scrambling: consecutive ids land in consecutive rows, which keeps the
insert path in cache. Client order ids are chosen by users, so that index scrambles
(``strong=True``) to deny them a clustering attack.
"""

from __future__ import annotations

import numpy as np

from ringex.jit import njit

__all__ = ["new_index", "index_find", "index_insert", "index_assign", "index_delete"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def new_index(live_capacity: int, width: int, *, prefault: bool = True) -> np.ndarray:
    """A zeroed table with room for ``live_capacity`` keys at load factor <= 1/2.

    ``prefault`` writes every page now, so the matching loop never page-faults on it; an
    index that may stay unused (client order ids) is left lazily mapped and costs no memory
    until it is used."""
    rows = 16
    while rows < 2 * live_capacity:
        rows *= 2
    if not prefault:
        return np.zeros((rows, width), dtype=np.int64)
    table = np.empty((rows, width), dtype=np.int64)
    table.fill(0)
    return table


@njit(inline="always")
def _home(table, key_a, key_b):
    mask = np.uint64(table.shape[0] - 1)
    a = np.uint64(key_a)
    if table.shape[1] == 2:
        return np.int64((a ^ (a >> np.uint64(32))) & mask)
    h = a * _GOLDEN + np.uint64(key_b)
    h = (h ^ (h >> np.uint64(30))) * _MIX1
    h = (h ^ (h >> np.uint64(27))) * _MIX2
    h = h ^ (h >> np.uint64(31))
    return np.int64(h & mask)


@njit(inline="always")
def _matches(table, row, key_a, key_b):
    if table[row, 0] != key_a:
        return False
    return table.shape[1] == 2 or table[row, 1] == key_b


@njit(inline="always")
def _displacement(table, row, mask):
    home = _home(table, table[row, 0], table[row, 1] if table.shape[1] == 3 else 0)
    return (row - home) & mask


@njit
def index_find(table, key_a, key_b):
    """The slot stored for the key, or -1."""
    mask = table.shape[0] - 1
    value_col = table.shape[1] - 1
    row = _home(table, key_a, key_b)
    distance = 0
    while table[row, value_col] != 0:
        if _matches(table, row, key_a, key_b):
            return table[row, value_col] - 1
        if _displacement(table, row, mask) < distance:
            return -1
        row = (row + 1) & mask
        distance += 1
    return -1


@njit
def index_insert(table, key_a, key_b, slot):
    """Store ``slot`` for a key that must not be present yet."""
    mask = table.shape[0] - 1
    value_col = table.shape[1] - 1
    row = _home(table, key_a, key_b)
    distance = 0
    value = slot + 1
    while table[row, value_col] != 0:
        resident = _displacement(table, row, mask)
        if resident < distance:
            # the resident is richer (closer to home): it moves on, the newcomer stays
            old_a = table[row, 0]
            old_b = table[row, 1] if value_col == 2 else 0
            old_value = table[row, value_col]
            table[row, 0] = key_a
            if value_col == 2:
                table[row, 1] = key_b
            table[row, value_col] = value
            key_a, key_b, value, distance = old_a, old_b, old_value, resident
        row = (row + 1) & mask
        distance += 1
    table[row, 0] = key_a
    if value_col == 2:
        table[row, 1] = key_b
    table[row, value_col] = value


@njit
def index_assign(table, key_a, key_b, slot):
    """Store ``slot`` for a key that is present (its probe position does not depend on the
    value, so nothing moves); returns whether it was present."""
    mask = table.shape[0] - 1
    value_col = table.shape[1] - 1
    row = _home(table, key_a, key_b)
    distance = 0
    while table[row, value_col] != 0:
        if _matches(table, row, key_a, key_b):
            table[row, value_col] = slot + 1
            return True
        if _displacement(table, row, mask) < distance:
            return False
        row = (row + 1) & mask
        distance += 1
    return False


@njit
def index_delete(table, key_a, key_b):
    """Remove the key if present; returns whether it was."""
    mask = table.shape[0] - 1
    value_col = table.shape[1] - 1
    row = _home(table, key_a, key_b)
    distance = 0
    while True:
        if table[row, value_col] == 0 or _displacement(table, row, mask) < distance:
            return False
        if _matches(table, row, key_a, key_b):
            break
        row = (row + 1) & mask
        distance += 1
    hole = row
    probe = (hole + 1) & mask
    while table[probe, value_col] != 0 and _displacement(table, probe, mask) > 0:
        for column in range(value_col + 1):
            table[hole, column] = table[probe, column]
        hole = probe
        probe = (probe + 1) & mask
    for column in range(value_col + 1):
        table[hole, column] = 0
    return True
