"""Link layers a lab capture can have: Ethernet, Linux cooked v1/v2, raw IP, BSD loopback.

The header layouts are dpkt's own tables (``dpkt.sll.SLL.__hdr__``, ``dpkt.sll2.SLL2.__hdr__``)
compiled once into ``struct.Struct``: instantiating a dpkt object per frame would also make dpkt
parse the IP payload, which costs more than everything else the decoder does.

``parse_link`` answers one question per frame: where does the network-layer packet start, what
is its ethertype, and what does the link layer say about direction and addresses.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import dpkt.sll
import dpkt.sll2

from lab.errors import DecodeError

DLT_NULL = 0
DLT_EN10MB = 1
DLT_RAW_BSD = 12  # DLT_RAW on most BSDs
DLT_RAW_OPENBSD = 14
DLT_RAW = 101  # LINKTYPE_RAW
DLT_LINUX_SLL = 113
DLT_IPV4 = 228
DLT_IPV6 = 229
DLT_LINUX_SLL2 = 276

ETH_TYPE_IP = 0x0800
ETH_TYPE_IP6 = 0x86DD
ETH_TYPE_ARP = 0x0806
_VLAN_TYPES = frozenset((0x8100, 0x88A8, 0x9100))
ARPHRD_ETHER = 1

SLL = struct.Struct(dpkt.sll.SLL.__hdr_fmt__)  # pkttype, arphrd, addrlen, addr[8], protocol
SLL2 = struct.Struct(dpkt.sll2.SLL2.__hdr_fmt__)  # protocol, mbz, ifindex, arphrd, pkttype...
_H = struct.Struct(">H")

SUPPORTED_LINKTYPES = frozenset(
    (DLT_NULL, DLT_EN10MB, DLT_RAW_BSD, DLT_RAW_OPENBSD, DLT_RAW, DLT_LINUX_SLL, DLT_IPV4,
     DLT_IPV6, DLT_LINUX_SLL2)
)


class Link(NamedTuple):
    """What the link layer of one frame says.

    Fields: ethertype of the payload, offset where it starts, src_mac / dst_mac (lower-case
    colon hex, None when the link layer has none), pkttype (the raw Linux sll_pkttype, None
    outside cooked captures) and ifindex (the SLL2 interface index, None otherwise).
    """

    ethertype: int
    offset: int
    src_mac: str | None
    dst_mac: str | None
    pkttype: int | None
    ifindex: int | None


def parse_link(linktype: int, data: bytes) -> Link:
    """Split one frame's link header off. Raises DecodeError (without a frame number)."""
    return Link(*link_fields(linktype, data))


LinkFields = tuple[int, int, "str | None", "str | None", "int | None", "int | None"]


def link_fields(linktype: int, data: bytes) -> LinkFields:
    """parse_link as a plain tuple, for the per-frame hot path."""
    n = len(data)
    if linktype == DLT_LINUX_SLL2:
        if n < 20:
            raise DecodeError(f"Linux cooked v2 header cut short ({n} of 20 bytes)")
        proto, _mbz, ifindex, _hrd, pkttype, alen, addr = SLL2.unpack_from(data)
        return (proto, 20, _addr(addr, alen), None, pkttype, ifindex)
    if linktype == DLT_EN10MB:
        if n < 14:
            raise DecodeError(f"Ethernet header cut short ({n} of 14 bytes)")
        etype = (data[12] << 8) | data[13]
        off = 14
        while etype in _VLAN_TYPES:
            if n < off + 4:
                raise DecodeError("VLAN tag cut short")
            etype = (data[off + 2] << 8) | data[off + 3]
            off += 4
        return (etype, off, data[6:12].hex(":"), data[0:6].hex(":"), None, None)
    if linktype == DLT_LINUX_SLL:
        if n < 16:
            raise DecodeError(f"Linux cooked header cut short ({n} of 16 bytes)")
        pkttype, _hrd, alen, addr, proto = SLL.unpack_from(data)
        return (proto, 16, _addr(addr, alen), None, pkttype, None)
    if linktype in (DLT_RAW, DLT_RAW_BSD, DLT_RAW_OPENBSD, DLT_IPV4, DLT_IPV6):
        if n < 1:
            raise DecodeError("raw IP frame is empty")
        version = data[0] >> 4
        etype = ETH_TYPE_IP if version == 4 else ETH_TYPE_IP6 if version == 6 else 0
        return (etype, 0, None, None, None, None)
    if linktype == DLT_NULL:
        if n < 4:
            raise DecodeError(f"loopback header cut short ({n} of 4 bytes)")
        family = int.from_bytes(data[:4], "little")
        if family > 0xFFFF:  # written in the other byte order
            family = int.from_bytes(data[:4], "big")
        etype = ETH_TYPE_IP if family == 2 else ETH_TYPE_IP6 if family in (10, 24, 28, 30) else 0
        return (etype, 4, None, None, None, None)
    raise DecodeError(f"unsupported link type {linktype}")


def _addr(addr: bytes, alen: int) -> str | None:
    if alen == 0:
        return None
    return (addr[:alen] if alen < 8 else addr).hex(":")


def mac_bytes(mac: str) -> bytes:
    """'aa:bb:cc:dd:ee:ff' -> 6 bytes."""
    return bytes.fromhex(mac.replace(":", "").replace("-", ""))


def build_ethernet(src_mac: str, dst_mac: str, ethertype: int, payload: bytes) -> bytes:
    return mac_bytes(dst_mac) + mac_bytes(src_mac) + _H.pack(ethertype) + payload


def build_sll(pkttype: int, src_mac: str, ethertype: int, payload: bytes) -> bytes:
    """Linux cooked v1 (DLT 113) header + payload."""
    addr = mac_bytes(src_mac)
    return SLL.pack(pkttype, ARPHRD_ETHER, len(addr), addr, ethertype) + payload


def build_sll2(
    pkttype: int, ifindex: int, src_mac: str, ethertype: int, payload: bytes
) -> bytes:
    """Linux cooked v2 (DLT 276) header + payload."""
    addr = mac_bytes(src_mac)
    return SLL2.pack(ethertype, 0, ifindex, ARPHRD_ETHER, pkttype, len(addr), addr) + payload
