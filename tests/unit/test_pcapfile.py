"""Capture-file layer: format by magic number, pcapng interfaces, truncation, bad files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lab.errors import DecodeError
from lab.pcapfile import (
    BT_EPB,
    BT_IDB,
    BT_SPB,
    PCAP_MAGIC_NS,
    _pcapng_block,
    open_capture,
    parse_capture,
    pcap_header,
    pcap_record,
    pcapng_epb,
    pcapng_idb,
    pcapng_shb,
    write_pcap,
    write_pcapng,
)

DATA = Path(__file__).resolve().parent.parent / "data"
BAD = DATA / "bad"


def test_pcap_records_are_numbered_from_one(tmp_path: Path) -> None:
    p = tmp_path / "x.pcapng"  # the extension lies on purpose: the magic decides
    write_pcap(p, 1, [(1.5, b"a" * 20), (2.25, b"b" * 30)])
    cap = open_capture(p)
    recs = list(cap)
    assert cap.format == "pcap"
    assert cap.linktypes == [1]
    assert [r[0] for r in recs] == [1, 2]
    assert recs[0][1] == pytest.approx(1.5)
    assert recs[1][2:] == (1, None, b"b" * 30)
    assert not cap.truncated


def test_big_endian_and_nanosecond_pcap() -> None:
    head = struct.pack(">IHHiIII", PCAP_MAGIC_NS, 2, 4, 0, 0, 65535, 276)
    rec = struct.pack(">IIII", 10, 500_000_000, 3, 3) + b"xyz"
    cap = parse_capture(head + rec)
    assert cap.linktypes == [276]
    ((idx, ts, lt, ifid, data),) = list(cap)
    assert (idx, lt, ifid, data) == (1, 276, None, b"xyz")
    assert ts == pytest.approx(10.5)


def test_linktype_fcs_bits_are_masked() -> None:
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 0x10000000 | 1)
    assert parse_capture(head).linktypes == [1]


def test_header_only_file_has_zero_records() -> None:
    cap = open_capture(BAD / "header-only.pcap")
    assert list(cap) == []
    assert not cap.truncated


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("empty.pcap", "empty"),
        ("garbage.pcap", "not a pcap or pcapng"),
        ("short-header.pcap", "cut short"),
    ],
)
def test_bad_files_say_what_is_wrong(name: str, words: str) -> None:
    with pytest.raises(DecodeError) as err:
        list(open_capture(BAD / name))
    assert words in str(err.value)
    assert name in str(err.value)


def test_missing_file_is_a_decode_error(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="cannot read"):
        open_capture(tmp_path / "nope.pcap")


def test_truncated_last_record_stops_cleanly() -> None:
    cap = open_capture(BAD / "truncated.pcap")
    recs = list(cap)
    assert len(recs) == 2
    assert cap.truncated


def test_truncated_record_header() -> None:
    blob = pcap_header(1) + pcap_record(1.0, b"abc") + b"\x01\x02\x03"
    cap = parse_capture(blob)
    assert len(list(cap)) == 1
    assert cap.truncated


def test_absurd_record_length_is_corruption_not_truncation() -> None:
    blob = pcap_header(1, snaplen=65535) + struct.pack("<IIII", 0, 0, 10_000_000, 10) + b"x" * 64
    with pytest.raises(DecodeError) as err:
        list(parse_capture(blob))
    assert err.value.frame == 1
    assert "corrupt" in err.value.reason


def test_pcapng_two_interfaces_keep_their_own_link_types() -> None:
    cap = open_capture(BAD / "two-linktypes.pcapng")
    recs = list(cap)
    assert cap.format == "pcapng"
    assert cap.linktypes == [1, 276]
    assert cap.interfaces == {0: "cli", 1: "any"}
    assert [(r[2], r[3]) for r in recs[:4]] == [(1, 0), (276, 1), (1, 0), (276, 1)]
    # Ethernet frames start with the destination MAC, SLL2 frames with the protocol.
    assert recs[0][4][12:14] == b"\x86\xdd"
    assert recs[1][4][0:2] == b"\x86\xdd"


def test_pcapng_tsresol_and_simple_packet_block() -> None:
    opts = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)  # 10^-9 resolution
    idb = _pcapng_block(BT_IDB, struct.pack("<HHI", 101, 0, 0) + opts)
    t = 3_000_000_001
    epb = _pcapng_block(
        BT_EPB, struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, 2, 2) + b"\x45\x00")
    spb = _pcapng_block(BT_SPB, struct.pack("<I", 1) + b"\x60")
    cap = parse_capture(pcapng_shb() + idb + epb + spb)
    recs = list(cap)
    assert recs[0][1] == pytest.approx(3.000000001)
    assert recs[0][2:] == (101, 0, b"\x45\x00")
    assert recs[1][0] == 2 and recs[1][4] == b"\x60"


def test_pcapng_unknown_blocks_are_skipped(tmp_path: Path) -> None:
    nrb = _pcapng_block(4, b"\x00\x00\x00\x00")
    blob = pcapng_shb() + pcapng_idb(1, "eth0") + nrb + pcapng_epb(0, 1.0, b"z" * 14)
    assert [r[4] for r in parse_capture(blob)] == [b"z" * 14]


def test_pcapng_packet_for_undeclared_interface() -> None:
    blob = pcapng_shb() + pcapng_idb(1) + pcapng_epb(3, 1.0, b"z")
    with pytest.raises(DecodeError) as err:
        list(parse_capture(blob))
    assert err.value.frame == 1
    assert "interface 3" in err.value.reason


def test_pcapng_corrupt_trailer() -> None:
    blob = bytearray(pcapng_shb() + pcapng_idb(1) + pcapng_epb(0, 1.0, b"zz"))
    blob[-4:] = struct.pack("<I", 999)
    with pytest.raises(DecodeError, match="trailing length"):
        list(parse_capture(bytes(blob)))


def test_pcapng_truncated_last_block() -> None:
    blob = pcapng_shb() + pcapng_idb(1) + pcapng_epb(0, 1.0, b"a") + pcapng_epb(0, 2.0, b"b")
    cap = parse_capture(blob[:-6])
    assert [r[4] for r in cap] == [b"a"]
    assert cap.truncated


def test_pcapng_second_section_numbers_interfaces_on(tmp_path: Path) -> None:
    sec1 = pcapng_shb() + pcapng_idb(1, "a") + pcapng_epb(0, 1.0, b"1")
    sec2 = pcapng_shb() + pcapng_idb(276, "b") + pcapng_epb(0, 2.0, b"2")
    cap = parse_capture(sec1 + sec2)
    assert [(r[2], r[3]) for r in cap] == [(1, 0), (276, 1)]
    assert cap.interfaces == {0: "a", 1: "b"}


def test_write_pcapng_roundtrip(tmp_path: Path) -> None:
    p = tmp_path / "x.pcap"  # pcapng behind a .pcap name
    write_pcapng(p, [(1, None), (113, "any")], [(1, 5.0, b"q" * 16), (0, 6.0, b"e" * 14)])
    cap = open_capture(p)
    assert cap.format == "pcapng"
    assert [(r[0], r[2], r[3]) for r in cap] == [(1, 113, 1), (2, 1, 0)]
    assert cap.interfaces == {1: "any"}
