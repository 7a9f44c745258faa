"""Server mode, DHCPv4 (RFC 2131): OFFER/ACK/NAK rules, lease state and reply destinations."""

from __future__ import annotations

import json
import socket
import struct
from pathlib import Path

import pytest

from lab.dut import wire4
from lab.dut.route import Dest
from lab.dut.server4 import Server4, client_key
from lab.dut.wire4 import MsgType, Opt
from tests.unit.dut.dut_helpers import Clock, handler4, store_for

LOCAL = "192.168.100.1"
MAC = bytes.fromhex("e63d3d9abeaa")
MAC2 = bytes.fromhex("020000000002")
CLIENT = ("0.0.0.0", 68)


def ip(text: str) -> bytes:
    return socket.inet_aton(text)


def server(tmp_path: Path | None = None, start: str = "192.168.100.10",
           end: str = "192.168.100.50", clock: Clock | None = None) -> Server4:
    lease_file = str(tmp_path / "leases4.json") if tmp_path is not None else None
    h = handler4(lease_file, start, end)
    return Server4(h, store_for(h, clock))


def req(mt: int, mac: bytes = MAC, *, requested: str | None = None, sid: str | None = None,
        ciaddr: str = "0.0.0.0", giaddr: str = "0.0.0.0", flags: int = 0,
        client_id: bytes | None = None) -> bytes:
    opts: list[tuple[int, bytes]] = []
    if requested:
        opts.append((Opt.REQUESTED_IP, ip(requested)))
    if sid:
        opts.append((Opt.SERVER_ID, ip(sid)))
    if client_id:
        opts.append((Opt.CLIENT_ID, client_id))
    return wire4.build_request(mt, mac, xid=0x426E9861, ciaddr=ip(ciaddr), giaddr=ip(giaddr),
                               flags=flags, options=opts)


def one(srv: Server4, data: bytes, local: str = LOCAL) -> tuple[wire4.Packet, Dest]:
    out = srv.handle(data, CLIENT, local, 3)
    assert len(out) == 1, out
    return wire4.parse(out[0][0]), out[0][1]


def yi(p: wire4.Packet) -> str:
    return socket.inet_ntoa(p.yiaddr)


def dora(srv: Server4, mac: bytes = MAC) -> str:
    offer, _ = one(srv, req(MsgType.DISCOVER, mac))
    assert offer.msg_type == MsgType.OFFER
    ack, _ = one(srv, req(MsgType.REQUEST, mac, requested=yi(offer), sid=LOCAL))
    assert ack.msg_type == MsgType.ACK
    return yi(ack)


def test_discover_gets_offer_with_options() -> None:
    p, _ = one(server(), req(MsgType.DISCOVER))
    assert p.op == wire4.BOOTREPLY and p.xid == struct.pack("!I", 0x426E9861)
    assert p.msg_type == MsgType.OFFER and yi(p) == "192.168.100.10"
    assert p.options[Opt.SERVER_ID] == ip(LOCAL)
    assert struct.unpack("!I", p.options[Opt.LEASE_TIME])[0] == 600
    assert struct.unpack("!I", p.options[Opt.T1])[0] == 300
    assert struct.unpack("!I", p.options[Opt.T2])[0] == 525
    assert p.options[Opt.SUBNET_MASK] == ip("255.255.255.0")
    assert p.options[Opt.ROUTER] == ip("192.168.100.1")
    assert p.options[Opt.DNS] == ip("192.168.100.1")
    assert p.options[Opt.DOMAIN_SEARCH] == b"\x03lab\x07example\x00"
    assert p.chaddr[:6] == MAC and p.ciaddr == wire4.ZERO4


def test_server_id_is_arrival_address() -> None:
    p, _ = one(server(), req(MsgType.DISCOVER), local="10.1.2.3")
    assert p.options[Opt.SERVER_ID] == ip("10.1.2.3")


def test_full_dora_and_lease_file(tmp_path: Path) -> None:
    srv = server(tmp_path)
    assert dora(srv) == "192.168.100.10"
    doc = json.loads((tmp_path / "leases4.json").read_text())
    [lease] = doc["leases"]
    assert lease["address"] == "192.168.100.10" and lease["state"] == "bound"
    assert lease["mac"] == "e6:3d:3d:9a:be:aa"


