"""A lab instance: build it, find it again from its state file, tear it down.

The state file is written *before* anything is created, so ``down`` works after the
process that ran ``up`` was killed at any point. ``down`` removes exactly the namespaces
that lab name can own (and every process inside them) and its run directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab import daemons, defaults, netns, preflight, proc, topology
from lab.errors import LabError, StateError
from lab.topology import Topology

STATE = "state.json"


@dataclass
class DaemonState:
    key: str
    node: str
    ns: str
    pid: int
    start: int
    log: str
    ports: list[list[int]]

    @property
    def ident(self) -> proc.ProcId:
        return proc.ProcId(self.pid, self.start)


@dataclass
class State:
    """What a lab instance owns. status: building, up or failed."""

    name: str
    mode: str
    status: str
    namespaces: list[str]
    dut_bin: str | None = None
    daemons: list[DaemonState] = field(default_factory=list)

    @property
    def topo(self) -> Topology:
        return topology.build(self.name, self.mode)


def run_dir(name: str) -> Path:
    return defaults.run_root() / name


def save(state: State) -> None:
    d = run_dir(state.name)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / (STATE + ".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    os.replace(tmp, d / STATE)


def load(name: str) -> State | None:
    path = run_dir(name) / STATE
    try:
        raw = json.loads(path.read_text())
        raw["daemons"] = [DaemonState(**d) for d in raw.get("daemons", [])]
        return State(**raw)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise StateError(
            f"state file {path} is corrupt ({exc}): run 'invoke lab.down --name {name}' "
            "to remove the lab by name"
        ) from exc


def require_up(name: str) -> State:
    state = load(name)
    if state is None or state.status != "up":
        raise StateError(f"lab {name!r} is not up: run 'invoke lab.up --name {name} --mode relay'")
    return state


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Serialize up/down of one lab name across processes."""
    root = defaults.run_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def up(name: str, mode: str, dut_bin: str | None = None) -> tuple[State, bool]:
    """Bring lab ``name`` up in ``mode``. Returns (state, reused).

    An instance that is already up in the same mode with every daemon alive is reused; one in
    another mode is refused; leftovers of a crashed run are removed first.
    """
    topo = topology.build(name, mode)  # validates name and mode before touching anything
    preflight.check_all()
    if dut_bin and not (os.path.isfile(dut_bin) and os.access(dut_bin, os.X_OK)):
        raise LabError(f"--dut-bin {dut_bin!r} is not an executable file: give the path of a "
                       "dhcplb binary")
    with locked(name):
        state = load(name)
        if state is not None and state.status == "up":
            if state.mode != mode:
                raise StateError(
                    f"lab {name!r} is already up in {state.mode} mode: run "
                    f"'invoke lab.down --name {name}' first, or use another --name"
                )
            if healthy(state) and state.dut_bin == dut_bin:
                return state, True
        _teardown(name, state)
        d = run_dir(name)
        d.mkdir(parents=True, exist_ok=True)
        state = State(name, mode, "building", list(topo.namespaces), dut_bin)
        save(state)
        try:
            netns.build(topo)
            specs = daemons.lab_daemons(topo, d, dut_bin)
            started = start_daemons(state, specs, d)
            daemons.wait_ready(started, d, defaults.READY_TIMEOUT_S)
        except BaseException:
            netns.destroy(state.namespaces)
            state.status = "failed"
            save(state)
            raise
        state.status = "up"
        save(state)
        return state, False


def start_daemons(state: State, specs: list[daemons.DaemonSpec],
                  d: Path) -> list[tuple[daemons.DaemonSpec, proc.ProcId]]:
    started = []
    for spec in specs:
        ident = daemons.start(spec, d)
        state.daemons = [x for x in state.daemons if x.key != spec.key]
        state.daemons.append(DaemonState(spec.key, spec.node, spec.ns, ident.pid, ident.start,
                                         str(spec.log(d)), [list(p) for p in spec.ports]))
        save(state)  # record each pid at once: a crash right after still finds it
        started.append((spec, ident))
    return started


def restart_daemon(state: State, key: str) -> None:
    """Stop one daemon and start it again from the same spec (used to reset DUT state)."""
    d = run_dir(state.name)
    spec = next(s for s in daemons.lab_daemons(state.topo, d, state.dut_bin) if s.key == key)
    for ds in state.daemons:
        if ds.key == key:
            proc.stop(ds.ident)
    started = start_daemons(state, [spec], d)
    daemons.wait_ready(started, d, defaults.READY_TIMEOUT_S)


def healthy(state: State) -> bool:
    return all(netns.ns_exists(ns) for ns in state.namespaces) and all(
        d.ident.alive() for d in state.daemons
    )


def _teardown(name: str, state: State | None) -> None:
    namespaces = set(topology.all_namespaces(name))
    if state is not None:
        namespaces |= set(state.namespaces)
    netns.destroy(sorted(namespaces))


def down(name: str) -> bool:
    """Remove lab ``name``: its processes, namespaces and run directory. Returns whether
    anything was there. Works without a state file, and after a crash at any point."""
    topology.check_name(name)
    preflight.check_root()
    with locked(name):
        try:
            state = load(name)
        except StateError:
            state = None
        existed = state is not None or any(
            netns.ns_exists(ns) for ns in topology.all_namespaces(name)
        )
        _teardown(name, state)
        shutil.rmtree(run_dir(name), ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (defaults.run_root() / f".{name}.lock").unlink()
    return existed


def list_labs() -> list[str]:
    root = defaults.run_root()
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / STATE).exists())
