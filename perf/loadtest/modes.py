"""When each command is sent: max-throughput or open-loop.

Both call ``route.send(lo, hi)`` on consecutive slices of the flow and fill ``send_ns``
(``time.monotonic_ns``) for every command:

- **max-throughput**: slices of ``chunk`` commands, back to back; ``send_ns`` of a slice is
  the time its first message was handed to the producer (so a command's latency includes
  the rest of its slice being produced: never flattered).
- **open-loop**: command ``i`` is *scheduled* at ``start + i / rate``. Every ``tick_s`` the
  loop sends every command whose time has come (one frame per pair on the frame route, so
  the tick sets the frame size), and ``send_ns[i]`` is the scheduled time,
  not the moment it went out: if the sender, the broker or the exchange falls behind, the
  delay is charged to every command that waited (no coordinated omission).

Both loops are bounded: by the flow's length, and the open-loop one also by ``duration``
plus ``max_lag_s`` (a sender that falls that far behind its schedule stops and says so).
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["max_throughput", "open_loop"]


def max_throughput(route, n: int, send_ns: np.ndarray, chunk: int = 1000) -> dict:
    started = time.monotonic_ns()
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        send_ns[lo:hi] = time.monotonic_ns()
        route.send(lo, hi)
    ended = time.monotonic_ns()
    return {"mode": "max-throughput", "send_s": (ended - started) / 1e9,
            "send_rate": n / max(1e-9, (ended - started) / 1e9), "start_ns": started}


def open_loop(route, n: int, send_ns: np.ndarray, rate: float, tick_s: float = 0.0005,
              max_lag_s: float = 30.0) -> dict:
    period_ns = 1e9 / rate
    started = time.monotonic_ns() + 1_000_000
    send_ns[:n] = started + (np.arange(n) * period_ns).astype(np.int64)
    sent = 0
    worst_lag_ns = 0
    tick_ns = int(tick_s * 1e9)
    last_send_ns = 0
    while sent < n:
        now = time.monotonic_ns()
        due = min(n, int((now - started) / period_ns) + 1) if now >= started else 0
        if due > sent and (due == n or now - last_send_ns >= tick_ns):
            last_send_ns = now
            worst_lag_ns = max(worst_lag_ns, now - int(send_ns[sent]))
            route.send(sent, due)
            sent = due
            if worst_lag_ns > max_lag_s * 1e9:
                break
        else:
            time.sleep(min(tick_s, 0.0005))
    ended = time.monotonic_ns()
    return {"mode": "open-loop", "rate": rate, "sent": sent, "send_s": (ended - started) / 1e9,
            "send_rate": sent / max(1e-9, (ended - started) / 1e9), "start_ns": started,
            "worst_sender_lag_ms": round(worst_lag_ns / 1e6, 3),
            "sender_gave_up": sent < n}
