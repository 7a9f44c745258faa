"""The pure parts of the lab's robustness: ownership marks, the lock, pid identity, the
fault seam. No root, no subprocess."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from lab import faults, instance, netns, proc, topology
from lab.errors import StateError, UsageError


def test_down_accepts_every_name_some_mode_can_bring_up() -> None:
    # 8 characters: too long for relay's interfaces, fine for server's
    with pytest.raises(UsageError, match="too long"):
        topology.build("abcdefgh", "relay")
    topology.build("abcdefgh", "server")
    assert "abcdefgh-dut" in topology.all_namespaces("abcdefgh")
    assert "abcdefgh-relay" in topology.all_namespaces("abcdefgh")
    with pytest.raises(UsageError, match="invalid"):
        topology.all_namespaces("Bad_Name")


def test_ownership_marks_are_the_labs_own_interfaces() -> None:
    marks = topology.ownership_marks("ab1")
    assert set(marks) == set(topology.all_namespaces("ab1"))
    for mode in ("relay", "server"):
        t = topology.build("ab1", mode)
        for i in t.ifaces:
            assert (i.name, i.mac) in marks[i.ns]
            assert (i.port, i.port_mac) in marks[t.switch_ns]
    other = topology.ownership_marks("ab2")
    assert not {m for ms in marks.values() for m in ms} & {m for ms in other.values() for m in ms}


def test_classify_keeps_look_alikes_and_foreign_namespaces_out() -> None:
    marks = topology.ownership_marks("ab1")
    cli = topology.build("ab1", "server").iface("cli")
    links = {
        "ab1-client": {"lo": "00:00:00:00:00:00", cli.name: cli.mac},  # built by the lab
        "ab1-sw": {"lo": "00:00:00:00:00:00"},  # empty, listed: interrupted build
        "ab1-dut": {"lo": "00:00:00:00:00:00"},  # empty, not listed: someone else's
        "ab1-relay": {"lo": "", "eth0": "02:00:00:00:00:01"},  # listed, but not ours
        "ab1-lb": {"lo": "", cli.name: "02:11:22:33:44:55"},  # our name, another MAC
    }
    ours, theirs = netns.classify(links, marks, listed=["ab1-sw", "ab1-relay", "ab1-client"])
    assert sorted(ours) == ["ab1-client", "ab1-sw"]
    assert sorted(theirs) == ["ab1-dut", "ab1-lb", "ab1-relay"]


def test_signals_never_reach_a_reused_pid() -> None:
    me = proc.identify(os.getpid())
    assert me is not None
    assert proc.send(me, 0)  # signal 0: only checks deliverability
    assert not proc.send(proc.ProcId(me.pid, me.start - 1), 0)
    assert not proc.ProcId(me.pid, me.start - 1).alive()
    assert proc.stop_all([proc.ProcId(me.pid, me.start - 1)]) == []  # and we are still here


def test_stale_pid_file_names_nobody(tmp_path: Path) -> None:
    pidfile = tmp_path / "dhclient.x.v4.pid"
    assert proc.from_pidfile(pidfile) is None
    pidfile.write_text("garbage\n")
    assert proc.from_pidfile(pidfile) is None
    pidfile.write_text(f"{os.getpid()}\n")  # a live process that never saw this pid file
    assert proc.from_pidfile(pidfile) is None


@pytest.fixture
def run_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAB_RUN_ROOT", str(tmp_path))
    return tmp_path


def test_busy_lock_names_its_holder(run_root: Path) -> None:
    with instance.locked("ab1"):
        with pytest.raises(StateError, match=rf"lab 'ab1' is busy: pid {os.getpid()} "):
            with instance.locked("ab1", timeout=0.05):
                pass
    with instance.locked("ab1", timeout=0):
        pass


def test_lock_survives_its_file_being_unlinked_by_down(run_root: Path) -> None:
    """down unlinks the lock file while holding it; a waiter that opened the old file must
    not believe it holds the lock while a newcomer locks the new file."""
    order: list[str] = []
    waiter_has_it = threading.Event()

    def waiter() -> None:
        with instance.locked("ab1", timeout=5):
            order.append("waiter")
            waiter_has_it.set()

    with instance.locked("ab1"):
        t = threading.Thread(target=waiter)
        t.start()
        (run_root / ".ab1.lock").unlink()  # what down does before releasing
    assert waiter_has_it.wait(5)
    t.join()
    with instance.locked("ab1", timeout=0):
        order.append("after")
    assert order == ["waiter", "after"]


def test_checkpoints_are_inert_unless_asked(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.delenv("LAB_PAUSE_AT", raising=False)
    for name in faults.CHECKPOINTS:
        faults.checkpoint(name)
    monkeypatch.setenv("LAB_PAUSE_AT", "up:ready")
    monkeypatch.setenv("LAB_PAUSE_FILE", str(tmp_path / "m"))
    faults.checkpoint("up:netns-built")
    assert not (tmp_path / "m").exists()
    with pytest.raises(AssertionError):
        faults.checkpoint("no:such-point")
