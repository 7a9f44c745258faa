"""Bad input to the command line gets one line and a non-zero exit, before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import capture, cli, flow, ifmap
from lab.errors import DecodeError


@pytest.mark.parametrize("argv, expected", [
    (["logs", "--lines", "0"], "0 must be 1 or more"),
    (["logs", "--lines", "x"], "'x' is not a whole number"),
    (["flake", "--runs", "-1"], "-1 must be 1 or more"),
    (["bench", "--runs", "0"], "0 must be 1 or more"),
    (["bench", "nope"], "unknown benchmark section 'nope'"),
    (["test", "--family", "x"], "invalid int value: 'x'"),
    (["test", "--family", "5"], "invalid choice: 5"),
    (["test", "--family", "4", "--rapid-commit"], "--rapid-commit is a DHCPv6 option"),
    (["scenario", "relay_v4", "relay_v4", "--parallel"], "relay_v4 is given twice"),
    (["scenario", "nosuch"], "unknown scenario 'nosuch'"),
    (["scenario", "relay_v4", "server_v4", "--name", "abcd"], "prefix 'abcd' is too long"),
    (["up", "--mode", "bridge"], "invalid choice: 'bridge'"),
])
def test_bad_input_is_one_line(argv: list[str], expected: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) != 0
    err = capsys.readouterr().err
    assert expected in err, err
    assert err.startswith("error: ") and err.count("\n") == 1, err


def test_prune_keeps_the_newest_runs_only(tmp_path: Path) -> None:
    names = [f"20261203T1{i:05d}.000Z-r4-{100 + i}" for i in range(5)]
    for n in names:
        (tmp_path / n).mkdir()
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "latest").symlink_to(names[-1])
    removed = capture.prune(tmp_path, 2)
    assert [p.name for p in removed] == names[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[3:], "not-a-run",
                                                                 "latest"])
    assert capture.prune(tmp_path, 0) == []


def test_an_ifmap_that_is_not_an_object_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ifmap.json"
    path.write_text(json.dumps([]))
    with pytest.raises(DecodeError, match="malformed: expected a JSON object, got list"):
        ifmap.load(path)


def test_frames_the_map_cannot_place_are_an_error() -> None:
    f = flow.Flow(lines=(), exchanges=(), stats=flow.FlowStats(frames=3, unknown=3))
    with pytest.raises(DecodeError, match="3 DHCP frame.*does not know"):
        flow.check_attributed(f, "x/ifmap.json")
    flow.check_attributed(flow.Flow(lines=(), exchanges=(), stats=flow.FlowStats()), "m")


BAD = Path(__file__).resolve().parent.parent / "data" / "bad"


@pytest.mark.parametrize("name, expected", [
    ("empty.pcap", "empty"),
    ("garbage.pcap", "not a pcap"),
    ("short-header.pcap", ""),
    ("relay-40-deep.pcap", "frame 1:"),
    ("opt9-length-mismatch.pcap", "frame 1: dhcpv6 option 9 length 54 exceeds"),
])
def test_bad_captures_through_captures_show_are_one_line(
        name: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapfile = tmp_path / "ifmap.json"
    mapfile.write_text(ifmap.IfMap("x", "relay", {}, {}, {}, {}).to_json())
    assert cli.main(["captures-show", str(BAD / name), "--ifmap", str(mapfile),
                     "--mermaid", str(tmp_path / "x.mmd")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err.lower(), err


def test_a_capture_without_dhcp_frames_is_shown_with_a_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapfile = tmp_path / "ifmap.json"
    mapfile.write_text(ifmap.IfMap("x", "relay", {}, {}, {}, {}).to_json())
    assert cli.main(["captures-show", str(BAD / "header-only.pcap"), "--ifmap", str(mapfile),
                     "--mermaid", str(tmp_path / "x.mmd")]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("# dhcp-lab flow v1\n")
    assert "holds no DHCP frames" in out.err
