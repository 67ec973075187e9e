"""The compiled order book: numba functions over preallocated arrays, no IO, no clock.

Modules, one idea each:

- ``state``    -- the arrays that hold the whole book (:class:`BookState`) and their allocation;
- ``index``    -- open-addressing hash indexes (order id -> slot, (account, client id) -> slot);
- ``client_ids`` -- reserved client order ids: live ones, and the FIFO window of done ones;
- ``orders``   -- the order pool: a row for a resting order, and freeing it;
- ``levels``   -- price levels: FIFO queues, the occupancy bitmap and best-price search;
- ``emit``     -- writing event records;
- ``process``  -- the batch entry point: commands in order, their events appended;
- ``handlers`` -- one function per command kind: validation, cancel, amend, cancel-all, status;
- ``matching`` -- price-time matching of one incoming order against the opposite side;
- ``inspect``  -- read-only walks: canonical state words, invariants, L2 depth;
- ``restore``  -- a book rebuilt from its canonical words (the inverse of ``inspect``).

The engine process is the single writer of every array here.
"""
