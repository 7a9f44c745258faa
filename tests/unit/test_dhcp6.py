"""DHCPv6: header tables, the option table both ways, relay nesting and its bounds."""

from __future__ import annotations

import struct

import pytest

from lab import dhcp6
from lab.dhcp6 import (
    DECODERS,
    ENCODERS,
    MAX_RELAY_DEPTH,
    Dhcp6Header,
    Dhcp6RelayHeader,
    Duid,
    build_message,
    build_option,
    build_relay,
    encode_message,
    parse_dhcp6,
)
from lab.errors import DecodeError
from lab.records import Dhcp6, Dhcp6Option, Dhcp6Type

CLIENT_DUID = Duid(1, 1, 849630218, None, "da:58:fd:b6:ed:6d")
CLIENT_LL = "fe80::d858:fdff:feb6:ed6d"


def _solicit(xid: int = 0x3B54BB) -> bytes:
    return build_message(Dhcp6Type.SOLICIT, xid, [(1, CLIENT_DUID), (6, (23, 24)), (8, 0),
                                                  (3, (4256623981, 3600, 5400, ()))])


def _nest(depth: int, msg: bytes | None = None) -> bytes:
    msg = _solicit() if msg is None else msg
    for hop in range(depth):
        msg = build_relay(Dhcp6Type.RELAY_FORW, hop, "fd00:100::1", CLIENT_LL, msg)
    return msg


def test_header_tables_are_dpkt_packets() -> None:
    assert bytes(Dhcp6Header(msg_type=1, xid=b"\x3b\x54\xbb")) == b"\x01\x3b\x54\xbb"
    assert len(Dhcp6RelayHeader()) == 34
    h = Dhcp6RelayHeader(b"\x0c\x01" + b"\x00" * 32)
    assert (h.msg_type, h.hop_count) == (12, 1)


def test_client_message() -> None:
    m = parse_dhcp6(_solicit())
    assert m.msg_type is Dhcp6Type.SOLICIT
    assert m.xid == 0x3B54BB
    assert not m.is_relay and m.inner is None
    assert [o.code for o in m.options] == [1, 6, 8, 3]
    assert m.option(1) == Dhcp6Option(1, build_option(1, CLIENT_DUID)[4:], CLIENT_DUID)
    assert m.option(3).value == (4256623981, 3600, 5400, ())  # type: ignore[union-attr]


IA_WITH_ADDR = (7, 3600, 5400, (Dhcp6Option(5, b"", ("fd00:100::44", 7200, 7500, ())),))

TABLE_VALUES: list[tuple[int, object]] = [
    (1, CLIENT_DUID),
    (2, Duid(3, 1, None, None, "0e:ba:32:aa:c3:24")),
    (2, Duid(2, None, None, 32473, "01:02:03")),
    (2, Duid(4, None, None, None, ":".join(["ab"] * 16))),
    (3, (1, 3600, 5400, ())),
    (4, (9, ())),
    (5, ("fd00:100::44", 7200, 7500, ())),
    (6, (23, 24, 39)),
    (7, 255),
    (8, 65535),
    (12, "fd00:200::3"),
    (13, (2, "NoAddrsAvail")),
    (14, True),
    (18, b"rly-int"),
    (20, True),
    (23, ("fd00:200::3", "2001:db8::53")),
    (24, ("lab.example", "example.org")),
    (25, (5, 100, 200, ())),
    (26, ("2001:db8:1::/48", 300, 600, ())),
    (32, 86400),
    (37, (32473, b"remote")),
    (79, (1, "da:58:fd:b6:ed:6d")),
]


@pytest.mark.parametrize(("code", "value"), TABLE_VALUES)
def test_option_table_roundtrip(code: int, value: object) -> None:
    assert code in DECODERS and code in ENCODERS
    raw = build_message(Dhcp6Type.REPLY, 1, [(code, value)])
    assert parse_dhcp6(raw).options[0].value == value


def test_ia_na_with_nested_iaaddr_and_status() -> None:
    ia = (7, 3600, 5400, ((5, ("fd00:100::44", 7200, 7500, ((13, (0, "success")),))),))
    m = parse_dhcp6(build_message(Dhcp6Type.REPLY, 1, [(3, ia)]))
    value = m.options[0].value
    assert isinstance(value, tuple)
    iaid, t1, t2, subs = value
    assert (iaid, t1, t2) == (7, 3600, 5400)
    (addr,) = subs
    assert addr.code == 5
    assert addr.value[0] == "fd00:100::44"
    assert addr.value[3][0].value == (0, "success")


def test_unknown_option_keeps_raw_bytes() -> None:
    m = parse_dhcp6(build_message(Dhcp6Type.REPLY, 1, [(999, b"\x01\x02")]))
    assert m.options == (Dhcp6Option(999, b"\x01\x02", None),)


def test_relay_nesting_and_hop_counts() -> None:
    m = parse_dhcp6(_nest(3))
    hops = []
    cur: Dhcp6 | None = m
    while cur is not None and cur.is_relay:
        hops.append(cur.hop_count)
        assert cur.link_address == "fd00:100::1"
        assert cur.peer_address == CLIENT_LL
        cur = cur.inner
    assert hops == [2, 1, 0]
    assert cur is not None and cur.msg_type is Dhcp6Type.SOLICIT


