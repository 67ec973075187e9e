"""Trading pairs: names, tick and lot sizes, quantity limits and the static price band.

The matcher sees only the integer fields (``band_lo_ticks`` ... ``max_qty_lots``); the decimal
fields are for the edges, which convert with :mod:`ringex.decimals`.

:meth:`Pair.create` is the validated way in (decimal strings, as a config file writes them);
:meth:`Pair.for_ticks` builds test pairs directly in ticks and lots. :class:`PairRegistry` owns
the dense numbering ``0 .. n-1`` and refuses any pair whose ``band_hi_ticks * max_qty_lots``
overflows int64, so the matchers may multiply a price by a quantity without checking.
A registry is immutable once built; any process may read it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation, Rounded, localcontext
from numbers import Integral
from types import MappingProxyType
from typing import Iterable, Iterator, Mapping, Sequence

from ringex.decimals import INT64_MAX, check_step, format_units, to_units
from ringex.errors import ConfigError, UnknownPairError, ValidationError

__all__ = [
    "Pair",
    "PairRegistry",
    "normalize_pair_name",
    "default_pairs",
    "CONFIG_KEYS",
    "DEFAULT_PAIR_CONFIGS",
]

# Steps have at most 36 significant digits (see ringex.decimals.check_step), so their product
# is exact at this precision; a rounding would raise.
_PRODUCT_CONTEXT = Context(prec=80, traps=[Inexact, Rounded, InvalidOperation])

_PAIR_NAME = re.compile(r"([A-Z0-9]{1,16})[-/]([A-Z0-9]{1,16})")

#: The keys of one pair's configuration; all are required.
CONFIG_KEYS = ("name", "tick_size", "lot_size", "min_qty", "max_qty", "price_band")

#: What ``ringex serve`` runs on when given no pair file. Each band is at most about a million
#: ticks wide, because the book keeps one array row per tick of the band.
DEFAULT_PAIR_CONFIGS: tuple[Mapping[str, object], ...] = tuple(
    MappingProxyType(config)
    for config in (
        {
            "name": "BTC-USDT",
            "tick_size": "0.01",
            "lot_size": "0.00001",
            "min_qty": "0.00001",
            "max_qty": "100",
            "price_band": ("60000.00", "70000.00"),
        },
        {
            "name": "ETH-USDT",
            "tick_size": "0.01",
            "lot_size": "0.0001",
            "min_qty": "0.0001",
            "max_qty": "1000",
            "price_band": ("2000.00", "4000.00"),
        },
        {
            "name": "SOL-USDT",
            "tick_size": "0.001",
            "lot_size": "0.01",
            "min_qty": "0.01",
            "max_qty": "100000",
            "price_band": ("100.000", "200.000"),
        },
    )
)


def normalize_pair_name(name: object, *, field: str = "name") -> str:
    """Canonical ``BASE-QUOTE`` in upper case; ``btc-usdt`` and ``BTC/USDT`` are accepted.

    Base and quote are 1..16 ASCII letters or digits and differ from each other.
    """
    if not isinstance(name, str):
        raise ValidationError(
            field, f"expected a string like 'BTC-USDT', got {type(name).__name__}"
        )
    if len(name) > 40 or not name.isascii():
        raise ValidationError(field, f"{name[:40]!r} is not a pair name like 'BTC-USDT'")
    match = _PAIR_NAME.fullmatch(name.upper())
    if match is None:
        raise ValidationError(field, f"{name!r} is not a pair name like 'BTC-USDT' or 'BTC/USDT'")
    base, quote = match.groups()
    if base == quote:
        raise ValidationError(field, f"{name!r}: base and quote are the same asset")
    return f"{base}-{quote}"


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

    @classmethod
    def create(
        cls,
        pair_id: int,
        name: str,
        *,
        tick_size: object,
        lot_size: object,
        min_qty: object,
        max_qty: object,
        price_band: Sequence[object],
    ) -> "Pair":
        """A validated pair from decimal strings (or ints / Decimals), as a config writes them.

        Raises ``ValidationError`` naming the field: ``pair_id``, ``name``, ``tick_size``,
        ``lot_size``, ``min_qty``, ``max_qty``, ``price_band``, ``price_band.lo`` or
        ``price_band.hi``. See ``docs/pairs.md`` for every rule.
        """
        if isinstance(pair_id, bool) or not isinstance(pair_id, int) or pair_id < 0:
            raise ValidationError("pair_id", f"expected an integer >= 0, got {pair_id!r}")
        canonical_name = normalize_pair_name(name)
        tick = check_step(tick_size, field="tick_size")
        lot = check_step(lot_size, field="lot_size")
        if not isinstance(price_band, Sequence) or isinstance(price_band, (str, bytes)):
            raise ValidationError("price_band", "expected two prices [low, high]")
        if len(price_band) != 2:
            raise ValidationError("price_band", "expected two prices [low, high]")
        pair = cls(
            pair_id=pair_id,
            name=canonical_name,
            tick_size=tick,
            lot_size=lot,
            min_qty_lots=to_units(min_qty, lot, field="min_qty"),
            max_qty_lots=to_units(max_qty, lot, field="max_qty"),
            band_lo_ticks=to_units(price_band[0], tick, field="price_band.lo"),
            band_hi_ticks=to_units(price_band[1], tick, field="price_band.hi"),
        )
        pair.check()
        return pair

    def check(self) -> None:
        """Raise ``ValidationError`` unless the integer fields are safe for the matchers."""
        for field, value in (
            ("min_qty", self.min_qty_lots),
            ("max_qty", self.max_qty_lots),
            ("price_band.lo", self.band_lo_ticks),
            ("price_band.hi", self.band_hi_ticks),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= INT64_MAX:
                raise ValidationError(field, f"must be an integer in 1 .. int64 max, not {value!r}")
        if self.min_qty_lots > self.max_qty_lots:
            raise ValidationError(
                "min_qty", f"min_qty {self.lots_to_qty(self.min_qty_lots)} exceeds max_qty "
                f"{self.lots_to_qty(self.max_qty_lots)}"
            )
        if self.band_lo_ticks > self.band_hi_ticks:
            raise ValidationError(
                "price_band", f"low end {self.ticks_to_price(self.band_lo_ticks)} exceeds high end "
                f"{self.ticks_to_price(self.band_hi_ticks)}"
            )
        if self.max_notional_units > INT64_MAX:
            raise ValidationError(
                "max_qty",
                f"price_band high end ({self.band_hi_ticks} ticks) x max_qty "
                f"({self.max_qty_lots} lots) = {self.max_notional_units} overflows int64; "
                "lower max_qty or the price band",
            )

    @property
    def quote_step(self) -> Decimal:
        """The smallest notional increment, ``tick_size * lot_size``.

        An order's notional is ``ticks * lots`` of these, which is why the registry bounds
        ``band_hi_ticks * max_qty_lots`` by int64.
        """
        with localcontext(_PRODUCT_CONTEXT):
            return self.tick_size * self.lot_size

    @property
    def max_notional_units(self) -> int:
        """The largest notional of one order, in :attr:`quote_step` units (must fit int64)."""
        return self.band_hi_ticks * self.max_qty_lots

    def price_to_ticks(self, price: object) -> int:
        """Exact ticks of ``price``; ``ValidationError('price')`` if malformed or off the band."""
        ticks = to_units(price, self.tick_size, field="price")
        if not self.band_lo_ticks <= ticks <= self.band_hi_ticks:
            low = self.ticks_to_price(self.band_lo_ticks)
            high = self.ticks_to_price(self.band_hi_ticks)
            raise ValidationError(
                "price", f"{self.ticks_to_price(ticks)} is outside the band [{low}, {high}]"
            )
        return ticks

    def qty_to_lots(self, quantity: object) -> int:
        """Exact lots of ``quantity``; ``ValidationError('quantity')`` if malformed or outside
        ``[min_qty, max_qty]``."""
        lots = to_units(quantity, self.lot_size, field="quantity")
        if not self.min_qty_lots <= lots <= self.max_qty_lots:
            low = self.lots_to_qty(self.min_qty_lots)
            high = self.lots_to_qty(self.max_qty_lots)
            raise ValidationError(
                "quantity", f"{self.lots_to_qty(lots)} is outside [min_qty {low}, max_qty {high}]"
            )
        return lots

    def ticks_to_price(self, ticks: int) -> str:
        """``ticks`` as a price string with exactly the tick's fractional digits."""
        return format_units(ticks, self.tick_size)

    def lots_to_qty(self, lots: int) -> str:
        """``lots`` as a quantity string with exactly the lot's fractional digits."""
        return format_units(lots, self.lot_size)

    def to_config(self) -> dict[str, object]:
        """The configuration that :meth:`create` turns back into this pair."""
        return {
            "name": self.name,
            "tick_size": format(self.tick_size, "f"),
            "lot_size": format(self.lot_size, "f"),
            "min_qty": self.lots_to_qty(self.min_qty_lots),
            "max_qty": self.lots_to_qty(self.max_qty_lots),
            "price_band": [
                self.ticks_to_price(self.band_lo_ticks),
                self.ticks_to_price(self.band_hi_ticks),
            ],
        }


