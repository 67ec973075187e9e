"""What every child process of the supervisor does first."""

from __future__ import annotations

import logging
import signal

__all__ = ["child_setup", "log"]

log = logging.getLogger("ringex")


def child_setup(role: str, level: str = "info") -> logging.Logger:
    """Children ignore Ctrl-C (the supervisor owns shutdown and stops them in order, by
    draining their rings) and log structured lines tagged with their role."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format='{"ts":"%(asctime)s","level":"%(levelname)s","role":"%(name)s","msg":%(message)r}',
    )
    return logging.getLogger(f"ringex.{role}")