def test_range_end_is_handed_out() -> None:
    srv = server(start="192.168.100.10", end="192.168.100.11")
    assert dora(srv, MAC) == "192.168.100.10"
    assert dora(srv, MAC2) == "192.168.100.11"  # inclusive end
    assert srv.handle(req(MsgType.DISCOVER, b"\x02" * 6), CLIENT, LOCAL, 3) == []  # exhausted


def test_same_client_gets_same_address() -> None:
    srv = server()
    first = dora(srv)
    assert dora(srv) == first
    assert dora(srv, MAC2) != first


def test_client_id_option_is_the_identity() -> None:
    srv = server()
    a, _ = one(srv, req(MsgType.DISCOVER, client_id=b"\x01one"))
    srv.handle(req(MsgType.REQUEST, requested=yi(a), sid=LOCAL, client_id=b"\x01one"),
               CLIENT, LOCAL, 3)
    b, _ = one(srv, req(MsgType.DISCOVER, client_id=b"\x01two"))  # same chaddr, other id
    assert yi(a) != yi(b)


def test_requested_ip_hint_honoured() -> None:
    p, _ = one(server(), req(MsgType.DISCOVER, requested="192.168.100.44"))
    assert yi(p) == "192.168.100.44"


def test_selecting_other_server_is_dropped_silently() -> None:
    srv = server()
    offer, _ = one(srv, req(MsgType.DISCOVER))
    out = srv.handle(req(MsgType.REQUEST, requested=yi(offer), sid="192.168.100.99"),
                     CLIENT, LOCAL, 3)
    assert out == []
    assert srv.store.holder(yi(offer)) is None  # our offer withdrawn


def test_request_outside_pool_naks() -> None:
    p, _ = one(server(), req(MsgType.REQUEST, requested="192.168.100.200", sid=LOCAL))
    assert p.msg_type == MsgType.NAK and p.yiaddr == wire4.ZERO4
    assert Opt.LEASE_TIME not in p.options and p.options[Opt.SERVER_ID] == ip(LOCAL)


def test_request_for_another_clients_address_naks() -> None:
    srv = server()
    taken = dora(srv, MAC2)
    p, _ = one(srv, req(MsgType.REQUEST, requested=taken, sid=LOCAL))
    assert p.msg_type == MsgType.NAK


def test_init_reboot_foreign_address_naks() -> None:
    srv = server()
    p, dest = one(srv, req(MsgType.REQUEST, requested="10.0.0.5"))  # no server-id: INIT-REBOOT
    assert p.msg_type == MsgType.NAK
    assert dest == Dest("255.255.255.255", 68, src=LOCAL, ifindex=3)
    taken = dora(srv, MAC2)
    p, _ = one(srv, req(MsgType.REQUEST, requested=taken))
    assert p.msg_type == MsgType.NAK


def test_init_reboot_own_address_acks() -> None:
    srv = server()
    mine = dora(srv)
    p, _ = one(srv, req(MsgType.REQUEST, requested=mine))
    assert p.msg_type == MsgType.ACK and yi(p) == mine


def test_init_reboot_from_a_client_with_no_record_gets_no_answer() -> None:
    """RFC 2131 4.3.2: with no record of the client the server MUST remain silent."""
    srv = server()
    data = req(MsgType.REQUEST, requested="192.168.100.20")
    assert srv.handle(data, CLIENT, LOCAL, 3) == []
    assert srv.store.of_client(client_key(wire4.parse(data))) is None  # nothing was bound
    assert srv.store.holder("192.168.100.20") is None


def test_init_reboot_for_an_address_not_the_clients_record_naks() -> None:
    srv = server()
    mine = dora(srv)
    other = "192.168.100.49" if mine != "192.168.100.49" else "192.168.100.48"
    p, _ = one(srv, req(MsgType.REQUEST, requested=other))
    assert p.msg_type == MsgType.NAK


def test_renewing_acks_to_ciaddr() -> None:
    srv = server()
    mine = dora(srv)
    p, dest = one(srv, req(MsgType.REQUEST, ciaddr=mine))
    assert p.msg_type == MsgType.ACK and yi(p) == mine and socket.inet_ntoa(p.ciaddr) == mine
    assert (dest.host, dest.port, dest.mac) == (mine, 68, None)


