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
CAPTURES_DIR = REPO_ROOT / "captures"

# How long a daemon may take to bind its port, and a client to get a lease.
READY_TIMEOUT_S = 10.0
CLIENT_TIMEOUT_S = 20


def run_root() -> Path:
    """Where every lab keeps its run directory (state, configs, logs, leases, pids)."""
    return Path(os.environ.get("LAB_RUN_ROOT", "/run/dhcp-lab"))


def lab_name(explicit: str | None = None) -> str:
    """The lab instance: --name wins, then LAB_NAME, then the one default."""
    return explicit or os.environ.get("LAB_NAME") or DEFAULT_NAME


def dut_bin(explicit: str | None = None) -> str | None:
    """A real dhcplb binary for the DUT slot: --dut-bin wins, then LAB_DUT_BIN."""
    return explicit or os.environ.get("LAB_DUT_BIN") or None
