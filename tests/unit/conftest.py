"""Unit tests run without root and never start a real process."""

from __future__ import annotations

import subprocess

import pytest


class _Blocked(subprocess.Popen):  # type: ignore[type-arg]
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"unit tests must not run subprocesses: {args!r}")


@pytest.fixture(autouse=True)
def _no_subprocesses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "Popen", _Blocked)
