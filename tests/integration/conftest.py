"""Integration tests: real namespaces, dnsmasq, dhclient, tcpdump and the reference DUT.

They need root and the lab's Debian packages; without them they are skipped with the reason.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import instance

HOST_FILES = (Path("/etc/hosts"), Path("/etc/resolv.conf"))
HOST_DIRS = (Path("/var/lib/dhcp"),)
LAB_PROGRAMS = ("dnsmasq", "dhclient", "tcpdump", "dhcplb")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = None
    if os.geteuid() != 0:
        reason = "integration tests need root (network namespaces): run them with sudo"
    else:
        for binary in ("ip", "dnsmasq", "dhclient", "tcpdump"):
            if shutil.which(binary) is None:
                reason = f"{binary} is missing: run sudo ./setup.sh --no-run"
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "absent"


def host_snapshot() -> dict[str, object]:
    """What a lab must leave exactly as it found it."""
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    # Zombies are left out: a killed daemon whose parent has exited waits for the host's
    # init to reap it (this VM's init does so every ~2 s), and no lab can reap a process
    # that isn't its child. Every live process counts.
    procs = subprocess.run(["ps", "-eo", "pid=,stat=,comm="], capture_output=True,
                           text=True).stdout
    files = {str(p): _digest(p) for p in HOST_FILES}
    for d in HOST_DIRS:
        if d.exists():
            for p in sorted(d.rglob("*")):
                files[str(p)] = _digest(p) if p.is_file() else "dir"
        else:
            files[str(d)] = "absent"
    return {
        "netns": sorted(line.split()[0] for line in netns.splitlines() if line.strip()),
        "links": sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines()),
        "procs": sorted(f"{pid} {comm}" for pid, stat, comm in
                        (line.split(None, 2) for line in procs.splitlines())
                        if comm.strip() in LAB_PROGRAMS and not stat.startswith("Z")),
        "files": files,
    }


def run_lab(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m lab ARGS`` as a user would run it, in a separate process."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=Path(__file__).parents[2])


_COUNTER = itertools.count(os.getpid() % 500)


@pytest.fixture
def lab_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A lab name unique to this test (and this pytest worker), removed afterwards."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").replace("gw", "")
    name = f"t{worker}{next(_COUNTER) % 1000:03d}"
    yield name
    instance.down(name)
