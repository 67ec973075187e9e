"""Orders: place (single, batch, the original ``POST /order``), read, list, cancel, amend,
cancel-all.

A write answers 202 only after the sink made it durable in the sequencer (journal or
Kafka ``acks=all``); the matcher's verdict (accepted, rejected, fills) follows through market
data (``GET /orders/{id}``). An order of another account is a 404 and is never touched: the
gateway does not even send the cancel or amend. A closed order (filled, canceled, rejected)
cannot be canceled or amended: 409.
"""

from __future__ import annotations

import time

import falcon
import numpy as np

from ringex.errors import ValidationError
from ringex.records import OrderStatus

from gateway import requests as bodies
from gateway.access import RecentOrders, require_account
from gateway.http import path_order_id, query_int, read_body, send_json
from gateway.problems import Problem, bad_request, not_found, problem_body, unavailable
from gateway.sinks import SequencerUnavailable
from gateway.views import order_view, pending_order_view

__all__ = ["OrderDesk", "EnvelopeOrderResource", "OrdersResource", "BatchResource",
           "OrderResource"]

_OPEN = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
_CLOSED = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED})
_STATUS_FILTERS = {"open": _OPEN, "closed": _CLOSED,
                   **{s.name.lower(): frozenset({s}) for s in OrderStatus if s != 0}}
_KIND_NAMES = {1: "new", 2: "cancel", 3: "amend", 4: "cancel_all"}


class OrderDesk:
    """What every order resource shares: the sink, the owner checks, the bookkeeping."""

    def __init__(self, dependencies):
        self.sink = dependencies.order_sink
        self.market_data = dependencies.market_data
        self.registry = dependencies.registry
        self.settings = dependencies.settings
        self.account_orders = dependencies.account_orders
        self.metrics = dependencies.metrics
        self.recent = RecentOrders()

    @property
    def max_body(self) -> int:
        return self.settings.max_body_bytes

    def sequence(self, records: np.ndarray) -> list[int]:
        try:
            ids = self.sink.submit(records)
        except SequencerUnavailable as exc:
            self.metrics.unavailable.inc()
            raise unavailable(str(exc)) from None
        kinds = records["kind"].tolist()
        for kind in set(kinds):
            self.metrics.commands.labels(_KIND_NAMES.get(kind, str(kind))).inc(kinds.count(kind))
        return ids

    def placed(self, records: np.ndarray, ids: list[int], account: int) -> list[dict]:
        pair_ids = records["pair_id"].tolist()
        coids = records["client_order_id"].tolist()
        answers = []
        for order_id, pair_id, coid in zip(ids, pair_ids, coids):
            self.recent.add(order_id, account, pair_id)
            answers.append({"order_id": order_id, "pair": self.registry.pairs[pair_id].name,
                            "client_order_id": coid or None, "status": "RECEIVED"})
        if self.account_orders is not None:
            self.account_orders.record(account, ids)
        return answers

    def read_owned(self, account: int, order_id: int):
        """``(the account's order state or None, whether the store holds an order with this
        id at all)``. Several instances (``gateway.routing``) may hold one id more than once
        (ids that frame producers choose), so the reader is asked for the account's own."""
        try:
            return self.market_data.owned_order(order_id, account)
        except Exception:  # noqa: BLE001 - the store is down: say so, never 500
            raise Problem(503, "market data unavailable", "cannot read orders now",
                          field="market_data", headers={"Retry-After": "1"}) from None

    def owned(self, account: int, order_id: int):
        """``(pair_id, state or None)`` of the account's order; 404 for anyone else's."""
        state, exists = self.read_owned(account, order_id)
        if state is not None:
            return state.pair_id, state
        if exists:
            raise _no_such_order(order_id)
        recent = self.recent.get(order_id)
        if recent is None or recent[0] != account:
            raise _no_such_order(order_id)
        return recent[1], None


def _no_such_order(order_id: int) -> Problem:
    return not_found("order_id", f"no order {order_id} for this account")


def _refuse_closed(state) -> None:
    if state is not None and state.status in _CLOSED:
        raise Problem(409, "order closed", f"order {state.order_id} is "
                      f"{OrderStatus(state.status).name}", field="order_id")


def _place_one(desk: OrderDesk, req: falcon.Request, resp: falcon.Response, decode) -> None:
    """Decode one order body with ``decode`` (the envelope or the native shape), make it
    durable in the sequencer, and answer 202 with its id."""
    account = require_account(req)
    body = read_body(req, desk.max_body)
    record = decode(body, desk.registry, account, time.time_ns(), desk.max_body)
    ids = desk.sequence(record)
    send_json(resp, desk.placed(record, ids, account)[0], 202)


