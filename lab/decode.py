"""Pure decode stage: a pcap/pcapng file -> frozen ``Frame`` records of its DHCP datagrams.

No root, no subprocess, no tshark: the pipeline after the capture must run in unit tests from
checked-in pcaps. IP and UDP are parsed by hand with fixed offsets because per-frame dpkt object
trees are the slowest part of a dpkt decoder, and a load test capture can hold millions of
frames.

Contract: a frame that isn't UDP to or from a DHCP port (ARP, ICMPv6, DNS...) is skipped. A
frame that is broken, or a DHCP payload that is malformed, raises ``DecodeError`` naming the
frame number and the reason; no other exception type escapes ``decode_frame``.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

from lab.dhcp4 import parse_dhcp4
from lab.dhcp6 import parse_dhcp6
from lab.errors import DecodeError
from lab.linklayer import ETH_TYPE_IP, ETH_TYPE_IP6, link_fields
from lab.pcapfile import Capture, open_capture
from lab.records import Frame, PacketType, bulk

DHCP4_PORTS = frozenset((67, 68))
DHCP6_PORTS = frozenset((546, 547))
DHCP_PORTS = DHCP4_PORTS | DHCP6_PORTS

_IP6_EXT_HEADERS = frozenset((0, 43, 60))  # hop-by-hop, routing, destination options
_IP6_FRAGMENT = 44
_UDP = 17
_UDP_HDR = struct.Struct(">HHH")
_PKTTYPES = {int(t): t for t in PacketType}

# Bugs in third-party parsing code surface as these; at the frame boundary they become a
# DecodeError so that a caller only ever has to handle one exception type.
_PARSE_ERRORS = (
    dpkt.UnpackError,
    struct.error,
    IndexError,
    ValueError,
    KeyError,
    TypeError,
    OverflowError,
    RecursionError,
)

_ntoa = socket.inet_ntoa
_ntop = socket.inet_ntop
_AF6 = socket.AF_INET6
_addr_cache: dict[bytes, str] = {}


def _ip_str(raw: bytes) -> str:
    """Address bytes -> text, cached: a capture repeats a handful of addresses."""
    s = _addr_cache.get(raw)
    if s is None:
        s = _ntoa(raw) if len(raw) == 4 else _ntop(_AF6, raw)
        if len(_addr_cache) < 65536:
            _addr_cache[raw] = s
    return s


@dataclass(frozen=True)
class Decoded:
    """The decoded DHCP frames of one capture file.

    Fields: path, format ("pcap"/"pcapng"), frames (DHCP frames only, in file order; each keeps
    its file frame number), linktypes (per interface), truncated (the last record was cut
    short and dropped), interfaces (pcapng interface id -> if_name; empty for pcap), records
    (how many frames the file held, DHCP or not), errors (with strict=False: the frames that
    failed to decode, in order; with strict=True the first one is raised instead).
    """

    path: str
    format: str
    frames: tuple[Frame, ...]
    linktypes: tuple[int, ...]
    truncated: bool
    interfaces: dict[int, str] = field(default_factory=dict)
    records: int = 0
    errors: tuple[DecodeError, ...] = ()


def decode_frame(
    index: int, ts: float, linktype: int, ifindex: int | None, data: bytes
) -> Frame | None:
    """One captured frame -> Frame, or None when it isn't UDP on a DHCP port.

    ``ifindex`` is the pcapng interface id (None for pcap); for SLL2 frames the interface
    index in the cooked header wins. Raises DecodeError(reason, frame=index) and nothing else.
    """
    try:
        return _decode(index, ts, linktype, ifindex, data)
    except DecodeError as exc:
        if exc.frame is None:
            raise DecodeError(exc.reason, frame=index) from None
        raise
    except _PARSE_ERRORS as exc:
        raise DecodeError(f"malformed packet ({type(exc).__name__}: {exc})", frame=index) from None


def _decode(
    index: int, ts: float, linktype: int, ifindex: int | None, data: bytes
) -> Frame | None:
    etype, off, src_mac, dst_mac, pkttype, sll_ifindex = link_fields(linktype, data)
    n = len(data)
    fragmented = False
    if etype == ETH_TYPE_IP:
        if n - off < 20:
            raise DecodeError(f"IPv4 header cut short ({n - off} of 20 bytes)")
        b0 = data[off]
        ihl = (b0 & 0x0F) * 4
        if b0 >> 4 != 4 or ihl < 20:
            raise DecodeError(f"bad IPv4 header (version {b0 >> 4}, header length {ihl})")
        if data[off + 9] != _UDP:
            return None
        total = (data[off + 2] << 8) | data[off + 3]
        if total < ihl:
            raise DecodeError(f"IPv4 total length {total} is less than its header ({ihl})")
        end = off + total
        frag = ((data[off + 6] << 8) | data[off + 7]) & 0x3FFF
        if frag & 0x1FFF:
            return None  # a non-first fragment has no UDP header
        fragmented = bool(frag & 0x2000)
        src_ip = _ip_str(data[off + 12 : off + 16])
        dst_ip = _ip_str(data[off + 16 : off + 20])
        upos = off + ihl
        version = 4
    elif etype == ETH_TYPE_IP6:
        if n - off < 40:
            raise DecodeError(f"IPv6 header cut short ({n - off} of 40 bytes)")
        if data[off] >> 4 != 6:
            raise DecodeError(f"bad IPv6 header (version {data[off] >> 4})")
        plen = (data[off + 4] << 8) | data[off + 5]
        end = off + 40 + plen if plen else n  # 0: jumbogram, the frame length is all we have
        nh = data[off + 6]
        upos = off + 40
        while nh in _IP6_EXT_HEADERS or nh == _IP6_FRAGMENT:
            if n - upos < 8:
                raise DecodeError("IPv6 extension header cut short")
            if nh == _IP6_FRAGMENT:
                foff = (data[upos + 2] << 8) | data[upos + 3]
                if foff & 0xFFF8:
                    return None
                fragmented = bool(foff & 1)
                hlen = 8
            else:
                hlen = (data[upos + 1] + 1) * 8
            nh = data[upos]
            upos += hlen
        if nh != _UDP:
            return None
        src_ip = _ip_str(data[off + 8 : off + 24])
        dst_ip = _ip_str(data[off + 24 : off + 40])
        version = 6
    else:
        return None
    if n - upos < 8:
        if end - upos < 8:
            raise DecodeError(f"IPv{version} payload too short for a UDP header")
        raise DecodeError("UDP header cut short by the capture's snapshot length")
    sport, dport, ulen = _UDP_HDR.unpack_from(data, upos)
    if sport not in DHCP_PORTS and dport not in DHCP_PORTS:
        return None
    if ulen < 8:
        raise DecodeError(f"UDP length {ulen} is less than its header")
    uend = upos + ulen
    if uend > end:
        raise DecodeError(f"UDP length {ulen} exceeds the IP payload ({end - upos} bytes)")
    if fragmented:
        raise DecodeError("fragmented DHCP datagram: fragments are not reassembled")
    if uend > n:
        raise DecodeError(
            f"DHCP datagram cut short by the capture: {n - upos} of {ulen} bytes captured"
        )
    payload = data[upos + 8 : uend]
    if not payload:
        dhcp = None
    elif version == 6:
        dhcp = parse_dhcp6(payload) if (sport in DHCP6_PORTS or dport in DHCP6_PORTS) else (
            parse_dhcp4(payload))
    else:
        dhcp = parse_dhcp4(payload) if (sport in DHCP4_PORTS or dport in DHCP4_PORTS) else (
            parse_dhcp6(payload))
    return Frame(
        index,
        ts,
        sll_ifindex if sll_ifindex is not None else ifindex,
        None if pkttype is None else _PKTTYPES.get(pkttype),
        src_mac,
        dst_mac,
        version,
        src_ip,
        dst_ip,
        sport,
        dport,
        dhcp,
    )


def iter_frames(source: str | Path | Capture) -> Iterator[Frame]:
    """Yield the DHCP frames of a capture lazily; raises DecodeError at the first bad frame.

    Check ``capture.truncated`` afterwards when passing a Capture.
    """
    cap = source if isinstance(source, Capture) else open_capture(source)
    for index, ts, linktype, ifindex, data in cap:
        frame = decode_frame(index, ts, linktype, ifindex, data)
        if frame is not None:
            yield frame


def decode_pcap(path: str | Path, *, strict: bool = True) -> Decoded:
    """Decode every DHCP frame of a pcap/pcapng file.

    strict=True (the default) raises the first DecodeError; strict=False keeps going and
    returns the failures in ``Decoded.errors``. File-level problems (empty, not a capture,
    a corrupt record header) raise in both modes.
    """
    cap = open_capture(path)
    frames: list[Frame] = []
    errors: list[DecodeError] = []
    append = frames.append
    records = 0
    with bulk():
        for index, ts, linktype, ifindex, data in cap:
            records = index
            try:
                frame = decode_frame(index, ts, linktype, ifindex, data)
            except DecodeError as exc:
                if strict:
                    raise
                errors.append(exc)
                continue
            if frame is not None:
                append(frame)
    return Decoded(
        path=str(path),
        format=cap.format,
        frames=tuple(frames),
        linktypes=tuple(cap.linktypes),
        truncated=cap.truncated,
        interfaces=dict(cap.interfaces),
        records=records,
        errors=tuple(errors),
    )

