"""``RedisMarketData``: the market-data projection in Redis (distributed mode).

The publisher process is the only writer. Each :meth:`RedisMarketData.apply` call sends a
batch to ONE Lua script call (``redis_lua.APPLY_SCRIPT``, loaded once, called by EVALSHA),
which Redis runs atomically: candles, the recent-trades lists, order status, ``last_seq`` and
the pub/sub messages of a batch appear together or not at all. Replays are harmless twice
over: the script skips every event at or below ``last_seq``, and each candle ring
(pair x interval) also keeps the last trade seq it folded in, so candles stay right even if
``last_seq`` is deleted or the candles are rebuilt from the ``trades`` topic alone.

Values are stored twice where people read them: decimal strings from the pair registry
(``price``, ``open``, ``volume``...) for humans and other consumers, and integer ticks/lots
(``price_ticks``, ``o``, ``v``...) for this class's readers, which never parse decimals.
Every key is listed in ``docs/redis-keys.md``.
"""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from ringex.errors import RingexError, UnknownPairError
from ringex.marketdata.interface import (
    CLOSED_STATUSES,
    DEFAULT_CANDLE_LIMIT,
    DEFAULT_TRADE_LIMIT,
    INTERVALS,
    Book,
    Candle,
    OrderState,
    Trade,
    interval_ms,
)
from ringex.marketdata.redis_lua import APPLY_SCRIPT, ORDER_FIELDS, PUT_BOOK_SCRIPT
from ringex.pairs import Pair, PairRegistry
from ringex.records import EVENT_DTYPE, EventKind, OrderStatus, OrderType, Reason, Side, TimeInForce

__all__ = ["RedisMarketData"]

_CLOSED = {int(status) for status in CLOSED_STATUSES}
_CANDLE_FIELDS = ("t", "o", "h", "l", "c", "v", "n", "fs", "ls")
_REPLACE_KINDS = (EventKind.ACCEPTED, EventKind.AMENDED, EventKind.CANCELED)


def _name(enum_type, value: int) -> str:
    try:
        return enum_type(value).name
    except ValueError:
        return str(value)


def _value(enum_type, text: str) -> int:
    return int(enum_type[text]) if text in enum_type.__members__ else int(text)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _PairText:
    """Decimal strings of one pair's ticks and lots, cached (prices repeat)."""

    def __init__(self, pair: Pair):
        self.pair = pair
        self.name = pair.name
        places = max(0, -pair.lot_size.as_tuple().exponent)
        self.lot_scale = places
        self.lot_mantissa = int(pair.lot_size.scaleb(places))
        self._prices: dict[int, str] = {}
        self._qtys: dict[int, str] = {}

    def price(self, ticks: int) -> str:
        text = self._prices.get(ticks)
        if text is None:
            text = self.pair.ticks_to_price(ticks) if ticks >= 0 else ""
            if len(self._prices) > 100_000:
                self._prices.clear()
            self._prices[ticks] = text
        return text

    def qty(self, lots: int) -> str:
        text = self._qtys.get(lots)
        if text is None:
            text = self.pair.lots_to_qty(lots) if lots >= 0 else ""
            if len(self._qtys) > 100_000:
                self._qtys.clear()
            self._qtys[lots] = text
        return text


class _UnknownPairText:
    """For rejected commands that name no pair: raw integers, no decimals."""

    lot_scale = 0

    def __init__(self, pair_id: int):
        self.name = f"#{pair_id}"

    def price(self, ticks: int) -> str:
        return ""

    qty = price


