"""Wireshark (tshark through pyshark) and lab.decode must see the same message sequence.

Needs tshark; it does not need root, but it lives here because it runs a real subprocess.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab.crosscheck import dpkt_sequence, throughput_pyshark, tshark_sequence
from lab.decode import decode_pcap
from lab.errors import DecodeError
from lab.ifmap import IfEntry, IfMap
from lab.refmap import load_reference, mode_of, synth_ifmap
from lab.synth import write_synthetic_pcap

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("tshark") is None,
                       reason="tshark is missing: apt-get install tshark"),
]

DATA = Path(__file__).resolve().parent.parent / "data"
REF = DATA / "reference"
REFERENCE = [
    ("dhcplb-relay-v6.any.pcap", "dhcplb-relay-v6.any.json", 12),
    ("dhcplb-relay-v6.client-eth.pcap", "dhcplb-relay-v6.any.json", 4),
    ("dhcplb-server-v4.any.pcap", "dhcplb-server-v4.any.json", 4),
]


@pytest.mark.parametrize(("pcap", "json_name", "kept"), REFERENCE)
def test_reference_captures_agree(pcap: str, json_name: str, kept: int) -> None:
    ifmap = load_reference(REF / json_name, mode_of(REF / pcap))
    ours = dpkt_sequence(decode_pcap(REF / pcap).frames, ifmap)
    theirs = tshark_sequence(REF / pcap, ifmap)
    assert ours == theirs
    assert len(ours) == kept


def _every_port(path: Path) -> IfMap:
    """A map that calls every interface index a port: both decoders keep the same frames."""
    frames = decode_pcap(path).frames
    indexes = {f.ifindex for f in frames if f.ifindex is not None}
    return IfMap("any", "relay", {i: IfEntry(f"if{i}", "port", "node", None, None)
                                  for i in indexes}, {}, {}, {})


def _data_pcaps() -> list[Path]:
    out = []
    for p in sorted(DATA.rglob("*")):
        if p.suffix in (".pcap", ".pcapng") and p.parent != REF:
            try:
                decoded = decode_pcap(p, strict=False)
            except DecodeError:
                continue  # a deliberately broken file: the decoder's own tests cover it
            if not decoded.errors and not decoded.truncated and decoded.frames:
                out.append(p)
    return out


@pytest.mark.parametrize("pcap", _data_pcaps(), ids=lambda p: p.name)
def test_checked_in_captures_agree(pcap: Path) -> None:
    ifmap = _every_port(pcap)
    assert dpkt_sequence(decode_pcap(pcap).frames, ifmap) == tshark_sequence(pcap, ifmap)


@pytest.mark.parametrize("linktype", [276, 1])
def test_synthetic_relay_chains_agree(tmp_path: Path, linktype: int) -> None:
    pcap = tmp_path / "synth.pcap"
    write_synthetic_pcap(pcap, 60, seed=7, linktype=linktype)
    ifmap = synth_ifmap()
    ours = dpkt_sequence(decode_pcap(pcap).frames, ifmap)
    assert any(msg.count("RELAY-FORW") == 3 for _, msg in ours)  # 3-deep chains are in there
    assert ours == tshark_sequence(pcap, ifmap)


def test_throughput_helper(tmp_path: Path) -> None:
    pcap = tmp_path / "synth.pcap"
    write_synthetic_pcap(pcap, 20, seed=1)
    assert throughput_pyshark(pcap) > 0
