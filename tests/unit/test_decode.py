"""decode stage end to end: real captures, every link layer, the bad-file corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.decode import Decoded, decode_frame, decode_pcap, iter_frames
from lab.dhcp4 import build_dhcp4
from lab.dhcp6 import build_message
from lab.errors import DecodeError
from lab.linklayer import (
    DLT_EN10MB,
    DLT_LINUX_SLL,
    DLT_LINUX_SLL2,
    DLT_RAW,
    ETH_TYPE_ARP,
    ETH_TYPE_IP,
    ETH_TYPE_IP6,
    build_ethernet,
    parse_link,
)
from lab.records import Dhcp4, Dhcp4Type, Dhcp6, Dhcp6Type, Frame, PacketType
from lab.synth import link_frame, udp_ipv4, udp_ipv6, write_synthetic_pcap

DATA = Path(__file__).resolve().parent.parent / "data"
REF = DATA / "reference"
BAD = DATA / "bad"
MAC = "e6:3d:3d:9a:be:aa"


def _chain(frame: Frame) -> list[Dhcp6]:
    out = []
    m = frame.dhcp
    while isinstance(m, Dhcp6):
        out.append(m)
        m = m.inner
    return out


def _discover() -> bytes:
    return udp_ipv4("0.0.0.0", "255.255.255.255", 68, 67,
                    build_dhcp4(op=1, xid=7, chaddr=MAC, msg_type=Dhcp4Type.DISCOVER))


def _solicit() -> bytes:
    return udp_ipv6("fe80::1", "ff02::1:2", 546, 547, build_message(Dhcp6Type.SOLICIT, 9))


# -- the real captures --------------------------------------------------------------------


def test_relay_v6_any_capture() -> None:
    d = decode_pcap(REF / "dhcplb-relay-v6.any.pcap")
    assert d.format == "pcap" and d.linktypes == (276,) and not d.truncated
    assert len(d.frames) == d.records == 28
    ports = {int(k) for k in json.loads((REF / "dhcplb-relay-v6.any.json").read_text())[
        "interfaces_by_index"]}
    assert {f.ifindex for f in d.frames} <= ports
    assert all(f.dst_mac is None and f.src_mac for f in d.frames)

    lb_to_server = [f for f in d.frames if (f.src_ip, f.dst_ip) == ("fd00:200::2", "fd00:200::3")]
    assert lb_to_server, "no lb -> server frames"
    for f in lb_to_server:
        chain = _chain(f)
        assert [m.msg_type for m in chain[:2]] == [Dhcp6Type.RELAY_FORW] * 2
        assert [m.hop_count for m in chain[:2]] == [1, 0]
        assert (f.sport, f.dport) == (547, 547)
    kinds = {_chain(f)[2].msg_type for f in lb_to_server}
    assert kinds == {Dhcp6Type.SOLICIT, Dhcp6Type.REQUEST}
    first = lb_to_server[0]
    assert first.dhcp is not None and _chain(first)[2].msg_type is Dhcp6Type.SOLICIT
    assert {f.pkttype for f in lb_to_server} == {PacketType.OTHERHOST, PacketType.OUTGOING}
    outer = _chain(first)[0]
    assert (outer.link_address, outer.peer_address) == ("fd00:100::1", "fd00:200::1")

    # Every RELAY-REPL goes to 547; only the final message to the client goes to 546.
    for f in d.frames:
        if f.dport == 546:
            assert _chain(f)[0].msg_type in (Dhcp6Type.ADVERTISE, Dhcp6Type.REPLY)
        if _chain(f)[0].msg_type is Dhcp6Type.RELAY_REPL:
            assert f.dport == 547


def test_relay_v6_client_eth_capture() -> None:
    d = decode_pcap(REF / "dhcplb-relay-v6.client-eth.pcap")
    assert d.linktypes == (1,)
    assert [f.dhcp.msg_type for f in d.frames if f.dhcp] == [
        Dhcp6Type.SOLICIT, Dhcp6Type.ADVERTISE, Dhcp6Type.REQUEST, Dhcp6Type.REPLY]
    solicit, advertise = d.frames[0], d.frames[1]
    assert (solicit.src_mac, solicit.dst_mac) == ("da:58:fd:b6:ed:6d", "33:33:00:01:00:02")
    assert solicit.pkttype is None and solicit.ifindex is None
    assert (solicit.sport, solicit.dport, solicit.dst_ip) == (546, 547, "ff02::1:2")
    assert isinstance(advertise.dhcp, Dhcp6)
    ia = advertise.dhcp.option(3)
    assert ia is not None and ia.value is not None
    assert ia.value[3][0].value[0] == "fd00:100::44"  # type: ignore[index]
    assert advertise.dhcp.option(13).value == (0, "success")  # type: ignore[union-attr]


def test_server_v4_any_capture() -> None:
    d = decode_pcap(REF / "dhcplb-server-v4.any.pcap")
    assert len(d.frames) == 10
    msgs = [f.dhcp for f in d.frames]
    assert all(isinstance(m, Dhcp4) for m in msgs)
    types = [m.msg_type for m in msgs if isinstance(m, Dhcp4)]
    assert set(types) == {Dhcp4Type.DISCOVER, Dhcp4Type.OFFER, Dhcp4Type.REQUEST, Dhcp4Type.ACK}
    first = d.frames[0]
    assert (first.ifindex, first.pkttype, first.src_mac) == (160, PacketType.BROADCAST, MAC)
    assert isinstance(first.dhcp, Dhcp4) and first.dhcp.option(12) == "vm"
    assert first.dhcp.chaddr == MAC


def test_iter_frames_matches_decode_pcap() -> None:
    p = REF / "dhcplb-relay-v6.any.pcap"
    assert tuple(iter_frames(p)) == decode_pcap(p).frames


# -- link layers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("linktype", "ifindex", "pkttype", "dst_mac"),
    [
        (DLT_EN10MB, None, None, "ff:ff:ff:ff:ff:ff"),
        (DLT_LINUX_SLL, None, PacketType.BROADCAST, None),
        (DLT_LINUX_SLL2, 42, PacketType.BROADCAST, None),
    ],
)
def test_link_layers_v4(linktype: int, ifindex: int | None, pkttype: PacketType | None,
                        dst_mac: str | None) -> None:
    raw = link_frame(linktype, PacketType.BROADCAST, 42, MAC, "ff:ff:ff:ff:ff:ff", ETH_TYPE_IP,
                     _discover())
    f = decode_frame(5, 1.0, linktype, None, raw)
    assert f is not None
    assert (f.index, f.ifindex, f.pkttype, f.src_mac, f.dst_mac) == (5, ifindex, pkttype, MAC,
                                                                     dst_mac)
    assert (f.ip_version, f.src_ip, f.dst_ip, f.sport, f.dport) == (
        4, "0.0.0.0", "255.255.255.255", 68, 67)
    assert isinstance(f.dhcp, Dhcp4) and f.dhcp.msg_type is Dhcp4Type.DISCOVER


@pytest.mark.parametrize("linktype", [DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2])
def test_link_layers_v6(linktype: int) -> None:
    raw = link_frame(linktype, PacketType.MULTICAST, 3, MAC, "33:33:00:01:00:02", ETH_TYPE_IP6,
                     _solicit())
    f = decode_frame(1, 1.0, linktype, 7, raw)
    assert f is not None and isinstance(f.dhcp, Dhcp6)
    assert f.dhcp.msg_type is Dhcp6Type.SOLICIT and f.dhcp.xid == 9
    # SLL2 carries the Linux ifindex; otherwise the pcapng interface id passed in is kept.
    assert f.ifindex == (3 if linktype == DLT_LINUX_SLL2 else 7)


def test_sll1_file() -> None:
    d = decode_pcap(DATA / "synth-sll1.pcap")
    assert d.linktypes == (113,) and len(d.frames) == d.records > 0
    assert all(f.ifindex is None and f.pkttype is not None and f.dst_mac is None
               for f in d.frames)


def test_raw_ip_and_vlan() -> None:
    f = decode_frame(1, 0.0, DLT_RAW, None, _solicit())
    assert f is not None and f.src_mac is None and f.ip_version == 6
    eth = build_ethernet(MAC, "ff:ff:ff:ff:ff:ff", 0x8100, b"\x00\x05\x08\x00" + _discover())
    g = decode_frame(2, 0.0, DLT_EN10MB, None, eth)
    assert g is not None and isinstance(g.dhcp, Dhcp4)


def test_parse_link_named_fields() -> None:
    link = parse_link(DLT_LINUX_SLL2, link_frame(DLT_LINUX_SLL2, 4, 9, MAC, "", ETH_TYPE_IP,
                                                 b""))
    assert (link.ethertype, link.offset, link.pkttype, link.ifindex, link.src_mac) == (
        ETH_TYPE_IP, 20, 4, 9, MAC)


def test_non_dhcp_frames_are_skipped() -> None:
    arp = build_ethernet(MAC, "ff:ff:ff:ff:ff:ff", ETH_TYPE_ARP, b"\x00" * 28)
    icmp6 = bytearray(_solicit())
    icmp6[6] = 58
    dns = udp_ipv4("192.168.100.1", "192.168.100.3", 5353, 53, b"\x00" * 12)
    v4_frag_tail = bytearray(_discover())
    v4_frag_tail[6:8] = b"\x00\x10"
    for frame in (
        arp,
        build_ethernet(MAC, "33:33:00:00:00:01", ETH_TYPE_IP6, bytes(icmp6)),
        build_ethernet(MAC, MAC, ETH_TYPE_IP, dns),
        build_ethernet(MAC, MAC, ETH_TYPE_IP, bytes(v4_frag_tail)),
    ):
        assert decode_frame(1, 0.0, DLT_EN10MB, None, frame) is None


def test_empty_udp_payload_on_dhcp_port_has_no_message() -> None:
    raw = build_ethernet(MAC, MAC, ETH_TYPE_IP, udp_ipv4("1.1.1.1", "2.2.2.2", 68, 67, b""))
    f = decode_frame(1, 0.0, DLT_EN10MB, None, raw)
    assert f is not None and f.dhcp is None


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda b: b[:30], "IPv4 header cut short"),
        (lambda b: b[:-100], "cut short by the capture"),
        (lambda b: b[:14] + b[14:16] + b"\x00\x10" + b[18:], "less than its header"),
        (lambda b: b[:20] + b"\x20\x00" + b[22:], "fragmented"),
        (lambda b: b[:38] + b"\x00\x04" + b[40:], "UDP length 4"),
        (lambda b: b[:38] + b"\x04\x00" + b[40:], "exceeds the IP payload"),
    ],
)
def test_broken_frames_raise_with_frame_number(mutate: object, words: str) -> None:
    good = build_ethernet(MAC, MAC, ETH_TYPE_IP, _discover())
    bad = mutate(good)  # type: ignore[operator]
    with pytest.raises(DecodeError) as err:
        decode_frame(17, 0.0, DLT_EN10MB, None, bad)
    assert err.value.frame == 17
    assert str(err.value).startswith("frame 17: ")
    assert words in err.value.reason


def test_short_dhcp_payload_names_the_frame() -> None:
    raw = build_ethernet(MAC, MAC, ETH_TYPE_IP, udp_ipv4("1.1.1.1", "2.2.2.2", 68, 67, b"x" * 99))
    with pytest.raises(DecodeError, match=r"^frame 4: DHCPv4 message cut short \(99 bytes"):
        decode_frame(4, 0.0, DLT_EN10MB, None, raw)


def test_unsupported_link_type() -> None:
    with pytest.raises(DecodeError, match="frame 3: unsupported link type 147"):
        decode_frame(3, 0.0, 147, None, b"\x00" * 40)


# -- the bad-file corpus ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "frame", "words"),
    [
        ("empty.pcap", None, "empty (0 bytes)"),
        ("garbage.pcap", None, "not a pcap or pcapng file"),
        ("short-header.pcap", None, "pcap file header cut short"),
        ("relay-40-deep.pcap", 1, "nested more than 32 deep"),
        ("opt9-length-mismatch.pcap", 1, "option 9 length 54 exceeds remaining 44 bytes"),
    ],
)
def test_bad_files(name: str, frame: int | None, words: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode_pcap(BAD / name)
    assert err.value.frame == frame
    assert words in str(err.value)
    if frame is not None:
        assert str(err.value).startswith(f"frame {frame}: ")


def test_bad_frames_are_collected_when_not_strict() -> None:
    d = decode_pcap(BAD / "opt9-length-mismatch.pcap", strict=False)
    assert d.frames == () and d.records == 1
    assert [e.frame for e in d.errors] == [1]


def test_header_only_file_decodes_to_nothing() -> None:
    d = decode_pcap(BAD / "header-only.pcap")
    assert d == Decoded(str(BAD / "header-only.pcap"), "pcap", (), (276,), False, {}, 0, ())


def test_truncated_file_keeps_complete_frames() -> None:
    d = decode_pcap(BAD / "truncated.pcap")
    assert d.truncated and len(d.frames) == 2


def test_pcapng_with_two_link_types() -> None:
    d = decode_pcap(BAD / "two-linktypes.pcapng")
    assert d.format == "pcapng" and d.linktypes == (1, 276)
    assert d.interfaces == {0: "cli", 1: "any"}
    eth = [f for f in d.frames if f.dst_mac is not None]
    sll2 = [f for f in d.frames if f.dst_mac is None]
    assert len(eth) == len(sll2) == 4
    assert {f.ifindex for f in eth} == {0}  # pcapng interface id
    assert all(f.pkttype is not None and f.ifindex and f.ifindex > 100 for f in sll2)
    assert [f.dhcp.msg_type for f in eth if f.dhcp] == [
        Dhcp6Type.SOLICIT, Dhcp6Type.ADVERTISE, Dhcp6Type.REQUEST, Dhcp6Type.REPLY]


def test_relay_32_deep_is_fine() -> None:
    (f,) = decode_pcap(DATA / "relay-32-deep.pcap").frames
    chain = _chain(f)
    assert len(chain) == 33
    assert [m.hop_count for m in chain[:-1]] == list(range(31, -1, -1))


# -- synthetic capture -------------------------------------------------------------------------


@pytest.mark.parametrize("linktype", [DLT_LINUX_SLL2, DLT_LINUX_SLL, DLT_EN10MB])
def test_synthetic_pcap_decodes_completely(tmp_path: Path, linktype: int) -> None:
    p = tmp_path / "s.pcap"
    n = write_synthetic_pcap(p, 40, seed=5, linktype=linktype)
    d = decode_pcap(p)
    assert len(d.frames) == d.records == n
    depths = set()
    for f in d.frames:
        assert f.dhcp is not None
        if isinstance(f.dhcp, Dhcp6):
            chain = _chain(f)
            depths.add(len(chain) - 1)
            assert [m.hop_count for m in chain[:-1]] == list(range(len(chain) - 2, -1, -1))
            if chain[0].msg_type is Dhcp6Type.RELAY_REPL:
                assert f.dport == 547
        else:
            assert f.ip_version == 4 and {f.sport, f.dport} <= {67, 68}
    assert depths == {0, 1, 2, 3}
    v4 = [f.dhcp for f in d.frames if isinstance(f.dhcp, Dhcp4)]
    assert any(m.option(82) for m in v4) and any(m.hops == 2 for m in v4)


def test_synthetic_pcap_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    write_synthetic_pcap(a, 10, seed=1)
    write_synthetic_pcap(b, 10, seed=1)
    assert a.read_bytes() == b.read_bytes()
