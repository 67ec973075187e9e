"""Compile (or load from numba's on-disk cache) the compiled paths before they are timed.

numba compiles a function on its first call and, with ``cache=True``, writes the result next
to the module (``__pycache__``). A cold cache costs tens of seconds per kernel (the JSON
event encoder alone about 20–80 s on a busy 2-core box), which would otherwise land inside the
first batch of a publisher, the first poll of a bridge, or a timed test. ``warm()`` calls each
kernel once on a tiny input; ``python -m ringex.warmup [--pipeline]`` does it for the whole
package (``--pipeline`` also compiles what ``ringex serve`` compiles before its children start,
:mod:`ringex.runtime.kernels`, and runs a tiny embedded ``ringex serve`` whose processes then
load their kernels; the test script and the Dockerfile run it), and each long-lived process
warms what it uses before it reports ready.
"""

from __future__ import annotations

import json
import time

__all__ = ["warm"]


def warm_pipeline(timeout: float = 600.0) -> None:
    """An embedded ``ringex serve`` in a temporary directory, a few orders through it, and a
    clean stop: every process compiles (or loads) its own kernels once: the rings, the
    journal, the engine loop, the market-data fold and store."""
    import os
    import signal
    import subprocess
    import sys
    import tempfile

    from ringex import commands as cmd
    from ringex.records import Side
    from ringex.runtime.submit import InboundClient
    from ringex.var_layout import VarLayout

    with tempfile.TemporaryDirectory(prefix="ringex-warmup-") as var_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RINGEX_")}
        env.update(RINGEX_RUNTIME_VAR_DIR=var_dir, RINGEX_RUNTIME_METRICS_PORT="0",
                   RINGEX_RUNTIME_SEGMENT_PREFIX=f"rgxwarm{os.getpid()}",
                   RINGEX_GATEWAY_ENABLED="false")
        server = subprocess.Popen([sys.executable, "-m", "ringex.cli", "serve"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        try:
            while not VarLayout(var_dir).ring_names.exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("warm-up serve did not come up")
                time.sleep(0.1)
            client = InboundClient(var_dir, timeout=timeout)
            orders = cmd.pack([cmd.new(0, 1, Side.SELL, 6_500_000, 2),
                               cmd.new(0, 2, Side.BUY, 6_500_000, 1)])
            client.submit(orders)
            client.close()
            from ringex.marketdata.shm_store import SharedMemoryMarketData
            from ringex.pairs import default_pairs
            from ringex.runtime.topology import read_ring_names

            store = SharedMemoryMarketData.attach(read_ring_names(var_dir).marketdata,
                                                  default_pairs())
            try:
                while store.last_seq() < 3:  # accepted, accepted, trade
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("warm-up orders did not reach the market data")
                    time.sleep(0.1)
            finally:
                store.close()
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
            try:
                output, _ = server.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
                output, _ = server.communicate()
        if server.returncode != 0:
            raise RuntimeError(f"warm-up serve exited {server.returncode}: {output[-3000:]}")


def warm(registry=None, *, pipeline: bool = False) -> float:
    """Every compiled path a process of this package may use; returns the seconds it took."""
    from ringex.kafka.warm import warm_wire
    from ringex.pairs import default_pairs
    from ringex.runtime.kernels import warm_matcher, warm_redis_fold

    registry = registry or default_pairs()
    started = time.perf_counter()
    warm_matcher(registry)
    warm_wire(registry)
    warm_redis_fold(registry)
    if pipeline:
        from ringex.config import load_settings
        from ringex.runtime.kernels import compile_kernels

        # what `ringex serve` compiles before its children start, gateway included, here in
        # this process; the embedded serve below then loads it all
        compile_kernels(load_settings(environ={}))
        warm_pipeline()
    return time.perf_counter() - started


if __name__ == "__main__":
    import sys

    print(json.dumps({"warmup_seconds": round(warm(pipeline="--pipeline" in sys.argv), 2)}))
