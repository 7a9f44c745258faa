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
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab import daemons, defaults, faults, netns, preflight, proc, topology
from lab.errors import DaemonError, LabError, StateError
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
    owner: str = "user"  # "user" (lab.up) or "scenario" (a scenario run, removed after it)
    owner_pid: int = 0
    owner_start: int = 0

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
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StateError(
            f"state file {path} is corrupt ({exc}): run 'invoke lab.down --name {name}' "
            "to remove the lab by name"
        ) from exc


def require_up(name: str) -> State:
    state = load(name)
    if state is None or state.status != "up":
        what = "is not up" if state is None else f"is not up (its state is {state.status!r})"
        raise StateError(f"lab {name!r} {what}: run 'invoke lab.up --name {name} "
                         "--mode relay' (or --mode server)")
    return state


@contextlib.contextmanager
def locked(name: str, timeout: float | None = None) -> Iterator[None]:
    """Serialize changes to one lab (up, down, a daemon restart) across processes.

    The lock is an flock on ``.<name>.lock`` in the run root. ``down`` deletes that file
    while holding it, so after locking we check the path still names the file we locked
    (else a third process could lock a fresh file while we hold the deleted one). A busy
    lab is waited for up to ``timeout`` seconds, then reported with the holder's pid.
    """
    root = defaults.run_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f".{name}.lock"
    wait = defaults.lock_timeout() if timeout is None else timeout
    deadline = time.monotonic() + wait
    delay = 0.001
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() > deadline:
                raise StateError(
                    f"lab {name!r} is busy: {_holder(path)} is changing it; wait for it to "
                    f"finish, or stop that process and run 'invoke lab.down --name {name}'"
                ) from None
            time.sleep(delay)  # polling the lock with a deadline
            delay = min(delay * 2, 0.05)
            continue
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {' '.join(sys.argv)}\n".encode())
            yield
        finally:
            os.close(fd)
        return


def _holder(path: Path) -> str:
    try:
        pid, _, cmd = path.read_text().strip().partition(" ")
    except OSError:
        return "another process"
    return f"pid {pid} ({cmd or '?'})" if pid.isdigit() else "another process"


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP interrupt like Ctrl-C, so cleanup runs.

    Python's default for them is to die at once, leaving a half-built lab. Only the main
    thread can set handlers; elsewhere (scenario threads) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    old = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Within the block, Ctrl-C, SIGTERM and SIGHUP wait: cleanup must not be cut short.

    A signal that arrived meanwhile is raised as KeyboardInterrupt when the block ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []

    def note(signum: int, frame: object) -> None:
        got.append(signum)

    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    old = {sig: signal.signal(sig, note) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if got:
        raise KeyboardInterrupt(signal.Signals(got[0]).name)


def up(name: str, mode: str, dut_bin: str | None = None,
       owner: str = "user") -> tuple[State, bool]:
    """Bring lab ``name`` up in ``mode``. Returns (state, reused).

    An instance that is already up in the same mode with every daemon alive is reused; one in
    another mode is refused; leftovers of a crashed run are removed first. If building
    fails, everything built is removed again; the run directory stays only when it holds
    daemon logs that tell why (``down`` removes it). An interrupted ``up`` (Ctrl-C,
    SIGTERM) leaves nothing.
    """
    topo = topology.build(name, mode)  # validates name and mode before touching anything
    preflight.check_all()
    if dut_bin and not (os.path.isfile(dut_bin) and os.access(dut_bin, os.X_OK)):
        raise LabError(f"--dut-bin {dut_bin!r} is not an executable file: give the path of a "
                       "dhcplb binary")
    with _signals_interrupt(), locked(name):
        try:
            state = load(name)
        except StateError:
            state = None  # corrupt: rebuilt from scratch below, by ownership marks
        if state is not None and state.status == "up":
            if state.mode != mode:
                raise StateError(
                    f"lab {name!r} is already up in {state.mode} mode: run "
                    f"'invoke lab.down --name {name}' first, or use another --name"
                )
            if healthy(state) and state.dut_bin == dut_bin:
                return state, True
        _, foreign = _teardown(name, state)
        clash = [ns for ns in topo.namespaces if ns in foreign]
        if clash:
            _forget(name)
            raise StateError(
                f"namespace {clash[0]} exists but lab {name!r} did not create it: remove it "
                f"('ip netns del {clash[0]}') or choose another --name"
            )
        d = run_dir(name)
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True, exist_ok=True)
        me = proc.identify(os.getpid())
        state = State(name, mode, "building", list(topo.namespaces), dut_bin, owner=owner,
                      owner_pid=me.pid if me else 0, owner_start=me.start if me else 0)
        save(state)
        faults.checkpoint("up:state-saved")
        try:
            netns.build(topo)
            faults.checkpoint("up:netns-built")
            specs = daemons.lab_daemons(topo, d, dut_bin)
            started = start_daemons(state, specs, d)
            daemons.wait_ready(started, d, defaults.READY_TIMEOUT_S)
            faults.checkpoint("up:ready")
        except BaseException as exc:
            with _signals_deferred():
                _teardown(name, state)
                if state.daemons and not isinstance(exc, KeyboardInterrupt):
                    state.status = "failed"  # keep the daemons' logs: they say why
                    save(state)
                    if isinstance(exc, DaemonError):
                        raise DaemonError(
                            f"{exc}\n(lab {name!r} was removed; its logs stay in {d} until "
                            f"'invoke lab.down --name {name}')") from exc
                else:
                    _forget(name)
            raise
        state.status = "up"
        save(state)
        return state, False


