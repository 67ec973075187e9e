"""The running exchange: processes wired by shared-memory rings.

```
 producers (Kafka bridges, or gateway workers / `ringex submit` in embedded mode)
        │ claim / publish (multi-producer)
 [inbound ring: COMMAND_DTYPE] ──► journal (embedded mode only) ──► engine
                                                                      │ the only writer of the book
                       [outbound ring: EVENT_DTYPE]  ◄────────────────┤
                       [book ring: BOOK_DTYPE, conflated L2] ◄────────┘
                          │                     │
                  Kafka publisher        market-data publisher (Redis, or shared memory)
```

Modules: ``booksnap`` (the L2 snapshot record), ``engine_loop`` (the compiled
consume → match → publish loop), ``engine_process``, ``journal``, ``marketdata_process``,
``topology`` (ring names, slots and sizes per mode), ``supervisor``, ``rebuild_redis`` (the
``ringex rebuild-redis`` tool: `order-events` replayed into Redis).
"""
