"""``RedisMarketData``: the market-data projection in Redis (distributed mode).

The publisher process is the only writer. :meth:`RedisMarketData.apply` cuts its input into
batches of at most ``max_batch`` events; each batch is folded in compiled code
(``redis_fold``: one update per candle and per order), formatted (``redis_encode``; trades
and orders by the compiled ``redis_kernel``, straight into a RESP buffer that goes to the
socket as it is) and sent as ONE call of the Lua script (``redis_lua.APPLY_SCRIPT``), which
Redis runs atomically: candles, the recent-trades lists, order records, ``last_seq`` and the
pub/sub messages of a batch appear together or not at all. The calls of one ``apply`` are
pipelined on one connection (the next batch is folded while Redis runs the previous one), and
``apply`` returns only after every reply.

Each call carries the ``last_seq`` it expects to follow. The script writes nothing when Redis
holds another one, or when a candle ring (pair x interval) already holds a trade of the batch;
it answers ``stale`` and the client re-reads, re-folds and resends. So a batch is applied
exactly once and in order, even when an earlier pipelined call failed, and replays stay
harmless: the client skips every event at or below ``last_seq``, each ring skips trades at or
below the last trade seq it folded in, and an order record never goes back to an older seq.

Values are stored twice where people read them: decimal strings from the pair registry
(``price``, ``open``, ``volume``...) for humans and other consumers, and integer ticks/lots
(``price_ticks``, ``o``, ``v``...) for this class's readers, which never parse decimals.
Every key is listed in ``docs/redis-keys.md``.
"""

from __future__ import annotations

import json

import numpy as np
from redis.exceptions import NoScriptError, ResponseError

from ringex.errors import RingexError, UnknownPairError
from ringex.marketdata.interface import (
    DEFAULT_CANDLE_LIMIT,
    DEFAULT_TRADE_LIMIT,
    Book,
    Candle,
    OrderState,
    Trade,
    interval_ms,
)
from ringex.marketdata.redis_encode import ORDER_BUCKET, BatchEncoder, PairText
from ringex.marketdata.redis_lua import APPLY_SCRIPT, PUT_BOOK_SCRIPT
from ringex.pairs import Pair, PairRegistry
from ringex.records import (EVENT_DTYPE, EventKind, OrderStatus, OrderType, PairStatus, Reason,
                            Side, TimeInForce)

__all__ = ["RedisMarketData"]

_CANDLE_FIELDS = ("t", "o", "h", "l", "c", "v", "n", "fs", "ls")
_MAX_RETRIES = 8


def _value(enum_type, text) -> int:
    if isinstance(text, int):
        return text
    return int(enum_type[text]) if text in enum_type.__members__ else int(text)


