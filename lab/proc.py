"""The only module that runs subprocesses. Argument lists only, never shell strings.

A failure raises CommandError with argv, exit code and the tail of the output. Stopping a
process escalates wait -> TERM -> KILL and treats "already gone" as success.
"""

from __future__ import annotations

import os
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


def run_many(argvs: Sequence[Sequence[str]], *, inputs: Sequence[str | None]) -> None:
    """Run several commands at once and wait for all; raise on the first failure."""
    procs = []
    for argv, text in zip(argvs, inputs, strict=True):
        procs.append(
            (
                [str(a) for a in argv],
                subprocess.Popen(
                    [str(a) for a in argv],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=_env(),
                ),
                text,
            )
        )
    failures = []
    for argv, p, text in procs:
        out, _ = p.communicate(text, timeout=60)
        if p.returncode != 0:
            failures.append(CommandError(argv, p.returncode, out or ""))
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
        return subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(env),
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise CommandError(argv, 127, f"{argv[0]}: not found") from exc
    finally:
        if handle is not None:
            handle.close()


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


def stop(ident: ProcId, *, grace: float = 2.0, sig: int = signal.SIGTERM) -> None:
    """Stop one process we own: ``sig``, wait up to ``grace``, then KILL. Gone is fine."""
    if not ident.alive():
        return
    try:
        os.kill(ident.pid, sig)
    except ProcessLookupError:
        return
    if _wait_gone(ident, grace):
        return
    try:
        os.kill(ident.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _wait_gone(ident, 2.0)


def _wait_gone(ident: ProcId, timeout: float) -> bool:
    """Wait until ``ident`` has exited (reaping it if it is our child)."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(ident.pid, os.WNOHANG)
        except ChildProcessError:
            pid = 0
        if pid == ident.pid or not ident.alive():
            return True
        if is_zombie(ident.pid):
            return True
        time.sleep(delay)  # polling an exit with a deadline, not a fixed sleep
        delay = min(delay * 2, 0.02)
    return not ident.alive()


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat[stat.rindex(")") + 2 :].startswith("Z")
