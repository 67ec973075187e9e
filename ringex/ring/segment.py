"""Shared-memory segments: who creates them, who may unlink them, how stale ones are found.

Lifetime rules:

* Exactly one process, the **owner**, creates a segment (``O_EXCL``, mode 0600) and unlinks
  it. The owner registers the segment with ``multiprocessing.resource_tracker``, so the
  segment is also unlinked if the owner dies without cleaning up.
* Every other process **attaches**. An attacher must never unlink the segment, not on a clean
  exit and not on ``kill -9``. On Python 3.11 ``SharedMemory(name)`` registers an attached
  segment with the resource tracker, which unlinks it when the attacher exits (CPython
  gh-82300; ``track=False`` only arrives in 3.13). Unregistering afterwards is not enough
  when the attacher shares the owner's tracker (a ``spawn`` child does): the unregister
  would also erase the owner's registration. So an attacher here opens the segment with
  ``shm_open`` + ``mmap`` and never talks to the tracker at all.
* Names are ``<prefix>-<purpose>-<random>``; the prefix names the deployment, so
  ``ringex shm ls --prefix X`` sees only that deployment's rings.
"""

from __future__ import annotations

import dataclasses
import mmap
import os
import secrets
from multiprocessing import resource_tracker

import _posixshmem  # the module SharedMemory itself uses; public API lacks track=False < 3.13

__all__ = ["Segment", "segment_name", "list_segments", "remove_segment", "SHM_DIR",
           "DEFAULT_PREFIX"]

SHM_DIR = "/dev/shm"
DEFAULT_PREFIX = "ringex"
_MODE = 0o600


def segment_name(purpose: str, prefix: str = DEFAULT_PREFIX) -> str:
    """A fresh, unique segment name for ``purpose`` within deployment ``prefix``."""
    for part in (prefix, purpose):
        if not part or "/" in part or len(part) > 100:
            raise ValueError(f"bad segment name part {part!r}")
    return f"{prefix}-{purpose}-{os.getpid()}-{secrets.token_hex(4)}"


class Segment:
    """A mapped shared-memory block; ``owner`` says whether this process may unlink it."""

    def __init__(self, name: str, fd: int, size: int, owner: bool):
        self.name = name
        self.owner = owner
        self.size = size
        try:
            self._mmap = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.buf = memoryview(self._mmap)
        self._unlinked = False

    @classmethod
    def create(cls, name: str, size: int) -> "Segment":
        fd = _posixshmem.shm_open("/" + name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=_MODE)
        try:
            os.fchmod(fd, _MODE)  # whatever the umask says
            os.ftruncate(fd, size)
        except BaseException:
            os.close(fd)
            _posixshmem.shm_unlink("/" + name)
            raise
        resource_tracker.register("/" + name, "shared_memory")
        return cls(name, fd, size, owner=True)

    @classmethod
    def attach(cls, name: str) -> "Segment":
        fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0)
        try:
            size = os.fstat(fd).st_size
        except BaseException:
            os.close(fd)
            raise
        return cls(name, fd, size, owner=False)

    def close(self) -> None:
        """Unmap. Views into ``buf`` must be gone; if some survive, the GC unmaps later."""
        try:
            self.buf.release()
            self._mmap.close()
        except BufferError:
            pass

    def unlink(self) -> None:
        """Owner only: remove the name; mapped peers keep their memory until they unmap."""
        if not self.owner:
            raise PermissionError(f"segment {self.name!r} is attached, not owned: never unlink")
        if not self._unlinked:
            self._unlinked = True
            _posixshmem.shm_unlink("/" + self.name)
            resource_tracker.unregister("/" + self.name, "shared_memory")


@dataclasses.dataclass(frozen=True)
class SegmentInfo:
    name: str
    size: int
    mode: int
    owner_pid: int  # 0 when neither the header nor the name names one
    owner_alive: bool

    @property
    def stale(self) -> bool:
        return not self.owner_alive


def _creator_pid(name: str) -> int:
    """The pid :func:`segment_name` put in the name (``<prefix>-<purpose>-<pid>-<token>``)."""
    parts = name.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0


def list_segments(prefix: str = DEFAULT_PREFIX) -> list[SegmentInfo]:
    """Segments named ``<prefix>-*``, with their owner and whether it still runs.

    A ring names its owner (pid and start time) in its header. Other segments (the stats
    table, the market-data store) have no ring header; their owner is the creator pid in the
    name, alive only if that process started before the segment was made (pid reuse)."""
    from ringex.ring import layout, peers  # local: keep segment.py free of ring concepts

    found = []
    for entry in sorted(os.listdir(SHM_DIR)):
        if not entry.startswith(prefix + "-"):
            continue
        path = os.path.join(SHM_DIR, entry)
        try:
            stat = os.stat(path)
            with open(path, "rb") as f:
                head = f.read(2 * layout.CACHE_LINE)
        except OSError:
            continue
        owner_pid, owner_start = 0, 0
        if len(head) == 2 * layout.CACHE_LINE:
            cells = memoryview(head).cast("q")
            if cells[layout.MAGIC_CELL] == layout.MAGIC:
                owner_pid, owner_start = cells[layout.OWNER_PID], cells[layout.OWNER_START]
        if owner_pid > 0:
            alive = peers.is_alive(owner_pid, owner_start)
        else:
            owner_pid = _creator_pid(entry)
            alive = owner_pid > 0 and peers.started_before(owner_pid, stat.st_mtime)
        found.append(SegmentInfo(entry, stat.st_size, stat.st_mode & 0o777, owner_pid, alive))
    return found


def remove_segment(name: str) -> None:
    """Unlink a (stale) segment by name, as an operator would with ``ringex shm rm``."""
    _posixshmem.shm_unlink("/" + name)
