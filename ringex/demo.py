"""``ringex demo``: a scripted trading session on the embedded default pairs, in-process.

It shows the whole path a user cares about without any service: decimal strings converted
exactly to ticks and lots, price-time matching, IOC, FOK, post-only, self-trade prevention,
amend and cancel, and the resulting events and book, then checks the invariants and prints
the state hash (run it twice: the hash is the same).
"""

from __future__ import annotations

from ringex.commands import amend, cancel, new, pack
from ringex.engine import MatchingEngine
from ringex.pairs import default_pairs
from ringex.records import EventKind, OrderType, Reason, Side, StpMode, TimeInForce

__all__ = ["run_demo"]


def run_demo() -> int:
    registry = default_pairs()
    btc = registry.get("BTC/USDT")
    px, qty = btc.price_to_ticks, btc.qty_to_lots
    alice, bob, carol = 1, 2, 3
    session = pack([
        new(1, alice, Side.SELL, px("65000.00"), qty("0.50000")),
        new(2, alice, Side.SELL, px("65000.50"), qty("0.25000")),
        new(3, carol, Side.SELL, px("65000.00"), qty("0.10000")),
        new(4, bob, Side.BUY, px("65000.00"), qty("0.55000")),          # fills 1 then 3
        new(5, bob, Side.BUY, px("64999.00"), qty("1.00000"), post_only=True),
        new(6, carol, Side.SELL, px("64999.00"), qty("0.20000"), post_only=True),  # would take
        new(7, bob, Side.BUY, 0, qty("0.30000"), type=OrderType.MARKET, tif=TimeInForce.IOC),
        new(8, alice, Side.BUY, px("65001.00"), qty("0.10000"), tif=TimeInForce.FOK),
        new(9, bob, Side.SELL, px("64999.00"), qty("0.20000"), stp=StpMode.EXPIRE_TAKER),
        amend(5, bob, px("64999.00"), qty("0.40000")),                   # keeps priority
        cancel(5, carol),                                                # not hers
        new(10, carol, Side.SELL, px("65002.00"), qty("0.30000")),
        new(11, alice, Side.BUY, px("64998.50"), qty("0.75000"), client_order_id=42),
        cancel(0, alice, client_order_id=42),                            # by her own id
    ])
    engine = MatchingEngine(registry.pairs, order_capacity=1024)
    events = engine.process(session)
    for event in events:
        pair = registry.get(int(event["pair_id"]))
        kind = EventKind(event["kind"]).name
        line = f"{int(event['seq']):>3} {kind:<13} order {int(event['order_id']):>2}"
        if event["kind"] == EventKind.TRADE:
            line += (f"  {pair.lots_to_qty(int(event['trade_qty']))} @ "
                     f"{pair.ticks_to_price(int(event['price']))} against order "
                     f"{int(event['maker_order_id'])}")
        elif event["kind"] in (EventKind.REJECTED, EventKind.CANCELED, EventKind.AMENDED):
            line += f"  {Reason(event['reason']).name.lower()}"
            line += f"  leaves {pair.lots_to_qty(int(event['leaves_qty']))}"
        print(line)
    bids, asks = engine.depth(btc.pair_id, 5)
    print("book BTC-USDT")
    for price, lots, count in reversed(asks):
        print(f"   ask {btc.ticks_to_price(price):>10} {btc.lots_to_qty(lots):>9} ({count})")
    for price, lots, count in bids:
        print(f"   bid {btc.ticks_to_price(price):>10} {btc.lots_to_qty(lots):>9} ({count})")
    engine.check_invariants()
    print(f"invariants hold; state hash {engine.state_hash()}")
    return 0
