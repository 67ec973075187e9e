"""The compile step of ``ringex serve`` (ringex/runtime/kernels.py) works for every
configuration serve accepts: any pair table, either mode (its throw-away exchange is always
embedded and trades inside the first pair's own band)."""

from __future__ import annotations

import io

from ringex.config import load_settings
from ringex.runtime.kernels import compile_kernels

_PAIRS = ('[[pairs]]\nname = "doge/usdt"\ntick_size = "0.00001"\nlot_size = "1"\n'
          'min_qty = "1"\nmax_qty = "1000000"\nprice_band = ["0.05", "0.5"]\n')


def test_the_compile_step_runs_for_any_pairs_in_either_mode(tmp_path):
    config = tmp_path / "pairs.toml"
    config.write_text(_PAIRS)
    for environ in ({}, {"RINGEX_KAFKA_BOOTSTRAP": "127.0.0.1:1",
                         "RINGEX_REDIS_URL": "redis://127.0.0.1:1/0"}):
        settings = load_settings(config, environ=environ)
        out = io.StringIO()
        report = compile_kernels(settings, out=out)
        stages = [stage["stage"] for stage in report["stages"]]
        assert stages[:3] == ["matcher", "engine loop", "market data"]
        assert ("kafka and redis wire" in stages) == (not settings.embedded)
        assert "ringex: kernels" in out.getvalue()
