"""The compiled order book: numba functions over preallocated arrays, no IO, no clock.

Modules, one idea each:

- ``state``   -- the arrays that hold the whole book (:class:`BookState`) and their allocation;
- ``index``   -- open-addressing hash indexes (order id -> slot, (account, client id) -> slot);
- ``client_ids`` -- reserved client order ids: live ones, and the FIFO window of done ones;
- ``levels``  -- price levels: FIFO queues, the occupancy bitmap and best-price search;
- ``emit``    -- writing event records;
- ``matcher`` -- the command loop: validation, matching, cancel, amend, cancel-all, status;
- ``inspect`` -- read-only walks: canonical state words, invariants, L2 depth.

The engine process is the single writer of every array here.
"""
