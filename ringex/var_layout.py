"""Every file and directory under the runtime root (``runtime.var_dir``), in one place.

Nothing else in ringex builds a path below ``var_dir``: it asks :class:`VarLayout`, as nothing
else computes a ring offset but ``ring/layout.py``. Each entry names its single writer::

    <var_dir>/
    ├── run/                        state of the running exchange on this host
    │   ├── serve.lock              held (flock) while `ringex serve` runs; its pid   supervisor
    │   ├── rings.json              segment names of this run           supervisor
    │   ├── journal.json            the run's journal base              supervisor
    │   ├── input-positions.json    positions the newest snapshot covers  engine
    │   ├── demo-key                the embedded demo API key (0600)    gateway process, at start
    │   ├── gateway-settings.json   settings for the gunicorn workers   gateway process, at start
    │   ├── gateway-prometheus/     the gateway workers' counters       gateway process (wipes)
    │   ├── gateway-orders/         order ids per account (embedded)    gateway workers
    │   └── prometheus/             the exchange children's counters    `ringex serve` (wipes)
    ├── journal/commands.journal    the embedded input journal          journal process
    ├── snapshots/                  engine snapshots (default of         engine (snapshot thread)
    │                               ``engine.snapshot_dir``)
    ├── kafka/, redis/              the development services            scripts/kafka.sh, redis.sh
    └── test-results/               junit.xml                           scripts/test.sh

``run/`` belongs to one host and one exchange at a time; the journal and the snapshots
outlive runs (recovery reads them). The shell scripts keep their own copies of the last two
rows, since they run before Python does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["VarLayout"]


@dataclass(frozen=True)
class VarLayout:
    """The paths of one runtime root; building one touches nothing on disk."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def serve_lock(self) -> Path:
        return self.run_dir / "serve.lock"

    @property
    def ring_names(self) -> Path:
        return self.run_dir / "rings.json"

    @property
    def journal_base(self) -> Path:
        return self.run_dir / "journal.json"

    @property
    def input_positions(self) -> Path:
        return self.run_dir / "input-positions.json"

    @property
    def demo_key(self) -> Path:
        return self.run_dir / "demo-key"

    @property
    def gateway_settings(self) -> Path:
        return self.run_dir / "gateway-settings.json"

    @property
    def gateway_prometheus(self) -> Path:
        return self.run_dir / "gateway-prometheus"

    @property
    def gateway_orders(self) -> Path:
        return self.run_dir / "gateway-orders"

    @property
    def prometheus(self) -> Path:
        return self.run_dir / "prometheus"

    @property
    def journal(self) -> Path:
        return self.root / "journal" / "commands.journal"

    @property
    def snapshots(self) -> Path:
        """The default snapshot directory; ``engine.snapshot_dir`` overrides it."""
        return self.root / "snapshots"
