"""Issue 5: the lab lifecycle under a user who tries to break it.

Every test drives the real CLI (``python -m lab`` in a subprocess), kills it at exact points
through the ``lab.faults`` checkpoints, and checks that ``down`` (or a fresh ``up``) removes
every leftover while look-alike objects of the host's own survive, and that the host ends
exactly as it began.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab import defaults, instance, netns, proc, topology
from tests.integration.conftest import host_snapshot, run_lab

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ helpers

def lab_cmd(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m lab ARGS`` started in the background."""
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "lab", *args], cwd=REPO, env=full, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def paused(args: list[str], at: str, marker: Path,
           env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m lab ARGS`` and return once it is frozen at checkpoint ``at``."""
    p = lab_cmd(*args, env={"LAB_PAUSE_AT": at, "LAB_PAUSE_FILE": str(marker), **(env or {})})
    deadline = time.monotonic() + 30
    while not marker.exists():
        if p.poll() is not None:
            out, err = p.communicate()
            pytest.fail(f"{args} exited {p.returncode} before {at}:\n{out}{err}")
        if time.monotonic() > deadline:
            p.kill()
            pytest.fail(f"{args} never reached {at}")
        time.sleep(0.01)
    assert marker.read_text().split() == [at, str(p.pid)]
    return p


def kill(p: subprocess.Popen[str], sig: int = signal.SIGKILL) -> subprocess.CompletedProcess[str]:
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def one_line_error(res: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A refused command: non-zero, exactly one stderr line starting 'error: ', no traceback."""
    assert res.returncode != 0, res.stdout + res.stderr
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    for needle in needles:
        assert needle in res.stderr, res.stderr


def recorded(name: str) -> list[proc.ProcId]:
    """The daemon identities lab ``name``'s state file holds right now."""
    try:
        raw = json.loads((instance.run_dir(name) / "state.json").read_text())
    except FileNotFoundError:
        return []
    return [proc.ProcId(d["pid"], d["start"]) for d in raw["daemons"]]


def lab_pids(*needles: str) -> list[int]:
    """Processes whose argv mentions one of ``needles`` (a lab's run dir or capture dir)."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            argv = " ".join(proc.cmdline(int(entry.name)))
            if any(n in argv for n in needles):
                out.append(int(entry.name))
    return out


def existing_lab_namespaces(name: str) -> list[str]:
    return [ns for ns in topology.all_namespaces(name) if netns.ns_exists(ns)]


def assert_gone(name: str, idents: list[proc.ProcId], *extra_paths: str) -> None:
    """Nothing of lab ``name`` is left: namespaces, processes, run directory."""
    assert existing_lab_namespaces(name) == []
    assert [i for i in idents if i.alive()] == []
    run = str(instance.run_dir(name)) + "/"
    assert lab_pids(run, *extra_paths) == []
    assert not instance.run_dir(name).exists()
    assert not (defaults.run_root() / f".{name}.lock").exists()


@dataclass
class Decoys:
    """Host objects with lab-like names or lab-like programs; none may be touched."""

    name: str
    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    procs: list[tuple[subprocess.Popen[bytes], proc.ProcId]] = field(default_factory=list)

    def spawn(self, argv: list[str], ns: str | None = None) -> None:
        full = ["ip", "netns", "exec", ns, *argv] if ns else argv
        p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        ident = proc.identify(p.pid)
        assert ident is not None
        self.procs.append((p, ident))

    def assert_intact(self) -> None:
        for ns in self.namespaces:
            assert netns.ns_exists(ns), f"decoy namespace {ns} was removed"
        links = {line.split(":")[1].strip().split("@")[0] for line in subprocess.run(
            ["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.splitlines()}
        for link in self.links:
            assert link in links, f"decoy link {link} was removed"
        for p, ident in self.procs:
            assert ident.alive() and p.poll() is None, f"decoy {p.args} (pid {p.pid}) was killed"


@pytest.fixture
def clean_host() -> Iterator[None]:
    """The host after the test is exactly the host before it (checked after every cleanup)."""
    before = host_snapshot()
    yield
    assert host_snapshot() == before


@pytest.fixture
def decoys(clean_host: None, lab_name: str, tmp_path: Path) -> Iterator[Decoys]:
    """Namespaces N-client2, N-clientx, xN-client; root-namespace veth N-cli0 and bridge
    N-br-int2; dnsmasq and a process named dhclient in the root namespace and in decoy
    namespaces. All must survive whatever the lab does."""
    n = lab_name
    d = Decoys(n)
    for ns in (f"{n}-client2", f"{n}-clientx", f"x{n}-client"):
        subprocess.run(["ip", "netns", "add", ns], check=True)
        d.namespaces.append(ns)
    subprocess.run(["ip", "link", "add", f"{n}-cli0", "type", "veth", "peer", "name",
                    f"x{n}-cli0"], check=True)
    subprocess.run(["ip", "link", "add", f"{n}-br-int2", "type", "bridge"], check=True)
    d.links += [f"{n}-cli0", f"x{n}-cli0", f"{n}-br-int2"]
    for where, ns in (("root", None), ("ns", f"{n}-client2")):
        d.spawn(["dnsmasq", "--keep-in-foreground", "--port=0", "--conf-file=/dev/null",
                 f"--dhcp-leasefile={tmp_path / f'decoy-{where}.leases'}",
                 f"--pid-file={tmp_path / f'decoy-{where}.pid'}"], ns)
    d.spawn(["bash", "-c", "exec -a dhclient sleep 1000"])
    d.spawn(["bash", "-c", "exec -a dhclient sleep 1000"], f"{n}-clientx")
    yield d
    try:
        d.assert_intact()
    finally:
        for p, ident in d.procs:
            proc.stop(ident)
            p.wait()
        for link in (f"{n}-cli0", f"{n}-br-int2"):
            subprocess.run(["ip", "link", "del", link], check=False)
        for ns in d.namespaces:
            subprocess.run(["ip", "netns", "del", ns], check=False)


# ------------------------------------------------------------------ crash safety

UP_POINTS = ["up:state-saved", "up:netns-built", "up:daemon-started", "up:ready"]


@pytest.mark.parametrize("recover", ["down", "up"])
@pytest.mark.parametrize("point", UP_POINTS)
def test_sigkill_during_up_then_recover(point: str, recover: str, lab_name: str,
                                        decoys: Decoys, tmp_path: Path) -> None:
    p = paused(["up", "--mode", "relay", "--name", lab_name], point, tmp_path / "paused")
    idents = recorded(lab_name)
    assert (len(idents) >= 1) == (point in ("up:daemon-started", "up:ready"))
    assert kill(p).returncode == -signal.SIGKILL
    decoys.assert_intact()
    if recover == "up":
        res = run_lab("up", "--mode", "relay", "--name", lab_name)
        assert res.returncode == 0 and "reused" not in res.stdout, res.stderr
        status = run_lab("status", "--name", lab_name)
        assert status.returncode == 0, status.stdout
        assert [i for i in idents if i.alive()] == []  # the crashed run's daemons are gone
        t = run_lab("test", "--family", "4", "--name", lab_name)
        assert t.returncode == 0, t.stdout + t.stderr
        idents += recorded(lab_name)
    res = run_lab("down", "--name", lab_name)
    assert res.returncode == 0 and "removed" in res.stdout, res.stderr
    assert "note:" not in res.stdout  # decoys are not even look-alikes worth a note
    assert_gone(lab_name, idents)
    decoys.assert_intact()


@pytest.mark.parametrize("point", ["down:killed-processes", "down:namespaces-deleted"])
def test_sigkill_during_down_then_down_again(point: str, lab_name: str, decoys: Decoys,
                                             tmp_path: Path) -> None:
    assert run_lab("up", "--mode", "relay", "--name", lab_name).returncode == 0
    idents = recorded(lab_name)
    p = paused(["down", "--name", lab_name], point, tmp_path / "paused")
    assert [i for i in idents if i.alive()] == []  # paused after the processes went
    kill(p)
    res = run_lab("down", "--name", lab_name)
    assert res.returncode == 0, res.stderr
    assert_gone(lab_name, idents)
    decoys.assert_intact()


CAPTURE_DRIVER = """
import sys
from pathlib import Path
from lab import capture, instance
name, root = sys.argv[1], Path(sys.argv[2])
state = instance.require_up(name)
with capture.capturing(state.topo, capture.new_run("robustness", name, root)):
    pass
"""


def test_sigkill_during_capture_then_down(lab_name: str, decoys: Decoys,
                                          tmp_path: Path) -> None:
    assert run_lab("up", "--mode", "server", "--name", lab_name).returncode == 0
    idents = recorded(lab_name)
    captures = tmp_path / "captures"
    env = dict(os.environ, LAB_PAUSE_AT="capture:running",
               LAB_PAUSE_FILE=str(tmp_path / "paused"))
    p = subprocess.Popen([sys.executable, "-c", CAPTURE_DRIVER, lab_name, str(captures)],
                         cwd=REPO, env=env, text=True, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not (tmp_path / "paused").exists():
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert lab_pids(str(captures)), "tcpdump should be recording"
    kill(p)
    assert lab_pids(str(captures)), "tcpdump outlives its killed parent, inside the lab"
    assert run_lab("down", "--name", lab_name).returncode == 0
    assert_gone(lab_name, idents, str(captures))
    runs = [d for d in (captures / "robustness").iterdir() if d.name != "latest"]
    assert len(runs) == 1 and (runs[0] / "capture.pcap").stat().st_size > 0  # nothing lost
    decoys.assert_intact()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("point", ["up:netns-built", "up:daemon-started"])
def test_interrupted_up_leaves_nothing(point: str, sig: int, lab_name: str, decoys: Decoys,
                                       tmp_path: Path) -> None:
    p = paused(["up", "--mode", "relay", "--name", lab_name], point, tmp_path / "paused")
    idents = recorded(lab_name)
    res = kill(p, sig)
    assert res.returncode == 130 and res.stderr == "error: interrupted\n", res.stderr
    assert_gone(lab_name, idents)
    decoys.assert_intact()
    assert run_lab("status", "--name", lab_name).stdout == f"lab {lab_name}: not up\n"


# ------------------------------------------------------------------ the lock

def test_two_ups_at_once_build_one_lab(lab_name: str, clean_host: None) -> None:
    ups = [lab_cmd("up", "--mode", "relay", "--name", lab_name) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in ups]
    assert [p.returncode for p in ups] == [0, 0], outs
    assert sum("reused" in out for out, _ in outs) == 1, outs
    idents = recorded(lab_name)
    assert len(idents) == 4 and all(i.alive() for i in idents)
    assert len(lab_pids(str(instance.run_dir(lab_name)) + "/")) == 4  # no duplicate daemons
    assert run_lab("status", "--name", lab_name).returncode == 0
    assert run_lab("down", "--name", lab_name).returncode == 0
    assert_gone(lab_name, idents)


def test_up_waits_for_a_stuck_up_and_takes_over_when_it_dies(lab_name: str, clean_host: None,
                                                             tmp_path: Path) -> None:
    first = paused(["up", "--mode", "relay", "--name", lab_name], "up:netns-built",
                   tmp_path / "paused")
    second = lab_cmd("up", "--mode", "relay", "--name", lab_name)
    with pytest.raises(subprocess.TimeoutExpired):
        second.communicate(timeout=0.5)  # it waits for the lock, it does not build alongside
    kill(first)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0 and "reused" not in out, err
    assert run_lab("status", "--name", lab_name).returncode == 0
    idents = recorded(lab_name)
    assert run_lab("down", "--name", lab_name).returncode == 0
    assert_gone(lab_name, idents)


def test_busy_lab_names_the_process_holding_it(lab_name: str, clean_host: None,
                                               tmp_path: Path) -> None:
    first = paused(["up", "--mode", "server", "--name", lab_name], "up:daemon-started",
                   tmp_path / "paused")
    for cmd in (["up", "--mode", "server"], ["down"]):
        res = run_lab(*cmd, "--name", lab_name, env={"LAB_LOCK_TIMEOUT": "0.2"})
        one_line_error(res, f"lab {lab_name!r} is busy", f"pid {first.pid}")
    kill(first)
    assert run_lab("down", "--name", lab_name).returncode == 0
    assert_gone(lab_name, [])


# ------------------------------------------------------------------ odd states

def test_down_of_a_lab_never_up(lab_name: str, clean_host: None) -> None:
    res = run_lab("down", "--name", lab_name)
    assert res.returncode == 0 and "nothing to remove" in res.stdout, res.stderr
    assert_gone(lab_name, [])


def test_down_with_a_corrupt_state_file(lab_name: str, decoys: Decoys) -> None:
    assert run_lab("up", "--mode", "relay", "--name", lab_name).returncode == 0
    idents = recorded(lab_name)
    (instance.run_dir(lab_name) / "state.json").write_text('{"name": "x", "mod')
    one_line_error(run_lab("status", "--name", lab_name), "corrupt", "down --name")
    res = run_lab("down", "--name", lab_name)
    assert res.returncode == 0 and "removed" in res.stdout, res.stderr
    assert_gone(lab_name, idents)
    decoys.assert_intact()


def test_up_over_a_corrupt_state_file_rebuilds(lab_name: str, clean_host: None) -> None:
    assert run_lab("up", "--mode", "server", "--name", lab_name).returncode == 0
    idents = recorded(lab_name)
    (instance.run_dir(lab_name) / "state.json").write_text("[]")
    assert run_lab("up", "--mode", "server", "--name", lab_name).returncode == 0
    assert [i for i in idents if i.alive()] == []
    assert run_lab("test", "--family", "4", "--name", lab_name).returncode == 0
    idents += recorded(lab_name)
    assert run_lab("down", "--name", lab_name).returncode == 0
    assert_gone(lab_name, idents)


@pytest.mark.parametrize("then", ["up", "down"])
def test_namespace_deleted_by_hand(then: str, lab_name: str, decoys: Decoys) -> None:
    """``ip netns del`` hides the namespace but its dnsmasq keeps running, out of sight."""
    assert run_lab("up", "--mode", "relay", "--name", lab_name).returncode == 0
    idents = recorded(lab_name)
    subprocess.run(["ip", "netns", "del", f"{lab_name}-server"], check=True)
    assert all(i.alive() for i in idents)
    status = run_lab("status", "--name", lab_name)
    assert status.returncode == 1 and f"{lab_name}-server: MISSING" in status.stdout
    if then == "up":
        res = run_lab("up", "--mode", "relay", "--name", lab_name)
        assert res.returncode == 0 and "reused" not in res.stdout, res.stderr
        assert [i for i in idents if i.alive()] == []
        assert run_lab("test", "--family", "4", "--name", lab_name).returncode == 0
        idents += recorded(lab_name)
    assert run_lab("down", "--name", lab_name).returncode == 0
    assert_gone(lab_name, idents)
    decoys.assert_intact()


@pytest.mark.parametrize("mode, key, node", [("relay", "dut-v4", "lb"),
                                             ("server", "dut-v6", "dut")])
def test_daemon_killed_by_hand(mode: str, key: str, node: str, lab_name: str,
                               clean_host: None) -> None:
    assert run_lab("up", "--mode", mode, "--name", lab_name).returncode == 0
    if mode == "server":  # a previous test leaves a lease file, so test restarts the DUT
        assert run_lab("test", "--family", "6", "--name", lab_name).returncode == 0
    state = instance.require_up(lab_name)
    victim = next(d for d in state.daemons if d.key == key)
    assert proc.send(victim.ident, signal.SIGKILL)
    assert proc.wait_gone(victim.ident, 5)
    status = run_lab("status", "--name", lab_name)
    assert status.returncode == 1
    assert f"daemon {key} in {node}: pid {victim.pid} DEAD" in status.stdout
    t0 = time.monotonic()
    family = key[-1]
    res = run_lab("test", "--family", family, "--name", lab_name)
    assert time.monotonic() - t0 < 5, "must fail at once, not after dhclient's timeout"
    assert res.returncode != 0 and "Traceback" not in res.stderr
    first = res.stderr.splitlines()[0]
    assert first.startswith("error: ") and f"daemon {key} (node {node}, pid {victim.pid}) " \
        "is not running" in first, res.stderr
    assert f"--- {key} log tail: " in res.stderr
    assert not victim.ident.alive()  # test did not quietly restart it
    assert run_lab("up", "--mode", mode, "--name", lab_name).returncode == 0  # up repairs it
    assert run_lab("test", "--family", family, "--name", lab_name).returncode == 0
    idents = recorded(lab_name)
    assert run_lab("down", "--name", lab_name).returncode == 0
    assert_gone(lab_name, idents)


def test_stale_pids_of_other_processes_are_never_signalled(lab_name: str,
                                                           decoys: Decoys) -> None:
    """State and pid files naming PIDs that now belong to other processes (PID reuse)."""
    assert run_lab("up", "--mode", "server", "--name", lab_name).returncode == 0
    idents = recorded(lab_name)
    stranger = decoys.procs[-2][1]  # the root-namespace 'dhclient' decoy
    d = instance.run_dir(lab_name)
    raw = json.loads((d / "state.json").read_text())
    raw["daemons"][0]["pid"] = stranger.pid  # the recorded process is gone, its pid reused
    raw["daemons"][0]["start"] = stranger.start - 1
    (d / "state.json").write_text(json.dumps(raw))
    for family in (4, 6):
        (d / f"dhclient.{lab_name}.v{family}.pid").write_text(f"{stranger.pid}\n")
    status = run_lab("status", "--name", lab_name)
    assert status.returncode == 1 and f"pid {stranger.pid} DEAD" in status.stdout
    assert run_lab("test", "--family", "4", "--name", lab_name).returncode != 0
    assert stranger.alive()
    assert run_lab("up", "--mode", "server", "--name", lab_name).returncode == 0  # rebuilds
    assert stranger.alive()
    (instance.run_dir(lab_name) / f"dhclient.{lab_name}.v4.pid").write_text(f"{stranger.pid}\n")
    assert run_lab("test", "--family", "4", "--name", lab_name).returncode == 0
    assert stranger.alive()
    idents += recorded(lab_name)
    assert run_lab("down", "--name", lab_name).returncode == 0
    assert stranger.alive()
    assert_gone(lab_name, [i for i in idents if i != stranger])
    decoys.assert_intact()


def test_namespace_with_the_labs_exact_name_is_not_ours(lab_name: str, decoys: Decoys) -> None:
    """A namespace the host made, named exactly like a lab namespace, is refused, not
    deleted, and its processes live on."""
    ns = f"{lab_name}-client"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    decoys.namespaces.append(ns)
    subprocess.run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"],
                   check=True)
    decoys.spawn(["bash", "-c", "exec -a dhclient sleep 1000"], ns)
    res = run_lab("up", "--mode", "server", "--name", lab_name)
    one_line_error(res, f"namespace {ns} exists but lab {lab_name!r} did not create it")
    decoys.assert_intact()
    assert existing_lab_namespaces(lab_name) == [ns]
    down = run_lab("down", "--name", lab_name)
    assert down.returncode == 0 and f"note: left namespace {ns} alone" in down.stdout
    decoys.assert_intact()
    assert not instance.run_dir(lab_name).exists()


# ------------------------------------------------------------------ preflight, via the CLI

def nothing_built(name: str) -> None:
    assert existing_lab_namespaces(name) == []
    assert not instance.run_dir(name).exists()


@pytest.mark.parametrize("args", [
    ["up", "--mode", "relay", "--name", "{n}"], ["down", "--name", "{n}"],
    ["status", "--name", "{n}"], ["test", "--family", "4", "--name", "{n}"],
    ["exec", "--name", "{n}", "client", "--", "true"],
])
def test_not_root(args: list[str], lab_name: str, clean_host: None) -> None:
    argv = [a.format(n=lab_name) for a in args]
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          sys.executable, "-m", "lab", *argv],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    one_line_error(res, "the lab needs root")
    nothing_built(lab_name)


def _path_without(tmp_path: Path, missing: str) -> str:
    """A PATH directory holding every host binary except ``missing``."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if not os.path.isdir(d):
            continue
        for entry in os.scandir(d):
            target = bindir / entry.name
            if entry.name != missing and not target.exists():
                target.symlink_to(entry.path)
    return str(bindir)


def test_missing_dnsmasq_names_the_package(lab_name: str, clean_host: None,
                                           tmp_path: Path) -> None:
    res = run_lab("up", "--mode", "relay", "--name", lab_name,
                  env={"PATH": _path_without(tmp_path, "dnsmasq")})
    one_line_error(res, "dnsmasq is missing", "apt-get install dnsmasq-base")
    nothing_built(lab_name)


FAKE_IP = """#!/bin/sh
# ip without veth support: namespaces are created, then 'link add ... type veth' fails.
if [ "$1" = "-batch" ]; then
  input=$(cat)
  case "$input" in *"type veth"*)
    printf '%s\\n' "$input" | grep '^netns add' | {real} -batch -
    echo "Error: Unknown device type." >&2
    echo "Command failed -:$(printf '%s\\n' "$input" | grep -c '^netns add' | tr -d ' ')" >&2
    exit 1 ;;
  esac
  printf '%s\\n' "$input" | exec {real} "$@"
fi
exec {real} "$@"
"""


def test_no_veth_support_is_explained_and_cleaned(lab_name: str, clean_host: None,
                                                  tmp_path: Path) -> None:
    real = subprocess.run(["which", "ip"], capture_output=True, text=True).stdout.strip()
    bindir = tmp_path / "fake"
    bindir.mkdir()
    (bindir / "ip").write_text(FAKE_IP.format(real=real))
    (bindir / "ip").chmod(0o755)
    res = run_lab("up", "--mode", "relay", "--name", lab_name,
                  env={"PATH": f"{bindir}:{os.environ['PATH']}"})
    one_line_error(res, "veth or bridge support", "modprobe")
    nothing_built(lab_name)  # the namespaces it did create are gone again


@pytest.mark.parametrize("args, needle", [
    (["up", "--mode", "relay", "--name", "abcdef"], "too long"),
    (["up", "--mode", "server", "--name", "abcdefghij"], "too long"),
    (["up", "--mode", "relay", "--name", "Bad_Name"], "is invalid"),
    (["up", "--mode", "bridge"], "invalid choice: 'bridge'"),
    (["test", "--family", "5"], "invalid choice: 5"),
])
def test_bad_input_is_one_line(args: list[str], needle: str, clean_host: None) -> None:
    one_line_error(run_lab(*args), needle)
    for name in ("abcdef", "abcdefghij"):
        nothing_built(name)


def test_name_fine_for_server_mode_works_end_to_end(clean_host: None) -> None:
    """8 characters fit server mode's interfaces but not relay's: up, test and down work."""
    name = f"s{os.getpid() % 100000:05d}ab"
    try:
        assert run_lab("up", "--mode", "server", "--name", name).returncode == 0
        assert run_lab("test", "--family", "4", "--name", name).returncode == 0
        one_line_error(run_lab("up", "--mode", "relay", "--name", name), "too long")
        assert run_lab("status", "--name", name).returncode == 0  # refused before touching it
    finally:
        res = run_lab("down", "--name", name)
    assert res.returncode == 0 and "removed" in res.stdout, res.stderr
    assert_gone(name, [])


def test_unknown_node_is_one_line(lab_name: str, clean_host: None) -> None:
    assert run_lab("up", "--mode", "server", "--name", lab_name).returncode == 0
    one_line_error(run_lab("exec", "--name", lab_name, "nosuchnode", "--", "true"),
                   "unknown node 'nosuchnode'", "client, dut")
    one_line_error(run_lab("logs", "--name", lab_name, "nosuchnode"),
                   "no daemon on node 'nosuchnode'")
    assert run_lab("exec", "--name", lab_name, "dut", "--", "true").returncode == 0
    assert run_lab("down", "--name", lab_name).returncode == 0


# ------------------------------------------------------------------ parallel labs

@pytest.mark.slow
def test_four_labs_at_once(clean_host: None) -> None:
    base = f"p{os.getpid() % 1000:03d}"
    labs = {f"{base}{i}": mode for i, mode in enumerate(["relay", "server", "relay", "server"])}
    try:
        ups = {n: lab_cmd("up", "--mode", m, "--name", n) for n, m in labs.items()}
        for n, p in ups.items():
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, f"{n}: {err}"
        tests = {(n, f): lab_cmd("test", "--family", f, "--name", n)
                 for n in labs for f in ("4", "6")}
        leased: dict[str, set[str]] = {}
        for (n, f), p in tests.items():
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, f"{n} v{f}: {out}{err}"
            leased.setdefault(f, set()).add(out.split(" got ")[1].split()[0])
        for n in labs:
            status = run_lab("status", "--name", n)
            assert status.returncode == 0, status.stdout
        idents = [i for n in labs for i in recorded(n)]
        assert len(idents) == 12 and len({i.pid for i in idents}) == 12
    finally:
        downs = [lab_cmd("down", "--name", n) for n in labs]
        for p in downs:
            p.communicate(timeout=60)
    assert [p.returncode for p in downs] == [0, 0, 0, 0]
    for n in labs:
        assert_gone(n, idents)


# ------------------------------------------------------------------ scenarios

def test_failed_scenario_keeps_its_logs(lab_name: str, clean_host: None,
                                        tmp_path: Path) -> None:
    res = run_lab("scenario", "relay_v4", "--name", lab_name,
                  env={"LAB_DUT_BIN": "/bin/false", "LAB_CAPTURES_DIR": str(tmp_path)})
    assert res.returncode != 0 and "Traceback" not in res.stdout + res.stderr
    assert "FAIL relay_v4" in res.stdout and "dut-v4 exited before it was ready" in res.stdout
    run_dir = Path(res.stdout.split("capture run: ")[1].split()[0])
    assert run_dir.parent == tmp_path / "relay_v4"
    for kept in ("dut-v4.log", "dnsmasq-server.log", "dnsmasq-server.conf", "dut.json"):
        assert (run_dir / kept).exists(), kept
    assert_gone(lab_name, [])


@pytest.mark.slow
@pytest.mark.skipif(not all((defaults.GOLDENS_DIR / f"{s}.flow").exists()
                            for s in defaults.MATRIX),
                    reason="the scenario goldens are not recorded yet")
def test_four_scenarios_in_parallel(clean_host: None, tmp_path: Path) -> None:
    prefix = f"q{os.getpid() % 100:02d}"
    res = run_lab("scenario", *defaults.MATRIX, "--parallel", "--name", prefix, timeout=300,
                  env={"LAB_CAPTURES_DIR": str(tmp_path)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "4 passed, 0 failed" in res.stdout
    for scenario in defaults.MATRIX:
        assert (tmp_path / scenario / "latest" / "capture.pcap").exists()
    for lab in ("r4", "r6", "s4", "s6"):
        assert_gone(prefix + lab, [])
