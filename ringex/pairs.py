"""Trading pairs: names, tick and lot sizes, quantity limits and the static price band.

The matcher sees only the integer fields (``band_lo_ticks`` ... ``max_qty_lots``); the decimal
fields are for the edges, which convert with :mod:`ringex.decimals`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Pair"]


@dataclass(frozen=True)
class Pair:
    """One pair. ``pair_id`` is its dense index (0..n-1) in the matcher."""

    pair_id: int
    name: str
    tick_size: Decimal
    lot_size: Decimal
    min_qty_lots: int
    max_qty_lots: int
    band_lo_ticks: int
    band_hi_ticks: int

    @classmethod
    def for_ticks(
        cls,
        pair_id: int,
        name: str | None = None,
        *,
        band: tuple[int, int] = (1, 10_000),
        min_qty_lots: int = 1,
        max_qty_lots: int = 1_000_000_000,
    ) -> "Pair":
        """A pair defined directly in ticks and lots (tick 0.01, lot 0.0001); for tests."""
        return cls(
            pair_id=pair_id,
            name=name or f"P{pair_id}-USDT",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.0001"),
            min_qty_lots=min_qty_lots,
            max_qty_lots=max_qty_lots,
            band_lo_ticks=band[0],
            band_hi_ticks=band[1],
        )
