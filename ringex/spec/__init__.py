"""Specifications in plain Python: the oracles that the fast production code must equal.

Each module states one behaviour in code written to be read, not to be fast. The tests and the
benchmarks in ``perf/`` run the production path and the spec on the same input and require
the same bytes, records or state, so a fast wrong answer fails.

- :mod:`ringex.spec.matcher`: ``docs/matching.md``, the reference matcher
  (``ringex.ReferenceMatcher``) of the compiled engine (:mod:`ringex.engine`).
- :mod:`ringex.spec.json_events`: the ``trades`` and ``order-events`` JSON texts of
  :mod:`ringex.wire.json_events`.
- :mod:`ringex.spec.redis_encode` and :mod:`ringex.spec.redis_lua`: the Redis store's first
  batch encoder and apply script, for :mod:`ringex.marketdata.redis_encode` and
  :mod:`ringex.marketdata.redis_lua`.
- :mod:`ringex.spec.ohlcv`: the candle fold and window that both market-data stores must equal.
- :mod:`ringex.spec.order_status`: how events change an order's status in both stores.

The rule: production modules never import from ``ringex.spec``. Tests, ``perf/``,
:mod:`ringex.testing` and the lazy ``ringex.ReferenceMatcher`` export may. A spec may import
production vocabulary, constants and helpers outside what it specifies (records, pairs, units;
the Redis store's fold, bucket size and decimal cache), never the other way round.

The JSON command decoder's plain-Python version is not here: it runs in production as the
compiled decoder's fallback (:mod:`ringex.wire.json_commands_fallback`).
"""
