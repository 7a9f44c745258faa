"""DHCPv4: fixed header, the option table both ways, and malformed options."""

from __future__ import annotations

import pytest

from lab import dhcp4
from lab.dhcp4 import (
    DECODERS,
    ENCODERS,
    build_dhcp4,
    build_option,
    decode_dns_names,
    encode_dhcp4,
    parse_dhcp4,
)
from lab.errors import DecodeError
from lab.records import Dhcp4Type

MAC = "e6:3d:3d:9a:be:aa"


def _msg(**kw: object) -> bytes:
    base: dict[str, object] = {"op": 1, "xid": 0x426E9861, "chaddr": MAC}
    base.update(kw)
    return build_dhcp4(**base)  # type: ignore[arg-type]


def test_header_fields() -> None:
    m = parse_dhcp4(_msg(msg_type=Dhcp4Type.DISCOVER, hops=2, secs=3, flags=0x8000,
                         giaddr="192.168.100.1", yiaddr="192.168.100.44"))
    assert (m.op, m.hops, m.xid, m.secs, m.flags) == (1, 2, 0x426E9861, 3, 0x8000)
    assert m.broadcast
    assert (m.ciaddr, m.yiaddr, m.siaddr, m.giaddr) == (
        "0.0.0.0", "192.168.100.44", "0.0.0.0", "192.168.100.1")
    assert m.chaddr == MAC
    assert m.msg_type is Dhcp4Type.DISCOVER
    assert m.option(53) is Dhcp4Type.DISCOVER


TABLE_VALUES: list[tuple[int, object]] = [
    (1, "255.255.255.0"),
    (3, ("192.168.100.1", "192.168.100.2")),
    (6, ("192.168.200.3",)),
    (12, "vm"),
    (15, "lab.example"),
    (50, "192.168.100.44"),
    (51, 600),
    (53, Dhcp4Type.ACK),
    (54, "192.168.100.3"),
    (55, (1, 28, 2, 3, 15, 6, 119)),
    (57, 1500),
    (58, 300),
    (59, 525),
    (61, (1, MAC)),
    (82, ((1, b"rly-int"), (2, b"\x01\x02"))),
    (119, ("lab.example", "example.org")),
    (121, (("10.0.0.0/8", "192.168.100.1"), ("0.0.0.0/0", "192.168.100.1"))),
    (2, -3600),
]


@pytest.mark.parametrize(("code", "value"), TABLE_VALUES)
def test_option_table_roundtrip(code: int, value: object) -> None:
    assert code in DECODERS and code in ENCODERS
    m = parse_dhcp4(_msg(options=[(code, value)]))
    assert m.option(code) == value


def test_unknown_option_keeps_raw_bytes() -> None:
    m = parse_dhcp4(_msg(options=[(224, b"\x01\x02\x03")]))
    assert m.option(224) == b"\x01\x02\x03"


def test_options_keep_wire_order_and_pad_is_skipped() -> None:
    raw = bytearray(_msg(msg_type=1, options=[(12, "a")], pad_to=0))
    raw[240:240] = b"\x00\x00"  # pad before the first option
    m = parse_dhcp4(bytes(raw))
    assert [c for c, _ in m.options] == [53, 12]


def test_missing_end_option_is_tolerated() -> None:
    raw = _msg(msg_type=1, options=[(12, "host")], pad_to=0)
    assert raw.endswith(b"\xff")
    assert parse_dhcp4(raw[:-1]).option(12) == "host"


def test_bytes_after_end_are_ignored() -> None:
    raw = _msg(msg_type=1, pad_to=0) + b"\x0c\xff garbage"
    assert parse_dhcp4(raw).option(12) is None


def test_option_length_past_the_end() -> None:
    raw = _msg(msg_type=1, pad_to=0)[:-1] + b"\x0c\x09abc"
    with pytest.raises(DecodeError) as err:
        parse_dhcp4(raw)
    assert err.value.reason == "DHCPv4 option 12 length 9 exceeds remaining 3 bytes"


def test_option_without_length_byte() -> None:
    raw = _msg(msg_type=1, pad_to=0)[:-1] + b"\x0c"
    with pytest.raises(DecodeError, match="no length byte"):
        parse_dhcp4(raw)


@pytest.mark.parametrize(
    ("code", "data", "words"),
    [
        (53, b"", "message type"),
        (54, b"\x01\x02\x03", "4 bytes"),
        (3, b"\x01\x02\x03\x04\x05", "multiple of 4"),
        (51, b"\x00\x01", "4 bytes"),
        (61, b"", "empty"),
        (82, b"\x01\x05ab", "sub-option 1 length 5"),
        (119, b"\x03ab", "exceeds"),
        (119, b"\xc0\x00", "loop"),
        (121, b"\x21\x00", "> 32"),
    ],
)
def test_malformed_option_values(code: int, data: bytes, words: str) -> None:
    with pytest.raises(DecodeError) as err:
        parse_dhcp4(_msg(options=[(code, data)]))
    assert f"option {code}" in err.value.reason
    assert words in err.value.reason


def test_short_message() -> None:
    with pytest.raises(DecodeError, match="cut short"):
        parse_dhcp4(b"\x01" * 100)


def test_bootp_without_magic() -> None:
    raw = bytearray(_msg(msg_type=1))
    raw[236:240] = b"\x00\x00\x00\x00"
    m = parse_dhcp4(bytes(raw))
    assert m.msg_type is None and m.options == ()
    assert parse_dhcp4(bytes(raw[:236])).xid == 0x426E9861


def test_unknown_message_type_is_kept_as_int() -> None:
    m = parse_dhcp4(_msg(options=[(53, b"\x0d")]))
    assert m.msg_type is None
    assert m.option(53) == 13


def test_option_overload_reads_file_and_sname() -> None:
    file = (build_option(12, "fromfile") + b"\xff").ljust(128, b"\x00")
    sname = (build_option(15, "fromsname") + b"\xff").ljust(64, b"\x00")
    m = parse_dhcp4(_msg(msg_type=1, options=[(52, 3)], file=file, sname=sname))
    assert m.option(12) == "fromfile"
    assert m.option(15) == "fromsname"


def test_domain_search_with_compression_pointer() -> None:
    # "lab.example" then "x" + pointer to offset 4 ("example")
    data = b"\x03lab\x07example\x00\x01x\xc0\x04"
    assert decode_dns_names(data) == ("lab.example", "x.example")
    with pytest.raises(DecodeError, match="compression"):
        decode_dns_names(data, compression=False)


def test_encode_roundtrip_of_a_decoded_message() -> None:
    raw = _msg(msg_type=Dhcp4Type.REQUEST, options=[(50, "192.168.100.44"), (12, "vm")],
               giaddr="192.168.100.1", hops=1)
    assert encode_dhcp4(parse_dhcp4(raw)) == raw


def test_builder_rejects_values_it_cannot_encode() -> None:
    with pytest.raises(ValueError):
        build_option(200, 5)
    with pytest.raises(ValueError):
        build_option(12, "x" * 256)


def test_cache_returns_equal_records_and_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _msg(msg_type=1)
    first = parse_dhcp4(raw)
    assert parse_dhcp4(bytes(raw)) is first
    monkeypatch.setattr(dhcp4, "CACHE_SIZE", 0)
    monkeypatch.setattr(dhcp4, "_cache", {})
    assert parse_dhcp4(raw) == first
    assert dhcp4._cache == {}
