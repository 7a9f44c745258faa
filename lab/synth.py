"""A synthetic capture of many relayed DHCP exchanges, for benchmarks and tests.

It imitates what ``tcpdump -i any`` records in the relay topology (lab-facts.md): DHCPv4 DORA
through relay and balancer with the DSR reply leg, and DHCPv6 wrapped in 1 to 3 RELAY-FORW
layers with the RELAY-REPLs coming back. Each hop is written twice, as it enters the bridge
from the sender's port and as it leaves on the receiver's, with the Linux cooked packet type
and interface index a real capture would carry. Deterministic for a given seed.

    python -m lab.synth OUT.pcap --exchanges 10000 [--seed 0] [--linktype 276|113|1]
"""

from __future__ import annotations

import argparse
import random
import socket
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

from lab.dhcp4 import build_dhcp4
from lab.dhcp6 import Duid, build_message, build_relay
from lab.linklayer import (
    DLT_EN10MB,
    DLT_LINUX_SLL,
    DLT_LINUX_SLL2,
    ETH_TYPE_IP,
    ETH_TYPE_IP6,
    build_ethernet,
    build_sll,
    build_sll2,
)
from lab.pcapfile import pcap_header, pcap_record
from lab.records import Dhcp4Type, Dhcp6Type, PacketType

# Bridge ports (interface index in the capture) and MACs, after the reference capture.
PORTS = {
    "client": (147, "da:58:fd:b6:ed:6d"),
    "relay-int": (149, "8e:52:fd:2c:f9:02"),
    "relay-ext": (151, "a6:a9:3f:da:8f:38"),
    "lb": (153, "b6:a0:99:23:f2:c8"),
    "server": (155, "0e:ba:32:aa:c3:24"),
    "server-int": (157, "0e:ba:32:aa:c3:25"),
    "lb2": (159, "b6:a0:99:23:f2:c9"),  # a second balancer layer, for 3-deep relays
}
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
ALL_DHCP_MAC = "33:33:00:01:00:02"
RELAY_INT4, RELAY_EXT4, LB4, SERVER4, SERVER_INT4 = (
    "192.168.100.1", "192.168.200.1", "192.168.200.2", "192.168.200.3", "192.168.100.3")
RELAY_INT6, RELAY_EXT6, LB6, SERVER6 = "fd00:100::1", "fd00:200::1", "fd00:200::2", "fd00:200::3"
RELAY_LL6 = "fe80::8c52:fdff:fe2c:f902"
ADDR6 = {"relay-ext": RELAY_EXT6, "lb": LB6, "lb2": "fd00:200::4", "server": SERVER6}
SERVER_DUID = Duid(1, 1, 849630211, None, "0e:ba:32:aa:c3:24")

_U16x4 = struct.Struct(">HHHH")
_IP4 = struct.Struct(">BBHHHBBH4s4s")
_IP6 = struct.Struct(">IHBB16s16s")


def _csum_acc(data: bytes) -> int:
    """The 16-bit one's-complement sum of data, before inversion.

    Since 2**16 = 1 (mod 0xffff), summing big-endian words is reducing the whole buffer as
    one big integer mod 0xffff: one C call instead of a Python loop.
    """
    if len(data) % 2:
        data += b"\x00"
    r = int.from_bytes(data, "big") % 0xFFFF
    return r if r or not any(data) else 0xFFFF


def _checksum(data: bytes) -> int:
    return ~_csum_acc(data) & 0xFFFF


