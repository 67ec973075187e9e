"""Pairs and the registry: validated creation, the overflow rule, lookups, configuration."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import numpy as np
import pytest

from ringex.decimals import INT64_MAX
from ringex.errors import ConfigError, UnknownPairError, ValidationError
from ringex.pairs import (
    CONFIG_KEYS,
    DEFAULT_PAIR_CONFIGS,
    Pair,
    PairRegistry,
    default_pairs,
    normalize_pair_name,
)

BTC = {
    "name": "BTC-USDT",
    "tick_size": "0.01",
    "lot_size": "0.00001",
    "min_qty": "0.0001",
    "max_qty": "100",
    "price_band": ("60000.00", "70000"),
}


def make(**overrides) -> Pair:
    config = {**BTC, **overrides}
    return Pair.create(0, config.pop("name"), **config)


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["BTC-USDT", "btc-usdt", "BTC/USDT", "btc/usdt", "Btc-UsDt"]
)
def test_accepted_name_spellings(spelling):
    assert normalize_pair_name(spelling) == "BTC-USDT"


@pytest.mark.parametrize(
    "name",
    ["BTCUSDT", "BTC_USDT", "BTC-USDT-PERP", "BTC--USDT", "-USDT", "BTC-", " BTC-USDT",
     "BTC-USDT ", "BTC - USDT", "BTC-USDT\n", "BTC-US\u0394T", "", "USDT-USDT", "A" * 17 + "-B",
     None, 7, b"BTC-USDT"],
)
def test_rejected_names(name):
    with pytest.raises(ValidationError) as caught:
        normalize_pair_name(name)
    assert caught.value.field == "name"


# --- Pair.create --------------------------------------------------------------------------------


def test_create_converts_exactly():
    pair = make()
    assert pair == Pair(
        pair_id=0,
        name="BTC-USDT",
        tick_size=Decimal("0.01"),
        lot_size=Decimal("0.00001"),
        min_qty_lots=10,
        max_qty_lots=10_000_000,
        band_lo_ticks=6_000_000,
        band_hi_ticks=7_000_000,
    )
    assert pair.quote_step == Decimal("0.0000001")
    assert pair.max_notional_units == 7_000_000 * 10_000_000


def test_create_accepts_other_spellings_and_steps():
    pair = Pair.create(
        3, "eth/usdt", tick_size="0.010", lot_size=1, min_qty=2, max_qty="10",
        price_band=["0.05", Decimal("1.5")],
    )
    assert (pair.pair_id, pair.name, pair.tick_size, pair.lot_size) == (
        3, "ETH-USDT", Decimal("0.01"), Decimal("1"),
    )
    assert (pair.min_qty_lots, pair.max_qty_lots, pair.band_lo_ticks, pair.band_hi_ticks) == (
        2, 10, 5, 150,
    )


# (overrides, field, fragment)
CREATE_REJECTED = [
    pytest.param({"tick_size": "0"}, "tick_size", "greater than zero", id="tick-zero"),
    pytest.param({"tick_size": "-0.01"}, "tick_size", "signs", id="tick-negative"),
    pytest.param({"tick_size": 0.01}, "tick_size", "floats", id="tick-float"),
    pytest.param({"tick_size": "1e-2"}, "tick_size", "exponent", id="tick-exponent"),
    pytest.param({"lot_size": "0"}, "lot_size", "greater than zero", id="lot-zero"),
    pytest.param({"lot_size": "NaN"}, "lot_size", "finite", id="lot-nan"),
    pytest.param({"min_qty": "0"}, "min_qty", "greater than zero", id="min-zero"),
    pytest.param({"min_qty": "0.000015"}, "min_qty", "fractional digits", id="min-too-fine"),
    pytest.param({"max_qty": "100.000001"}, "max_qty", "fractional digits", id="max-too-fine"),
    pytest.param({"max_qty": "-1"}, "max_qty", "signs", id="max-negative"),
    pytest.param({"min_qty": "2", "max_qty": "1"}, "min_qty", "exceeds max_qty", id="min-gt-max"),
    pytest.param({"price_band": ("70000", "60000")}, "price_band", "exceeds", id="band-inverted"),
    pytest.param({"price_band": ("0", "1")}, "price_band.lo", "greater than zero", id="band-lo-0"),
    pytest.param({"price_band": ("1", "1.005")}, "price_band.hi", "digits", id="band-hi-fine"),
    pytest.param({"price_band": ("1",)}, "price_band", "two prices", id="band-one-end"),
    pytest.param({"price_band": "1-2"}, "price_band", "two prices", id="band-string"),
    pytest.param({"price_band": None}, "price_band", "two prices", id="band-none"),
    pytest.param({"name": "BTCUSDT"}, "name", "pair name", id="bad-name"),
    pytest.param(
        {"tick_size": "0.05", "price_band": ("1.00", "1.02")}, "price_band.hi", "multiple",
        id="band-not-multiple-of-tick",
    ),
    pytest.param(
        {"lot_size": "0.5", "min_qty": "0.7"}, "min_qty", "not a multiple of 0.5", id="min-off-lot"
    ),
    pytest.param(
        {"lot_size": "0.5", "min_qty": "1.5", "max_qty": "1.2"}, "max_qty", "multiple",
        id="max-not-multiple-of-lot",
    ),
    # Overflow: 10**10 ticks x 10**14 lots = 10**24 > int64.
    pytest.param(
        {"price_band": ("1", "100000000"), "max_qty": "1000000000"}, "max_qty", "overflows int64",
        id="notional-overflow",
    ),
    pytest.param(
        {"max_qty": "100000000000000000000"}, "max_qty", "overflows int64", id="max-overflows"
    ),
]


@pytest.mark.parametrize("overrides, field, fragment", CREATE_REJECTED)
def test_create_rejections_name_the_field(overrides, field, fragment):
    with pytest.raises(ValidationError) as caught:
        make(**overrides)
    assert caught.value.field == field
    assert fragment in caught.value.message


@pytest.mark.parametrize("pair_id", [-1, True, "0", 1.0])
def test_create_rejects_bad_pair_id(pair_id):
    with pytest.raises(ValidationError) as caught:
        Pair.create(pair_id, **BTC)
    assert caught.value.field == "pair_id"


def test_overflow_boundary_is_exact():
    """INT64_MAX = 7 * 1317624576693539401: the product may reach int64 max, never pass it."""
    limit = INT64_MAX // 7
    assert 7 * limit == INT64_MAX
    common = {"tick_size": "1", "lot_size": "1", "min_qty": "1", "price_band": ("1", "7")}
    at_limit = Pair.create(0, "A-B", max_qty=str(limit), **common)
    assert at_limit.max_notional_units == INT64_MAX
    with pytest.raises(ValidationError) as caught:
        Pair.create(0, "A-B", max_qty=str(limit + 1), **common)
    assert caught.value.field == "max_qty"
    with pytest.raises(ValidationError, match="overflows int64"):  # exactly 2**63
        Pair.create(0, "A-B", max_qty=str(2**31), **{**common, "price_band": ("1", str(2**32))})


# --- conversions on a pair ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, ticks", [("60000.00", 6_000_000), ("65432.1", 6_543_210), ("70000", 7_000_000)]
)
def test_price_to_ticks_inside_the_band(text, ticks):
    pair = make()
    assert pair.price_to_ticks(text) == ticks
    assert pair.price_to_ticks(pair.ticks_to_price(ticks)) == ticks


@pytest.mark.parametrize(
    "price, fragment",
    [
        ("59999.99", "outside the band [60000.00, 70000.00]"),
        ("70000.01", "outside the band"),
        ("100000000000000000000", "overflows"),
        ("65000.001", "fractional digits"),
        ("0", "greater than zero"),
        ("-65000", "signs"),
        ("6.5e4", "exponent"),
        (65000.0, "floats"),
        ("NaN", "finite"),
    ],
)
def test_price_rejections_name_price(price, fragment):
    with pytest.raises(ValidationError) as caught:
        make().price_to_ticks(price)
    assert caught.value.field == "price"
    assert fragment in caught.value.message


@pytest.mark.parametrize("text, lots", [("0.0001", 10), ("1.5", 150_000), ("100", 10_000_000)])
def test_qty_to_lots(text, lots):
    pair = make()
    assert pair.qty_to_lots(text) == lots
    assert pair.qty_to_lots(pair.lots_to_qty(lots)) == lots


@pytest.mark.parametrize(
    "quantity, fragment",
    [
        ("0.00009", "outside [min_qty 0.00010, max_qty 100.00000]"),
        ("100.00001", "outside"),
        ("0.000001", "fractional digits"),
        ("0", "greater than zero"),
        ("+1", "signs"),
        ("1E1", "exponent"),
        (1.0, "floats"),
        ("1_0", "underscore"),
    ],
)
def test_quantity_rejections_name_quantity(quantity, fragment):
    with pytest.raises(ValidationError) as caught:
        make().qty_to_lots(quantity)
    assert caught.value.field == "quantity"
    assert fragment in caught.value.message


def test_formatting_uses_the_step_scale():
    pair = make()
    assert pair.ticks_to_price(6_500_000) == "65000.00"
    assert pair.ticks_to_price(6_500_001) == "65000.01"
    assert pair.lots_to_qty(1) == "0.00001"
    assert pair.lots_to_qty(150_000) == "1.50000"


def test_to_config_round_trips():
    pair = make()
    assert Pair.create(0, **pair.to_config()) == pair


def test_for_ticks_is_unchanged():
    pair = Pair.for_ticks(2, band=(5, 50), min_qty_lots=3, max_qty_lots=40)
    assert pair == Pair(2, "P2-USDT", Decimal("0.01"), Decimal("0.0001"), 3, 40, 5, 50)


# --- the registry -------------------------------------------------------------------------------


def test_registry_assigns_dense_ids_in_order():
    registry = PairRegistry(
        [
            {**BTC, "name": "sol/usdt"},
            Pair.for_ticks(17, "eth-usdt"),
            BTC,
        ]
    )
    assert [pair.pair_id for pair in registry] == [0, 1, 2]
    assert registry.names == ("SOL-USDT", "ETH-USDT", "BTC-USDT")
    assert len(registry) == 3
    assert registry.pairs == tuple(registry)


@pytest.mark.parametrize("key", ["BTC-USDT", "btc-usdt", "BTC/USDT", "btc/usdt", 0, np.int64(0)])
def test_lookup_by_any_spelling_or_id(key):
    registry = default_pairs()
    assert registry.get(key).name == "BTC-USDT"
    assert registry[key] is registry.get("BTC-USDT")
    assert key in registry


@pytest.mark.parametrize(
    "key", [3, -1, np.int32(3), "DOGE-USDT", "BTCUSDT", "USDT-BTC", "", True, None, 0.0]
)
def test_unknown_pairs(key):
    registry = default_pairs()
    with pytest.raises(UnknownPairError) as caught:
        registry.get(key)
    assert caught.value.field == "pair"
    assert caught.value.pair == key
    assert key not in registry


def test_default_pairs():
    registry = default_pairs()
    assert registry.names == ("BTC-USDT", "ETH-USDT", "SOL-USDT")
    steps = [(pair.tick_size, pair.lot_size) for pair in registry]
    assert steps == [
        (Decimal("0.01"), Decimal("0.00001")),
        (Decimal("0.01"), Decimal("0.0001")),
        (Decimal("0.001"), Decimal("0.01")),
    ]
    for pair in registry:
        pair.check()
        assert pair.band_hi_ticks - pair.band_lo_ticks < 2_000_000  # one book row per tick
    assert len(DEFAULT_PAIR_CONFIGS) == 3
    with pytest.raises(TypeError):
        DEFAULT_PAIR_CONFIGS[0]["max_qty"] = "1"  # type: ignore[index]


def test_from_configs_reads_toml():
    document = tomllib.loads(
        """
        [[pairs]]
        name = "btc/usdt"
        tick_size = "0.01"
        lot_size = "0.00001"
        min_qty = "0.00001"
        max_qty = "10"
        price_band = ["50000", "60000"]

        [[pairs]]
        name = "ETH-USDT"
        tick_size = "0.01"
        lot_size = "0.0001"
        min_qty = 1
        max_qty = 100
        price_band = ["1000.00", "5000.00"]
        """
    )
    registry = PairRegistry.from_configs(document["pairs"])
    assert registry.names == ("BTC-USDT", "ETH-USDT")
    assert registry["ETH-USDT"].min_qty_lots == 10_000


# (configs, fragment of the ConfigError, field of the chained ValidationError or None)
CONFIG_REJECTED = [
    pytest.param([{**BTC, "tick": "0.01"}], "unknown key 'tick'", None, id="unknown-key"),
    pytest.param([{**BTC, "pair_id": 4}], "unknown key 'pair_id'", None, id="pair-id-key"),
    pytest.param(
        [{k: v for k, v in BTC.items() if k != "lot_size"}], "missing key 'lot_size'", None,
        id="missing-key",
    ),
    pytest.param([BTC, {**BTC, "name": "btc/usdt"}], "duplicate pair name", None, id="duplicate"),
    pytest.param([], "at least one pair", None, id="empty"),
    pytest.param(["BTC-USDT"], "expected a table", None, id="not-a-table"),
    pytest.param([{**BTC, "tick_size": 0.01}], "tick_size", "tick_size", id="toml-float"),
    pytest.param([BTC, {**BTC, "name": "X-Y", "min_qty": "0"}], "pairs[1]", "min_qty", id="zero"),
    pytest.param(
        [{**BTC, "price_band": ("1", "100000000"), "max_qty": "1000000000"}], "overflows",
        "max_qty", id="overflow",
    ),
]


@pytest.mark.parametrize("configs, fragment, field", CONFIG_REJECTED)
def test_config_rejections(configs, fragment, field):
    with pytest.raises(ConfigError) as caught:
        PairRegistry.from_configs(configs)
    assert fragment in str(caught.value)
    if field is not None:
        assert isinstance(caught.value.__cause__, ValidationError)
        assert caught.value.__cause__.field == field


def test_registry_refuses_an_overflowing_pair_object():
    risky = Pair.for_ticks(0, band=(1, 2**40), max_qty_lots=2**40)
    with pytest.raises(ConfigError, match="overflows int64") as caught:
        PairRegistry([risky])
    assert caught.value.__cause__.field == "max_qty"


def test_registry_refuses_inconsistent_pair_objects():
    with pytest.raises(ConfigError, match="price_band"):
        PairRegistry([Pair.for_ticks(0, band=(10, 5))])
    with pytest.raises(ConfigError, match="min_qty"):
        PairRegistry([Pair.for_ticks(0, min_qty_lots=0)])


def test_config_keys_are_the_documented_ones():
    assert CONFIG_KEYS == ("name", "tick_size", "lot_size", "min_qty", "max_qty", "price_band")