def test_relay_with_interface_id_before_relay_message() -> None:
    raw = build_relay(Dhcp6Type.RELAY_REPL, 0, "::", "fd00:200::1", _solicit(),
                      [(18, b"eth0")])
    m = parse_dhcp6(raw)
    assert [o.code for o in m.options] == [18, 9]
    assert m.option(18).value == b"eth0"  # type: ignore[union-attr]
    assert m.inner is not None and m.inner.xid == 0x3B54BB


def test_max_relay_depth_is_accepted() -> None:
    m = parse_dhcp6(_nest(MAX_RELAY_DEPTH))
    depth = 0
    cur: Dhcp6 | None = m
    while cur is not None and cur.is_relay:
        depth += 1
        cur = cur.inner
    assert depth == MAX_RELAY_DEPTH == 32


@pytest.mark.parametrize("depth", [MAX_RELAY_DEPTH + 1, 40])
def test_deeper_nesting_is_refused(depth: int) -> None:
    with pytest.raises(DecodeError, match="nested more than 32"):
        parse_dhcp6(_nest(depth))


def test_cached_inner_message_does_not_bypass_the_depth_bound() -> None:
    parse_dhcp6(_nest(30))  # cached: 30 relay layers
    with pytest.raises(DecodeError, match="nested more than 32"):
        parse_dhcp6(_nest(3, _nest(30)))


def test_option9_length_longer_than_payload() -> None:
    raw = bytearray(_nest(1))
    code, length = struct.unpack_from(">HH", raw, 34)
    assert code == 9
    struct.pack_into(">H", raw, 36, length + 10)
    with pytest.raises(DecodeError) as err:
        parse_dhcp6(bytes(raw))
    assert err.value.reason == (
        f"DHCPv6 option 9 length {length + 10} exceeds remaining {length} bytes")


def test_option9_length_shorter_than_payload_is_not_reread_as_top_level() -> None:
    """The inner message gets exactly option 9's bytes; the rest must not parse as options."""
    raw = bytearray(_nest(1))
    _, length = struct.unpack_from(">HH", raw, 34)
    struct.pack_into(">H", raw, 36, length - 3)
    with pytest.raises(DecodeError):
        parse_dhcp6(bytes(raw))


def test_trailing_bytes_after_last_option() -> None:
    with pytest.raises(DecodeError, match="3 trailing bytes"):
        parse_dhcp6(_solicit() + b"\x00\x01\x00")


def test_relay_message_option_in_a_client_message_stays_raw() -> None:
    raw = build_message(Dhcp6Type.SOLICIT, 1, [(9, _solicit())])
    opt = parse_dhcp6(raw).options[0]
    assert opt.code == 9 and opt.value is None


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "empty"),
        (b"\x01\x00", "cut short"),
        (b"\x00\x00\x00\x00", "unknown DHCPv6 message type 0"),
        (b"\x14\x00\x00\x00", "unknown DHCPv6 message type 20"),
        (b"\x0c\x00" + b"\x00" * 20, "relay header cut short"),
        (build_message(1, 1, [(6, b"\x00\x17\x00")]), "odd length"),
        (build_message(1, 1, [(1, b"\x00")]), "option 1 (client-id)"),
        (build_message(1, 1, [(14, b"\x01")]), "must be empty"),
        (build_message(1, 1, [(23, b"\x00" * 15)]), "multiple of 16"),
        (build_message(1, 1, [(3, b"\x00" * 11)]), "IA is 11 bytes"),
        (build_message(1, 1, [(24, b"\xc0\x00")]), "compression pointer"),
    ],
)
def test_malformed_messages(raw: bytes, words: str) -> None:
    with pytest.raises(DecodeError) as err:
        parse_dhcp6(raw)
    assert words in err.value.reason


def test_encode_message_roundtrip() -> None:
    raw = build_relay(Dhcp6Type.RELAY_FORW, 1, "fd00:100::1", "fd00:200::1", _nest(1),
                      [(79, (1, "da:58:fd:b6:ed:6d"))])
    assert encode_message(parse_dhcp6(raw)) == raw


def test_encode_a_modified_record() -> None:
    """What a balancer does: take a decoded message and wrap it in a new relay layer."""
    inner = parse_dhcp6(_solicit())
    outer = Dhcp6(Dhcp6Type.RELAY_FORW, None, 0, "::", CLIENT_LL,
                  (Dhcp6Option(9, b"", inner),))
    back = parse_dhcp6(encode_message(outer))
    assert back.inner == inner


def test_build_rejects_wrong_kinds() -> None:
    with pytest.raises(ValueError):
        build_message(Dhcp6Type.RELAY_FORW, 1)
    with pytest.raises(ValueError):
        build_relay(Dhcp6Type.SOLICIT, 0, "::", "::", b"")
    with pytest.raises(ValueError):
        build_option(999, 5)
    with pytest.raises(ValueError):
        build_option(3, (1, 2))


def test_cache_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _nest(2)
    first = parse_dhcp6(raw)
    monkeypatch.setattr(dhcp6, "CACHE_SIZE", 0)
    monkeypatch.setattr(dhcp6, "_cache", {})
    assert parse_dhcp6(raw) == first
    assert dhcp6._cache == {}
