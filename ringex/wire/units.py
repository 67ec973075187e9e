"""Fast exact decimal <-> ticks/lots conversion for the wire codecs, per registry.

Why it exists: :mod:`ringex.decimals` is the single authority on what a number may look like,
but it works through ``Decimal`` and costs about 3 us per value. The codecs convert several
numbers per message, so this module does the common case with integer arithmetic only:

* in: ``"65000.25"`` at tick ``0.01`` -> ``int("6500025") // 1``; a step that is not a power of
  ten (``0.05``) divides by its integer multiplier (``5``);
* out: ``units * multiplier`` as a digit string with a decimal point ``places`` from the right.

Invariant: the answers equal :meth:`Pair.price_to_ticks` / :meth:`Pair.qty_to_lots` /
:func:`ringex.decimals.format_units` exactly (a Hypothesis test compares them). Any input the
fast path does not accept is handed to the canonical function, which raises the canonical
``ValidationError``; so error messages come from one place.

:func:`registry_units` caches one :class:`RegistryUnits` per (immutable) registry. Read-only
after construction; any thread or process may use it.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from decimal import Context, Inexact, Rounded

from ringex.decimals import INT64_MAX, MAX_INPUT_CHARS
from ringex.errors import UnknownPairError, ValidationError
from ringex.pairs import Pair, PairRegistry

__all__ = ["StepScale", "PairUnits", "RegistryUnits", "registry_units"]

_PLAIN = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
# A step has at most 18 integer and 18 fractional digits (ringex.decimals.check_step).
_EXACT = Context(prec=80, traps=[Inexact, Rounded])
_NAME_CACHE_LIMIT = 1024


@dataclass(frozen=True)
class StepScale:
    """A step (tick or lot size) as ``multiplier * 10**-places`` with integer ``multiplier``."""

    places: int
    multiplier: int

    @classmethod
    def of(cls, step) -> "StepScale":
        sign, digits, exponent = step.as_tuple()
        places = max(0, -exponent)
        # An exact context: the global one (28 digits) rounded steps of 29+ digits.
        return cls(places, int(step.scaleb(places, context=_EXACT)))

    def parse(self, text: str) -> int | None:
        """The units in ``text``, or ``None`` when the canonical path must decide (and raise)."""
        if len(text) > MAX_INPUT_CHARS:
            return None
        match = _PLAIN.fullmatch(text)
        if match is None:
            return None
        whole, fraction = match.groups()
        places = self.places
        if fraction is None:
            fraction = ""
        elif len(fraction) > places:
            return None
        scaled = int(whole + fraction + "0" * (places - len(fraction)))
        units, remainder = divmod(scaled, self.multiplier)
        if remainder or units <= 0 or units > INT64_MAX:
            return None
        return units

    def format(self, units: int) -> str:
        """``units * step`` with exactly ``places`` fractional digits (negatives get a ``-``)."""
        value = units * self.multiplier
        places = self.places
        if not places:
            return str(value)
        if value < 0:
            digits = str(-value).rjust(places + 1, "0")
            return f"-{digits[:-places]}.{digits[-places:]}"
        digits = str(value).rjust(places + 1, "0")
        return f"{digits[:-places]}.{digits[-places:]}"


@dataclass(frozen=True)
class PairUnits:
    """One pair's scales and limits, for the codecs."""

    pair: Pair
    price: StepScale
    quantity: StepScale

    def price_to_ticks(self, text: str, field: str) -> int:
        """Exact ticks inside the band, else the canonical ``ValidationError(field)``."""
        pair = self.pair
        ticks = self.price.parse(text)
        if ticks is not None and pair.band_lo_ticks <= ticks <= pair.band_hi_ticks:
            return ticks
        return _canonical(pair.price_to_ticks, text, field)

    def qty_to_lots(self, text: str, field: str) -> int:
        """Exact lots inside ``[min_qty, max_qty]``, else the canonical ``ValidationError``."""
        pair = self.pair
        lots = self.quantity.parse(text)
        if lots is not None and pair.min_qty_lots <= lots <= pair.max_qty_lots:
            return lots
        return _canonical(pair.qty_to_lots, text, field)


class RegistryUnits:
    """Per-registry lookups: pair by any spelling (cached), scales by pair id."""

    def __init__(self, registry: PairRegistry):
        self.registry = registry
        self.by_id: tuple[PairUnits, ...] = tuple(
            PairUnits(pair, StepScale.of(pair.tick_size), StepScale.of(pair.lot_size))
            for pair in registry.pairs
        )
        self._by_text: dict[str, PairUnits] = {}

    def lookup(self, name: str, field: str) -> PairUnits:
        """The pair named ``name`` (any accepted spelling), else ``ValidationError(field)``."""
        found = self._by_text.get(name)
        if found is not None:
            return found
        try:
            pair = self.registry.get(name)
        except UnknownPairError:
            raise ValidationError(field, f"unknown pair {name[:40]!r}") from None
        found = self.by_id[pair.pair_id]
        if len(self._by_text) < _NAME_CACHE_LIMIT:
            self._by_text[name] = found
        return found


_CACHE: "weakref.WeakKeyDictionary[PairRegistry, RegistryUnits]" = weakref.WeakKeyDictionary()


def registry_units(registry: PairRegistry) -> RegistryUnits:
    """The cached :class:`RegistryUnits` of ``registry``."""
    units = _CACHE.get(registry)
    if units is None:
        units = _CACHE[registry] = RegistryUnits(registry)
    return units


def _canonical(convert, text: str, field: str) -> int:
    try:
        return convert(text)
    except ValidationError as exc:
        raise ValidationError(field, exc.message) from None
