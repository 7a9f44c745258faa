"""The user's own commands, through the real invoke and nox programs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import host_snapshot

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=REPO, capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("mode", ["relay", "server"])
def test_invoke_up_client_tests_down(mode: str) -> None:
    before = host_snapshot()
    env = {"LAB_NAME": f"iv{mode[0]}"}
    up = _run(str(BIN / "invoke"), "lab.up", "--mode", mode, env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        for family in ("4", "6"):
            t = _run(str(BIN / "invoke"), "lab.test", "--family", family, env=env)
            assert t.returncode == 0, t.stdout + t.stderr
            assert "(in pool)" in t.stdout
        st = _run(str(BIN / "invoke"), "lab.status", env=env)
        assert st.returncode == 0 and "serving" in st.stdout
        ex = _run(str(BIN / "invoke"), "lab.exec", "client", "--", "ip", "-br", "link", env=env)
        assert ex.returncode == 0 and f"{env['LAB_NAME']}-cli" in ex.stdout
    finally:
        down = _run(str(BIN / "invoke"), "lab.down", env=env)
    assert down.returncode == 0, down.stderr
    assert host_snapshot() == before


def test_nox_session_runs_a_scenario_without_building_a_virtualenv() -> None:
    res = _run(str(BIN / "nox"), "-s", "server_v4", env={"LAB_NAME": "inox"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 passed, 0 failed" in res.stdout + res.stderr
    assert "Creating virtual environment" not in res.stderr


def test_invoke_reports_bad_input_in_one_line() -> None:
    res = _run(str(BIN / "invoke"), "lab.up", "--mode", "bridge", "--name", "ivbad")
    assert res.returncode != 0
    assert res.stderr.strip().count("\n") == 0, res.stderr
    assert "invalid choice: 'bridge'" in res.stderr and "relay" in res.stderr


def test_invoke_exec_keeps_the_shell_quoting() -> None:
    env = {"LAB_NAME": "ivq"}
    assert _run(str(BIN / "invoke"), "lab.up", "--mode", "server", env=env).returncode == 0
    try:
        res = _run(str(BIN / "invoke"), "lab.exec", "client", "--", "sh", "-c",
                   "echo hi; exit 7", env=env)
        assert res.returncode == 7 and res.stdout.strip() == "hi", res
        sw = _run(str(BIN / "invoke"), "lab.exec", "sw", "--", "ip", "-br", "link", env=env)
        assert sw.returncode == 0 and "ivq-br-int" in sw.stdout
    finally:
        _run(str(BIN / "invoke"), "lab.down", env=env)


def test_invoke_integer_options_never_traceback() -> None:
    for argv in (["lab.test", "--family", "x"], ["lab.logs", "--lines", "x"],
                 ["bench", "--runs", "0"], ["flake", "--runs", "0"]):
        res = _run(str(BIN / "invoke"), *argv)
        assert res.returncode != 0, argv
        assert "Traceback" not in res.stderr and res.stderr.startswith("error: "), res.stderr


def test_a_scenario_never_takes_a_lab_the_user_brought_up(tmp_path: Path) -> None:
    env = {"LAB_NAME": "ivu"}
    assert _run(str(BIN / "invoke"), "lab.up", "--mode", "server", env=env).returncode == 0
    try:
        state_before = (Path("/run/dhcp-lab/ivu/state.json")).read_text()
        res = _run(str(BIN / "nox"), "-s", "server_v4",
                   env={**env, "LAB_CAPTURES_DIR": str(tmp_path / "caps")})
        assert not (tmp_path / "caps").exists()  # refused before anything was made
        assert res.returncode != 0
        assert "scenario builds and removes its own lab" in res.stdout + res.stderr
        assert Path("/run/dhcp-lab/ivu/state.json").read_text() == state_before
        st = _run(str(BIN / "invoke"), "lab.status", env=env)
        assert st.returncode == 0, st.stdout
    finally:
        _run(str(BIN / "invoke"), "lab.down", env=env)


def test_captures_show_refuses_a_map_from_another_capture(tmp_path: Path) -> None:
    from lab import scenario

    relay = scenario.run("relay_v4", lab="ivm1", captures_root=tmp_path)
    server = scenario.run("server_v4", lab="ivm2", captures_root=tmp_path)
    assert relay.ok and server.ok and relay.run and server.run
    res = _run(str(BIN / "invoke"), "captures.show", str(relay.run.pcap), "--ifmap",
               str(server.run.ifmap))
    assert res.returncode != 0 and "does not know" in res.stderr, res
    ok = _run(str(BIN / "invoke"), "captures.show", str(relay.run.dir))
    assert ok.returncode == 0 and "(DSR: the reply skips lb)" in ok.stdout
    assert (relay.run.dir / "flow.mmd").read_text().startswith("sequenceDiagram")
