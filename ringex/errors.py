"""The single exception hierarchy of ringex.

Compiled code never raises for bad input: the matcher turns bad commands into ``REJECTED``
events. Exceptions exist only at the Python edges (parsing, configuration, attaching to
shared memory), and every one of them derives from :class:`RingexError`.
"""

from __future__ import annotations

__all__ = [
    "RingexError",
    "ValidationError",
    "UnknownPairError",
    "ConfigError",
    "SnapshotError",
    "LayoutMismatchError",
    "StartupError",
]


class RingexError(Exception):
    """Base class of every error raised by ringex."""


class ValidationError(RingexError, ValueError):
    """Input failed validation. ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownPairError(ValidationError):
    """A pair name or id that the registry does not know."""

    def __init__(self, pair: object):
        super().__init__("pair", f"unknown pair {pair!r}")
        self.pair = pair


class ConfigError(RingexError, ValueError):
    """Configuration is invalid (unknown key, bad value)."""


class SnapshotError(RingexError):
    """A snapshot is corrupt, truncated or from an incompatible version."""


class LayoutMismatchError(RingexError):
    """A shared-memory segment does not match the layout the attaching process expects."""


class StartupError(RingexError):
    """``ringex serve`` cannot start here: a port in use, a runtime directory held by another
    instance, a service that does not answer. The message names the problem."""
