"""Synthetic frames for flow, golden and mermaid tests: what a lab's switch-namespace capture
would hold, built from records directly (no pcap), so each test states its traffic in a few
lines."""

from __future__ import annotations

from lab.ifmap import IfMap, from_topology
from lab.records import Dhcp4, Dhcp4Type, Dhcp6, Dhcp6Option, Dhcp6Type, Frame, PacketType
from lab.topology import build

TOPO = build("t", "relay")
BRIDGE_INDEX = {"int": 2, "ext": 3}
PORT_INDEX = {i.link: 10 + n for n, i in enumerate(TOPO.ifaces)}
LINKS: list[dict[str, object]] = [
    {"ifname": TOPO.bridge(k), "ifindex": v} for k, v in BRIDGE_INDEX.items()
] + [{"ifname": TOPO.iface(link).port, "ifindex": idx} for link, idx in PORT_INDEX.items()]
IFMAP: IfMap = from_topology(TOPO, LINKS)

CLIENT_LL = TOPO.iface("cli").link_local
RELAY_LL = TOPO.iface("rly-int").link_local
ADDR4 = {"rly-int": "192.168.100.1", "rly-ext": "192.168.200.1", "lb": "192.168.200.2",
         "srv": "192.168.200.3", "srv-int": "192.168.100.3"}
ADDR6 = {"rly-int": "fd00:100::1", "rly-ext": "fd00:200::1", "lb": "fd00:200::2",
         "srv": "fd00:200::3", "srv-int": "fd00:100::3"}
LEASE4 = "192.168.100.23"
LEASE6 = "fd00:100::23"
BCAST_PORTS = {"int": ("cli", "rly-int", "srv-int"), "ext": ("rly-ext", "lb", "srv")}


