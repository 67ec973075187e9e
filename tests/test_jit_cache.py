"""numba's on-disk cache stays right when processes compile the same function at once.

Each test gets its own ``NUMBA_CACHE_DIR`` and a throwaway kernel module, and runs the
compiling processes as subprocesses (numba keys its cache on the module's file).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

KERNEL = textwrap.dedent("""
    import numba

    @numba.njit(cache=True)
    def total(values):
        return values.sum()
""")

# argv: guard|plain, start time, dtype names...; prints "dtype=sum" per dtype, or
# "dtype!error". With a start time, numba's index and data writes each first sleep 0.2 s:
# the windows (read index .. write index .. write data) that a loaded box opens wide.
RUNNER = textwrap.dedent("""
    import sys, time
    if float(sys.argv[2]):
        from numba.core import caching
        def slowed(write):
            def slow_write(self, *args):
                time.sleep(0.2)
                write(self, *args)
            return slow_write
        index_file = caching.IndexDataCacheFile
        index_file._save_index = slowed(index_file._save_index)
        index_file._save_data = slowed(index_file._save_data)
    if sys.argv[1] == "guard":
        from ringex import jit_cache
        jit_cache.install()
    start_at = float(sys.argv[2])
    import numpy as np
    import kernel
    while time.time() < start_at:
        time.sleep(0.001)
    for name in sys.argv[3:]:
        values = np.arange(1, 11).astype(name)
        try:
            print(f"{name}={int(kernel.total(values))}", flush=True)
        except Exception as exc:
            print(f"{name}!{exc}", flush=True)
    print(f"misses={sum(kernel.total.stats.cache_misses.values())}", file=sys.stderr)
""")

DTYPES = ["int8", "int16", "int32", "int64", "float32", "float64"]


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "kernel.py").write_text(KERNEL)
    (tmp_path / "runner.py").write_text(RUNNER)
    (tmp_path / "cache").mkdir()
    return tmp_path


def _start(workdir: Path, mode: str, dtypes, start_at: float = 0.0) -> subprocess.Popen:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(workdir / "cache"),
               PYTHONPATH=os.pathsep.join([str(workdir), str(REPO)]))
    return subprocess.Popen([sys.executable, str(workdir / "runner.py"), mode, str(start_at),
                             *dtypes], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _results(process: subprocess.Popen) -> dict[str, str]:
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err
    # "dtype=55", or "dtype!error text": either way the value after the first separator
    return dict(line.replace("!", "=", 1).split("=", 1) for line in out.splitlines())


def _run(workdir: Path, mode: str, dtypes) -> dict[str, str]:
    return _results(_start(workdir, mode, dtypes))


def _data_files(workdir: Path) -> list[Path]:
    return sorted((workdir / "cache").rglob("kernel.total-*.nbc"))


def test_a_cache_entry_holding_another_signature_is_recompiled_not_run(workdir):
    assert _run(workdir, "plain", ["int64", "float64"]) == {"int64": "55", "float64": "55"}
    first, second = _data_files(workdir)
    # what numba's unlocked save leaves behind when two processes save at once: the index
    # maps each signature to the other's machine code
    first_bytes = first.read_bytes()
    first.write_bytes(second.read_bytes())
    second.write_bytes(first_bytes)

    broken = _run(workdir, "plain", ["int64", "float64"])
    assert broken != {"int64": "55", "float64": "55"}, "the swap must break an unguarded load"
    assert _run(workdir, "guard", ["int64", "float64"]) == {"int64": "55", "float64": "55"}
    # the guarded run saved the right code over the bad entries: plain numba loads them now
    assert _run(workdir, "plain", ["int64", "float64"]) == {"int64": "55", "float64": "55"}


def test_processes_compiling_at_the_same_moment_leave_a_consistent_cache(workdir):
    # Without the guard this leaves a data file holding another signature's code in most
    # runs (it is a race, so no unguarded control here: the swap test above is the
    # deterministic proof that such a cache breaks plain numba).
    start_at = time.time() + 8  # after every process has imported numba
    rotations = [DTYPES[i:] + DTYPES[:i] for i in range(4)]
    processes = [_start(workdir, "guard", dtypes, start_at) for dtypes in rotations]
    for process in processes:
        assert _results(process) == {name: "55" for name in DTYPES}
    assert len(_data_files(workdir)) == len(DTYPES)
    # a process without the guard trusts the index: every entry must hold its own signature
    assert _run(workdir, "plain", DTYPES) == {name: "55" for name in DTYPES}


def test_one_process_compiles_what_several_need_at_once_and_the_others_load_it(workdir):
    start_at = time.time() + 8
    processes = [_start(workdir, "guard", ["int64"], start_at) for _ in range(3)]
    misses = []
    for process in processes:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
        assert out.split() == ["int64=55"]
        misses.append(int(err.rsplit("misses=", 1)[1].split()[0]))
    assert sorted(misses) == [0, 0, 1]
