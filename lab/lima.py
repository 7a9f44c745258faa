"""Run the lab on macOS through a Lima VM: translate a local command into ``limactl shell``.

Network namespaces exist only on Linux. On macOS every task runs the same
``python -m lab ...`` command inside the VM defined in ``lima/dhcp-lab.yaml``, as root, from
the same checkout (Lima mounts the home directory). The translation is pure, so it is
unit-tested here even though the VM itself can't be started.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

INSTANCE = "dhcp-lab"
VM_PYTHON = ".venv/bin/python"
PASSED_ENV = ("LAB_NAME", "LAB_DUT_BIN", "LAB_RUN_ROOT", "LAB_FUZZ_EXAMPLES", "CI")


def needs_vm(system: str | None = None) -> bool:
    return (system or platform.system()) == "Darwin"


def translate(argv: Sequence[str], *, repo: Path, system: str | None = None,
              env: Mapping[str, str] | None = None, instance: str | None = None,
              python: str | None = None) -> list[str]:
    """``python -m lab ARGS`` here, or the same inside the Lima VM on macOS.

    ``argv`` is the lab's own argument list (after ``python -m lab``).
    """
    env = os.environ if env is None else env
    if not needs_vm(system):
        return [python or sys.executable, "-m", "lab", *argv]
    name = instance or env.get("LAB_LIMA_INSTANCE", INSTANCE)
    passed = [f"{k}={env[k]}" for k in PASSED_ENV if k in env]
    return ["limactl", "shell", "--workdir", str(repo), name,
            "sudo", "env", *passed, VM_PYTHON, "-m", "lab", *argv]


def describe(argv: Sequence[str]) -> str:
    return shlex.join(argv)
