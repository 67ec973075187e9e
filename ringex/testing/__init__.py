"""Test support shared by the test suite and the benchmarks; never imported by the engine.

- :mod:`ringex.testing.matchers`: factories for every matcher that must obey docs/matching.md.
- :mod:`ringex.testing.checks`: what every event stream must satisfy, whichever matcher made it.
- :mod:`ringex.testing.live_orders`: the live orders, followed from events alone.
- :mod:`ringex.testing.generator`: seeded, realistic random command streams.
- :mod:`ringex.testing.synthetic_events`: seeded event streams for market data, built without
  a matcher.
"""