def udp_ipv4(src: str, dst: str, sport: int, dport: int, payload: bytes, ttl: int = 64) -> bytes:
    """IPv4 + UDP (checksums filled) around payload."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    ulen = 8 + len(payload)
    pseudo = s + d + struct.pack(">BBH", 0, 17, ulen)
    csum = _checksum(pseudo + _U16x4.pack(sport, dport, ulen, 0) + payload) or 0xFFFF
    udp = _U16x4.pack(sport, dport, ulen, csum) + payload
    hdr = _IP4.pack(0x45, 0, 20 + ulen, 0, 0, ttl, 17, 0, s, d)
    hdr = hdr[:10] + struct.pack(">H", _checksum(hdr)) + hdr[12:]
    return hdr + udp


def udp_ipv6(src: str, dst: str, sport: int, dport: int, payload: bytes, hlim: int = 64) -> bytes:
    """IPv6 + UDP (checksum filled: it is mandatory over IPv6) around payload."""
    s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    ulen = 8 + len(payload)
    pseudo = s + d + struct.pack(">IxxxB", ulen, 17)
    csum = _checksum(pseudo + _U16x4.pack(sport, dport, ulen, 0) + payload) or 0xFFFF
    return _IP6.pack(6 << 28, ulen, 17, hlim, s, d) + _U16x4.pack(sport, dport, ulen, csum) + (
        payload)


def link_frame(
    linktype: int, pkttype: int, ifindex: int, src_mac: str, dst_mac: str, ethertype: int,
    packet: bytes,
) -> bytes:
    """Wrap an IP packet for the given link type (276 SLL2, 113 SLL, 1 Ethernet)."""
    if linktype == DLT_LINUX_SLL2:
        return build_sll2(pkttype, ifindex, src_mac, ethertype, packet)
    if linktype == DLT_LINUX_SLL:
        return build_sll(pkttype, src_mac, ethertype, packet)
    if linktype == DLT_EN10MB:
        return build_ethernet(src_mac, dst_mac, ethertype, packet)
    raise ValueError(f"synth writes link types 276, 113 and 1, not {linktype}")


class _Writer:
    """Turns one logical hop into the two frames a bridge capture shows."""

    def __init__(self, linktype: int, start: float) -> None:
        self.linktype = linktype
        self.ts = start
        self.out: list[tuple[float, bytes]] = []

    def hop(
        self, sender: str, receiver: str, dst_mac: str, ethertype: int, packet: bytes
    ) -> None:
        s_if, s_mac = PORTS[sender]
        r_if, _ = PORTS[receiver]
        if dst_mac == BROADCAST_MAC:
            seen = PacketType.BROADCAST
        elif dst_mac.startswith("33:33"):
            seen = PacketType.MULTICAST
        else:
            seen = PacketType.OTHERHOST
        self.ts += 0.000013
        self.out.append((self.ts, link_frame(self.linktype, seen, s_if, s_mac, dst_mac,
                                             ethertype, packet)))
        if self.linktype != DLT_EN10MB:  # a single Ethernet port sees a frame once
            self.ts += 0.000003
            self.out.append((self.ts, link_frame(self.linktype, PacketType.OUTGOING, r_if,
                                                 s_mac, dst_mac, ethertype, packet)))


def _v4_exchange(w: _Writer, rng: random.Random, n: int) -> None:
    mac = ":".join(f"{b:02x}" for b in b"\x02\x00" + n.to_bytes(4, "big"))
    xid = rng.getrandbits(32)
    yiaddr = f"192.168.100.{10 + n % 41}"
    opt82: list[tuple[int, object]] = []
    if rng.random() < 0.5:
        opt82.append((82, ((1, b"rly-int"), (2, bytes.fromhex(mac.replace(":", ""))))))
    lease = [(54, SERVER_INT4), (51, 600), (1, "255.255.255.0"), (3, [RELAY_INT4]),
             (6, ["192.168.200.3"]), (58, 300), (59, 525)]
    for ask, answer in ((Dhcp4Type.DISCOVER, Dhcp4Type.OFFER),
                        (Dhcp4Type.REQUEST, Dhcp4Type.ACK)):
        req_opts: list[tuple[int, object]] = [(61, (1, mac)), (12, f"host{n}"),
                                              (55, (1, 3, 6, 15, 119))]
        if ask == Dhcp4Type.REQUEST:
            req_opts[:0] = [(50, yiaddr), (54, SERVER_INT4)]
        client = build_dhcp4(op=1, xid=xid, chaddr=mac, msg_type=ask, options=req_opts)
        w.hop("client", "relay-int", BROADCAST_MAC, ETH_TYPE_IP,
              udp_ipv4("0.0.0.0", "255.255.255.255", 68, 67, client))
        relayed = build_dhcp4(op=1, xid=xid, chaddr=mac, msg_type=ask, hops=1,
                              giaddr=RELAY_INT4, options=req_opts + opt82)
        w.hop("relay-ext", "lb", PORTS["lb"][1], ETH_TYPE_IP,
              udp_ipv4(RELAY_EXT4, LB4, 67, 67, relayed))
        balanced = build_dhcp4(op=1, xid=xid, chaddr=mac, msg_type=ask, hops=2,
                               giaddr=RELAY_INT4, options=req_opts + opt82)
        w.hop("lb", "server", PORTS["server"][1], ETH_TYPE_IP,
              udp_ipv4(LB4, SERVER4, 67, 67, balanced))
        reply = build_dhcp4(op=2, xid=xid, chaddr=mac, msg_type=answer, hops=2,
                            yiaddr=yiaddr, giaddr=RELAY_INT4, options=lease + opt82)
        w.hop("server-int", "relay-int", PORTS["relay-int"][1], ETH_TYPE_IP,
              udp_ipv4(SERVER_INT4, RELAY_INT4, 67, 67, reply))
        final = build_dhcp4(op=2, xid=xid, chaddr=mac, msg_type=answer, yiaddr=yiaddr,
                            giaddr=RELAY_INT4, options=lease)
        w.hop("relay-int", "client", mac, ETH_TYPE_IP,
              udp_ipv4(RELAY_INT4, yiaddr, 67, 68, final))
        w.ts += 0.001


def _v6_exchange(w: _Writer, rng: random.Random, n: int) -> None:
    mac = ":".join(f"{b:02x}" for b in b"\x02\x01" + n.to_bytes(4, "big"))
    b = bytes.fromhex(mac.replace(":", ""))
    client_ll = socket.inet_ntop(
        socket.AF_INET6, b"\xfe\x80" + b"\x00" * 6 + bytes((b[0] ^ 2,)) + b[1:3] + b"\xff\xfe"
        + b[3:])
    duid = Duid(1, 1, 849630218, None, mac)
    addr = f"fd00:100::{0x10 + n % 0x41:x}"
    depth = rng.randint(1, 3)
    iaid = n & 0xFFFFFFFF
    for ask, answer in ((Dhcp6Type.SOLICIT, Dhcp6Type.ADVERTISE),
                        (Dhcp6Type.REQUEST, Dhcp6Type.REPLY)):
        xid = rng.getrandbits(24)
        ia: tuple[object, ...] = (iaid, 3600, 5400, ())
        opts: list[tuple[int, object]] = [(1, duid), (6, (23, 24)), (8, 0)]
        if ask == Dhcp6Type.REQUEST:
            opts.insert(1, (2, SERVER_DUID))
            ia = (iaid, 3600, 5400, ((5, (addr, 7200, 7500, ())),))
        opts.append((3, ia))
        msg = build_message(ask, xid, opts)
        w.hop("client", "relay-int", ALL_DHCP_MAC, ETH_TYPE_IP6,
              udp_ipv6(client_ll, "ff02::1:2", 546, 547, msg, hlim=1))
        # Layer k (1-based) is wrapped by nodes[k-1] and travels to nodes[k].
        nodes = ["relay-ext", "lb", "lb2", "server"][:depth] + ["server"]
        layers: list[bytes] = [msg]
        peers = [client_ll] + [ADDR6[node] for node in nodes]
        for k in range(1, depth + 1):
            extra = [(79, (1, mac))] if k == 1 else []
            layers.append(build_relay(Dhcp6Type.RELAY_FORW, k - 1, RELAY_INT6, peers[k - 1],
                                      layers[-1], extra))
            sender, receiver = nodes[k - 1], nodes[k]
            w.hop(sender, receiver, PORTS[receiver][1], ETH_TYPE_IP6,
                  udp_ipv6(ADDR6[sender], ADDR6[receiver], 547, 547, layers[k]))
        reply = build_message(answer, xid, [
            (1, duid), (2, SERVER_DUID),
            (3, (iaid, 21600, 37800, ((5, (addr, 43200, 43200, ())),))),
            (13, (0, "success")), (7, 0)])
        replies: list[bytes] = [reply]
        for k in range(1, depth + 1):
            replies.append(build_relay(Dhcp6Type.RELAY_REPL, k - 1, RELAY_INT6, peers[k - 1],
                                       replies[-1]))
        for k in range(depth, 0, -1):  # every RELAY-REPL goes to 547
            sender, receiver = nodes[k], nodes[k - 1]
            w.hop(sender, receiver, PORTS[receiver][1], ETH_TYPE_IP6,
                  udp_ipv6(ADDR6[sender], ADDR6[receiver], 547, 547, replies[k]))
        w.hop("relay-int", "client", mac, ETH_TYPE_IP6,
              udp_ipv6(RELAY_LL6, client_ll, 547, 546, reply))
        w.ts += 0.001


def synthetic_records(
    exchanges: int, seed: int = 0, linktype: int = DLT_LINUX_SLL2
) -> Iterator[tuple[float, bytes]]:
    """(timestamp, frame) pairs of ``exchanges`` exchanges, half v4 and half v6 at random."""
    rng = random.Random(seed)
    w = _Writer(linktype, 1_700_000_000.0)
    for n in range(exchanges):
        if rng.random() < 0.5:
            _v4_exchange(w, rng, n)
        else:
            _v6_exchange(w, rng, n)
        yield from w.out
        w.out.clear()


def write_synthetic_pcap(
    path: str | Path, exchanges: int, seed: int = 0, linktype: int = DLT_LINUX_SLL2
) -> int:
    """Write a synthetic classic pcap; returns the number of packets written."""
    count = 0
    with open(path, "wb") as fh:
        fh.write(pcap_header(linktype))
        for ts, frame in synthetic_records(exchanges, seed, linktype):
            fh.write(pcap_record(ts, frame))
            count += 1
    return count


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.synth", description=__doc__.splitlines()[0])
    ap.add_argument("out", help="pcap file to write")
    ap.add_argument("--exchanges", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--linktype", type=int, default=DLT_LINUX_SLL2,
                    choices=(DLT_LINUX_SLL2, DLT_LINUX_SLL, DLT_EN10MB))
    args = ap.parse_args(argv)
    n = write_synthetic_pcap(args.out, args.exchanges, args.seed, args.linktype)
    print(f"wrote {n} packets to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