class RedisMarketData:
    """The Redis implementation of :class:`~ringex.marketdata.interface.MarketDataStore`.

    ``redis_client`` is a ``redis.Redis`` (bytes or decoded responses both work).
    ``candles_kept``: candles per pair and interval (the last that many intervals).
    ``trades_kept``: trades per pair in the recent list. ``order_ttl_s``: how long a closed
    order (filled, canceled, rejected) stays readable; 0 keeps it forever. Open orders never
    expire. ``max_batch``: events per script call (a script blocks Redis while it runs).
    """

    def __init__(self, redis_client, registry: PairRegistry, *, prefix: str = "ringex:",
                 candles_kept: int = 1440, trades_kept: int = 1000,
                 order_ttl_s: int = 86_400, max_batch: int = 2_000):
        if candles_kept < 1 or trades_kept < 1 or order_ttl_s < 0 or max_batch < 1:
            raise ValueError("candles_kept, trades_kept, max_batch >= 1; order_ttl_s >= 0")
        self.redis = redis_client
        self.registry = registry
        self.prefix = prefix
        self.candles_kept = candles_kept
        self.trades_kept = trades_kept
        self.order_ttl_s = order_ttl_s
        self.max_batch = max_batch
        self._pairs = [_PairText(pair) for pair in registry]
        self._apply = redis_client.register_script(APPLY_SCRIPT)
        self._put_book = redis_client.register_script(PUT_BOOK_SCRIPT)
        self._head = [prefix, str(candles_kept), str(trades_kept), str(order_ttl_s)]
        self._intervals = [str(len(INTERVALS))]
        for name, ms in INTERVALS.items():
            self._intervals += [name, str(ms)]
        self._applied = self.last_seq()

    # -- keys -----------------------------------------------------------------------------
    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(part) for part in parts)

    def _pair(self, pair: int | str) -> Pair | None:
        try:
            return self.registry.get(pair)
        except UnknownPairError:
            return None

    def _pair_text(self, pair_id: int):
        if 0 <= pair_id < len(self._pairs):
            return self._pairs[pair_id]
        return _UnknownPairText(pair_id)

    # -- writer ---------------------------------------------------------------------------
    def apply(self, events: np.ndarray) -> None:
        if events.dtype != EVENT_DTYPE:
            raise RingexError(f"expected EVENT_DTYPE records, got {events.dtype}")
        events = events[events["seq"] > self._applied]
        for start in range(0, events.shape[0], self.max_batch):
            chunk = events[start:start + self.max_batch]
            args = self._batch_args(chunk)
            self._applied = int(_text(self._apply(args=args)))

    def _batch_args(self, events: np.ndarray) -> list[str]:
        args = self._head + [str(int(events["seq"][-1]))] + self._intervals
        columns = {name: events[name].tolist() for name in EVENT_DTYPE.names}
        kinds = columns["kind"]
        trade_rows = [row for row, kind in enumerate(kinds) if kind == EventKind.TRADE]
        trade_fields: list[str] = []
        pair_ids, seqs, times = columns["pair_id"], columns["seq"], columns["timestamp_ns"]
        prices, qtys, sides = columns["price"], columns["trade_qty"], columns["side"]
        takers, makers = columns["order_id"], columns["maker_order_id"]
        for row in trade_rows:
            text = self._pair_text(pair_ids[row])
            price, qty = prices[row], qtys[row]
            record = {
                "pair": text.name, "seq": seqs[row], "ts": times[row],
                "price": text.price(price), "qty": text.qty(qty), "side": _name(Side, sides[row]),
                "price_ticks": price, "qty_lots": qty,
                "taker_order_id": takers[row], "maker_order_id": makers[row],
            }
            trade_fields += [
                text.name, str(seqs[row]), str(times[row] // 1_000_000), str(price), str(qty),
                record["price"], str(qty * getattr(text, "lot_mantissa", 1)), str(text.lot_scale),
                json.dumps(record, separators=(",", ":")),
            ]
        updates: list[str] = []
        for row, kind in enumerate(kinds):
            if kind in _REPLACE_KINDS:
                updates += self._order_args(columns, row, 1, False)
            elif kind == EventKind.REJECTED:
                if columns["order_id"][row] > 0:
                    updates += self._order_args(columns, row, 3, False)
            elif kind == EventKind.TRADE:
                updates += self._order_args(columns, row, 2, False)
                updates += self._order_args(columns, row, 2, True)
        args.append("\t".join(trade_fields))
        args.append("\t".join(updates))
        return args

    def _order_args(self, columns: dict, row: int, mode: int, maker: bool) -> list[str]:
        pair_id = columns["pair_id"][row]
        text = self._pair_text(pair_id)
        if maker:
            order_id, account = columns["maker_order_id"][row], columns["maker_account"][row]
            quantity, filled = columns["maker_quantity"][row], columns["maker_filled_qty"][row]
            leaves = columns["maker_leaves_qty"][row]
            status = OrderStatus.FILLED if leaves == 0 else OrderStatus.PARTIALLY_FILLED
            side = Side.SELL if columns["side"][row] == Side.BUY else Side.BUY
            client_order_id, order_type, tif = 0, OrderType.LIMIT, TimeInForce.GTC
            reason, price = Reason.NONE, columns["price"][row]
        else:
            order_id, account = columns["order_id"][row], columns["account"][row]
            quantity, filled = columns["quantity"][row], columns["filled_qty"][row]
            leaves, status = columns["leaves_qty"][row], columns["order_status"][row]
            side, client_order_id = columns["side"][row], columns["client_order_id"][row]
            order_type, tif = columns["order_type"][row], columns["tif"][row]
            reason = columns["reason"][row]
            price = 0 if mode == 2 else columns["price"][row]
        fields = {
            "seq": columns["seq"][row], "ts": columns["timestamp_ns"][row],
            "status": _name(OrderStatus, status), "reason": _name(Reason, reason),
            "quantity": text.qty(quantity), "filled": text.qty(filled),
            "leaves": text.qty(leaves), "quantity_lots": quantity, "filled_lots": filled,
            "leaves_lots": leaves, "order_id": order_id, "pair": text.name, "pair_id": pair_id,
            "account": account, "client_order_id": client_order_id, "side": _name(Side, side),
            "type": _name(OrderType, order_type), "tif": _name(TimeInForce, tif),
            "price": text.price(price), "price_ticks": price,
        }
        message = dict(fields)
        if mode == 2:  # a fill does not know (or change) the taker's limit price
            del message["price"], message["price_ticks"]
        closed = "1" if status in _CLOSED else "0"
        return [str(mode), str(order_id), str(account), closed,
                json.dumps(message, separators=(",", ":"))] + [
                    str(fields[name]) for name in ORDER_FIELDS]

    def put_book(self, pair_id: int, seq: int, bids, asks) -> bool:
        text = self._pair_text(int(pair_id))
        if not isinstance(text, _PairText):
            raise UnknownPairError(pair_id)
        sides = {}
        for side_name, levels in (("bids", bids), ("asks", asks)):
            sides[side_name] = [
                [text.price(int(price)), text.qty(int(qty)), int(count), int(price), int(qty)]
                for price, qty, count in np.asarray(levels, dtype=np.int64).reshape(-1, 3).tolist()
            ]
        body = json.dumps({"pair": text.name, "seq": int(seq), **sides}, separators=(",", ":"))
        stored = self._put_book(keys=[self.key("book", text.name)],
                                args=[str(int(seq)), body, self.key("ch", "book", text.name)])
        return int(stored) == 1

    # -- readers --------------------------------------------------------------------------
    def last_seq(self) -> int:
        value = self.redis.get(self.prefix + "last_seq")
        return int(value) if value is not None else 0

    def candles(self, pair: int | str, interval: str, start_ms: int | None = None,
                end_ms: int | None = None, limit: int = DEFAULT_CANDLE_LIMIT) -> list[Candle]:
        ms = interval_ms(interval)
        found = self._pair(pair)
        if found is None or limit <= 0:
            return []
        index = self.key("candles", found.name, interval, "index")
        high = "+inf" if end_ms is None else int(end_ms)
        if start_ms is not None:
            starts = self.redis.zrangebyscore(index, int(start_ms), high, start=0, num=limit)
        else:
            starts = self.redis.zrevrangebyscore(index, high, "-inf", start=0, num=limit)[::-1]
        pipe = self.redis.pipeline(transaction=False)
        for start in starts:
            pipe.hmget(self.key("candle", found.name, interval, _text(start)), _CANDLE_FIELDS)
        result = []
        for values in pipe.execute():
            if values[0] is None:  # trimmed between the two round trips
                continue
            t, o, h, low, c, v, n, fs, ls = (int(value) for value in values)
            result.append(Candle(found.pair_id, ms, t, o, h, low, c, v, n, fs, ls))
        return result

    def trades(self, pair: int | str, limit: int = DEFAULT_TRADE_LIMIT) -> list[Trade]:
        found = self._pair(pair)
        if found is None or limit <= 0:
            return []
        rows = self.redis.lrange(self.key("trades", found.name), 0, limit - 1)
        result = []
        for row in rows:
            record = json.loads(row)
            result.append(Trade(found.pair_id, record["seq"], record["ts"], record["price_ticks"],
                                record["qty_lots"], Side[record["side"]],
                                record["taker_order_id"], record["maker_order_id"]))
        return result

    def order(self, order_id: int) -> OrderState | None:
        raw = self.redis.hgetall(self.key("order", int(order_id)))
        if not raw:
            return None
        fields = {_text(name): _text(value) for name, value in raw.items()}
        return OrderState(
            order_id=int(fields["order_id"]),
            pair_id=int(fields["pair_id"]),
            account=int(fields["account"]),
            client_order_id=int(fields["client_order_id"]),
            side=_value(Side, fields["side"]),
            order_type=_value(OrderType, fields["type"]),
            tif=_value(TimeInForce, fields["tif"]),
            status=OrderStatus(_value(OrderStatus, fields["status"])),
            reason=_value(Reason, fields["reason"]),
            price=int(fields["price_ticks"]),
            quantity=int(fields["quantity_lots"]),
            filled_qty=int(fields["filled_lots"]),
            leaves_qty=int(fields["leaves_lots"]),
            seq=int(fields["seq"]),
            timestamp_ns=int(fields["ts"]),
        )

    def book(self, pair: int | str, depth: int = 10) -> Book | None:
        found = self._pair(pair)
        if found is None:
            return None
        body = self.redis.hget(self.key("book", found.name), "levels")
        if body is None:
            return Book(0, [], [])
        record = json.loads(body)
        depth = max(0, depth)
        return Book(
            record["seq"],
            [(level[3], level[4], level[2]) for level in record["bids"][:depth]],
            [(level[3], level[4], level[2]) for level in record["asks"][:depth]],
        )

    def close(self) -> None:
        """The client belongs to the caller; nothing to release here."""