class EnvelopeOrderResource:
    """``POST /order``: the body ``{"pair","side","type","price","amount"[,"id"]}`` is the
    ``order`` of the envelope format (``{"action","order"}``, docs/wire-format.md)."""

    def __init__(self, desk: OrderDesk):
        self.desk = desk

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        _place_one(self.desk, req, resp, bodies.envelope_order)


class OrdersResource:
    """``POST /orders`` (place), ``GET /orders`` (list), ``DELETE /orders`` (cancel-all)."""

    def __init__(self, desk: OrderDesk):
        self.desk = desk

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        _place_one(self.desk, req, resp, bodies.native_order)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        account = require_account(req)
        desk = self.desk
        pair_id = None
        pair_name = req.get_param("pair")
        if pair_name:
            try:
                pair_id = desk.registry.get(pair_name).pair_id
            except ValidationError:
                raise bad_request("pair", f"unknown pair {pair_name[:40]!r}") from None
        status_text = (req.get_param("status") or "").lower()
        wanted = None
        if status_text:
            wanted = _STATUS_FILTERS.get(status_text)
            if wanted is None:
                choices = ", ".join(sorted(_STATUS_FILTERS))
                raise bad_request("status", f"{status_text[:40]!r} is not one of {choices}")
        limit = query_int(req, "limit", 100, 1, 1000)
        orders = []
        if desk.account_orders is not None:
            for order_id in desk.account_orders.recent(account, min(10 * limit, 10_000)):
                state, _ = desk.read_owned(account, order_id)
                if state is None:
                    continue
                if pair_id is not None and state.pair_id != pair_id:
                    continue
                if wanted is not None and state.status not in wanted:
                    continue
                orders.append(order_view(state, desk.registry))
                if len(orders) >= limit:
                    break
        send_json(resp, {"orders": orders})

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        account = require_account(req)
        desk = self.desk
        pair_name = req.get_param("pair") or None
        try:
            record = bodies.cancel_all(desk.registry, account, time.time_ns(), pair_name)
        except ValidationError as exc:
            raise bad_request("pair", exc.message) from None
        receipt = desk.sequence(record)[0]
        pair = None if pair_name is None else desk.registry.get(pair_name).name
        send_json(resp, {"cancel_all": "RECEIVED", "pair": pair, "receipt": receipt}, 202)


class BatchResource:
    """``POST /orders/batch``: ``{"orders": [...]}``, each answered on its own, in order."""

    def __init__(self, desk: OrderDesk):
        self.desk = desk

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        account = require_account(req)
        desk = self.desk
        body = read_body(req, desk.max_body)
        items = bodies.batch_items(body, desk.settings.max_batch_orders)
        records, good_index, errors = bodies.native_orders(items, desk.registry, account,
                                                           time.time_ns(), desk.max_body)
        results: list[dict | None] = [None] * len(items)
        for index, exc in errors.items():
            results[index] = {"status": 400, "error": problem_body(
                400, "invalid request", exc.message, exc.field)}
        if errors:
            desk.metrics.rejected.labels("invalid").inc(len(errors))
        if len(records):
            ids = desk.sequence(records)
            for index, answer in zip(good_index, desk.placed(records, ids, account)):
                results[index] = {"status": 202, "order": answer}
        send_json(resp, {"results": results,
                         "accepted": len(good_index), "rejected": len(items) - len(good_index)})


class OrderResource:
    """``GET``, ``DELETE`` (cancel) and ``PATCH`` (amend) ``/orders/{order_id}``."""

    def __init__(self, desk: OrderDesk):
        self.desk = desk

    def on_get(self, req: falcon.Request, resp: falcon.Response, order_id: str) -> None:
        account = require_account(req)
        desk = self.desk
        number = path_order_id(order_id)
        pair_id, state = desk.owned(account, number)
        view = (order_view(state, desk.registry) if state is not None
                else pending_order_view(number, pair_id, desk.registry))
        send_json(resp, view)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, order_id: str) -> None:
        account = require_account(req)
        desk = self.desk
        number = path_order_id(order_id)
        pair_id, state = desk.owned(account, number)
        _refuse_closed(state)
        record = bodies.cancel_order(desk.registry, account, time.time_ns(),
                                     pair_name=desk.registry.pairs[pair_id].name, order_id=number)
        receipt = desk.sequence(record)[0]
        send_json(resp, {"order_id": number, "cancel": "RECEIVED", "receipt": receipt}, 202)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, order_id: str) -> None:
        account = require_account(req)
        desk = self.desk
        number = path_order_id(order_id)
        body = read_body(req, desk.max_body)
        pair_id, state = desk.owned(account, number)
        _refuse_closed(state)
        record = bodies.amend_order(body, desk.registry, account, time.time_ns(), desk.max_body,
                                    pair_name=desk.registry.pairs[pair_id].name,
                                    order_id=number)
        receipt = desk.sequence(record)[0]
        send_json(resp, {"order_id": number, "amend": "RECEIVED", "receipt": receipt}, 202)
