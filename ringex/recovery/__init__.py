"""Recovery: the engine's snapshots and its input positions.

A snapshot is the book's canonical state plus the input positions it covers. Each of its
four parts has one owner:

* the state as words and back: :func:`ringex.book.inspect.canonical_words` and
  :func:`ringex.book.restore.load_canonical` (compiled, in the book);
* the file format: :mod:`ringex.snapshot` (magic, version, pairs, words, ``meta``, BLAKE2b
  checksum); it stays below the engine because ``MatchingEngine.snapshot`` uses it;
* the store: :mod:`ringex.recovery.snapshots`, ``SnapshotStore``: atomic files in
  ``<var>/snapshots`` (temp file, fsync, rename, fsync of the directory), the last N kept,
  the newest *valid* one loaded (a corrupt, partial or incompatible file is reported and set
  aside, and the previous one is used);
* the policy and the writer thread: :mod:`ringex.recovery.snapshotter`, ``Snapshotter``:
  when one is due, the copy that pauses matching, the write behind it, and the input
  positions as the snapshot's ``meta["inputs"]``.

:mod:`ringex.recovery.positions` is the small JSON file through which the engine tells the
bridges where to read `orders` from (the positions its newest snapshot covers).

The protocol as a whole is described in ``docs/recovery.md``.
"""

from ringex.recovery.snapshots import Recovered, SnapshotStore

__all__ = ["SnapshotStore", "Recovered"]
