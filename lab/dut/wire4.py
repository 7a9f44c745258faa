"""Minimal DHCPv4 wire code: the BOOTP header as an offset table, options, reply builders.

The balancer never calls ``parse``: it only checks the length and the magic cookie, bumps
the hops byte and reads chaddr for hashing. The server parses fully.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from lab.dut.errors import Malformed

# Offsets of the fixed BOOTP header (RFC 2131 figure 1).
OP, HTYPE, HLEN, HOPS, XID, SECS, FLAGS = 0, 1, 2, 3, 4, 8, 10
CIADDR, YIADDR, SIADDR, GIADDR, CHADDR, SNAME, FILE, MAGIC = 12, 16, 20, 24, 28, 44, 108, 236
HEADER_LEN = 240
MIN_REPLY_LEN = 300  # BOOTP's minimum; some relays drop shorter messages
COOKIE = b"\x63\x82\x53\x63"
BOOTREQUEST, BOOTREPLY = 1, 2
BROADCAST_FLAG = 0x8000
ZERO4 = b"\0\0\0\0"
SERVER_PORT, CLIENT_PORT = 67, 68

_HDR = struct.Struct("!BBBB4sHH4s4s4s4s16s")


class MsgType(enum.IntEnum):
    DISCOVER = 1
    OFFER = 2
    REQUEST = 3
    DECLINE = 4
    ACK = 5
    NAK = 6
    RELEASE = 7
    INFORM = 8


class Opt(enum.IntEnum):
    PAD = 0
    SUBNET_MASK = 1
    ROUTER = 3
    DNS = 6
    REQUESTED_IP = 50
    LEASE_TIME = 51
    OVERLOAD = 52
    MSG_TYPE = 53
    SERVER_ID = 54
    PARAM_REQUEST = 55
    MESSAGE = 56
    T1 = 58
    T2 = 59
    CLIENT_ID = 61
    DOMAIN_SEARCH = 119
    END = 255


@dataclass(frozen=True)
class Packet:
    """A parsed DHCPv4 message. Addresses are 4 raw bytes; chaddr is the full 16-byte field
    and ``mac`` its first hlen bytes; options maps code -> value (repeats concatenated,
    RFC 3396)."""

    op: int
    htype: int
    hlen: int
    hops: int
    xid: bytes
    secs: int
    flags: int
    ciaddr: bytes
    yiaddr: bytes
    siaddr: bytes
    giaddr: bytes
    chaddr: bytes
    options: dict[int, bytes]

    @property
    def mac(self) -> bytes:
        return self.chaddr[: min(self.hlen, 16)]

    @property
    def msg_type(self) -> int | None:
        v = self.options.get(Opt.MSG_TYPE)
        return v[0] if v and len(v) == 1 else None

    @property
    def broadcast(self) -> bool:
        return bool(self.flags & BROADCAST_FLAG)

    def ip_option(self, code: int) -> bytes | None:
        v = self.options.get(code)
        return v if v is not None and len(v) == 4 else None


def _parse_option_area(data: bytes, start: int, end: int, out: dict[int, bytes]) -> bool:
    """Parse options into ``out``; True if END was seen. Raise Malformed on truncation."""
    i = start
    while i < end:
        code = data[i]
        if code == Opt.PAD:
            i += 1
            continue
        if code == Opt.END:
            return True
        if i + 1 >= end:
            raise Malformed(f"option {code} truncated at offset {i}")
        ln = data[i + 1]
        if i + 2 + ln > end:
            raise Malformed(f"option {code} length {ln} overruns the packet at offset {i}")
        val = data[i + 2 : i + 2 + ln]
        out[code] = out[code] + val if code in out else val
        i += 2 + ln
    return False


def parse(data: bytes | bytearray | memoryview) -> Packet:
    """Parse a whole DHCPv4 message; Malformed if it's truncated or not DHCP."""
    raw = bytes(data)
    if len(raw) < HEADER_LEN:
        raise Malformed(f"short DHCPv4 packet: {len(raw)} bytes")
    if raw[MAGIC:HEADER_LEN] != COOKIE:
        raise Malformed("bad magic cookie")
    op, htype, hlen, hops, xid, secs, flags, ci, yi, si, gi, ch = _HDR.unpack_from(raw, 0)
    options: dict[int, bytes] = {}
    _parse_option_area(raw, HEADER_LEN, len(raw), options)
    overload = options.get(Opt.OVERLOAD)
    if overload is not None and len(overload) == 1:
        if overload[0] & 1:
            _parse_option_area(raw, FILE, MAGIC, options)
        if overload[0] & 2:
            _parse_option_area(raw, SNAME, FILE, options)
    return Packet(op, htype, hlen, hops, xid, secs, flags, ci, yi, si, gi, ch, options)


