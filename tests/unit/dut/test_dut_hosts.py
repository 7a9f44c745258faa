"""Backend selection (fnv1a, xid, rr, rc_ratio, overrides) and host-list reloads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lab.dut.hosts import (
    HostFile,
    OverridesFile,
    Selector,
    Watcher,
    fnv1a32,
    parse_host_line,
    parse_overrides,
)


# Golden values of Go's hash/fnv New32a tests (the hash dhcplb uses), plus "foobar".
@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"", 0x811C9DC5), (b"a", 0xE40C292C), (b"ab", 0x4D2505CA), (b"abc", 0x1A47E90B),
     (b"abcdef", 0xFF478A2A), (b"foobar", 0xBF9CF968)],
)
def test_fnv1a32_vectors(data: bytes, expected: int) -> None:
    assert fnv1a32(data) == expected


def hosts(tmp_path: Path, name: str, lines: list[str], version: int = 4) -> HostFile:
    p = tmp_path / name
    p.write_text("".join(f"{x}\n" for x in lines))
    return HostFile(str(p), version, name)


def test_host_lines() -> None:
    assert parse_host_line("192.168.200.3", 4) == ("192.168.200.3", 67)
    assert parse_host_line("127.0.0.2:6768", 4) == ("127.0.0.2", 6768)
    assert parse_host_line("fd00:200::3", 6) == ("fd00:200::3", 547)
    assert parse_host_line("[::1]:6768", 6) == ("::1", 6768)
    assert parse_host_line("# comment", 4) is None
    assert parse_host_line("   ", 4) is None
    assert parse_host_line("1.2.3.4:x", 4) is None


def test_xid_is_fnv1a_of_client_id_mod_n(tmp_path: Path) -> None:
    servers = [f"10.0.0.{i}" for i in range(1, 4)]
    sel = Selector(4, "xid", 0, hosts(tmp_path, "h", servers))
    mac = bytes.fromhex("e63d3d9abeaa")
    expected = servers[fnv1a32(mac) % 3]
    assert sel.pick(mac, mac) == (expected, 67)
    assert {sel.pick(mac, mac) for _ in range(10)} == {(expected, 67)}  # sticky


def test_rr_rotates_per_message(tmp_path: Path) -> None:
    sel = Selector(4, "rr", 0, hosts(tmp_path, "h", ["10.0.0.1", "10.0.0.2", "10.0.0.3"]))
    picks = [sel.pick(b"same", None) for _ in range(6)]
    assert [p[0] for p in picks if p] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"] * 2


def test_rc_ratio_splits_by_hash(tmp_path: Path) -> None:
    stable = hosts(tmp_path, "stable", ["10.0.0.1"])
    rc = hosts(tmp_path, "rc", ["10.0.1.1"])
    sel = Selector(4, "xid", 30, stable, rc)
    ids = [i.to_bytes(6, "big") for i in range(2000)]
    to_rc = [cid for cid in ids if sel.pick(cid, None) == ("10.0.1.1", 67)]
    assert to_rc == [cid for cid in ids if fnv1a32(cid) % 100 < 30]
    assert 400 < len(to_rc) < 800
    assert Selector(4, "xid", 0, stable, rc).pick(to_rc[0], None) == ("10.0.0.1", 67)
    assert Selector(4, "xid", 100, stable, rc).pick(ids[0], None) == ("10.0.1.1", 67)


def test_empty_list_picks_nothing(tmp_path: Path) -> None:
    sel = Selector(4, "xid", 0, hosts(tmp_path, "h", []))
    assert sel.pick(b"abc", None) is None
    missing = HostFile(str(tmp_path / "nope"), 4)
    assert Selector(4, "rr", 0, missing).pick(b"abc", None) is None


def overrides_file(tmp_path: Path, v4: dict[str, object]) -> OverridesFile:
    p = tmp_path / "overrides.json"
    p.write_text(json.dumps({"v4": v4, "v6": {}}))
    return OverridesFile(str(p), 4)


def test_host_override_wins(tmp_path: Path) -> None:
    mac = bytes.fromhex("e63d3d9abeaa")
    ov = overrides_file(tmp_path, {"e6:3d:3d:9a:be:aa": {"host": "10.9.9.9",
                                                         "expiration": "2999/01/01 00:00 +0000"}})
    sel = Selector(4, "xid", 0, hosts(tmp_path, "h", ["10.0.0.1"]), overrides=ov)
    assert sel.pick(mac, mac) == ("10.9.9.9", 67)
    assert sel.pick(b"\x01" * 6, b"\x01" * 6) == ("10.0.0.1", 67)


def test_expired_or_unparsable_override_is_ignored(tmp_path: Path) -> None:
    mac = bytes.fromhex("e63d3d9abeaa")
    for exp in ("2017/05/06 14:00 +0000", "next tuesday"):
        ov = overrides_file(tmp_path, {"E6-3D-3D-9A-BE-AA": {"host": "10.9.9.9",
                                                             "expiration": exp}})
        sel = Selector(4, "xid", 0, hosts(tmp_path, "h", ["10.0.0.1"]), overrides=ov)
        assert sel.pick(mac, mac) == ("10.0.0.1", 67)


def test_tier_override_is_a_host_file(tmp_path: Path) -> None:
    mac = bytes.fromhex("e63d3d9abeaa")
    tier = tmp_path / "tier.txt"
    tier.write_text("10.7.0.1\n10.7.0.2\n")
    ov = overrides_file(tmp_path, {"e6:3d:3d:9a:be:aa": {"tier": str(tier)}})
    sel = Selector(4, "xid", 0, hosts(tmp_path, "h", ["10.0.0.1"]), overrides=ov)
    assert sel.pick(mac, mac) == (["10.7.0.1", "10.7.0.2"][fnv1a32(mac) % 2], 67)


def test_bad_overrides_json() -> None:
    with pytest.raises(ValueError):
        parse_overrides("{", 4)
    with pytest.raises(ValueError):
        parse_overrides(json.dumps({"v4": {"not-a-mac": {"host": "1.2.3.4"}}}), 4)


def test_reload_in_place_write(tmp_path: Path) -> None:
    hf = hosts(tmp_path, "h", ["10.0.0.1"])
    sel = Selector(4, "rr", 0, hf)
    with open(hf.path, "r+") as f:  # same inode, new content
        f.seek(0)
        f.write("10.0.0.2\n10.0.0.3\n")
        f.truncate()
    assert Watcher(1, [hf]).poll()
    assert hf.servers == (("10.0.0.2", 67), ("10.0.0.3", 67))
    assert sel.pick(b"x", None) == ("10.0.0.2", 67)  # rr counter reset on change


def test_reload_replace_by_rename(tmp_path: Path) -> None:
    hf = hosts(tmp_path, "h", ["10.0.0.1"])
    new = tmp_path / "h.new"
    new.write_text("10.0.0.9\n")
    os.replace(new, hf.path)
    assert hf.reload_if_changed()
    assert hf.servers == (("10.0.0.9", 67),)
    assert not hf.reload_if_changed()  # nothing changed since


def test_reload_to_empty_and_back(tmp_path: Path) -> None:
    hf = hosts(tmp_path, "h", ["10.0.0.1"])
    sel = Selector(4, "xid", 0, hf)
    Path(hf.path).write_text("")
    hf.reload_if_changed()
    assert sel.pick(b"abc", None) is None
    Path(hf.path).write_text("10.0.0.5\n")
    hf.reload_if_changed()
    assert sel.pick(b"abc", None) == ("10.0.0.5", 67)


def test_watcher_thread_picks_up_changes(tmp_path: Path) -> None:
    import time

    hf = hosts(tmp_path, "h", ["10.0.0.1"])
    w = Watcher(0.05, [hf])
    w.start()
    try:
        Path(hf.path).write_text("10.0.0.2\n")
        deadline = time.monotonic() + 5
        while hf.servers != (("10.0.0.2", 67),) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        w.stop()
    assert hf.servers == (("10.0.0.2", 67),)
