"""nox sessions: one per scenario, plus unit tests and lint. Thin: each calls ``python -m lab``.

Sessions run in the project's own environment (made by setup.sh), so no virtualenv is built
or rebuilt per run. LAB_NAME and LAB_DUT_BIN pass through the environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

from lab import lima
from lab.defaults import MATRIX, SCENARIOS

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests", *MATRIX]
REPO = Path(__file__).resolve().parent


def _lab(session: nox.Session, *args: str) -> None:
    session.run(*lima.translate(list(args), repo=REPO, python=sys.executable), external=True)


def _scenario_session(name: str) -> None:
    @nox.session(name=name, venv_backend="none")
    def run(session: nox.Session) -> None:
        _lab(session, "scenario", name, *session.posargs)

    run.__doc__ = f"Scenario {name}: lab, capture, client, decode, compare with goldens/{name}.flow"


for _name in SCENARIOS:
    _scenario_session(_name)


@nox.session(venv_backend="none")
def matrix(session: nox.Session) -> None:
    """The four scenarios, each in its own lab, in parallel."""
    _lab(session, "scenario", *MATRIX, "--parallel", *session.posargs)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """Unit tests (no root needed)."""
    session.run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/unit",
                *session.posargs, external=True)


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """ruff and mypy (strict on the package)."""
    session.run(sys.executable, "-m", "ruff", "check", "lab", "tests", "tasks.py", "noxfile.py",
                external=True)
    session.run(sys.executable, "-m", "mypy", external=True)
