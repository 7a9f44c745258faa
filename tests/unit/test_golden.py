"""lab.golden: the pytest-regressions model, and refusal of malformed goldens."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import GoldenError
from lab.flow import normalize, render
from lab.golden import compare, load, obtained_path, parse, unused, update
from tests.unit.flowkit import IFMAP, relay_v4

FLOW = render(normalize(relay_v4(), IFMAP))


def test_missing_golden_fails_loudly_and_writes_obtained(tmp_path: Path) -> None:
    res = compare("relay_v4", FLOW, tmp_path)
    assert not res.ok and res.missing
    assert "invoke goldens.update --scenario relay_v4" in res.message
    assert res.obtained == tmp_path / "relay_v4.flow.obtained"
    assert res.obtained.read_text() == FLOW
    assert not (tmp_path / "relay_v4.flow").exists()  # never written implicitly
    with pytest.raises(GoldenError, match="missing"):
        res.check()


def test_match_removes_stale_obtained(tmp_path: Path) -> None:
    assert update("relay_v4", FLOW, tmp_path) is True
    assert update("relay_v4", FLOW, tmp_path) is False
    obtained_path("relay_v4", tmp_path).write_text("stale")
    res = compare("relay_v4", FLOW, tmp_path)
    assert res.ok and res.diff == "" and res.obtained is None
    assert not obtained_path("relay_v4", tmp_path).exists()
    res.check()


def test_editing_one_golden_line_fails_with_a_readable_diff(tmp_path: Path) -> None:
    update("relay_v4", FLOW, tmp_path)
    golden = tmp_path / "relay_v4.flow"
    edited = golden.read_text().replace("server.int -> relay.int ", "server.int -> lb        ", 1)
    assert edited != golden.read_text()
    golden.write_text(edited)
    res = compare("relay_v4", FLOW, tmp_path)
    assert not res.ok and not res.missing
    assert res.diff.startswith(f"--- {tmp_path.name}/relay_v4.flow\n"
                               f"+++ {tmp_path.name}/relay_v4.flow.obtained\n")
    minus = [d for d in res.diff.splitlines() if d.startswith("-") and not d.startswith("---")]
    plus = [d for d in res.diff.splitlines() if d.startswith("+") and not d.startswith("+++")]
    assert minus == ["-server.int -> lb               OFFER        hops=2 giaddr=relay.int  "
                     "flags=- ciaddr=-          yiaddr=in-pool    opt82=no"]
    assert plus == [minus[0].replace("-server.int -> lb        ", "+server.int -> relay.int ", 1)]
    assert "invoke goldens.update --scenario relay_v4" in res.message
    assert obtained_path("relay_v4", tmp_path).read_text() == FLOW
    with pytest.raises(GoldenError) as err:
        res.check()
    assert res.diff in str(err.value)


def test_unused_goldens_are_reported(tmp_path: Path) -> None:
    for name in ("relay_v4", "old_scenario"):
        update(name, FLOW, tmp_path)
    compare("relay_v6", FLOW, tmp_path)  # leaves relay_v6.flow.obtained: not a golden
    assert unused(tmp_path, ["relay_v4", "relay_v6"]) == [tmp_path / "old_scenario.flow"]
    assert unused(tmp_path / "nope", ["x"]) == []


@pytest.mark.parametrize(("content", "where"), [
    (b"", "empty"),
    (b"\n\n", "empty"),
    (b"# dhcp-lab flow v0\nclient -> broadcast  DISCOVER\n", ":1: expected header"),
    (b"client -> broadcast  DISCOVER\n", ":1: expected header"),
    (FLOW.encode() + b"this is not a flow line\n", ":15: not a flow line"),
    (FLOW.encode().replace(b"\nclient", b"\n\x00\x01garbage", 1), ":2: binary data"),
    (FLOW.encode() + b"\xff\xfe\n", ":15: not UTF-8"),
    (b"# dhcp-lab flow v1\n", "no transmissions"),
    (FLOW.encode().rstrip(b"\n"), "newline"),
    (FLOW.encode() + b"client -> broadcast  DISCOVER\n", "after the exchange summary"),
    (FLOW.encode().replace(b"DISCOVER ", b"DISCOVER\t", 1), ":2: control characters"),
])
def test_malformed_golden_names_file_and_line(tmp_path: Path, content: bytes,
                                              where: str) -> None:
    golden = tmp_path / "relay_v4.flow"
    golden.write_bytes(content)
    with pytest.raises(GoldenError) as err:
        load(golden)
    msg = str(err.value)
    assert where in msg and str(golden) in msg and "\n" not in msg
    with pytest.raises(GoldenError):
        compare("relay_v4", FLOW, tmp_path)
    assert obtained_path("relay_v4", tmp_path).read_text() == FLOW


def test_parse_counts_and_update_refuses_malformed(tmp_path: Path) -> None:
    g = parse(FLOW, "x")
    assert (g.transmissions, g.exchanges) == (10, 2)
    with pytest.raises(GoldenError):
        update("relay_v4", "garbage\n", tmp_path)
    assert not (tmp_path / "relay_v4.flow").exists()


def test_scenario_names_cannot_escape_the_goldens_dir(tmp_path: Path) -> None:
    with pytest.raises(GoldenError, match="invalid"):
        compare("../etc/passwd", FLOW, tmp_path)
