"""`ringex serve` refuses a start that cannot work: one line naming the problem, exit 2, no
child started and nothing restarted (ringex/runtime/preflight.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from ringex.config import load_settings
from ringex.errors import StartupError
from ringex.runtime import preflight
from ringex.runtime.gateway_process import ensure_demo_key

_START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(var_dir, *flags, environ=None):
    """Run `ringex serve` to its exit; returns (exit code, stderr lines, seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGEX_")}
    env.update(RINGEX_RUNTIME_METRICS_PORT="0", **(environ or {}))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ringex.cli", "serve", "--var-dir",
                           str(var_dir), *flags], env=env, capture_output=True, text=True,
                          timeout=_START_TIMEOUT_S)
    return done.returncode, done.stderr.strip().splitlines(), time.monotonic() - started


def test_a_port_in_use_stops_serve_at_once_with_one_line(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"127.0.0.1:{holder.getsockname()[1]}"
        code, lines, _ = _serve(tmp_path / "var", "--bind", address)
    assert code == 2
    assert lines == [f"ringex: gateway.bind {address}: address already in use (another ringex "
                     "serve or another server?); choose a free one"]
    assert not (tmp_path / "var" / "run" / "rings.json").exists()  # nothing was started


def test_a_runtime_directory_held_by_another_instance_is_refused(tmp_path):
    var_dir = tmp_path / "var"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from ringex.runtime.preflight import hold_var_dir
        lock = hold_var_dir({str(var_dir)!r})
        print("held", flush=True)
        sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, lines, _ = _serve(var_dir, "--bind", f"127.0.0.1:{_free_port()}")
        assert code == 2
        assert lines == [f"ringex: runtime directory {var_dir} is in use by another ringex "
                         f"serve (pid {holder.pid}); stop it, or give this one its own "
                         "--var-dir"]
    finally:
        holder.stdin.close()
        holder.wait(10)
    # the holder is gone: the kernel dropped its lock, so the directory is free again
    preflight.hold_var_dir(var_dir).close()


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    lock = preflight.hold_var_dir(tmp_path)
    try:
        with pytest.raises(StartupError, match=f"pid {os.getpid()}"):
            preflight.hold_var_dir(tmp_path)
    finally:
        lock.close()


def test_services_that_do_not_answer_are_named(tmp_path):
    closed = _free_port()
    code, lines, seconds = _serve(tmp_path / "var", "--kafka", f"127.0.0.1:{closed}",
                                  "--redis", f"redis://127.0.0.1:{closed}/0", "--no-gateway")
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"ringex: Redis at redis://127.0.0.1:{closed}/0 does not answer")
    assert seconds < _START_TIMEOUT_S


@pytest.mark.redis
def test_a_kafka_that_does_not_answer_is_named(tmp_path, redis_url):
    closed = _free_port()
    code, lines, _ = _serve(tmp_path / "var", "--kafka", f"127.0.0.1:{closed}",
                            "--redis", redis_url, "--no-gateway")
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"ringex: Kafka at 127.0.0.1:{closed} does not answer")


def test_the_demo_key_is_stable_across_starts_of_one_runtime_directory(tmp_path):
    settings = load_settings(environ={"RINGEX_RUNTIME_VAR_DIR": str(tmp_path)})
    first = ensure_demo_key(settings)
    assert first.startswith("demo-")
    assert ensure_demo_key(settings) == first
    assert oct((tmp_path / "run" / "demo-key").stat().st_mode & 0o777) == "0o600"
    other = load_settings(environ={"RINGEX_RUNTIME_VAR_DIR": str(tmp_path / "other")})
    assert ensure_demo_key(other) != first