_PAIR_STATUS_VALUES = frozenset(int(status) for status in PairStatus)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisMarketData:
    """The Redis implementation of :class:`~ringex.marketdata.interface.MarketDataStore`.

    ``redis_client`` is a ``redis.Redis`` (bytes or decoded responses both work).
    ``candles_kept``: candles per pair and interval (the last that many intervals).
    ``trades_kept``: trades per pair in the recent list. ``order_ttl_s``: how long a closed
    order (filled, canceled, rejected) stays readable; 0 keeps it forever. Open orders never
    expire. ``max_batch``: events per script call (a script blocks Redis while it runs; the
    fold conflates more in a bigger batch).
    """

    def __init__(self, redis_client, registry: PairRegistry, *, prefix: str = "ringex:",
                 candles_kept: int = 1440, trades_kept: int = 1000,
                 order_ttl_s: int = 86_400, max_batch: int = 2_048):
        if candles_kept < 1 or trades_kept < 1 or order_ttl_s < 0 or max_batch < 1:
            raise ValueError("candles_kept, trades_kept, max_batch >= 1; order_ttl_s >= 0")
        self.redis = redis_client
        self.registry = registry
        self.prefix = prefix
        self.candles_kept = candles_kept
        self.trades_kept = trades_kept
        self.order_ttl_s = order_ttl_s
        self.max_batch = max_batch
        self._encoder = BatchEncoder(registry, candles_kept, trades_kept, prefix)
        self._apply = redis_client.register_script(APPLY_SCRIPT)
        self._put_book = redis_client.register_script(PUT_BOOK_SCRIPT)
        self._head = [prefix.encode(), b"%d" % candles_kept, b"%d" % trades_kept,
                      b"%d" % order_ttl_s]
        self._applied = self.last_seq()

    # -- keys -----------------------------------------------------------------------------
    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(part) for part in parts)

    def _pair(self, pair: int | str) -> Pair | None:
        try:
            return self.registry.get(pair)
        except UnknownPairError:
            return None

    # -- writer ---------------------------------------------------------------------------
    def apply(self, events: np.ndarray) -> None:
        if events.dtype != EVENT_DTYPE:
            raise RingexError(f"expected EVENT_DTYPE records, got {events.dtype}")
        for _ in range(_MAX_RETRIES):
            events = np.ascontiguousarray(events[events["seq"] > self._applied])
            if events.shape[0] == 0 or self._send_batches(events):
                return
        raise RingexError("market data: Redis kept changing under the writer; is there a "
                          "second writer on this prefix?")

    def _send_batches(self, events: np.ndarray) -> bool:
        """Pipeline one script call per batch; True if all applied. False after a ``stale``
        answer or a missing script, with ``_applied`` and the floors refreshed."""
        connection = self.redis.connection_pool.get_connection()
        sent: list[tuple[int, list[int]]] = []  # (batch last seq, ring ids) awaiting a reply
        done = 0
        complete = True
        try:
            expected = self._applied
            for low in range(0, events.shape[0], self.max_batch):
                batch = events[low:low + self.max_batch]
                last = int(batch["seq"][-1])
                encoded = self._encoder.encode(batch)
                head = [b"EVALSHA", self._apply.sha.encode(), b"0", *self._head,
                        b"%d" % expected, b"%d" % last, encoded.rings.encode(),
                        encoded.candles.encode(), self._statuses(batch).encode(),
                        b"%d" % encoded.trade_groups, b"%d" % encoded.buckets,
                        b"%d" % encoded.accounts]
                packed = [b"*%d\r\n" % (len(head) + encoded.n_args)]
                for arg in head:
                    packed += (b"$%d\r\n" % len(arg), arg, b"\r\n")
                # the body is the encoder's buffer: sent before the next encode reuses it
                connection.send_packed_command([b"".join(packed), encoded.body])
                sent.append((last, encoded.ring_ids))
                expected = last
                if len(sent) - done > 1:  # keep one call in flight while folding the next
                    complete &= self._receive(connection, sent[done])
                    done += 1
            while done < len(sent):
                complete &= self._receive(connection, sent[done])
                done += 1
        except BaseException:
            connection.disconnect()  # unread replies must not reach the next caller
            self._applied = self.last_seq()
            raise
        finally:
            self.redis.connection_pool.release(connection)
        return complete

    def _receive(self, connection, sent: tuple[int, list[int]]) -> bool:
        last, ring_ids = sent
        try:
            reply = connection.read_response()
        except NoScriptError:
            self._apply.sha = self.redis.script_load(self._apply.script)  # the script it registered
            self._applied = self.last_seq()
            return False
        except ResponseError as error:
            if "NOSCRIPT" not in str(error):
                raise
            self._apply.sha = self.redis.script_load(self._apply.script)  # the script it registered
            self._applied = self.last_seq()
            return False
        if isinstance(reply, list):  # stale: nothing of this batch (or after it) was written
            self._applied = int(_text(reply[1]))
            for row, seq in zip(reply[2::2], reply[3::2]):
                self._encoder.raise_floor(ring_ids[int(row) - 1], int(_text(seq)))
            return False
        self._applied = int(_text(reply))
        return True

    def _statuses(self, batch: np.ndarray) -> str:
        """The apply script's ``statuses``: ``PAIR\tSTATUS\n`` per PAIR_STATUS event of a
        registered pair, in seq order (so the last one wins)."""
        changes = batch[batch["kind"] == EventKind.PAIR_STATUS]
        lines = []
        for pair_id, status in zip(changes["pair_id"].tolist(), changes["pair_status"].tolist()):
            if 0 <= pair_id < len(self.registry):
                name = PairStatus(status).name if status in _PAIR_STATUS_VALUES else str(status)
                lines.append(f"{self.registry.pairs[pair_id].name}\t{name}\n")
        return "".join(lines)

    def put_book(self, pair_id: int, seq: int, bids, asks) -> bool:
        text = self._encoder.text(int(pair_id))
        if not isinstance(text, PairText):
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

    def pair_status(self, pair: int | str) -> PairStatus | None:
        found = self._pair(pair)
        if found is None:
            return None
        value = self.redis.hget(self.prefix + "pair-status", found.name)
        if value is None:
            return PairStatus.TRADING
        text = _text(value)
        return PairStatus[text] if text in PairStatus.__members__ else int(text)

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
        order_id = int(order_id)
        bucket = order_id // ORDER_BUCKET
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(self.key("orders", bucket), order_id)
        pipe.zscore(self.key("orders", "closed"), f"{bucket}:{order_id}")
        pipe.time()
        raw, expires_ms, (seconds, micros) = pipe.execute()
        if raw is None or (expires_ms is not None and expires_ms <= seconds * 1000 + micros // 1000):
            return None  # never stored, or closed longer than order_ttl_s ago
        fields = json.loads(raw)
        return OrderState(
            order_id=fields["order_id"],
            pair_id=fields["pair_id"],
            account=fields["account"],
            client_order_id=fields["client_order_id"],
            side=_value(Side, fields["side"]),
            order_type=_value(OrderType, fields["type"]),
            tif=_value(TimeInForce, fields["tif"]),
            status=OrderStatus(_value(OrderStatus, fields["status"])),
            reason=_value(Reason, fields["reason"]),
            price=fields["price_ticks"],
            quantity=fields["quantity_lots"],
            filled_qty=fields["filled_lots"],
            leaves_qty=fields["leaves_lots"],
            seq=fields["seq"],
            timestamp_ns=fields["ts"],
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
