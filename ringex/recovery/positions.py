"""Where the bridges read `orders` from: the positions the engine's newest snapshot covers.

The engine process is the only writer of ``<var>/run/input-positions.json``: once when it has
recovered (the positions of the snapshot it loaded, ``{}`` without one), then after every
snapshot it has made durable. Bridges read it:

* on start, to seek every partition to ``positions[p]`` (the ``positions`` offset policy);
  the engine drops what it already applied, so rewinding is always safe, never lossy;
* while running, to commit exactly those offsets to the consumer group (``covered`` commit
  policy): a committed offset is always covered by a snapshot on disk.

The file names the inbound ring of the run and the engine's pid, so a bridge never acts on
the file of an engine that is gone. The supervisor deletes it before it starts an engine.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ringex.var_layout import VarLayout

__all__ = ["positions_path", "write_positions", "read_positions", "wait_positions"]


def positions_path(var_dir: str | os.PathLike) -> Path:
    return VarLayout(var_dir).input_positions


def write_positions(var_dir, *, run: str, engine_pid: int, kafka: dict[int, int],
                    journal: int, last_seq: int) -> None:
    path = positions_path(var_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({
        "run": run, "engine_pid": engine_pid, "journal": journal, "last_seq": last_seq,
        "kafka": {str(p): int(o) for p, o in sorted(kafka.items())}}))
    os.replace(temporary, path)


def read_positions(var_dir, *, run: str) -> dict | None:
    """The file's content if it belongs to ``run`` (the inbound ring's name), else None."""
    try:
        content = json.loads(positions_path(var_dir).read_text())
    except (FileNotFoundError, ValueError):
        return None
    if content.get("run") != run:
        return None
    content["kafka"] = {int(p): int(o) for p, o in content.get("kafka", {}).items()}
    return content


def wait_positions(var_dir, *, run: str, timeout: float, should_stop=lambda: False,
                   poll: float = 0.1) -> dict | None:
    """Wait (bounded) until the running engine has published its recovered positions."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not should_stop():
        content = read_positions(var_dir, run=run)
        if content is not None:
            return content
        time.sleep(poll)
    return None
