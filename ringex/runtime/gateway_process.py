"""The gateway child of ``ringex serve``: gunicorn running ``gateway.app:get_app()``.

``gateway_main(settings, names)`` runs in a process the supervisor spawned. It writes the
settings to ``<var>/run/gateway-settings.json`` (mode 0600: it may hold API keys), prepares
the Prometheus multi-process directory, and then *execs* gunicorn with
``gateway/gunicorn.conf.py``, so the supervisor's child is the gunicorn master itself: its
SIGTERM is gunicorn's graceful shutdown, and its workers open their ring or Kafka producer
after the fork (``post_fork``).

Embedded mode with no ``gateway.api_keys`` gets one demo key, printed at start-up and written
to ``<var>/run/demo-key``; it maps to ``runtime.default_account``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path

from ringex.config import Settings
from ringex.runtime.process_common import child_setup
from ringex.runtime.topology import RingNames

__all__ = ["gateway_main", "gunicorn_command", "prepare_environment", "ensure_demo_key"]


def ensure_demo_key(settings: Settings) -> str | None:
    """The demo key of an embedded exchange without configured keys (new on each start)."""
    if settings.gateway.api_keys or not settings.embedded:
        return None
    from gateway.wiring import demo_key_path

    key = f"demo-{secrets.token_urlsafe(18)}"
    path = demo_key_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    os.replace(temporary, path)
    return key


def prepare_environment(settings: Settings) -> dict[str, str]:
    from gateway.wiring import SETTINGS_FILE_ENV, settings_to_json

    run = Path(settings.runtime.var_dir).resolve() / "run"
    run.mkdir(parents=True, exist_ok=True)
    settings_file = run / "gateway-settings.json"
    fd = os.open(settings_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(settings_to_json(settings))
    metrics_dir = run / "gateway-prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    environ = dict(os.environ)
    environ[SETTINGS_FILE_ENV] = str(settings_file)
    environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return environ


def gunicorn_command(settings: Settings) -> list[str]:
    import gateway

    package_dir = Path(gateway.__file__).resolve().parent
    return [sys.executable, "-m", "gunicorn",
            "--config", str(package_dir / "gunicorn.conf.py"),
            "--pythonpath", str(package_dir.parent),
            "--bind", settings.gateway.bind,
            "--workers", str(settings.gateway.workers),
            "gateway.app:get_app()"]


def gateway_main(settings: Settings, names: RingNames) -> None:
    logger = child_setup("gateway", settings.runtime.log_level)
    key = ensure_demo_key(settings)
    if key is not None:
        account = settings.runtime.default_account
        print(f"ringex gateway demo API key (account {account}): {key}", flush=True)
        logger.info("demo API key for account %d written to %s/run/demo-key", account,
                    settings.runtime.var_dir)
    environ = prepare_environment(settings)
    command = gunicorn_command(settings)
    logger.info("gateway on http://%s with %d workers (%s mode)", settings.gateway.bind,
                settings.gateway.workers, "embedded" if names.embedded else "distributed")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, environ)
