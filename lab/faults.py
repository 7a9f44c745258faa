"""A test seam: named checkpoints where a test can freeze the lab to kill it deterministically.

``checkpoint(name)`` does nothing unless the environment variable ``LAB_PAUSE_AT`` equals
``name``. Then it writes ``LAB_PAUSE_FILE`` (the checkpoint name and this pid) and blocks
until a signal ends or interrupts the process. The robustness tests use it to SIGKILL,
SIGTERM or SIGINT ``up``, a capture or ``down`` at an exact point and check what is left.
Users never set these variables.

Checkpoints, in the order a lab's life passes them:
- ``up:state-saved``: state file written, nothing built yet
- ``up:netns-built``: namespaces, bridges and veths exist, no daemon started
- ``up:daemon-started``: the first daemon runs, the others don't yet
- ``up:ready``: every daemon serves, state not yet marked up
- ``capture:running``: tcpdump is recording
- ``down:killed-processes``: the lab's processes are gone, its namespaces not yet
- ``down:namespaces-deleted``: namespaces gone, run directory not yet
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

CHECKPOINTS = (
    "up:state-saved",
    "up:netns-built",
    "up:daemon-started",
    "up:ready",
    "capture:running",
    "down:killed-processes",
    "down:namespaces-deleted",
)


def checkpoint(name: str) -> None:
    """Block here forever when the test seam asks for ``name``; otherwise return at once."""
    assert name in CHECKPOINTS, name
    if os.environ.get("LAB_PAUSE_AT") != name:
        return
    marker = os.environ.get("LAB_PAUSE_FILE")
    if marker:
        tmp = Path(marker + ".tmp")
        tmp.write_text(f"{name} {os.getpid()}\n")
        os.replace(tmp, marker)
    while True:
        signal.pause()  # test seam: wait for the signal that kills or interrupts us