class Wire:
    """Accumulates frames the way tcpdump -i any in the switch namespace would see them."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def _add(self, ifindex: int, pkttype: PacketType, src_mac: str, version: int, src: str,
             dst: str, sport: int, dport: int, msg: Dhcp4 | Dhcp6 | None) -> None:
        self.frames.append(Frame(len(self.frames) + 1, float(len(self.frames)), ifindex,
                                 pkttype, src_mac, None, version, src, dst, sport, dport, msg))

    def send(self, link: str, dst: str, msg: Dhcp4 | Dhcp6 | None, *, to: str | None = None,
             sport: int | None = None, dport: int | None = None) -> None:
        """``link`` sends to ``dst``; ``to`` is the receiving link for unicast."""
        iface = TOPO.iface(link)
        v6 = ":" in dst
        if link == "cli":
            src = CLIENT_LL if v6 else "0.0.0.0"
        elif v6 and link == "rly-int" and to == "cli":
            src = RELAY_LL  # a relay answers the client from its link-local address
        else:
            src = ADDR6.get(link, "::") if v6 else ADDR4.get(link, "0.0.0.0")
        if isinstance(msg, Dhcp4):
            sp, dp = (68, 67) if link == "cli" else (67, 68 if to == "cli" else 67)
        else:
            client_msg = isinstance(msg, Dhcp6) and not msg.is_relay and msg.msg_type in (
                Dhcp6Type.SOLICIT, Dhcp6Type.REQUEST, Dhcp6Type.RENEW, Dhcp6Type.CONFIRM)
            sp, dp = (546, 547) if client_msg else (547, 546 if to == "cli" else 547)
        sp, dp = sport or sp, dport or dp
        version = 6 if v6 else 4
        multi = dst in ("255.255.255.255", "ff02::1:2")
        kind = PacketType.BROADCAST if dst == "255.255.255.255" else (
            PacketType.MULTICAST if multi else PacketType.OTHERHOST)
        bridge = iface.bridge.rsplit("-", 1)[-1]
        self._add(PORT_INDEX[link], kind, iface.mac, version, src, dst, sp, dp, msg)
        if multi:
            for other in BCAST_PORTS[bridge]:
                if other != link:
                    self._add(PORT_INDEX[other], PacketType.OUTGOING, iface.mac, version, src,
                              dst, sp, dp, msg)
            self._add(BRIDGE_INDEX[bridge], kind, iface.mac, version, src, dst, sp, dp, msg)
        elif to is not None:
            self._add(PORT_INDEX[to], PacketType.OUTGOING, iface.mac, version, src, dst, sp,
                      dp, msg)


def d4(kind: Dhcp4Type, xid: int = 0x1234, *, hops: int = 0, giaddr: str = "0.0.0.0",
       yiaddr: str = "0.0.0.0", ciaddr: str = "0.0.0.0", flags: int = 0,
       opt82: bool = False) -> Dhcp4:
    op = 2 if kind in (Dhcp4Type.OFFER, Dhcp4Type.ACK, Dhcp4Type.NAK) else 1
    opts: list[tuple[int, object]] = [(53, kind)]
    if opt82:
        opts.append((82, ((1, b"rly-int"),)))
    return Dhcp4(op, hops, xid, 0, flags, ciaddr, yiaddr, "0.0.0.0", giaddr,
                 "02:00:00:00:00:01", kind, tuple(opts))


def d6(kind: Dhcp6Type, xid: int = 0xABCDE, *, addr: str | None = None,
       status: int | None = None) -> Dhcp6:
    opts: list[Dhcp6Option] = [Dhcp6Option(1, b"\x00\x03\x00\x01\x02\x00\x00\x00\x00\x01")]
    subs: tuple[Dhcp6Option, ...] = ()
    if addr is not None:
        subs = (Dhcp6Option(5, b"", (addr, 7200, 7500, ())),)
    opts.append(Dhcp6Option(3, b"", (1, 3600, 5400, subs)))
    if status is not None:
        opts.append(Dhcp6Option(13, b"", (status, "")))
    return Dhcp6(kind, xid=xid, options=tuple(opts))


def relay6(kind: Dhcp6Type, hop: int, link: str, peer: str, inner: Dhcp6, *,
           ifid: bool = False) -> Dhcp6:
    opts = [Dhcp6Option(9, b"", inner)]
    if ifid:
        opts.insert(0, Dhcp6Option(18, b"rly-int"))
    return Dhcp6(kind, hop_count=hop, link_address=link, peer_address=peer, options=tuple(opts))


def relay_v4(*, dsr: bool = True, xid: int = 0x1234, ext_leg: bool = False) -> list[Frame]:
    """DORA through relay and lb; the reply goes server(int leg) -> relay (DSR) or back
    through lb; ``ext_leg``: the server answers the relay directly but from its ext leg, to
    the relay's ext address (DSR all the same, on the wrong segment)."""
    w = Wire()
    for ask, answer in ((Dhcp4Type.DISCOVER, Dhcp4Type.OFFER),
                        (Dhcp4Type.REQUEST, Dhcp4Type.ACK)):
        w.send("cli", "255.255.255.255", d4(ask, xid))
        w.send("rly-ext", ADDR4["lb"], d4(ask, xid, hops=1, giaddr=ADDR4["rly-int"]), to="lb")
        w.send("lb", ADDR4["srv"], d4(ask, xid, hops=2, giaddr=ADDR4["rly-int"]), to="srv")
        reply = d4(answer, xid, hops=2, giaddr=ADDR4["rly-int"], yiaddr=LEASE4)
        if dsr and ext_leg:
            w.send("srv", ADDR4["rly-ext"], reply, to="rly-ext")
        elif dsr:
            w.send("srv-int", ADDR4["rly-int"], reply, to="rly-int")
        else:
            w.send("srv", ADDR4["lb"], reply, to="lb")
            w.send("lb", ADDR4["rly-ext"], reply, to="rly-ext")
        w.send("rly-int", LEASE4, d4(answer, xid, giaddr=ADDR4["rly-int"], yiaddr=LEASE4),
               to="cli")
    return w.frames


def relay_v6(*, xids: tuple[int, int] = (0xABCDE, 0x12345)) -> list[Frame]:
    """SOLICIT/ADVERTISE, REQUEST/REPLY through relay and lb, replies back through lb."""
    w = Wire()
    for (ask, answer), xid in zip(((Dhcp6Type.SOLICIT, Dhcp6Type.ADVERTISE),
                                   (Dhcp6Type.REQUEST, Dhcp6Type.REPLY)), xids, strict=True):
        msg = d6(ask, xid, addr=LEASE6 if ask == Dhcp6Type.REQUEST else None)
        w.send("cli", "ff02::1:2", msg)
        f1 = relay6(Dhcp6Type.RELAY_FORW, 0, ADDR6["rly-int"], CLIENT_LL, msg)
        w.send("rly-ext", ADDR6["lb"], f1, to="lb")
        f2 = relay6(Dhcp6Type.RELAY_FORW, 1, ADDR6["rly-int"], ADDR6["rly-ext"], f1)
        w.send("lb", ADDR6["srv"], f2, to="srv")
        rep = d6(answer, xid, addr=LEASE6)
        r1 = relay6(Dhcp6Type.RELAY_REPL, 0, ADDR6["rly-int"], CLIENT_LL, rep)
        r2 = relay6(Dhcp6Type.RELAY_REPL, 1, ADDR6["rly-int"], ADDR6["rly-ext"], r1)
        w.send("srv", ADDR6["lb"], r2, to="lb")
        w.send("lb", ADDR6["rly-ext"], r1, to="rly-ext")
        w.send("rly-int", CLIENT_LL, rep, to="cli")
    return w.frames
