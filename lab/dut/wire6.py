"""Minimal DHCPv6 wire code (RFC 8415): headers, options, relay layers, builders.

Layouts, as tables:
- client/server message: msg-type(1) transaction-id(3) options
- relay message: msg-type(1) hop-count(1) link-address(16) peer-address(16) options
- option: code(2) length(2) value
``client_duid`` is the balancer's hot-path walk: it follows option 9 down to the innermost
message and returns its option 1 value, without building any option objects.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from lab.dut.errors import Malformed

CLIENT_PORT, SERVER_PORT = 546, 547
RELAY_HDR_LEN = 34
MAX_RELAY_DEPTH = 32  # RFC 8415 section 7.6 HOP_COUNT_LIMIT is 8; we parse up to 32 layers
ZERO16 = bytes(16)

_RELAY = struct.Struct("!BB16s16s")
_OPT = struct.Struct("!HH")


class MsgType(enum.IntEnum):
    SOLICIT = 1
    ADVERTISE = 2
    REQUEST = 3
    CONFIRM = 4
    RENEW = 5
    REBIND = 6
    REPLY = 7
    RELEASE = 8
    DECLINE = 9
    RECONFIGURE = 10
    INFORMATION_REQUEST = 11
    RELAY_FORW = 12
    RELAY_REPL = 13


class Opt(enum.IntEnum):
    CLIENTID = 1
    SERVERID = 2
    IA_NA = 3
    IA_TA = 4
    IAADDR = 5
    ORO = 6
    PREFERENCE = 7
    ELAPSED_TIME = 8
    RELAY_MSG = 9
    STATUS_CODE = 13
    RAPID_COMMIT = 14
    INTERFACE_ID = 18
    DNS_SERVERS = 23
    DOMAIN_LIST = 24
    IA_PD = 25
    CLIENT_LINKLAYER_ADDR = 79


class Status(enum.IntEnum):
    SUCCESS = 0
    UNSPEC_FAIL = 1
    NO_ADDRS_AVAIL = 2
    NO_BINDING = 3
    NOT_ON_LINK = 4
    USE_MULTICAST = 5


RELAY_TYPES = (MsgType.RELAY_FORW, MsgType.RELAY_REPL)


def client_duid(buf: bytes | bytearray, n: int) -> bytes | None:
    """The innermost message's client DUID (option 1 value), None if it has none.
    Raise Malformed for truncation, a relay without option 9 or nesting beyond 32."""
    start, end = 0, n
    for _ in range(MAX_RELAY_DEPTH + 1):
        if end - start < 4:
            raise Malformed("DHCPv6 message shorter than its header")
        t = buf[start]
        if t == 12 or t == 13:
            if end - start < RELAY_HDR_LEN:
                raise Malformed("relay message shorter than its header")
            i = start + RELAY_HDR_LEN
            while i + 4 <= end:
                j = i + 4 + ((buf[i + 2] << 8) | buf[i + 3])
                if j > end:
                    raise Malformed("option overruns its message")
                if buf[i] == 0 and buf[i + 1] == 9:
                    start, end = i + 4, j
                    break
                i = j
            else:
                raise Malformed("relay message without a relay-message option")
            continue
        i = start + 4
        while i + 4 <= end:
            j = i + 4 + ((buf[i + 2] << 8) | buf[i + 3])
            if j > end:
                raise Malformed("option overruns its message")
            if buf[i] == 0 and buf[i + 1] == 1:
                return bytes(buf[i + 4 : j])
            i = j
        return None
    raise Malformed(f"relay nesting deeper than {MAX_RELAY_DEPTH}")


def parse_options(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[int, bytes]]:
    """All options in data[start:end] in wire order; Malformed on truncation or leftovers."""
    end = len(data) if end is None else end
    out = []
    i = start
    while i < end:
        if i + 4 > end:
            raise Malformed(f"{end - i} stray bytes after the last option")
        code, ln = _OPT.unpack_from(data, i)
        if i + 4 + ln > end:
            raise Malformed(f"option {code} length {ln} overruns its message")
        out.append((code, data[i + 4 : i + 4 + ln]))
        i += 4 + ln
    return out


def first(options: list[tuple[int, bytes]], code: int) -> bytes | None:
    for c, v in options:
        if c == code:
            return v
    return None


@dataclass(frozen=True)
class Message:
    """A client/server message. Fields: msg_type, xid (3 raw bytes), options in wire order."""

    msg_type: int
    xid: bytes
    options: list[tuple[int, bytes]]

    def get(self, code: int) -> bytes | None:
        return first(self.options, code)

    def all(self, code: int) -> list[bytes]:
        return [v for c, v in self.options if c == code]


@dataclass(frozen=True)
class RelayLayer:
    """One relay layer. Fields: msg_type, hop_count, link (16 raw bytes), peer (16 raw
    bytes), interface_id (option 18 value or None), options (all of them, wire order)."""

    msg_type: int
    hop_count: int
    link: bytes
    peer: bytes
    interface_id: bytes | None
    options: list[tuple[int, bytes]]


def parse_message(data: bytes) -> Message:
    if len(data) < 4:
        raise Malformed("DHCPv6 message shorter than its header")
    if data[0] in RELAY_TYPES:
        raise Malformed("expected a client/server message, got a relay message")
    return Message(data[0], data[1:4], parse_options(data, 4))


def unwrap(data: bytes) -> tuple[list[RelayLayer], bytes]:
    """Peel relay layers (outermost first) off a message; return them and the innermost
    message bytes. Malformed on truncation, a missing option 9 or nesting beyond 32."""
    layers: list[RelayLayer] = []
    while len(data) >= 1 and data[0] in RELAY_TYPES:
        if len(layers) >= MAX_RELAY_DEPTH:
            raise Malformed(f"relay nesting deeper than {MAX_RELAY_DEPTH}")
        if len(data) < RELAY_HDR_LEN:
            raise Malformed("relay message shorter than its header")
        t, hop, link, peer = _RELAY.unpack_from(data, 0)
        opts = parse_options(data, RELAY_HDR_LEN)
        inner = first(opts, Opt.RELAY_MSG)
        if inner is None:
            raise Malformed("relay message without a relay-message option")
        layers.append(RelayLayer(t, hop, link, peer, first(opts, Opt.INTERFACE_ID), opts))
        data = inner
    if len(data) < 4:
        raise Malformed("DHCPv6 message shorter than its header")
    return layers, data


def encode_option(code: int, value: bytes) -> bytes:
    return _OPT.pack(code, len(value)) + value


def build_message(msg_type: int, xid: bytes, options: list[tuple[int, bytes]]) -> bytes:
    return bytes((msg_type,)) + xid + b"".join(encode_option(c, v) for c, v in options)


def build_relay(
    msg_type: int, hop_count: int, link: bytes, peer: bytes, options: list[tuple[int, bytes]]
) -> bytes:
    return _RELAY.pack(msg_type, hop_count & 0xFF, link, peer) + b"".join(
        encode_option(c, v) for c, v in options
    )


def encode_status(code: int, message: str = "") -> bytes:
    return struct.pack("!H", code) + message.encode("utf-8")


def encode_iaaddr(addr: bytes, preferred: int, valid: int,
                  options: list[tuple[int, bytes]] | None = None) -> bytes:
    return addr + struct.pack("!II", preferred, valid) + b"".join(
        encode_option(c, v) for c, v in options or []
    )


def encode_ia_na(iaid: bytes, t1: int, t2: int, options: list[tuple[int, bytes]]) -> bytes:
    return iaid + struct.pack("!II", t1, t2) + b"".join(encode_option(c, v) for c, v in options)


@dataclass(frozen=True)
class IaNa:
    """An IA_NA option. Fields: iaid (4 raw bytes), t1, t2, addresses (16-byte values of
    its IAADDR options), options (its sub-options)."""

    iaid: bytes
    t1: int
    t2: int
    addresses: list[bytes]
    options: list[tuple[int, bytes]]


def parse_ia_na(value: bytes) -> IaNa:
    if len(value) < 12:
        raise Malformed("IA_NA shorter than 12 bytes")
    t1, t2 = struct.unpack_from("!II", value, 4)
    opts = parse_options(value, 12)
    addrs = []
    for code, v in opts:
        if code == Opt.IAADDR:
            if len(v) < 24:
                raise Malformed("IAADDR shorter than 24 bytes")
            parse_options(v, 24)  # validate its sub-options
            addrs.append(v[:16])
    return IaNa(value[:4], t1, t2, addrs, opts)


def mac_from(layers: list[RelayLayer], duid: bytes | None) -> bytes | None:
    """The client's MAC, as dhcplb's ExtractMAC finds it: the client link-layer address option
    (79) of the relay next to the client, the link-layer part of a DUID-LLT/DUID-LL, or the
    EUI-64 of the peer address."""
    if layers:
        ll = first(layers[-1].options, Opt.CLIENT_LINKLAYER_ADDR)
        if ll is not None and len(ll) > 2:
            return ll[2:]
    if duid is not None and len(duid) >= 4:
        dtype = int.from_bytes(duid[:2], "big")
        if dtype == 1 and len(duid) > 8:
            return duid[8:]
        if dtype == 3:
            return duid[4:]
    if layers:
        peer = layers[-1].peer
        if peer[11] == 0xFF and peer[12] == 0xFE:
            return bytes((peer[8] ^ 2,)) + peer[9:11] + peer[13:16]
    return None


def describe(data: bytes) -> str:
    """One log-friendly line about a DHCPv6 message (relay layers, then the inner type)."""
    try:
        layers, inner = unwrap(bytes(data))
        msg = parse_message(inner)
    except Malformed as err:
        return f"malformed ({err})"

    def name(t: int) -> str:
        try:
            return MsgType(t).name
        except ValueError:
            return f"type-{t}"

    chain = "".join(f"{name(x.msg_type)}[hop={x.hop_count}]/" for x in layers)
    return f"{chain}{name(msg.msg_type)} xid=0x{msg.xid.hex()}"
