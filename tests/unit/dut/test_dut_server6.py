"""Server mode, DHCPv6 (RFC 8415 section 18.3): replies, status codes, relaying, DUID."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lab.dut import wire6
from lab.dut.errors import LeaseFileError
from lab.dut.route import Dest
from lab.dut.server6 import Server6, load_or_create_duid
from lab.dut.wire6 import MsgType, Opt, Status
from tests.unit.dut.dut_helpers import (
    CLIENT_LL,
    DUID,
    IAID,
    Clock,
    a6,
    handler6,
    ia_na,
    msg6,
    store_for,
)

SERVER_DUID = bytes.fromhex("000300010eba32aac324")
PEER = (CLIENT_LL, 546, 0, 5)


def server(tmp_path: Path | None = None, clock: Clock | None = None, **kw: object) -> Server6:
    lease_file = str(tmp_path / "leases6.json") if tmp_path is not None else None
    h = handler6(lease_file, **kw)  # type: ignore[arg-type]
    return Server6(h, store_for(h, clock), SERVER_DUID)


def reply(srv: Server6, data: bytes, peer: tuple[str, int, int, int] = PEER
          ) -> tuple[wire6.Message, Dest]:
    out = srv.handle(data, peer)
    assert len(out) == 1, out
    return wire6.parse_message(out[0][0]), out[0][1]


def status(opts: list[tuple[int, bytes]]) -> int | None:
    v = wire6.first(opts, Opt.STATUS_CODE)
    return None if v is None else struct.unpack("!H", v[:2])[0]


def the_ia(m: wire6.Message) -> wire6.IaNa:
    [v] = m.all(Opt.IA_NA)
    return wire6.parse_ia_na(v)


def addr_lifetimes(ia: wire6.IaNa) -> list[tuple[bytes, int, int]]:
    out = []
    for c, v in ia.options:
        if c == Opt.IAADDR:
            pref, valid = struct.unpack("!II", v[16:24])
            out.append((v[:16], pref, valid))
    return out


def bind(srv: Server6) -> bytes:
    m, _ = reply(srv, msg6(MsgType.REQUEST, ia_na(), server_duid=SERVER_DUID))
    return the_ia(m).addresses[0]


def test_solicit_advertise_with_preference() -> None:
    m, dest = reply(server(rapid_commit=False), msg6(MsgType.SOLICIT, ia_na()))
    assert m.msg_type == MsgType.ADVERTISE and m.xid == b"\x3b\x54\xbb"
    assert m.get(Opt.CLIENTID) == DUID and m.get(Opt.SERVERID) == SERVER_DUID
    assert m.get(Opt.PREFERENCE) == b"\xff"
    ia = the_ia(m)
    assert ia.iaid == IAID and (ia.t1, ia.t2) == (300, 480)
    assert addr_lifetimes(ia) == [(a6("fd00:100::10"), 600, 600)]
    assert m.get(Opt.DNS_SERVERS) == a6("fd00:100::1")
    assert m.get(Opt.DOMAIN_LIST) == b"\x03lab\x07example\x00"
    assert dest == Dest(CLIENT_LL, 546, 5)


def test_no_preference_when_unset() -> None:
    m, _ = reply(server(preference=None), msg6(MsgType.SOLICIT, ia_na()))
    assert m.get(Opt.PREFERENCE) is None


def test_rapid_commit_reply() -> None:
    srv = server(rapid_commit=True)
    m, _ = reply(srv, msg6(MsgType.SOLICIT, ia_na(), (Opt.RAPID_COMMIT, b"")))
    assert m.msg_type == MsgType.REPLY and m.get(Opt.RAPID_COMMIT) == b""
    assert m.get(Opt.PREFERENCE) is None
    lease = srv.store.holder("fd00:100::10")
    assert lease is not None and lease.state == "bound"


def test_rapid_commit_disabled_advertises() -> None:
    m, _ = reply(server(rapid_commit=False), msg6(MsgType.SOLICIT, ia_na(),
                                                  (Opt.RAPID_COMMIT, b"")))
    assert m.msg_type == MsgType.ADVERTISE and m.get(Opt.RAPID_COMMIT) is None


def test_solicit_without_ia_na_no_addrs_avail() -> None:
    m, _ = reply(server(), msg6(MsgType.SOLICIT))
    assert m.msg_type == MsgType.ADVERTISE and not m.all(Opt.IA_NA)
    assert status(m.options) == Status.NO_ADDRS_AVAIL


def test_solicit_with_server_id_ignored() -> None:
    assert server().handle(msg6(MsgType.SOLICIT, ia_na(), server_duid=SERVER_DUID), PEER) == []
    assert server().handle(msg6(MsgType.SOLICIT, ia_na(), duid=None), PEER) == []


def test_request_binds_and_range_end_is_used(tmp_path: Path) -> None:
    h = handler6(str(tmp_path / "l.json"), start="fd00:100::10", end="fd00:100::11")
    srv = Server6(h, store_for(h), SERVER_DUID)
    got = set()
    for n in range(2):
        duid = DUID[:-1] + bytes((n,))
        m, _ = reply(srv, msg6(MsgType.REQUEST, ia_na(), duid=duid, server_duid=SERVER_DUID))
        got.add(the_ia(m).addresses[0])
    assert got == {a6("fd00:100::10"), a6("fd00:100::11")}
    m, _ = reply(srv, msg6(MsgType.REQUEST, ia_na(), duid=b"\0\3\0\1" + b"\x99" * 6,
                           server_duid=SERVER_DUID))
    assert status(the_ia(m).options) == Status.NO_ADDRS_AVAIL


def test_request_needs_our_server_id() -> None:
    srv = server()
    assert srv.handle(msg6(MsgType.REQUEST, ia_na()), PEER) == []
    assert srv.handle(msg6(MsgType.REQUEST, ia_na(), server_duid=b"\0\3\0\1abcdef"), PEER) == []


def test_request_not_on_link() -> None:
    m, _ = reply(server(), msg6(MsgType.REQUEST, ia_na(["2001:db8::5"]),
                                server_duid=SERVER_DUID))
    ia = the_ia(m)
    assert status(ia.options) == Status.NOT_ON_LINK and ia.addresses == []


def test_request_keeps_advertised_address() -> None:
    srv = server(rapid_commit=False)
    adv, _ = reply(srv, msg6(MsgType.SOLICIT, ia_na()))
    offered = the_ia(adv).addresses[0]
    m, _ = reply(srv, msg6(MsgType.REQUEST, ia_na([CLIENT_LL.replace("fe80::", "fd00:100::")]),
                           server_duid=SERVER_DUID))
    assert the_ia(m).addresses == [offered]


def test_renew_extends_binding() -> None:
    srv = server()
    mine = bind(srv)
    from socket import AF_INET6, inet_ntop

    m, _ = reply(srv, msg6(MsgType.RENEW, ia_na([inet_ntop(AF_INET6, mine)]),
                           server_duid=SERVER_DUID))
    assert addr_lifetimes(the_ia(m)) == [(mine, 600, 600)]


def test_renew_without_binding_no_binding() -> None:
    m, _ = reply(server(), msg6(MsgType.RENEW, ia_na(["fd00:100::20"]),
                                server_duid=SERVER_DUID))
    ia = the_ia(m)
    assert status(ia.options) == Status.NO_BINDING and ia.addresses == []


def test_renew_foreign_address_gets_zero_lifetime() -> None:
    srv = server()
    mine = bind(srv)
    m, _ = reply(srv, msg6(MsgType.RENEW, ia_na(["fd00:100::33"]), server_duid=SERVER_DUID))
    assert addr_lifetimes(the_ia(m)) == [(mine, 600, 600), (a6("fd00:100::33"), 0, 0)]


def test_rebind_not_on_link_zero_lifetimes() -> None:
    m, _ = reply(server(), msg6(MsgType.REBIND, ia_na(["2001:db8::5"])))
    ia = the_ia(m)
    assert addr_lifetimes(ia) == [(a6("2001:db8::5"), 0, 0)]


def test_rebind_on_link_free_address_rebinds() -> None:
    srv = server()
    m, _ = reply(srv, msg6(MsgType.REBIND, ia_na(["fd00:100::20"])))
    assert addr_lifetimes(the_ia(m)) == [(a6("fd00:100::20"), 600, 600)]


def test_rebind_with_server_id_ignored() -> None:
    assert server().handle(msg6(MsgType.REBIND, ia_na(), server_duid=SERVER_DUID), PEER) == []


@pytest.mark.parametrize(
    ("addrs", "code"),
    [(["fd00:100::44"], Status.SUCCESS), (["fd00:100::ffff"], Status.SUCCESS),
     (["fd00:100::44", "fd00:999::1"], Status.NOT_ON_LINK)],
)
def test_confirm(addrs: list[str], code: int) -> None:
    m, _ = reply(server(), msg6(MsgType.CONFIRM, ia_na(addrs)))
    assert m.msg_type == MsgType.REPLY and status(m.options) == code


def test_confirm_without_addresses_is_silent() -> None:
    assert server().handle(msg6(MsgType.CONFIRM, ia_na()), PEER) == []


def test_release_frees_and_replies_success() -> None:
    srv = server()
    mine = bind(srv)
    from socket import AF_INET6, inet_ntop

    text = inet_ntop(AF_INET6, mine)
    m, _ = reply(srv, msg6(MsgType.RELEASE, ia_na([text]), server_duid=SERVER_DUID))
    assert status(m.options) == Status.SUCCESS and not m.all(Opt.IA_NA)
    assert srv.store.holder(text) is None
    m, _ = reply(srv, msg6(MsgType.RELEASE, ia_na([text]), server_duid=SERVER_DUID))
    assert status(the_ia(m).options) == Status.NO_BINDING


def test_decline_replies_and_marks() -> None:
    srv = server()
    mine = bind(srv)
    from socket import AF_INET6, inet_ntop

    text = inet_ntop(AF_INET6, mine)
    m, _ = reply(srv, msg6(MsgType.DECLINE, ia_na([text]), server_duid=SERVER_DUID))
    assert m.msg_type == MsgType.REPLY and status(m.options) == Status.SUCCESS
    lease = srv.store.holder(text)
    assert lease is not None and lease.state == "declined"


def test_information_request_options_only() -> None:
    m, _ = reply(server(), msg6(MsgType.INFORMATION_REQUEST, (Opt.ORO, b"\x00\x17\x00\x18")))
    assert m.msg_type == MsgType.REPLY and not m.all(Opt.IA_NA)
    assert m.get(Opt.DNS_SERVERS) == a6("fd00:100::1") and m.get(Opt.DOMAIN_LIST)
    assert server().handle(msg6(MsgType.INFORMATION_REQUEST, ia_na()), PEER) == []


def test_server_messages_ignored() -> None:
    for t in (MsgType.ADVERTISE, MsgType.REPLY, MsgType.RECONFIGURE):
        assert server().handle(msg6(t), PEER) == []


def test_relayed_request_gets_mirrored_relay_repl() -> None:
    inner = msg6(MsgType.SOLICIT, ia_na())
    r1 = wire6.build_relay(12, 0, a6("fd00:100::1"), a6(CLIENT_LL),
                           [(Opt.INTERFACE_ID, b"eth7"), (9, inner)])
    r2 = wire6.build_relay(12, 1, a6("fd00:100::1"), a6("fd00:200::1"), [(9, r1)])
    [(out, dest)] = server().handle(r2, ("fd00:200::2", 547, 0, 0))
    assert dest == Dest("fd00:200::2", 547)
    layers, msg = wire6.unwrap(out)
    assert [(x.msg_type, x.hop_count, x.link, x.peer, x.interface_id) for x in layers] == [
        (13, 1, a6("fd00:100::1"), a6("fd00:200::1"), None),
        (13, 0, a6("fd00:100::1"), a6(CLIENT_LL), b"eth7"),
    ]
    assert wire6.parse_message(msg).msg_type in (MsgType.ADVERTISE, MsgType.REPLY)


def test_duid_stable_across_restarts(tmp_path: Path) -> None:
    lease_file = str(tmp_path / "leases6.json")
    first = load_or_create_duid(lease_file)
    assert first[:4] == b"\x00\x03\x00\x01" and len(first) == 10  # DUID-LL, Ethernet
    (tmp_path / "leases6.json").write_text('{"leases": []}')
    (tmp_path / "leases6.json").unlink()  # the lab resets leases by deleting the file
    assert load_or_create_duid(lease_file) == first
    assert (tmp_path / "leases6.json.duid").read_text().strip() == first.hex()


def test_corrupt_duid_file(tmp_path: Path) -> None:
    (tmp_path / "l.json.duid").write_text("zz")
    with pytest.raises(LeaseFileError):
        load_or_create_duid(str(tmp_path / "l.json"))


@pytest.mark.parametrize("kind", [MsgType.REQUEST, MsgType.RENEW, MsgType.RELEASE,
                                  MsgType.DECLINE])
def test_unicast_without_a_server_unicast_option_gets_use_multicast(kind: MsgType) -> None:
    """RFC 8415 18.3.x: the message is discarded and answered with UseMulticast, the server
    and client identifiers and nothing else; no binding is made or changed."""
    srv = server()
    out = srv.handle(msg6(kind, ia_na(["fd00:100::20"]), server_duid=SERVER_DUID), PEER,
                     "fd00:100::1")
    assert len(out) == 1
    m = wire6.parse_message(out[0][0])
    assert m.msg_type == MsgType.REPLY and status(m.options) == Status.USE_MULTICAST
    assert sorted(c for c, _ in m.options) == [Opt.CLIENTID, Opt.SERVERID, Opt.STATUS_CODE]
    assert m.get(Opt.CLIENTID) == DUID
    assert srv.store.holder("fd00:100::20") is None


def test_the_same_messages_to_the_multicast_group_are_served() -> None:
    srv = server()
    out = srv.handle(msg6(MsgType.REQUEST, ia_na(), server_duid=SERVER_DUID), PEER, "ff02::1:2")
    m = wire6.parse_message(out[0][0])
    assert status(m.options) != Status.USE_MULTICAST and the_ia(m).addresses


def test_solicit_by_unicast_is_still_answered() -> None:
    """The UseMulticast rule covers only the four messages above; a Solicit is answered
    wherever it was sent."""
    out = server(rapid_commit=False).handle(msg6(MsgType.SOLICIT, ia_na()), PEER,
                                            "fe80::1")
    assert wire6.parse_message(out[0][0]).msg_type == MsgType.ADVERTISE
