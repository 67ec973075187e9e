"""kill -9 of attached peers, and the lifetime rules of segments.

Forbidden outcomes: an attacher (dying or exiting cleanly) unlinks the segment; the owner
cannot tell that a peer died; the survivors cannot carry on.
"""

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.ring.ring_workers import (STRESS_DTYPE, Peer, claim_and_hang_main,
                                     consume_then_hang_main, python_consumer_main)

from ringex.ring import Ring, wait
from ringex.ring.segment import SHM_DIR, list_segments

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]


def _kill(peer):
    os.kill(peer.pid, signal.SIGKILL)
    peer.runner.join(10)
    assert peer.runner.exitcode == -signal.SIGKILL


def test_segment_is_owner_only(make_ring):
    ring = make_ring()
    assert stat.S_IMODE(os.stat(os.path.join(SHM_DIR, ring.name)).st_mode) == 0o600


def test_an_attacher_that_exits_or_is_killed_leaves_the_segment(make_ring, spawn):
    ring = make_ring(capacity=16)
    path = os.path.join(SHM_DIR, ring.name)
    code = ("from ringex.ring import Ring; from tests.ring.ring_workers import STRESS_DTYPE; "
            "r = Ring.attach(%r, STRESS_DTYPE); r.consumer(0).close(); r.close()") % ring.name
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30,  # own resource tracker
                   cwd=REPO)  # `-c` puts the cwd first on sys.path: ringex and tests from here
    assert os.path.exists(path)
    peer = Peer("process", consume_then_hang_main, ring.name, 0, 0, ctx=spawn)  # shared tracker
    peer.result()
    _kill(peer)
    assert os.path.exists(path)


def test_killed_consumer_is_detected_and_its_slot_taken_over(make_ring, spawn):
    ring = make_ring(capacity=16)
    producer = ring.producer()
    records = np.zeros(16, STRESS_DTYPE)
    records["counter"] = np.arange(16)
    producer.write(records)
    peer = Peer("process", consume_then_hang_main, ring.name, 0, 10, ctx=spawn)
    _, consumed, pid = peer.result()
    assert consumed == 10
    assert [(p.role, p.slot, p.alive) for p in ring.dead_peers()] == []
    _kill(peer)
    assert [(p.role, p.slot, p.pid) for p in ring.dead_peers()] == [("consumer", 0, pid)]
    # the survivors carry on: a new consumer takes the dead one's slot and position
    replacement = Peer("process", python_consumer_main, ring.name, 0, [], 20.0, ctx=spawn)
    producer.write(records[:4])
    ring.drain()
    _, slot, status, counters = replacement.result()
    replacement.join()
    assert status == wait.ALERTED and counters == list(range(10, 16)) + [0, 1, 2, 3]


def test_killed_producer_with_a_claim_is_detected_and_its_slots_filled(make_ring, spawn):
    ring = make_ring(capacity=16, producers=2, multi_producer=True)
    consumer = ring.consumer(0)
    peer = Peer("process", claim_and_hang_main, ring.name, ctx=spawn)
    _, low, high, pid = peer.result()
    assert (low, high) == (0, 1)
    ours = np.zeros(3, STRESS_DTYPE)
    ours["counter"] = [7, 8, 9]
    ring.producer().write(ours)  # sequences 2..4, stuck behind the claim
    assert consumer.wait(timeout=0.2) is None and consumer.last_status == wait.TIMED_OUT
    _kill(peer)
    assert [(p.role, p.pid) for p in ring.dead_peers()] == [("producer", pid)]
    assert ring.fill_unpublished(grace=0.1) == [0, 1]
    batch = consumer.wait(timeout=1)
    assert (batch.low, batch.high) == (0, 4)
    assert batch.views[0]["counter"].tolist() == [0, 0, 7, 8, 9]
    assert not batch.views[0][:2].tobytes().strip(b"\0")  # the dead claim reads as zeros


def test_shm_ls_reports_stale_segments_and_rm_removes_only_them(make_ring, spawn, capsys):
    from ringex.ring.cli import main

    live = make_ring()
    code = ("import os; from ringex.ring import Ring; from ringex.records import EVENT_DTYPE; "
            "r = Ring.create(EVENT_DTYPE, 8, prefix='ringex-clitest'); print(r.name, flush=True); "
            "os.kill(os.getpid(), 9)")
    # the child's resource tracker would unlink on its death; kill -9 the whole group instead
    proc = subprocess.run(["setsid", sys.executable, "-c",
                           code.replace("os.kill(os.getpid(), 9)", "os.killpg(0, 9)")],
                          capture_output=True, text=True, timeout=30)
    stale = proc.stdout.split()[0]
    try:
        names = {info.name: info for info in list_segments("ringex-clitest")}
        assert names[stale].stale and names[stale].mode == 0o600
        assert main(["shm", "ls", "--prefix", "ringex-clitest"]) == 0
        assert stale in capsys.readouterr().out
        assert main(["shm", "ls", "--prefix", "ringex"]) == 0
        listing = capsys.readouterr().out
        assert live.name in listing and "live" in listing
        assert main(["shm", "rm", live.name]) == 1  # its owner (this process) runs
        assert main(["shm", "rm", "--prefix", "ringex-clitest"]) == 0
        assert not os.path.exists(os.path.join(SHM_DIR, stale))
        assert os.path.exists(os.path.join(SHM_DIR, live.name))
    finally:
        if os.path.exists(os.path.join(SHM_DIR, stale)):
            os.unlink(os.path.join(SHM_DIR, stale))


def test_shm_ls_tells_live_from_stale_for_segments_without_a_ring_header(capsys):
    """The stats table and the market-data store have no ring header: their owner is the
    creator pid in the name. A running exchange's segments are live and rm refuses them."""
    from ringex.ring.cli import main
    from ringex.ring.segment import Segment, segment_name

    prefix = f"ringex-lstest{os.getpid()}"
    live = Segment.create(segment_name("stats", prefix), 4096)
    dead = f"{prefix}-marketdata-999999999-0badc0de"  # above pid_max: never a process
    with open(os.path.join(SHM_DIR, dead), "wb") as f:
        f.write(b"\0" * 4096)
    try:
        info = {i.name: i for i in list_segments(prefix)}
        assert info[live.name].owner_pid == os.getpid() and not info[live.name].stale
        assert info[dead].stale
        assert main(["shm", "ls", "--prefix", prefix, "--stale"]) == 0
        listing = capsys.readouterr().out
        assert dead in listing and live.name not in listing
        assert main(["shm", "rm", "--prefix", prefix]) == 0  # every stale one: only `dead`
        assert main(["shm", "rm", "--prefix", prefix, live.name]) == 1
        assert os.path.exists(os.path.join(SHM_DIR, live.name))
        assert not os.path.exists(os.path.join(SHM_DIR, dead))
    finally:
        live.close()
        live.unlink()
        if os.path.exists(os.path.join(SHM_DIR, dead)):
            os.unlink(os.path.join(SHM_DIR, dead))