class PairRegistry:
    """The pairs of one engine, numbered ``0 .. n-1`` in the order given.

    Built from configuration mappings (keys :data:`CONFIG_KEYS`) or :class:`Pair` objects; a
    given ``Pair`` is renumbered to its position and its name canonicalized. Raises
    ``ConfigError`` for an empty list, unknown or missing keys, duplicate names, or any value
    that :meth:`Pair.create` / :meth:`Pair.check` rejects (the ``ValidationError`` is chained).
    """

    def __init__(self, pairs: Iterable[Pair | Mapping[str, object]]):
        built: list[Pair] = []
        by_name: dict[str, Pair] = {}
        for position, entry in enumerate(pairs):
            pair = _build(position, entry)
            if pair.name in by_name:
                raise ConfigError(f"pairs[{position}]: duplicate pair name {pair.name!r}")
            by_name[pair.name] = pair
            built.append(pair)
        if not built:
            raise ConfigError("at least one pair is required")
        self._pairs: tuple[Pair, ...] = tuple(built)
        self._by_name = by_name

    @classmethod
    def from_configs(cls, configs: Iterable[Mapping[str, object]]) -> "PairRegistry":
        """From a list of mappings, as ``tomllib`` gives an array of ``[[pairs]]`` tables."""
        configs = list(configs)
        for position, config in enumerate(configs):
            if not isinstance(config, Mapping):
                kind = type(config).__name__
                raise ConfigError(f"pairs[{position}]: expected a table, got {kind}")
        return cls(configs)

    def get(self, key: str | int) -> Pair:
        """The pair with this id or name (any accepted spelling); else ``UnknownPairError``."""
        if isinstance(key, bool):
            raise UnknownPairError(key)
        if isinstance(key, Integral):
            if 0 <= key < len(self._pairs):
                return self._pairs[int(key)]
            raise UnknownPairError(key)
        try:
            name = normalize_pair_name(key, field="pair")
        except ValidationError:
            raise UnknownPairError(key) from None
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownPairError(key) from None

    __getitem__ = get

    def __contains__(self, key: object) -> bool:
        try:
            self.get(key)  # type: ignore[arg-type]
        except UnknownPairError:
            return False
        return True

    def __iter__(self) -> Iterator[Pair]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    @property
    def pairs(self) -> tuple[Pair, ...]:
        """All pairs in id order (what the matcher's ``allocate`` takes)."""
        return self._pairs

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(pair.name for pair in self._pairs)

    def __repr__(self) -> str:
        return f"PairRegistry({list(self.names)!r})"


