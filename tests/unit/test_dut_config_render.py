"""The DUT config the lab renders is one the real dhcplb accepts, and so does ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import daemons, topology
from lab.dut import config as dut_config


@pytest.mark.parametrize("mode", ["relay", "server"])
def test_every_section_carries_what_the_real_dhcplb_requires(mode: str, tmp_path: Path) -> None:
    cfg = daemons.dut_config(topology.build("lab", mode), tmp_path)
    for family, section in (("4", cfg["v4"]), ("6", cfg["v6"])):
        assert isinstance(section, dict)
        assert section["version"] == int(family)
        assert section["algorithm"] in ("xid", "rr")  # dhcplb refuses a missing algorithm
        assert section["packet_buf_size"] >= 576  # 0 would truncate every packet
        assert section["throttle_cache_size"] > 0
        assert ("handler" in section) == (mode == "server")
        assert ("host_sourcer" in section) == (mode == "relay")


@pytest.mark.parametrize("mode", ["relay", "server"])
@pytest.mark.parametrize("family", [4, 6])
def test_the_reference_dut_parses_the_rendered_config_without_warnings(
        mode: str, family: int, tmp_path: Path) -> None:
    path = tmp_path / "dut.json"
    path.write_text(json.dumps(daemons.dut_config(topology.build("lab", mode), tmp_path)))
    cfg = dut_config.load_config(str(path), family, mode == "server")
    assert cfg.warnings == ()


def test_the_dut_argv_is_dhcplbs(tmp_path: Path) -> None:
    spec = daemons.dut(topology.build("lab", "server"), tmp_path, 6, "/opt/dhcplb")
    assert spec.argv == ("/opt/dhcplb", "-config", str(tmp_path / "dut.json"), "-version", "6",
                         "-server")


def test_the_forwarding_benchmark_config_has_the_throttle_off(tmp_path: Path) -> None:
    cfg = daemons.dut_config(topology.build("lab", "relay"), tmp_path, throttle=False)
    for section in (cfg["v4"], cfg["v6"]):
        assert isinstance(section, dict)
        assert section["throttle_rate"] == 0 and section["throttle_cache_rate"] == 0
        assert section["algorithm"] == "xid" and section["packet_buf_size"] == 1024