def test_renewing_someone_elses_address_naks() -> None:
    srv = server()
    theirs = dora(srv, MAC2)
    p, _ = one(srv, req(MsgType.REQUEST, ciaddr=theirs))
    assert p.msg_type == MsgType.NAK


def test_release_frees(tmp_path: Path) -> None:
    srv = server(tmp_path)
    mine = dora(srv)
    assert srv.handle(req(MsgType.RELEASE, ciaddr=mine, sid=LOCAL), CLIENT, LOCAL, 3) == []
    assert srv.store.holder(mine) is None
    assert json.loads((tmp_path / "leases4.json").read_text())["leases"] == []
    assert dora(srv, MAC2) == mine  # reusable


def test_release_by_other_client_ignored() -> None:
    srv = server()
    mine = dora(srv)
    srv.handle(req(MsgType.RELEASE, MAC2, ciaddr=mine, sid=LOCAL), CLIENT, LOCAL, 3)
    assert srv.store.holder(mine) is not None


def test_decline_marks_unusable_until_expiry() -> None:
    clock = Clock()
    srv = server(clock=clock)
    mine = dora(srv)
    srv.handle(req(MsgType.DECLINE, requested=mine, sid=LOCAL), CLIENT, LOCAL, 3)
    p, _ = one(srv, req(MsgType.DISCOVER))
    assert yi(p) != mine
    clock.now += 601
    p, _ = one(srv, req(MsgType.DISCOVER, MAC2, requested=mine))
    assert yi(p) == mine


def test_inform_acks_without_lease() -> None:
    p, dest = one(server(), req(MsgType.INFORM, ciaddr="192.168.100.77"))
    assert p.msg_type == MsgType.ACK and p.yiaddr == wire4.ZERO4
    assert Opt.LEASE_TIME not in p.options and Opt.T1 not in p.options
    assert p.options[Opt.ROUTER] == ip("192.168.100.1")
    assert (dest.host, dest.port) == ("192.168.100.77", 68)


def test_bootreply_and_bootp_ignored() -> None:
    srv = server()
    reply = wire4.build(op=2, xid=b"1234", chaddr=MAC, options=[(53, b"\x02")])
    assert srv.handle(reply, CLIENT, LOCAL, 3) == []
    bootp = wire4.build(op=1, xid=b"1234", chaddr=MAC)
    assert srv.handle(bootp, CLIENT, LOCAL, 3) == []


# -- RFC 2131 section 4.1 destinations, every branch --------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"giaddr": "192.168.100.1", "ciaddr": "192.168.100.20", "flags": 0x8000},
         ("192.168.100.1", 67, None)),
        ({"ciaddr": "192.168.100.20", "flags": 0x8000}, ("192.168.100.20", 68, None)),
        ({"flags": 0x8000}, ("255.255.255.255", 68, None)),
        ({}, ("192.168.100.10", 68, MAC)),
    ],
    ids=["giaddr", "ciaddr-before-broadcast-flag", "broadcast-flag", "l2-unicast"],
)
def test_reply_destination(kwargs: dict[str, object], expected: tuple[object, ...]) -> None:
    srv = server()
    data = req(MsgType.DISCOVER, **kwargs)  # type: ignore[arg-type]
    _, dest = one(srv, data)
    assert (dest.host, dest.port, dest.mac) == expected
    assert dest.src == LOCAL


def test_nak_destinations() -> None:
    srv = server()
    p, dest = one(srv, req(MsgType.REQUEST, requested="10.0.0.5", ciaddr="192.168.100.20"))
    assert p.msg_type == MsgType.NAK and (dest.host, dest.port) == ("255.255.255.255", 68)
    p, dest = one(srv, req(MsgType.REQUEST, requested="10.0.0.5", giaddr="192.168.100.1"))
    assert (dest.host, dest.port) == ("192.168.100.1", 67)
    assert p.broadcast  # RFC 2131 4.3.2: NAK via a relay asks it to broadcast


def test_malformed_options_raise() -> None:
    from lab.dut.errors import Malformed

    data = bytearray(req(MsgType.DISCOVER))
    data[240:243] = b"\x35\x09\x01"  # option 53 claims 9 bytes
    with pytest.raises(Malformed):
        server().handle(bytes(data[:250]), CLIENT, LOCAL, 3)