def default_pairs() -> PairRegistry:
    """The embedded default pairs (:data:`DEFAULT_PAIR_CONFIGS`), used by ``ringex serve``."""
    return PairRegistry.from_configs(DEFAULT_PAIR_CONFIGS)


def _build(position: int, entry: Pair | Mapping[str, object]) -> Pair:
    where = f"pairs[{position}]"
    try:
        if isinstance(entry, Pair):
            pair = dataclasses.replace(
                entry,
                pair_id=position,
                name=normalize_pair_name(entry.name),
                tick_size=check_step(entry.tick_size, field="tick_size"),
                lot_size=check_step(entry.lot_size, field="lot_size"),
            )
            pair.check()
            return pair
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected a table or a Pair, got {type(entry).__name__}")
        unknown = [key for key in entry if key not in CONFIG_KEYS]
        if unknown:
            allowed = ", ".join(CONFIG_KEYS)
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {allowed})")
        missing = [key for key in CONFIG_KEYS if key not in entry]
        if missing:
            raise ConfigError(f"{where}: missing key {missing[0]!r}")
        return Pair.create(position, **entry)  # type: ignore[arg-type]
    except ValidationError as exc:
        name = entry.name if isinstance(entry, Pair) else entry.get("name")
        raise ConfigError(f"{where} ({name!r}): {exc}") from exc
