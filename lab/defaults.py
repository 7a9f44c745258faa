"""Every default of the lab, in one place. Entry points read these; nothing else hard-codes them."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_NAME = "lab"
MODES = ("relay", "server")
FAMILIES = (4, 6)
SCENARIOS = ("relay_v4", "relay_v6", "server_v4", "server_v6", "relay_v6_rapid", "server_v6_rapid")
MATRIX = ("relay_v4", "relay_v6", "server_v4", "server_v6")

REPO_ROOT = Path(__file__).resolve().parent.parent
GOLDENS_DIR = REPO_ROOT / "goldens"
# $LAB_CAPTURES_DIR moves capture runs elsewhere (the robustness tests keep the repo clean).
CAPTURES_DIR = Path(os.environ.get("LAB_CAPTURES_DIR") or REPO_ROOT / "captures")

# How long a daemon may take to bind its port, and a client to get a lease.
READY_TIMEOUT_S = 10.0
CLIENT_TIMEOUT_S = 20
# How long up/down wait for another process that is changing the same lab.
LOCK_TIMEOUT_S = 60.0


def run_root() -> Path:
    """Where every lab keeps its run directory (state, configs, logs, leases, pids)."""
    return Path(os.environ.get("LAB_RUN_ROOT", "/run/dhcp-lab"))


def lab_name(explicit: str | None = None) -> str:
    """The lab instance: --name wins, then LAB_NAME, then the one default."""
    return explicit or os.environ.get("LAB_NAME") or DEFAULT_NAME


def dut_bin(explicit: str | None = None) -> str | None:
    """A real dhcplb binary for the DUT slot: --dut-bin wins, then LAB_DUT_BIN."""
    return explicit or os.environ.get("LAB_DUT_BIN") or None


def lock_timeout() -> float:
    """Seconds to wait for a busy lab: $LAB_LOCK_TIMEOUT, else LOCK_TIMEOUT_S."""
    try:
        return float(os.environ.get("LAB_LOCK_TIMEOUT", LOCK_TIMEOUT_S))
    except ValueError:
        return LOCK_TIMEOUT_S


def keep_runs() -> int:
    """How many capture runs to keep per scenario ($LAB_KEEP_RUNS, 0 keeps all)."""
    try:
        return max(0, int(os.environ.get("LAB_KEEP_RUNS", "20")))
    except ValueError:
        return 20
