"""Recovery: snapshots on disk and the engine's input positions.

* :mod:`ringex.recovery.snapshots`: ``SnapshotStore``, atomic snapshot files in
  ``<var>/snapshots`` (temp file, fsync, rename, fsync of the directory), the last N kept,
  the newest *valid* one loaded (a corrupt, partial or incompatible file is reported and set
  aside, and the previous one is used).
* :mod:`ringex.recovery.positions`: the small JSON file through which the engine tells the
  bridges where to read `orders` from (the positions its newest snapshot covers).

The protocol as a whole is described in ``docs/recovery.md``.
"""

from ringex.recovery.snapshots import Recovered, SnapshotStore

__all__ = ["SnapshotStore", "Recovered"]
