"""The only module that runs subprocesses. Argument lists only, never shell strings.

A failure raises CommandError with argv, exit code and the tail of the output. Stopping a
process escalates wait -> TERM -> KILL and treats "already gone" as success.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lab.errors import CommandError

ENV_C = {"LANG": "C", "LC_ALL": "C"}


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ENV_C)
    if extra:
        env.update(extra)
    return env


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    check: bool = True,
    timeout: float | None = 60,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion and capture its output (stderr folded into stdout)."""
    argv = [str(a) for a in argv]
    try:
        res = subprocess.run(
            argv,
            input=input,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            env=_env(env),
            check=False,
        )
    except FileNotFoundError as exc:
        raise CommandError(argv, 127, f"{argv[0]}: not found") from exc
    except subprocess.TimeoutExpired as exc:
        out = exc.output if isinstance(exc.output, str) else ""
        raise CommandError(argv, -1, f"{out}\ntimed out after {timeout}s") from exc
    if check and res.returncode != 0:
        raise CommandError(argv, res.returncode, res.stdout or "")
    return res


def run_many(argvs: Sequence[Sequence[str]], *, inputs: Sequence[str | None],
             timeout: float = 60) -> None:
    """Run several commands at once and wait for all; raise on the first failure.

    Every started command is waited for (or killed at the deadline) before this returns
    or raises, so none outlives the call.
    """
    procs: list[tuple[list[str], subprocess.Popen[str], str | None]] = []
    failures: list[CommandError] = []
    try:
        for argv, text in zip(argvs, inputs, strict=True):
            args = [str(a) for a in argv]
            try:
                p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=_env())
            except FileNotFoundError as exc:
                raise CommandError(args, 127, f"{args[0]}: not found") from exc
            procs.append((args, p, text))
        deadline = time.monotonic() + timeout
        for args, p, text in procs:
            try:
                out, _ = p.communicate(text, timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
                failures.append(CommandError(args, -1, f"{out or ''}\ntimed out after {timeout}s"))
                continue
            if p.returncode != 0:
                failures.append(CommandError(args, p.returncode, out or ""))
    finally:
        for _, p, _ in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    if failures:
        raise failures[0]


def spawn(
    argv: Sequence[str],
    *,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: int | IO[bytes] | None = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start a long-running process with stdout and stderr appended to ``log``."""
    argv = [str(a) for a in argv]
    out: int | IO[bytes] = subprocess.DEVNULL
    handle = None
    if log is not None:
        handle = open(log, "ab")  # noqa: SIM115 - closed below, the child keeps its copy
        out = handle
    try:
        child = subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(env),
            start_new_session=True,
        )
        _CHILDREN[child.pid] = child
        return child
    except FileNotFoundError as exc:
        raise CommandError(argv, 127, f"{argv[0]}: not found") from exc
    finally:
        if handle is not None:
            handle.close()


# Daemons this process started and may outlive it: kept so each is reaped by its own Popen
# (no zombie, no "subprocess still running" warning) once we stop it.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def reap(pid: int) -> None:
    """Collect the exit status of ``pid`` if ``spawn`` started it and it has exited.

    Only through its own Popen: a bare waitpid() on any other pid could steal the exit
    status of a child someone else manages (subprocess, or asyncio's child watcher under
    pyshark, which then reports tshark as crashed).
    """
    child = _CHILDREN.pop(pid, None)
    if child is not None and child.poll() is None:
        _CHILDREN[pid] = child  # still running: keep it for later


def interactive(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Run ``argv`` attached to the user's terminal and return its exit code."""
    try:
        return subprocess.call([str(a) for a in argv], env=_env(env))
    except FileNotFoundError:
        return 127


@dataclass(frozen=True)
class ProcId:
    """A process identity that survives PID reuse: pid plus its start time in clock ticks."""

    pid: int
    start: int

    def alive(self) -> bool:
        return start_time(self.pid) == self.start and not is_zombie(self.pid)


def start_time(pid: int) -> int | None:
    """The start time of ``pid`` from /proc (field 22), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def identify(pid: int) -> ProcId | None:
    start = start_time(pid)
    return None if start is None else ProcId(pid, start)


def send(ident: ProcId, sig: int) -> bool:
    """Signal exactly the process ``ident`` names, never a process that reused its pid.

    A pidfd pins the process; its start time is checked after the pidfd is open, so the
    signal can't reach a newcomer. Returns False when the process is gone.
    """
    try:
        fd = os.pidfd_open(ident.pid)
    except ProcessLookupError:
        return False
    try:
        if start_time(ident.pid) != ident.start:
            return False
        signal.pidfd_send_signal(fd, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(fd)


def stop(ident: ProcId, *, grace: float = 2.0, sig: int = signal.SIGTERM) -> None:
    """Stop one process we own: ``sig``, wait up to ``grace``, then KILL. Gone is fine."""
    stop_all([ident], grace=grace, sig=sig)


def stop_all(idents: Sequence[ProcId], *, grace: float = 2.0,
             sig: int = signal.SIGTERM) -> list[ProcId]:
    """Stop many processes at once: ``sig`` to all, one shared grace period, then KILL.

    Returns the ones that were still alive after KILL (normally none).
    """
    pending = [i for i in idents if send(i, sig)]
    deadline = time.monotonic() + grace
    pending = [i for i in pending if not wait_gone(i, max(0.0, deadline - time.monotonic()))]
    pending = [i for i in pending if send(i, signal.SIGKILL)]
    deadline = time.monotonic() + 2.0
    return [i for i in pending if not wait_gone(i, max(0.0, deadline - time.monotonic()))]


def wait_gone(ident: ProcId, timeout: float) -> bool:
    """Wait until ``ident`` has exited (reaping it if it is our child); True once it has.

    Waits on a pidfd, which becomes readable when the process exits: no polling loop.
    """
    try:
        fd = os.pidfd_open(ident.pid)
    except ProcessLookupError:
        return True
    try:
        if start_time(ident.pid) != ident.start:
            return True  # the pid already belongs to someone else: ours is gone
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        exited = bool(poller.poll(max(0, int(timeout * 1000))))
    finally:
        os.close(fd)
    if exited:
        reap(ident.pid)
    return exited or not ident.alive()


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def cmdline(pid: int) -> list[str]:
    """``pid``'s argv, or [] when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def from_pidfile(path: Path) -> ProcId | None:
    """The process a pid file names, but only if its argv mentions that very pid file.

    A stale pid file whose pid now belongs to another process yields None, so the caller
    never signals a stranger.
    """
    try:
        pid = int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    ident = identify(pid)
    if ident is None or not any(str(path) in arg for arg in cmdline(pid)):
        return None
    return ident
