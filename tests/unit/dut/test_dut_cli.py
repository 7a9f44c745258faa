"""The CLI: Go-style flags, one-line errors, exit codes. No sockets are opened here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.dut.__main__ import Args, HelpRequested, main, parse_args
from lab.errors import UsageError


@pytest.mark.parametrize(
    "argv",
    [
        ["-config", "c.json", "-version", "6", "-server", "-v", "2"],
        ["-config=c.json", "-version=6", "-server=true", "-v=2"],
        ["--config", "c.json", "--version=6", "--server", "--v", "2"],
    ],
)
def test_go_style_flags(argv: list[str]) -> None:
    assert parse_args(argv) == Args("c.json", 6, True, None, 2)


def test_defaults_and_overrides_flag() -> None:
    assert parse_args(["-config", "c", "-overrides", "o.json"]) == Args("c", 4, False, "o.json", 0)
    assert parse_args(["-config", "c", "-server=false"]).server is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-config", "c", "-pprof", "6060"], "flag provided but not defined: -pprof"),
        (["-config", "c", "-log_dir=/tmp"], "flag provided but not defined: -log_dir"),
        (["-config"], "flag needs an argument: -config"),
        (["-config", "c", "-version", "x"], 'invalid value "x" for flag -version'),
        (["-config", "c", "-version", "5"], "-version: must be 4 or 6, got 5"),
        (["-version", "4"], "-config: missing"),
        (["-config", "c", "stray"], "unexpected argument: stray"),
        (["-config", "c", "-server=maybe"], 'invalid boolean value "maybe"'),
        (["---config", "c"], "bad flag syntax"),
    ],
)
def test_bad_flags(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_args(argv)
    assert str(err.value).startswith(message)


def test_help() -> None:
    with pytest.raises(HelpRequested):
        parse_args(["-h"])


def test_main_unknown_flag_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-config", "x", "-pprof", "1"]) == 2
    err = capsys.readouterr().err
    assert err == "error: flag provided but not defined: -pprof\n"


def test_main_bad_config_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"v4": {"port": "x", "host_sourcer": "file:/h"}}))
    assert main(["-config", str(cfg), "-version", "4"]) != 0
    err = capsys.readouterr().err
    assert err == 'error: v4.port: must be an integer 1..65535, got "x"\n'


def test_main_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-config", str(tmp_path / "nope.json")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: config: cannot read") and err.count("\n") == 1


def test_main_corrupt_lease_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    leases = tmp_path / "leases.json"
    leases.write_text("{not json")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"v4": {"port": 6767, "handler": {
        "start_ip": "10.0.0.10", "end_ip": "10.0.0.20", "lease_time": "10m",
        "lease_file": str(leases)}}}))
    assert main(["-config", str(cfg), "-server"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: lease file {leases}: corrupt")
    assert not any("Traceback" in line for line in err)
    assert leases.read_text() == "{not json"
