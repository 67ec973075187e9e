"""The compiled Redis protocol against the first one (the oracle), byte for byte.

``ringex.spec.redis_encode`` + ``ringex.spec.redis_lua`` are the store's first encoder and apply
script, in plain Python and pattern-matching Lua. The store now formats trades and orders in
``redis_kernel`` and sends them one argument per value. Two pins:

* the texts: every order row (mode, bucket, id, account, closed, seq, JSON) and trade JSON of
  the kernel equals the reference encoder's, on venue streams and on hostile events (unknown
  pairs, unnamed enum codes, negative and huge quantities);
* the effect: the same event streams applied through both protocols (small and large batches,
  replays, a lost ``last_seq``, id reuse, trimmed trade lists) leave the same keys and values
  and publish the same messages in the same order.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.marketdata.marketdata_streams import make_registry, venue_events
from ringex.marketdata.redis_encode import BatchEncoder
from ringex.marketdata.redis_store import RedisMarketData
from ringex.records import EVENT_DTYPE, EventKind, Reason
from ringex.spec import redis_encode as R
from ringex.spec import redis_lua as redis_lua_spec
from ringex.testing.synthetic_events import synthetic_mix, synthetic_trades


# -- the texts ---------------------------------------------------------------------------------
def _split_resp(body: bytes) -> list[bytes]:
    args, at = [], 0
    while at < len(body):
        assert body[at:at + 1] == b"$"
        end = body.index(b"\r\n", at)
        length = int(body[at + 1:end])
        args.append(body[end + 2:end + 2 + length])
        assert body[end + 2 + length:end + 4 + length] == b"\r\n"
        at = end + 4 + length
    return args


def _kernel_rows(encoder: BatchEncoder, events: np.ndarray):
    """(trade groups as (pair, message, kept JSONs), order rows, accounts) of one batch."""
    encoded = encoder.encode(events)
    args = _split_resp(bytes(encoded.body))
    assert len(args) == encoded.n_args
    at, groups = 0, []
    for _ in range(encoded.trade_groups):
        pair, message, k = args[at], args[at + 1], int(args[at + 2])
        groups.append((pair, message, args[at + 3:at + 3 + k]))
        at += 3 + k
    rows = []
    for _ in range(encoded.buckets):
        bucket, meta = args[at], args[at + 1]
        n = len(meta) // 8
        ids, texts = args[at + 2:at + 2 + n], args[at + 2 + n:at + 2 + 2 * n]
        for i in range(n):
            flags, group, seq_at, digits = (meta[8 * i], int.from_bytes(meta[8 * i + 1:8 * i + 4]),
                                            int.from_bytes(meta[8 * i + 4:8 * i + 7]),
                                            meta[8 * i + 7])
            text = texts[i]
            assert text[seq_at:seq_at + 7] == b',"seq":'
            seq = text[seq_at + 7:seq_at + 7 + digits]
            assert text[seq_at + 7 + digits:seq_at + 13 + digits] == b',"ts":'
            rows.append((b"%d" % (flags % 4), bucket, ids[i], b"%d" % (flags // 4), seq, group,
                         text))
        at += 2 + 2 * n
    first_rows = args[at]
    at += 1
    accounts = []
    for g in range(encoded.accounts):
        channel, message = args[at], args[at + 1]
        account = channel.removeprefix(encoder.prefix.encode() + b"ch:orders:")
        accounts.append((account, int.from_bytes(first_rows[3 * g:3 * g + 3]), message))
        at += 2
    assert at == len(args)
    return encoded, groups, rows, accounts


def _reference_rows(encoder: R.BatchEncoder, events: np.ndarray):
    _, strings = encoder.encode(events)
    rings, candles, trade_meta, trade_json, order_meta, order_json = strings
    trades, at = [], 0
    for line in trade_meta.splitlines():
        pair, length = line.split("\t")
        trades.append((pair, trade_json[at:at + int(length)]))
        at += int(length)
    orders, at = [], 0
    for line in order_meta.splitlines():
        mode, bucket, oid, account, closed, seq, length = line.split("\t")
        orders.append((mode, bucket, oid, account, closed, seq, order_json[at:at + int(length)]))
        at += int(length)
    return rings, candles, trades, orders


def _assert_same_texts(registry, events: np.ndarray, trades_kept: int = 1000) -> None:
    kernel = BatchEncoder(registry, 30, trades_kept, "p:")
    reference = R.BatchEncoder(registry, 30)
    encoded, groups, rows, accounts = _kernel_rows(kernel, events)
    rings, candles, trades, orders = _reference_rows(reference, events)
    assert (encoded.rings, encoded.candles) == (rings, candles)
    # trades: grouped by pair in order of first trade, seq order inside
    expected_groups: dict[str, list[str]] = {}
    for pair, text in trades:
        expected_groups.setdefault(pair, []).append(text)
    assert [g[0].decode() for g in groups] == list(expected_groups)
    for (pair, message, kept), texts in zip(groups, expected_groups.values()):
        assert message.decode() == "[" + ",".join(texts) + "]"
        assert [t.decode() for t in kept] == texts[-trades_kept:]
    # orders: the same rows in the same order
    assert [(m.decode(), b.decode(), i.decode(), c.decode(), s.decode(), t.decode())
            for m, b, i, c, s, _, t in rows] == [
        (mode, bucket, oid, closed, seq, text)
        for mode, bucket, oid, _, closed, seq, text in orders]
    # accounts: in order of first row; each row names its account's group
    first_rows: dict[str, int] = {}
    for index, (_, _, _, account, _, _, _) in enumerate(orders, start=1):
        first_rows.setdefault(account, index)
    assert [(a.decode(), first) for a, first, _ in accounts] == list(first_rows.items())
    for (account, _, message) in accounts:
        texts = [o[6] for o in orders if o[3] == account.decode()]
        assert message.decode() == "[" + ",".join(texts) + "]"
    for row, order in zip(rows, orders):
        assert accounts[row[5] - 1][0].decode() == order[3]


def _hostile(registry, n: int, seed: int) -> np.ndarray:
    """Rejected commands and trades with unknown pairs, unnamed enum codes, negative and
    extreme values: the corners of the formatting."""
    rng = np.random.default_rng(seed)
    events = np.zeros(n, dtype=EVENT_DTYPE)
    events["seq"] = np.arange(1, n + 1)
    events["kind"] = rng.choice([EventKind.REJECTED, EventKind.TRADE, EventKind.ACCEPTED], n)
    events["pair_id"] = rng.choice([0, 1, 2, 3, 99, -1, 32767], n)
    events["order_id"] = rng.integers(1, 5_000, n)
    events["maker_order_id"] = rng.integers(1, 5_000, n)
    events["account"] = rng.integers(-3, 40, n)
    events["maker_account"] = rng.integers(1, 40, n)
    events["client_order_id"] = rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64)
    events["side"] = rng.choice([1, 2, 0, 7, 255], n)
    events["order_type"] = rng.choice([1, 2, 0, 9], n)
    events["tif"] = rng.choice([1, 2, 3, 0, 200], n)
    events["order_status"] = rng.choice([1, 2, 3, 4, 5, 0, 77], n)
    events["reason"] = rng.choice([int(Reason.NONE), int(Reason.NOT_OWNER), 250], n)
    big = np.array([0, 1, -1, -2**63, 2**63 - 1, 10**18, 5, 123456789], dtype=np.int64)
    for field in ("price", "quantity", "filled_qty", "leaves_qty", "trade_qty",
                  "maker_quantity", "maker_filled_qty", "maker_leaves_qty"):
        events[field] = rng.choice(big, n)
    events["timestamp_ns"] = rng.integers(0, 2**62, n)
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kernel_writes_the_reference_texts(seed):
    registry = make_registry()
    events = venue_events(registry, seed=seed, batches=6)
    for low in range(0, len(events), 512):
        _assert_same_texts(registry, events[low:low + 512])
    _assert_same_texts(registry, synthetic_mix(3_000, seed=seed, pairs=3))


def test_hostile_values_are_formatted_as_the_reference_does():
    registry = make_registry()
    for seed in range(4):
        _assert_same_texts(registry, _hostile(registry, 400, seed))


def test_only_the_kept_trades_are_sent_and_the_message_has_all():
    registry = make_registry()
    _assert_same_texts(registry, synthetic_trades(900, seed=2), trades_kept=7)


# -- the effect --------------------------------------------------------------------------------
class _ReferenceStore(RedisMarketData):
    """The store as it was: reference encoder, reference script, redis-py packing."""

    def __init__(self, redis_client, registry, **options):
        super().__init__(redis_client, registry, **options)
        self._encoder = R.BatchEncoder(registry, self.candles_kept)
        self._apply = redis_client.register_script(redis_lua_spec.APPLY_SCRIPT)
        self._head = [self.prefix, str(self.candles_kept), str(self.trades_kept),
                      str(self.order_ttl_s)]

    def _send_batches(self, events: np.ndarray) -> bool:
        connection = self.redis.connection_pool.get_connection()
        sent, done, complete = [], 0, True
        try:
            expected = self._applied
            for low in range(0, events.shape[0], self.max_batch):
                batch = events[low:low + self.max_batch]
                last = int(batch["seq"][-1])
                ring_ids, strings = self._encoder.encode(batch)
                connection.send_command("EVALSHA", self._apply.sha, 0, *self._head,
                                        str(expected), str(last), *strings,
                                        self._statuses(batch))
                sent.append((last, ring_ids))
                expected = last
                if len(sent) - done > 1:
                    complete &= self._receive(connection, sent[done])
                    done += 1
            while done < len(sent):
                complete &= self._receive(connection, sent[done])
                done += 1
        except BaseException:
            connection.disconnect()
            self._applied = self.last_seq()
            raise
        finally:
            self.redis.connection_pool.release(connection)
        return complete


class _Messages:
    """Every message published under a prefix, in order, with the prefix cut off."""

    def __init__(self, client, prefix: str):
        self.prefix = prefix
        self.pubsub = client.pubsub()
        self.pubsub.psubscribe(prefix + "ch:*")
        assert self.pubsub.get_message(timeout=2)["type"] == "psubscribe"
        self.received: list[tuple[str, bytes]] = []

    def drain(self) -> list[tuple[str, bytes]]:
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 0.3:
            message = self.pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == "pmessage":
                self.received.append((message["channel"].decode()[len(self.prefix):],
                                      message["data"]))
                quiet_since = time.monotonic()
        self.pubsub.close()
        return self.received


def _snapshot(client, prefix: str) -> dict:
    """Every key under ``prefix``: its type and content (``orders:closed`` sorted by member:
    its scores are expiry times from the Redis clock, compared with a tolerance)."""
    state = {}
    for raw in client.scan_iter(prefix + "*", count=1_000):
        key = raw.decode()[len(prefix):]
        kind = client.type(raw).decode()
        if kind == "string":
            value = client.get(raw)
        elif kind == "hash":
            value = client.hgetall(raw)
        elif kind == "list":
            value = client.lrange(raw, 0, -1)
        elif kind == "zset":
            pairs = client.zrange(raw, 0, -1, withscores=True)
            value = sorted(pairs) if key == "orders:closed" else pairs
        else:
            raise AssertionError(f"unexpected {kind} at {key}")
        state[key] = (kind, value)
    return state


def _run_both(redis_client, prefix: str, steps, **options):
    """Apply ``steps`` (callables taking a store) to a reference and a current store on two
    prefixes; return both snapshots and message logs."""
    registry = make_registry()
    results = []
    for name, store_type in (("ref", _ReferenceStore), ("new", RedisMarketData)):
        store_prefix = f"{prefix}{name}:"
        messages = _Messages(redis_client, store_prefix)
        store = store_type(redis_client, registry, prefix=store_prefix, **options)
        for step in steps:
            step(store)
        results.append((_snapshot(redis_client, store_prefix), messages.drain()))
    return results


def _assert_same(results) -> None:
    (ref_state, ref_messages), (new_state, new_messages) = results
    assert sorted(new_state) == sorted(ref_state)
    for key in ref_state:
        if key == "orders:closed":
            # expiry = the Redis clock at the write + order_ttl_s; the two stores wrote a
            # moment apart (rounding to 10 s flaked when the runs straddled a boundary)
            (kind, got), (_, want) = new_state[key], ref_state[key]
            assert kind == "zset" and [m for m, _ in got] == [m for m, _ in want], key
            assert all(abs(a - b) <= 60_000 for (_, a), (_, b) in zip(got, want)), key
            continue
        assert new_state[key] == ref_state[key], key
    assert len(new_messages) == len(ref_messages)
    for got, want in zip(new_messages, ref_messages):
        assert got == want


@pytest.mark.redis
@pytest.mark.parametrize("max_batch", [97, 2_048])
def test_both_protocols_leave_the_same_data_and_messages(redis_client, redis_prefix, max_batch):
    registry = make_registry()
    events = venue_events(registry, seed=21, batches=8)
    half = len(events) // 2

    def lose_last_seq(store):  # the replay guards: rings and order seqs, not last_seq
        store.redis.delete(store.prefix + "last_seq")
        store._applied = 0

    steps = [
        lambda store: store.apply(events[:half]),
        lambda store: store.apply(events[:half]),  # a replay: nothing changes, nothing sent
        lose_last_seq,
        lambda store: store.apply(events),  # stale rings, older order seqs, then the rest
    ]
    _assert_same(_run_both(redis_client, redis_prefix, steps, candles_kept=30,
                           trades_kept=25, order_ttl_s=600, max_batch=max_batch))


@pytest.mark.redis
def test_both_protocols_agree_on_big_buckets_and_long_trade_lists(redis_client, redis_prefix):
    """Over 1,000 orders in a bucket and over 1,000 trades of a pair in one call (the
    script's chunked HMGET, HSET and LPUSH), closed orders without expiry, and fills of
    records the batch did not create."""
    trades = synthetic_trades(4_000, seed=3)
    mix = synthetic_mix(6_000, seed=4)
    mix["seq"] += 4_000
    steps = [lambda store: store.apply(trades), lambda store: store.apply(mix)]
    _assert_same(_run_both(redis_client, redis_prefix, steps, candles_kept=1_440,
                           trades_kept=1_500, order_ttl_s=0, max_batch=4_096))


@pytest.mark.redis
def test_both_protocols_agree_on_hostile_events(redis_client, redis_prefix):
    registry = make_registry()
    events = _hostile(registry, 600, 9)
    # trades feed candles: sane times, prices and sizes (volumes are summed in int64)
    events["timestamp_ns"] = 1_700_000_000_000_000_000 + events["seq"] * 1_000_000
    trade = events["kind"] == EventKind.TRADE
    events["price"] = np.where(trade, 1 + np.abs(events["price"] % 1_000), events["price"])
    events["trade_qty"] = np.where(trade, 1 + np.abs(events["trade_qty"] % 100), 0)
    steps = [lambda store: store.apply(events)]
    _assert_same(_run_both(redis_client, redis_prefix, steps, candles_kept=30,
                           trades_kept=10, order_ttl_s=600, max_batch=128))
