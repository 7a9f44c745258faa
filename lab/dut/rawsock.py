"""Link-layer unicast for the DHCPv4 server (RFC 2131 section 4.1, last case): a client with
no address yet and no broadcast flag gets its reply in an Ethernet frame sent to chaddr,
with IP destination yiaddr. We build Ethernet + IPv4 + UDP ourselves, checksums included,
and send it through an AF_PACKET socket (needs CAP_NET_RAW)."""

from __future__ import annotations

import socket
import struct

ETH_P_IP = 0x0800
_IP = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build_frame(src_mac: bytes, dst_mac: bytes, src_ip: str, dst_ip: str, sport: int,
                dport: int, payload: bytes, ttl: int = 64, ident: int = 0) -> bytes:
    """An Ethernet II frame carrying IPv4/UDP with correct IP and UDP checksums."""
    src = socket.inet_aton(src_ip)
    dst = socket.inet_aton(dst_ip)
    ulen = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_UDP, ulen)
    ucsum = checksum(pseudo + _UDP.pack(sport, dport, ulen, 0) + payload) or 0xFFFF
    udp = _UDP.pack(sport, dport, ulen, ucsum)
    total = 20 + ulen
    hdr = _IP.pack(0x45, 0, total, ident, 0, ttl, socket.IPPROTO_UDP, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + hdr + udp + payload


def interface_mac(ifname: str) -> bytes:
    with open(f"/sys/class/net/{ifname}/address") as f:
        return bytes(int(x, 16) for x in f.read().strip().split(":"))


class RawSender:
    """Sends built frames out a given interface index."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self._macs: dict[int, tuple[str, bytes]] = {}

    def close(self) -> None:
        self.sock.close()

    def send(self, ifindex: int, dst_mac: bytes, src_ip: str, dst_ip: str, payload: bytes,
             sport: int = 67, dport: int = 68) -> None:
        known = self._macs.get(ifindex)
        if known is None:
            name = socket.if_indextoname(ifindex)
            known = self._macs[ifindex] = (name, interface_mac(name))
        name, src_mac = known
        frame = build_frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload)
        self.sock.sendto(frame, (name, ETH_P_IP))
