"""invoke tasks: thin wrappers over ``python -m lab`` (see lab/cli.py for every option).

On macOS each task runs the same command inside the Lima VM (lab/lima.py).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from invoke import Collection, Context, Exit, task

from lab import lima

REPO = Path(__file__).resolve().parent


def _lab(*args: object) -> None:
    argv = [str(a) for a in args if a is not None and a != ""]
    if lima.needs_vm():
        from lab import proc

        rc = proc.interactive(lima.translate(argv, repo=REPO))
    else:
        from lab.cli import main

        rc = main(argv)
    if rc:
        raise Exit(code=rc)


def _after_ddash() -> list[str]:
    """The words after ``--`` exactly as the shell passed them (invoke's own remainder is
    re-joined into one string and loses the quoting)."""
    return sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []


def _opt(flag: str, value: object) -> list[str]:
    return [flag, str(value)] if value not in (None, "", False) else []


@task(help={"mode": "relay or server", "name": "lab instance (default $LAB_NAME or 'lab')",
            "dut_bin": "a real dhcplb binary (default $LAB_DUT_BIN)"})
def up(c: Context, mode: str = "relay", name: str = "", dut_bin: str = "") -> None:
    """Build a lab and start its daemons (idempotent)."""
    _lab("up", "--mode", mode, *_opt("--name", name), *_opt("--dut-bin", dut_bin))


@task
def down(c: Context, name: str = "") -> None:
    """Remove a lab: its processes, namespaces and run directory."""
    _lab("down", *_opt("--name", name))


@task
def status(c: Context, name: str = "") -> None:
    """Namespaces, links, addresses and daemons with pid and health."""
    _lab("status", *_opt("--name", name))


@task(help={"node": "one node (or daemon) only, e.g. lb or dut-v6; default: all"})
def logs(c: Context, node: str = "", name: str = "", lines: str = "40") -> None:
    """Daemon logs, all or one node's (invoke's positional arguments can't be optional)."""
    _lab("logs", *_opt("--name", name), "--lines", lines, *([node] if node else []))


@task(name="exec", positional=["node"])
def exec_(c: Context, node: str, name: str = "") -> None:
    """Run a command in a node's namespace: invoke lab.exec client -- ip addr"""
    _lab("exec", *_opt("--name", name), node, "--", *_after_ddash())


@task(positional=["node"])
def shell(c: Context, node: str, name: str = "") -> None:
    """An interactive shell in a node's namespace."""
    _lab("shell", *_opt("--name", name), node)


@task(name="test")
def client_test(c: Context, family: str = "4", name: str = "",
                rapid_commit: bool = False) -> None:
    """Run the DHCP client test (--family 4|6) in the lab that is up."""
    _lab("test", *_opt("--name", name), "--family", family,
         *(["--rapid-commit"] if rapid_commit else []))


@task(name="list")
def list_(c: Context) -> None:
    """Labs on this host."""
    _lab("list")


@task(name="update")
def goldens_update(c: Context, scenario: str = "", dut_bin: str = "") -> None:
    """Re-record goldens (all, or --scenario S) and say which changed."""
    _lab("goldens-update", *_opt("--scenario", scenario), *_opt("--dut-bin", dut_bin))


@task(name="show", positional=["target"])
def captures_show(c: Context, target: str, ifmap: str = "", mermaid: str = "") -> None:
    """Print a capture's normalized flow (PCAP or RUN dir) and write a Mermaid diagram."""
    _lab("captures-show", target, *_opt("--ifmap", ifmap), *_opt("--mermaid", mermaid))


@task(help={"parallel": "each scenario in its own lab, all at once"})
def scenarios(c: Context, only: str = "", parallel: bool = False, name: str = "",
              dut_bin: str = "") -> None:
    """Run scenarios end to end against their goldens (default: the four-scenario matrix)."""
    _lab("scenario", *only.replace(",", " ").split(), *(["--parallel"] if parallel else []),
         *_opt("--name", name), *_opt("--dut-bin", dut_bin))


@task
def bench(c: Context, json: str = "", runs: str = "5", only: str = "") -> None:
    """Benchmarks: lab up/down, scenarios, matrix, decode throughput, DUT forwarding rate.

    --only topology,scenarios,decode,dut picks sections; topology rows use at least 10 runs.
    """
    _lab("bench", "--runs", runs, *_opt("--json", json), *only.replace(",", " ").split())


@task
def flake(c: Context, runs: str = "50", parallel: bool = False) -> None:
    """The flake gate: run the four-scenario matrix N times, report any differing flow."""
    _lab("flake", "--runs", runs, *(["--parallel"] if parallel else []))


@task(name="test")
def tests(c: Context, unit: bool = False, lint: bool = True) -> None:
    """The test suite (what .ci/run calls): ruff and mypy, unit tests, integration tests."""
    py = sys.executable
    if lint:
        c.run(shlex.join([py, "-m", "ruff", "check", "lab", "tests", "tasks.py", "noxfile.py"]))
        c.run(shlex.join([py, "-m", "mypy"]))
    paths = ["tests/unit"] if unit else ["tests/unit", "tests/integration"]
    res = c.run(shlex.join([py, "-m", "pytest", "-p", "no:cacheprovider", *paths]), warn=True)
    if res is not None and res.exited == 5:
        raise Exit("no tests were collected: the suite is empty or mis-configured", code=5)
    if res is None or res.exited:
        raise Exit(code=res.exited if res is not None else 1)


lab_ns = Collection("lab", up, down, status, logs, exec_, shell, client_test, list_)
goldens_ns = Collection("goldens", goldens_update)
captures_ns = Collection("captures", captures_show)
ns = Collection(scenarios, bench, flake, tests)
ns.add_collection(lab_ns)
ns.add_collection(goldens_ns)
ns.add_collection(captures_ns)