def claim_for_scenario(name: str) -> None:
    """Clear ``name`` for a scenario run, which builds and removes its own lab.

    A lab someone brought up with ``lab.up``, or one a live scenario run is using, is never
    taken: the run is refused. Leftovers of a scenario run that died are removed.
    """
    try:
        state = load(name)
    except StateError:
        state = None
    if state is not None and state.status in ("up", "building"):
        runner = proc.ProcId(state.owner_pid, state.owner_start)
        if state.owner != "scenario":
            raise StateError(
                f"lab {name!r} is up ({state.mode} mode, from lab.up) and a scenario builds and "
                f"removes its own lab: give the scenario another name (--name or LAB_NAME), or "
                f"run 'invoke lab.down --name {name}' first"
            )
        if state.owner_pid and runner.alive() and state.owner_pid != os.getpid():
            raise StateError(
                f"lab {name!r} is in use by another scenario run (pid {state.owner_pid}): "
                "give this run another name (--name or LAB_NAME)"
            )
    down(name)


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
        faults.checkpoint("up:daemon-started")
    return started


def restart_daemon(name: str, key: str) -> State:
    """Stop one daemon and start it again from the same spec (used to reset DUT state).

    Holds the lab's lock and re-reads the state inside it, so two restarts at once (a v4
    and a v6 client test) never overwrite each other's new pid. Returns the new state.
    """
    with locked(name):
        state = require_up(name)
        d = run_dir(name)
        spec = next(s for s in daemons.lab_daemons(state.topo, d, state.dut_bin)
                    if s.key == key)
        proc.stop_all([ds.ident for ds in state.daemons if ds.key == key])
        started = start_daemons(state, [spec], d)
        daemons.wait_ready(started, d, defaults.READY_TIMEOUT_S)
        return state


def dead_daemons(state: State) -> list[DaemonState]:
    return [d for d in state.daemons if not d.ident.alive()]


def healthy(state: State) -> bool:
    return (state.status == "up"
            and all(netns.ns_exists(ns) for ns in state.namespaces)
            and not dead_daemons(state))


def _teardown(name: str, state: State | None) -> tuple[list[str], list[str]]:
    """Remove what lab ``name`` owns; return (namespaces removed, look-alikes left alone).

    Processes the state names are stopped by identity (pid and start time) wherever they
    run now: a namespace deleted by hand hides its processes from the namespace scan.
    dhclient is found by its pid file, checked against its argv. Then every namespace that
    carries this lab's marks is emptied of processes and deleted.
    """
    listed = state.namespaces if state is not None else []
    candidates = list(dict.fromkeys([*topology.all_namespaces(name), *listed]))
    ours, foreign = netns.owned(candidates, topology.ownership_marks(name), listed)
    idents = [d.ident for d in state.daemons] if state is not None else []
    d = run_dir(name)
    if d.is_dir():
        idents += [i for p in sorted(d.glob("dhclient.*.pid"))
                   if (i := proc.from_pidfile(p)) is not None]
    proc.stop_all(idents)
    netns.destroy(ours)
    return ours, foreign


def down(name: str) -> bool:
    """Remove lab ``name``; return whether anything was there. See ``down_report``."""
    return down_report(name)[0]


def down_report(name: str) -> tuple[bool, list[str]]:
    """Remove lab ``name``: its processes, namespaces and run directory.

    Works without a state file, with a corrupt one, and after a crash at any point.
    Returns (whether anything was there, namespaces with the lab's names that it did not
    create and so left alone).
    """
    topology.check_name(name)
    preflight.check_root()
    with locked(name):
        try:
            state = load(name)
        except StateError:
            state = None  # corrupt: ownership marks still say what is ours
        d = run_dir(name)
        had_dir = d.exists()
        ours, foreign = _teardown(name, state)
        faults.checkpoint("down:namespaces-deleted")
        _forget(name)
    return had_dir or bool(ours), foreign


def _forget(name: str) -> None:
    """Remove lab ``name``'s run directory and lock file. Call it holding the lock: other
    lockers notice the unlinked file and lock the new one (see ``locked``)."""
    shutil.rmtree(run_dir(name), ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (defaults.run_root() / f".{name}.lock").unlink()

def list_labs() -> list[str]:
    root = defaults.run_root()
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / STATE).exists())
