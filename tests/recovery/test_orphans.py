"""A supervisor killed with SIGKILL takes its children with it (no orphans left running)."""

from __future__ import annotations

import os
import signal
import time

from tests.support.recovery_harness import Server, base_env
from ringex.ring.segment import list_segments, remove_segment


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_children_die_with_a_killed_supervisor(tmp_path):
    prefix = f"rgxorph{os.getpid()}"
    server = Server(base_env(tmp_path, prefix), tmp_path, tmp_path / "serve.log")
    server.start()
    try:
        children = [pid for pids in server.pids().values() for pid in pids]
        assert len(children) >= 3, server.pids()  # embedded: journal, engine, market data
        assert all(_alive(pid) for pid in children)
        os.kill(server.process.pid, signal.SIGKILL)  # the supervisor alone, not its group
        server.process.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in children if _alive(pid)], server.tail()
    finally:
        try:
            os.killpg(server.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # nobody was left to unlink them: what `ringex shm rm` does after a tree crash
        for segment in list_segments(prefix):
            remove_segment(segment.name)
