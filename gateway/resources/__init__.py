"""One module per idea: ``orders`` (place, read, list, cancel, amend), ``marketdata`` (book,
candles, trades), ``pairs``, ``service`` (health, metrics, OpenAPI)."""
