"""Capture a lab's DHCP traffic: tcpdump on every bridge port, behind a barrier.

tcpdump runs with ``-i any`` inside the lab's switch namespace, so it sees exactly this
lab's ports and bridges (never another lab's), writing Linux cooked v2 frames that carry
the interface index and direction. Readiness and drain are proved with a marker datagram
sent on the switch namespace's loopback: capture has started once the marker is in the
file, and everything before the stop marker is in the file once that marker is.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lab import defaults, faults, ifmap, netns, preflight, proc
from lab.errors import DaemonError
from lab.topology import Topology

FILTER = "udp and (port 67 or port 68 or port 546 or port 547 or (port 9 and host 127.0.0.1))"
MARKER_PORT = 9  # discard: never a DHCP port, so the decoder skips markers
# Immediate mode makes libpcap use a TPACKET_V2 ring of snaplen-sized slots: with the default
# snaplen (256 KiB) a 2 MiB ring holds 8 frames, and one DHCP exchange on a bridge is ~30.
# Lab links have a 1500-byte MTU, so 2048 bytes keeps every frame whole in a ring of 4096.
SNAPLEN = 2048
BUFFER_KIB = 8192


@dataclass(frozen=True)
class CaptureRun:
    """One capture run's directory. Fields: dir, pcap, ifmap, log (tcpdump's own)."""

    dir: Path

    @property
    def pcap(self) -> Path:
        return self.dir / "capture.pcap"

    @property
    def ifmap(self) -> Path:
        return self.dir / "ifmap.json"

    @property
    def log(self) -> Path:
        return self.dir / "tcpdump.log"


def new_run(scenario: str, lab: str, root: Path | None = None) -> CaptureRun:
    """captures/<scenario>/<run>/ with a ``latest`` pointer next to it."""
    base = (root or defaults.CAPTURES_DIR) / scenario
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"
    run = base / f"{stamp}-{lab}-{os.getpid()}"
    run.mkdir(parents=True, exist_ok=False)
    prune(base, defaults.keep_runs())
    latest = base / "latest"
    tmp = base / f".latest.{os.getpid()}.{secrets.token_hex(4)}"  # unique per thread too
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run.name)
    os.replace(tmp, latest)
    return CaptureRun(run)


RUN_NAME = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[a-z0-9-]+-\d+$")


def prune(base: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` run directories of one scenario (0 keeps all).

    Only directories named like a run are touched; names sort by their UTC time stamp.
    """
    if keep <= 0:
        return []
    runs = sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink()
                  and RUN_NAME.match(p.name))
    old = runs[:-keep]
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    return old


def write_ifmap(topo: Topology, run: CaptureRun) -> None:
    out = proc.run(["ip", "-n", topo.switch_ns, "-j", "link", "show"]).stdout
    links = json.loads(out)
    run.ifmap.write_text(ifmap.from_topology(topo, links).to_json())


def _send_marker(sock: socket.socket, token: bytes) -> None:
    sock.sendto(token, ("127.0.0.1", MARKER_PORT))


def _wait_for(path: Path, token: bytes, ident: proc.ProcId, log: Path,
              timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        try:
            if token in path.read_bytes():
                return
        except FileNotFoundError:
            pass
        if not ident.alive():
            raise DaemonError(f"tcpdump exited: {log.read_text(errors='replace').strip()}")
        if time.monotonic() > deadline:
            raise DaemonError(f"tcpdump did not record its marker within {timeout:g}s; "
                              f"log {log}")
        time.sleep(delay)  # polling the file for the marker, with a deadline
        delay = min(delay * 2, 0.01)


@contextmanager
def capturing(topo: Topology, run: CaptureRun) -> Iterator[CaptureRun]:
    """Capture for the duration of the block; on exit, drain to a marker and stop."""
    preflight.check_binaries(["tcpdump"])
    write_ifmap(topo, run)
    argv = ["ip", "netns", "exec", topo.switch_ns, "tcpdump", "-i", "any", "-n", "-U",
            "--immediate-mode", "-s", str(SNAPLEN), "-B", str(BUFFER_KIB), "-Z", "root",
            "-w", str(run.pcap), FILTER]
    p = proc.spawn(argv, log=run.log)
    ident = proc.identify(p.pid)
    sock: socket.socket | None = None
    try:  # from here on, tcpdump is stopped whatever happens
        if ident is None:
            raise DaemonError(f"tcpdump exited at once: {run.log.read_text(errors='replace')}")
        sock = netns.sockets_in([topo.switch_ns])[topo.switch_ns]
        start = b"dhcp-lab-start-" + secrets.token_hex(8).encode()
        # Resend the start marker until it shows: the first may predate the capture.
        deadline = time.monotonic() + defaults.READY_TIMEOUT_S
        while True:
            _send_marker(sock, start)
            try:
                _wait_for(run.pcap, start, ident, run.log, 0.05)
                break
            except DaemonError:
                if not ident.alive() or time.monotonic() > deadline:
                    raise
        faults.checkpoint("capture:running")
        yield run
        stop = b"dhcp-lab-stop-" + secrets.token_hex(8).encode()
        _send_marker(sock, stop)
        _wait_for(run.pcap, stop, ident, run.log, defaults.READY_TIMEOUT_S)
    finally:
        if sock is not None:
            sock.close()
        if ident is not None:
            proc.stop(ident, sig=signal.SIGINT)
        p.wait()
    dropped = kernel_drops(run.log)
    if dropped:
        raise DaemonError(f"tcpdump lost {dropped} packets (dropped by kernel): the flow would be "
                          f"incomplete, so this run is void; see {run.log}")


def kernel_drops(log: Path) -> int:
    """Packets tcpdump's ring lost, from the statistics it prints when it stops."""
    m = re.search(r"(\d+) packets? dropped by kernel", log.read_text(errors="replace"))
    return int(m.group(1)) if m else 0
