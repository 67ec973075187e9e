"""The batch entry point: apply commands in order, append their events.

:func:`process_commands` is the only compiled function the engine calls per batch. It stops
early, between two commands, when the next command's worst-case event count would not fit in
the output buffer, so a command's events are never split across calls and the buffer never
overflows; the caller drains the events and calls again (see ``ringex.engine``).
"""

from __future__ import annotations

import numpy as np

from ringex.book.emit import emit_rejection
from ringex.book.handlers import (
    handle_amend,
    handle_cancel,
    handle_cancel_all,
    handle_new,
    handle_set_status,
)
from ringex.book.state import META_LIVE, META_NEXT_COMMAND
from ringex.jit import njit
from ringex.records import LAST_REJECTION_REASON, CommandKind, Reason

__all__ = ["process_commands", "events_bound"]

_INVALID_COMMAND = int(Reason.INVALID_COMMAND)
_LAST_REJECTION = int(LAST_REJECTION_REASON)


@njit(inline="always")
def events_bound(st, c):
    """Most events command ``c`` can emit: a taker meets each resting order of its pair at
    most once, with at most two events per meeting (STP decrement), plus ACCEPTED/AMENDED and
    a final CANCELED."""
    kind = c.kind
    if kind == CommandKind.NEW or kind == CommandKind.AMEND:
        pair = c.pair_id
        if pair < 0 or pair >= st.pairs.shape[0]:
            return 1
        resting = st.sides[2 * pair].order_count + st.sides[2 * pair + 1].order_count
        return 4 + 2 * min(resting, max(c.quantity, 0))
    if kind == CommandKind.CANCEL_ALL:
        return 2 + st.meta[META_LIVE]
    return 1


@njit
def process_commands(st, commands, start, events, k):
    """Apply ``commands[start:]`` while their events fit in ``events[k:]``.

    Returns ``(next_command, next_event, blocked_need)``: where to resume, how many events are
    now in the buffer, and, if a command could not start, its worst-case event count (else 0).
    """
    capacity = events.shape[0]
    i = start
    while i < commands.shape[0]:
        c = commands[i]
        need = events_bound(st, c)
        if k + need > capacity:
            return i, k, need
        command_index = st.meta[META_NEXT_COMMAND]
        st.meta[META_NEXT_COMMAND] = command_index + 1
        kind = c.kind
        if kind == CommandKind.NEW:
            k = handle_new(st, c, events, k, command_index)
        elif kind == CommandKind.CANCEL:
            k = handle_cancel(st, c, events, k, command_index)
        elif kind == CommandKind.AMEND:
            k = handle_amend(st, c, events, k, command_index)
        elif kind == CommandKind.CANCEL_ALL:
            k = handle_cancel_all(st, c, events, k, command_index)
        elif kind == CommandKind.SET_STATUS:
            k = handle_set_status(st, c, events, k, command_index)
        else:
            # records.rejection_of_invalid_kind: an edge's stand-in names its reason in status
            reason = np.int64(c.status)
            if reason < 1 or reason > _LAST_REJECTION:
                reason = _INVALID_COMMAND
            k = emit_rejection(events, k, st, c, reason, command_index)
        i += 1
    return i, k, 0
