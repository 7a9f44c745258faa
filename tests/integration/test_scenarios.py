"""Full scenario runs against the goldens: real lab, real daemons, real tcpdump and pcaps."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab import crosscheck, decode, defaults, flow, golden, ifmap, refmap, scenario
from tests.integration.conftest import host_snapshot, run_lab

REF = Path(__file__).resolve().parent.parent / "data" / "reference"


@pytest.mark.parametrize("name", defaults.SCENARIOS)
def test_scenario_matches_its_golden(name: str, tmp_path: Path) -> None:
    r = scenario.run(name, lab=f"i{scenario.get(name).lab}", captures_root=tmp_path)
    assert r.ok, r.message
    assert r.run is not None
    for kept in ("capture.pcap", "ifmap.json", "flow.txt", "flow.mmd", "tcpdump.log"):
        assert (r.run.dir / kept).exists(), kept
    assert list(r.run.dir.glob("dut-v*.log"))
    assert (tmp_path / name / "latest").resolve() == r.run.dir.resolve()


def test_editing_one_golden_line_fails_with_a_readable_diff_and_update_restores_it(
        tmp_path: Path) -> None:
    goldens = tmp_path / "goldens"
    shutil.copytree(defaults.GOLDENS_DIR, goldens)
    path = goldens / "relay_v4.flow"
    original = path.read_text()
    path.write_text(original.replace("lb         -> server.ext       DISCOVER     hops=2",
                                     "lb         -> server.ext       DISCOVER     hops=1", 1))
    assert path.read_text() != original
    r = scenario.run("relay_v4", lab="ied", goldens_dir=goldens, captures_root=tmp_path)
    assert not r.ok
    assert "--- " in r.message and "+++ " in r.message
    assert "-lb         -> server.ext       DISCOVER     hops=1" in r.message
    assert "+lb         -> server.ext       DISCOVER     hops=2" in r.message
    assert (goldens / "relay_v4.flow.obtained").exists()
    up = scenario.run("relay_v4", lab="ied", goldens_dir=goldens, captures_root=tmp_path,
                      update=True)
    assert up.ok and "CHANGED" in up.message
    assert path.read_text() == original
    assert not (goldens / "relay_v4.flow.obtained").exists()


def test_missing_golden_fails_loudly(tmp_path: Path) -> None:
    r = scenario.run("server_v4", lab="imiss", goldens_dir=tmp_path / "none",
                     captures_root=tmp_path)
    assert not r.ok and "missing" in r.message and "goldens.update" in r.message


def test_nox_session_style_run_through_the_cli_leaves_no_trace() -> None:
    before = host_snapshot()
    res = run_lab("scenario", "server_v4", env={"LAB_NAME": "icli"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 passed, 0 failed" in res.stdout
    after = host_snapshot()
    assert after == before


@pytest.mark.parametrize("names", [["relay_v4", "server_v6"], list(defaults.MATRIX)])
def test_scenarios_in_parallel_labs(names: list[str]) -> None:
    runs = scenario.run_matrix(names, parallel=True, prefix="p")
    assert [r.ok for r in runs] == [True] * len(names), "\n".join(r.message for r in runs)
    assert len({r.lab for r in runs}) == len(names)


def test_a_malformed_golden_is_a_clear_failure(tmp_path: Path) -> None:
    goldens = tmp_path / "goldens"
    shutil.copytree(defaults.GOLDENS_DIR, goldens)
    (goldens / "server_v4.flow").write_text("# dhcp-lab flow v1\nthis is not a flow line\n")
    r = scenario.run("server_v4", lab="imal", goldens_dir=goldens, captures_root=tmp_path)
    assert not r.ok
    assert "server_v4.flow:2: not a flow line" in r.message, r.message
    assert "goldens.update --scenario server_v4" in r.message


@pytest.mark.parametrize("name", ["relay_v6", "server_v4"])
def test_reference_capture_of_real_dhcplb_has_the_golden_shape(name: str) -> None:
    """The real dhcplb's captures normalize to exactly our goldens for the same scenario."""
    pcap = REF / f"dhcplb-{name.replace('_', '-')}.any.pcap"
    imap = refmap.load_reference(pcap.with_suffix(".json"), refmap.mode_of(pcap))
    obtained = flow.render(flow.normalize(decode.decode_pcap(pcap).frames, imap))
    assert obtained == (defaults.GOLDENS_DIR / f"{name}.flow").read_text()
    golden.load(defaults.GOLDENS_DIR / f"{name}.flow")  # and the golden itself is valid


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is missing")
@pytest.mark.parametrize("name", defaults.MATRIX)
def test_pyshark_and_dpkt_see_the_same_messages_in_a_lab_capture(
        name: str, tmp_path: Path) -> None:
    r = scenario.run(name, lab=f"x{scenario.get(name).lab}", captures_root=tmp_path)
    assert r.ok, r.message
    assert r.run is not None
    imap = ifmap.load(r.run.ifmap)
    ours = crosscheck.dpkt_sequence(decode.decode_pcap(r.run.pcap).frames, imap)
    theirs = crosscheck.tshark_sequence(r.run.pcap, imap)
    assert ours == theirs and len(ours) >= 2


BROKEN_DUT = """#!{python}
# A dhcplb-compatible DUT with one regression: it forwards DHCPv4 without adding 1 to hops.
import sys

from lab.dut import balancer

_forward = balancer.Balancer4.forward


def forward(self, buf, n, peer):
    dest = _forward(self, buf, n, peer)
    buf[3] = (buf[3] - 1) & 0xFF
    return dest


balancer.Balancer4.forward = forward
from lab.dut.__main__ import main  # noqa: E402

sys.exit(main())
"""


def test_a_real_regression_in_the_dut_fails_its_scenario_with_the_diff(tmp_path: Path) -> None:
    """The exchange still works (the client gets a lease); only the flow shows the bug."""
    import sys

    dut = tmp_path / "broken-dhcplb"
    dut.write_text(BROKEN_DUT.format(python=sys.executable))
    dut.chmod(0o755)
    goldens = tmp_path / "goldens"
    shutil.copytree(defaults.GOLDENS_DIR, goldens)
    r = scenario.run("relay_v4", lab="ibrk", dut_bin=str(dut), captures_root=tmp_path,
                     goldens_dir=goldens)
    assert r.client is not None and r.client.in_pool  # the lease arrived anyway
    assert not r.ok
    assert "-lb         -> server.ext       DISCOVER     hops=2" in r.message, r.message
    assert "+lb         -> server.ext       DISCOVER     hops=1" in r.message, r.message
    assert "-lb         -> server.ext       REQUEST      hops=2" in r.message, r.message
    assert (goldens / "relay_v4.flow.obtained").exists()