def encode_option(code: int, value: bytes) -> bytes:
    """One option, split into several instances when longer than 255 bytes (RFC 3396)."""
    if not value:
        return bytes((code, 0))
    out = bytearray()
    for i in range(0, len(value), 255):
        chunk = value[i : i + 255]
        out += bytes((code, len(chunk))) + chunk
    return bytes(out)


def encode_domain_list(names: tuple[str, ...] | list[str]) -> bytes:
    """RFC 1035 wire names, uncompressed (RFC 3397 / RFC 8415 section 21.16)."""
    out = bytearray()
    for name in names:
        for label in name.rstrip(".").split("."):
            raw = label.encode("ascii")
            out.append(len(raw))
            out += raw
        out.append(0)
    return bytes(out)


def build(
    *,
    op: int,
    xid: bytes,
    chaddr: bytes,
    htype: int = 1,
    hlen: int = 6,
    hops: int = 0,
    secs: int = 0,
    flags: int = 0,
    ciaddr: bytes = ZERO4,
    yiaddr: bytes = ZERO4,
    siaddr: bytes = ZERO4,
    giaddr: bytes = ZERO4,
    options: Sequence[tuple[int, bytes]] = (),
    pad_to: int = MIN_REPLY_LEN,
) -> bytes:
    """Build a message: header, cookie, options in the given order, END, padding."""
    head = _HDR.pack(op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr,
                     chaddr.ljust(16, b"\0")[:16])
    body = b"".join(encode_option(c, v) for c, v in options)
    msg = head + bytes(192) + COOKIE + body + b"\xff"
    if len(msg) < pad_to:
        msg += bytes(pad_to - len(msg))
    return msg


def build_request(
    msg_type: int,
    mac: bytes,
    xid: int = 0x12345678,
    *,
    giaddr: bytes = ZERO4,
    ciaddr: bytes = ZERO4,
    flags: int = 0,
    hops: int = 0,
    options: list[tuple[int, bytes]] | None = None,
) -> bytes:
    """A client (or relayed) request with option 53 first; handy for tests and the blaster."""
    opts = [(int(Opt.MSG_TYPE), bytes((msg_type,)))] + list(options or [])
    return build(op=BOOTREQUEST, xid=xid.to_bytes(4, "big"), chaddr=mac, hlen=len(mac),
                 hops=hops, flags=flags, ciaddr=ciaddr, giaddr=giaddr, options=opts)


def describe(data: bytes) -> str:
    """One log-friendly line about a DHCPv4 message; never raises."""
    try:
        p = parse(data)
    except Malformed as err:
        return f"malformed ({err})"
    mt = p.msg_type
    try:
        name = MsgType(mt).name if mt is not None else "BOOTP"
    except ValueError:
        name = f"type-{mt}"
    mac = ":".join(f"{b:02x}" for b in p.mac)
    parts = [name, f"xid=0x{p.xid.hex()}", f"chaddr={mac}"]
    for label, raw in (("ciaddr", p.ciaddr), ("yiaddr", p.yiaddr), ("giaddr", p.giaddr)):
        if raw != ZERO4:
            parts.append(f"{label}={'.'.join(str(b) for b in raw)}")
    return " ".join(parts)
