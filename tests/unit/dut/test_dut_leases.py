"""Lease store: missing file, corrupt file, atomic writes, pool rules."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lab.dut.errors import LeaseFileError
from lab.dut.leases import LeaseStore, Pool, read_lease_file, write_atomic
from tests.unit.dut.dut_helpers import Clock


def test_missing_file_is_empty(tmp_path: Path) -> None:
    store = LeaseStore(str(tmp_path / "none.json"), Pool("10.0.0.1", "10.0.0.2"))
    assert store.by_addr == {}
    assert not (tmp_path / "none.json").exists()  # nothing written until a change


@pytest.mark.parametrize("text", ["{", "[]", '{"leases": 3}', '{"leases": [{"address": 1}]}',
                                  '{"leases": [{"address": "x", "client": "c", "state": "bound",'
                                  ' "expires": 1}]}',
                                  '{"leases": [{"address": "10.0.0.1", "client": "c",'
                                  ' "state": "weird", "expires": 1}]}'])
def test_corrupt_file_is_one_line_error_and_kept(tmp_path: Path, text: str) -> None:
    path = tmp_path / "leases.json"
    path.write_text(text)
    with pytest.raises(LeaseFileError) as err:
        LeaseStore(str(path), Pool("10.0.0.1", "10.0.0.9"))
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert path.read_text() == text  # untouched


def test_round_trip(tmp_path: Path) -> None:
    path = str(tmp_path / "leases.json")
    clock = Clock()
    store = LeaseStore(path, Pool("10.0.0.1", "10.0.0.9"), clock)
    store.put("10.0.0.3", "hw:aa", "bound", 600, "aa:bb:cc:dd:ee:ff")
    again = LeaseStore(path, Pool("10.0.0.1", "10.0.0.9"), clock)
    lease = again.holder("10.0.0.3")
    assert lease is not None and lease.client == "hw:aa" and lease.state == "bound"
    assert json.loads(Path(path).read_text())["version"] == 1


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "leases.json"
    write_atomic(str(path), "old\n")
    inode = path.stat().st_ino
    replaced: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        assert Path(src).parent == path.parent  # temp file in the same directory
        assert Path(src).read_text() == "new\n"  # complete before the rename
        assert path.read_text() == "old\n"  # readers still see the old file
        replaced.append((src, dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_atomic(str(path), "new\n")
    assert replaced and path.read_text() == "new\n" and path.stat().st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leases.json"]  # no temp left


def test_failed_write_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "leases.json"
    write_atomic(str(path), "old\n")

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(str(path), "new\n")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leases.json"]


def test_pool_is_inclusive() -> None:
    pool = Pool("10.0.0.1", "10.0.0.3")
    assert list(pool.addresses()) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert "10.0.0.3" in pool and "10.0.0.4" not in pool and "fd00::1" not in pool


def test_allocation_prefers_unused_then_expired() -> None:
    clock = Clock()
    store = LeaseStore(None, Pool("10.0.0.1", "10.0.0.2"), clock)
    store.put("10.0.0.1", "a", "bound", 10)
    store.put("10.0.0.2", "b", "bound", 100)
    assert store.allocate("c") is None
    clock.now += 50
    assert store.allocate("c") == "10.0.0.1"
    assert store.allocate("a") == "10.0.0.1"  # its own, expired but untaken


def test_read_lease_file_missing(tmp_path: Path) -> None:
    assert read_lease_file(str(tmp_path / "x")) == []
