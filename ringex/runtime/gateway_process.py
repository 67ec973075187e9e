"""The gateway child of ``ringex serve``: gunicorn running ``gateway.app:get_app()``.

``gateway_main(settings, names)`` runs in a process the supervisor spawned. It writes the
settings for the workers (:attr:`VarLayout.gateway_settings`, mode 0600: it may hold API
keys), prepares the Prometheus multi-process directory, and then *execs* gunicorn with the
config module ``gateway.gunicorn_config``, so the supervisor's child is the gunicorn master
itself: its SIGTERM is gunicorn's graceful shutdown, and its workers open their ring or Kafka
producer after the fork (``post_fork``).

The runtime names the gateway only by module path: the ``gateway`` package depends on
``ringex``, never the reverse.

Embedded mode with no ``gateway.api_keys`` gets one demo key, printed at start-up and kept in
:attr:`VarLayout.demo_key` (the same key on every start over that directory); it maps to
``runtime.default_account``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path

from ringex.config import SETTINGS_FILE_ENV, Settings, settings_to_json
from ringex.runtime.process_common import child_setup
from ringex.runtime.topology import RingNames
from ringex.var_layout import VarLayout

__all__ = ["gateway_main", "gunicorn_command", "prepare_environment", "ensure_demo_key",
           "GUNICORN_CONFIG", "GATEWAY_APP"]

#: What gunicorn imports, by module path.
GUNICORN_CONFIG = "python:gateway.gunicorn_config"
GATEWAY_APP = "gateway.app:get_app()"


def _write_private(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(temporary, path)


def ensure_demo_key(settings: Settings) -> str | None:
    """The demo key of an embedded exchange without configured keys: the one this runtime
    directory already has, else a new one. A restart keeps the key its clients hold."""
    if settings.gateway.api_keys or not settings.embedded:
        return None
    path = VarLayout(settings.runtime.var_dir).demo_key
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if not key.startswith("demo-"):
        key = f"demo-{secrets.token_urlsafe(18)}"
        _write_private(path, key + "\n")
    return key


def prepare_environment(settings: Settings) -> dict[str, str]:
    layout = VarLayout(Path(settings.runtime.var_dir).resolve())
    _write_private(layout.gateway_settings, settings_to_json(settings))
    metrics_dir = layout.gateway_prometheus
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    environ = dict(os.environ)
    environ[SETTINGS_FILE_ENV] = str(layout.gateway_settings)
    environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return environ


def gunicorn_command(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "gunicorn",
            "--config", GUNICORN_CONFIG,
            "--bind", settings.gateway.bind,
            "--workers", str(settings.gateway.workers),
            GATEWAY_APP]


def gateway_main(settings: Settings, names: RingNames) -> None:
    logger = child_setup("gateway", settings.runtime.log_level)
    key = ensure_demo_key(settings)
    if key is not None:
        account = settings.runtime.default_account
        print(f"ringex gateway demo API key (account {account}): {key}", flush=True)
        logger.info("demo API key for account %d written to %s", account,
                    VarLayout(settings.runtime.var_dir).demo_key)
    environ = prepare_environment(settings)
    command = gunicorn_command(settings)
    logger.info("gateway on http://%s with %d workers (%s mode)", settings.gateway.bind,
                settings.gateway.workers, "embedded" if names.embedded else "distributed")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, environ)
