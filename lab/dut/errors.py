"""Errors of the device under test. Each renders as one line; the CLI never shows a traceback."""

from __future__ import annotations

from lab.errors import LabError, StateError, UsageError


class ConfigError(UsageError):
    """A bad config value. The message starts with the key path, e.g. ``v4.port: ...``."""


class LeaseFileError(StateError):
    """The lease file (or the server DUID file) exists but can't be read or parsed."""


class SocketError(LabError):
    """A socket could not be created or bound."""


class Malformed(Exception):
    """A received packet is truncated or malformed. Counted, logged and dropped, never raised
    out of a packet handler's caller."""
