"""Market-data objects -> the JSON shapes of the API (``docs/api.md``): prices and quantities
as decimal strings with the pair's digits, enum values as upper-case names."""

from __future__ import annotations

from ringex.pairs import PairRegistry
from ringex.records import OrderStatus, OrderType, Reason, Side, TimeInForce
from ringex.wire.units import registry_units

__all__ = ["order_view", "pending_order_view", "book_view", "candle_view", "trade_view",
           "pair_view", "status_name"]


def _name(enum_type, value) -> str:
    try:
        return enum_type(int(value)).name
    except ValueError:
        return str(int(value))


def status_name(value) -> str:
    return _name(OrderStatus, value)


def order_view(state, registry: PairRegistry) -> dict:
    units = registry_units(registry).by_id[state.pair_id]
    return {
        "order_id": state.order_id,
        "pair": units.pair.name,
        "client_order_id": state.client_order_id or None,
        "side": _name(Side, state.side),
        "type": _name(OrderType, state.order_type),
        "time_in_force": _name(TimeInForce, state.tif),
        "status": status_name(state.status),
        "reason": _name(Reason, state.reason),
        "price": units.price.format(state.price) if state.price > 0 else None,
        "quantity": units.quantity.format(state.quantity),
        "filled_quantity": units.quantity.format(state.filled_qty),
        "leaves_quantity": units.quantity.format(state.leaves_qty),
        "seq": state.seq,
        "timestamp_ns": state.timestamp_ns,
    }


def pending_order_view(order_id: int, pair_id: int, registry: PairRegistry) -> dict:
    """An order the sequencer holds but market data has not shown yet."""
    return {"order_id": order_id, "pair": registry.pairs[pair_id].name, "status": "RECEIVED"}


def book_view(book, pair, registry: PairRegistry) -> dict:
    units = registry_units(registry).by_id[pair.pair_id]
    price, qty = units.price.format, units.quantity.format
    return {
        "pair": pair.name,
        "seq": book.seq,
        "bids": [[price(p), qty(q), n] for p, q, n in book.bids],
        "asks": [[price(p), qty(q), n] for p, q, n in book.asks],
    }


def candle_view(candle, units) -> dict:
    price = units.price.format
    return {
        "start": candle.start_ms,
        "open": price(candle.open),
        "high": price(candle.high),
        "low": price(candle.low),
        "close": price(candle.close),
        "volume": units.quantity.format(candle.volume),
        "trades": candle.trades,
    }


def trade_view(trade, units) -> dict:
    return {
        "seq": trade.seq,
        "timestamp_ns": trade.timestamp_ns,
        "price": units.price.format(trade.price),
        "quantity": units.quantity.format(trade.quantity),
        "taker_side": _name(Side, trade.taker_side),
        "taker_order_id": trade.taker_order_id,
        "maker_order_id": trade.maker_order_id,
    }


def pair_view(pair, status: str) -> dict:
    return {
        "id": pair.pair_id,
        "name": pair.name,
        "base": pair.name.split("-")[0],
        "quote": pair.name.split("-")[1],
        "tick_size": format(pair.tick_size, "f"),
        "lot_size": format(pair.lot_size, "f"),
        "min_qty": pair.lots_to_qty(pair.min_qty_lots),
        "max_qty": pair.lots_to_qty(pair.max_qty_lots),
        "price_band": [pair.ticks_to_price(pair.band_lo_ticks),
                       pair.ticks_to_price(pair.band_hi_ticks)],
        "status": status,
    }
