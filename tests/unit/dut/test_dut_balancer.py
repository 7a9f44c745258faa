"""Balancer mode: v4 forwarding (hops, giaddr, DSR) and v6 relay wrapping/unwrapping."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from lab.dut import wire4, wire6
from lab.dut.balancer import Balancer4, Balancer6
from lab.dut.errors import Malformed
from lab.dut.hosts import HostFile, Selector, fnv1a32
from lab.dut.route import Dest
from tests.unit.dut.dut_helpers import CAPTURES, CLIENT_LL, DUID, a6, ia_na, msg6, read_sll2_pcap

MAC = bytes.fromhex("e63d3d9abeaa")
RELAY4 = ("192.168.200.1", 67)
RELAY6 = ("fd00:200::1", 547, 0, 0)


def selector(tmp_path: Path, lines: list[str], version: int, algorithm: str = "xid") -> Selector:
    p = tmp_path / f"hosts{version}"
    p.write_text("".join(f"{x}\n" for x in lines))
    return Selector(version, algorithm, 0, HostFile(str(p), version))


def discover(giaddr: str = "192.168.100.1", hops: int = 1) -> bytes:
    return wire4.build_request(wire4.MsgType.DISCOVER, MAC, xid=0x426E9861,
                               giaddr=socket.inet_aton(giaddr), hops=hops,
                               options=[(12, b"vm")])


# -- DHCPv4 -----------------------------------------------------------------------------------
def test_v4_forward_bumps_hops_only(tmp_path: Path) -> None:
    bal = Balancer4(selector(tmp_path, ["192.168.200.3"], 4))
    req = discover()
    [(out, dest)] = bal.handle(req, RELAY4)
    assert dest == Dest("192.168.200.3", 67)
    assert out[3] == 2
    assert out[:3] == req[:3] and out[4:] == req[4:]  # giaddr and all else untouched (DSR)


def test_v4_hops_wrap_like_dhcplb(tmp_path: Path) -> None:
    bal = Balancer4(selector(tmp_path, ["192.168.200.3"], 4))
    [(out, _)] = bal.handle(discover(hops=255), RELAY4)
    assert out[3] == 0


def test_v4_xid_algorithm_hashes_chaddr(tmp_path: Path) -> None:
    servers = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    bal = Balancer4(selector(tmp_path, servers, 4))
    [(_, dest)] = bal.handle(discover(), RELAY4)
    assert dest.host == servers[fnv1a32(MAC) % 4]


def test_v4_rr_per_message(tmp_path: Path) -> None:
    bal = Balancer4(selector(tmp_path, ["10.0.0.1", "10.0.0.2"], 4, "rr"))
    hosts = [bal.handle(discover(), RELAY4)[0][1].host for _ in range(4)]
    assert hosts == ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2"]


def test_v4_giaddr_zero_forwarded_with_warning(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    bal = Balancer4(selector(tmp_path, ["192.168.200.3"], 4))
    with caplog.at_level(logging.WARNING, logger="dut"):
        [(out, dest)] = bal.handle(discover("0.0.0.0", hops=0), ("0.0.0.0", 68))
    assert out[3] == 1 and out[24:28] == b"\0\0\0\0"
    assert dest.port == 67
    assert "giaddr 0.0.0.0" in caplog.text


def test_v4_empty_host_list_drops_and_logs(tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    bal = Balancer4(selector(tmp_path, [], 4))
    with caplog.at_level(logging.ERROR, logger="dut"):
        assert bal.handle(discover(), RELAY4) == []
    assert "no backend servers" in caplog.text


@pytest.mark.parametrize("cut", [0, 1, 100, 239])
def test_v4_truncated_is_malformed(tmp_path: Path, cut: int) -> None:
    bal = Balancer4(selector(tmp_path, ["192.168.200.3"], 4))
    with pytest.raises(Malformed):
        bal.handle(discover()[:cut], RELAY4)


def test_v4_bad_cookie_is_malformed(tmp_path: Path) -> None:
    bal = Balancer4(selector(tmp_path, ["192.168.200.3"], 4))
    bad = bytearray(discover())
    bad[236] = 0
    with pytest.raises(Malformed):
        bal.handle(bytes(bad), RELAY4)


# -- DHCPv6 -----------------------------------------------------------------------------------
def solicit() -> bytes:
    return msg6(wire6.MsgType.SOLICIT, (8, b"\0\0"), ia_na())


def test_v6_wraps_client_message(tmp_path: Path) -> None:
    bal = Balancer6(selector(tmp_path, ["fd00:200::3"], 6), 1024)
    inner = solicit()
    [(out, dest)] = bal.handle(inner, (CLIENT_LL, 546, 0, 7))
    assert dest == Dest("fd00:200::3", 547)
    layers, got = wire6.unwrap(out)
    assert got == inner and len(layers) == 1
    (layer,) = layers
    assert layer.msg_type == wire6.MsgType.RELAY_FORW
    assert layer.hop_count == 0
    assert layer.link == bytes(16)
    assert layer.peer == a6(CLIENT_LL)
    assert [c for c, _ in layer.options] == [9]  # only the relay message, no interface-id


def test_v6_wraps_relayed_message(tmp_path: Path) -> None:
    bal = Balancer6(selector(tmp_path, ["fd00:200::3"], 6), 1024)
    relayed = wire6.build_relay(12, 3, a6("fd00:100::1"), a6(CLIENT_LL),
                                [(18, b"eth0"), (9, solicit())])
    [(out, _)] = bal.handle(relayed, RELAY6)
    layers, _ = wire6.unwrap(out)
    assert [x.hop_count for x in layers] == [4, 3]
    assert layers[0].link == a6("fd00:100::1")  # copied from the inner relay
    assert layers[0].peer == a6("fd00:200::1")  # the sender
    assert out[38:] == relayed


def test_v6_xid_hashes_innermost_duid(tmp_path: Path) -> None:
    servers = [f"fd00:200::{i}" for i in range(1, 6)]
    bal = Balancer6(selector(tmp_path, servers, 6), 1024)
    relayed = wire6.build_relay(12, 0, a6("fd00:100::1"), a6(CLIENT_LL), [(9, solicit())])
    twice = wire6.build_relay(12, 1, a6("fd00:100::1"), a6("fd00:200::1"), [(9, relayed)])
    want = servers[fnv1a32(DUID) % 5]
    for m in (solicit(), relayed, twice):
        assert bal.handle(m, RELAY6)[0][1].host == want


def test_v6_without_client_id_dropped(tmp_path: Path) -> None:
    bal = Balancer6(selector(tmp_path, ["fd00:200::3"], 6), 1024)
    assert bal.handle(msg6(1, duid=None), RELAY6) == []


def test_v6_empty_host_list_drops(tmp_path: Path) -> None:
    bal = Balancer6(selector(tmp_path, [], 6), 1024)
    assert bal.handle(solicit(), RELAY6) == []


def test_v6_unwrap_to_relay_uses_547(tmp_path: Path) -> None:
    bal = Balancer6(selector(tmp_path, ["fd00:200::3"], 6), 1024)
    inner = wire6.build_relay(13, 0, a6("fd00:100::1"), a6(CLIENT_LL),
                              [(9, msg6(wire6.MsgType.ADVERTISE))])
    outer = wire6.build_relay(13, 1, a6("fd00:100::1"), a6("fd00:200::1"), [(9, inner)])
    [(out, dest)] = bal.handle(outer, ("fd00:200::3", 547, 0, 0))
    assert out == inner
    assert dest == Dest("fd00:200::1", 547)


def test_v6_unwrap_to_client_uses_546_and_its_interface(tmp_path: Path) -> None:
    bal = Balancer6(selector(tmp_path, ["fd00:200::3"], 6), 1024)
    bal.handle(solicit(), (CLIENT_LL, 546, 0, 7))  # learn the client's interface
    adv = msg6(wire6.MsgType.ADVERTISE)
    repl = wire6.build_relay(13, 0, bytes(16), a6(CLIENT_LL), [(9, adv)])
    [(out, dest)] = bal.handle(repl, ("fd00:200::3", 547, 0, 0))
    assert out == adv
    assert dest == Dest(CLIENT_LL, 546, 7)


@pytest.mark.parametrize("data", [b"", b"\x0c", b"\x0c" + bytes(20), b"\x0d" + bytes(33),
                                  bytes([12, 0]) + bytes(32) + b"\x00\x09\x00\x10abc"])
def test_v6_malformed(tmp_path: Path, data: bytes) -> None:
    bal = Balancer6(selector(tmp_path, ["fd00:200::3"], 6), 1024)
    with pytest.raises(Malformed):
        bal.handle(data, RELAY6)


def test_v6_nesting_bounded(tmp_path: Path) -> None:
    bal = Balancer6(selector(tmp_path, ["fd00:200::3"], 6), 1 << 16)
    m = solicit()
    for _ in range(40):
        m = wire6.build_relay(12, 0, bytes(16), bytes(16), [(9, m)])
    with pytest.raises(Malformed):
        bal.handle(m, RELAY6)


# -- against dhcplb's own bytes in the reference capture ------------------------------------
def _capture() -> list[tuple[int, int, str, str, int, int, bytes]]:
    path = CAPTURES / "dhcplb-relay-v6.any.pcap"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return read_sll2_pcap(path)


def _first(frames: list[tuple[int, int, str, str, int, int, bytes]], src: str, dst: str,
           skip: int = 0) -> bytes:
    seen = []
    for _, _, s, d, _, _, payload in frames:
        if s == src and d == dst and payload not in seen:
            seen.append(payload)
    return seen[skip]


@pytest.mark.parametrize("exchange", [0, 1])
def test_v6_wrap_matches_dhcplb_capture(tmp_path: Path, exchange: int) -> None:
    frames = _capture()
    from_relay = _first(frames, "fd00:200::1", "fd00:200::2", exchange)
    to_server = _first(frames, "fd00:200::2", "fd00:200::3", exchange)
    bal = Balancer6(selector(tmp_path, ["fd00:200::3"], 6), 1024)
    [(out, dest)] = bal.handle(from_relay, ("fd00:200::1", 547, 0, 0))
    assert out == to_server  # byte for byte what dhcplb sent
    assert dest.host == "fd00:200::3" and dest.port == 547


@pytest.mark.parametrize("exchange", [0, 1])
def test_v6_unwrap_matches_dhcplb_capture(tmp_path: Path, exchange: int) -> None:
    frames = _capture()
    from_server = _first(frames, "fd00:200::3", "fd00:200::2", exchange)
    to_relay = _first(frames, "fd00:200::2", "fd00:200::1", exchange)
    bal = Balancer6(selector(tmp_path, ["fd00:200::3"], 6), 1024)
    [(out, dest)] = bal.handle(from_server, ("fd00:200::3", 547, 0, 0))
    assert out == to_relay
    assert dest == Dest("fd00:200::1", 547)
