"""DHCPv6 (RFC 8415): wire formats as dpkt tables, an option table, decode and build.

The headers are declared the dpkt way (``dpkt.Packet`` subclasses with ``__hdr__``), so the
wire layout reads as a table. The decoder compiles those same tables once into
``struct.Struct`` instead of instantiating a dpkt object per option, which keeps decode fast; the
builders use the dpkt classes directly.

Relay messages nest through option 9. Each option's declared length must fit the bytes that
are left, and an option 9 payload is parsed as exactly one message: leftover bytes are never
re-read as options of an outer layer (a parser that does that hides real relay bugs). Nesting
is bounded by MAX_RELAY_DEPTH, RFC 8415's HOP_COUNT_LIMIT.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterable
from typing import NamedTuple

import dpkt

from lab.dhcp4 import decode_dns_names, encode_dns_names
from lab.errors import DecodeError
from lab.optcodec import enc_u8, enc_u16, enc_u32
from lab.records import Dhcp6, Dhcp6Option, Dhcp6Type

MAX_RELAY_DEPTH = 32  # RFC 8415 HOP_COUNT_LIMIT: relays drop messages with hop-count >= 32
MAX_OPTION_NESTING = 8  # within one message: IA_NA -> IAADDR -> status code is 2
CACHE_SIZE = 4096  # decoded messages kept by payload bytes; 0 turns the cache off
ALL_DHCP_RELAY_AGENTS_AND_SERVERS = "ff02::1:2"
CLIENT_PORT = 546
SERVER_PORT = 547

OPT_CLIENTID = 1
OPT_SERVERID = 2
OPT_IA_NA = 3
OPT_IA_TA = 4
OPT_IAADDR = 5
OPT_ORO = 6
OPT_PREFERENCE = 7
OPT_ELAPSED_TIME = 8
OPT_RELAY_MSG = 9
OPT_UNICAST = 12
OPT_STATUS_CODE = 13
OPT_RAPID_COMMIT = 14
OPT_INTERFACE_ID = 18
OPT_RECONF_ACCEPT = 20
OPT_DNS_SERVERS = 23
OPT_DOMAIN_LIST = 24
OPT_IA_PD = 25
OPT_IAPREFIX = 26
OPT_REMOTE_ID = 37
OPT_CLIENT_LINKLAYER_ADDR = 79


# -- wire formats (dpkt tables) --------------------------------------------------------------


class Dhcp6Header(dpkt.Packet):  # type: ignore[misc]  # dpkt is untyped
    """Client/server message header: msg-type, transaction-id (3 bytes)."""

    __hdr__ = (("msg_type", "B", 1), ("xid", "3s", b"\x00\x00\x00"))


class Dhcp6RelayHeader(dpkt.Packet):  # type: ignore[misc]  # dpkt is untyped
    """Relay agent/server message header (RELAY-FORW, RELAY-REPL)."""

    __hdr__ = (
        ("msg_type", "B", 12),
        ("hop_count", "B", 0),
        ("link_address", "16s", b"\x00" * 16),
        ("peer_address", "16s", b"\x00" * 16),
    )


class Dhcp6OptionHeader(dpkt.Packet):  # type: ignore[misc]  # dpkt is untyped
    """Option TLV header: option-code, option-len; option-len bytes of data follow."""

    __hdr__ = (("code", "H", 0), ("len", "H", 0))


class IaNaHeader(dpkt.Packet):  # type: ignore[misc]  # dpkt is untyped
    """Fixed part of IA_NA (3) and IA_PD (25); sub-options follow."""

    __hdr__ = (("iaid", "I", 0), ("t1", "I", 0), ("t2", "I", 0))


class IaTaHeader(dpkt.Packet):  # type: ignore[misc]  # dpkt is untyped
    """Fixed part of IA_TA (4); sub-options follow."""

    __hdr__ = (("iaid", "I", 0),)


class IaAddrHeader(dpkt.Packet):  # type: ignore[misc]  # dpkt is untyped
    """Fixed part of IAADDR (5); sub-options follow."""

    __hdr__ = (("address", "16s", b"\x00" * 16), ("preferred", "I", 0), ("valid", "I", 0))


class IaPrefixHeader(dpkt.Packet):  # type: ignore[misc]  # dpkt is untyped
    """Fixed part of IAPREFIX (26); sub-options follow."""

    __hdr__ = (
        ("preferred", "I", 0),
        ("valid", "I", 0),
        ("prefix_len", "B", 0),
        ("prefix", "16s", b"\x00" * 16),
    )


def _compile(cls: type) -> struct.Struct:
    return struct.Struct(cls.__hdr_fmt__)  # type: ignore[attr-defined]  # set by dpkt


_MSG = _compile(Dhcp6Header)
_RELAY = _compile(Dhcp6RelayHeader)
_OPT = _compile(Dhcp6OptionHeader)
_IA = _compile(IaNaHeader)
_IATA = _compile(IaTaHeader)
_IAADDR = _compile(IaAddrHeader)
_IAPREFIX = _compile(IaPrefixHeader)
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_DUID_LLT = struct.Struct(">HHI")
_DUID_EN = struct.Struct(">HI")
_DUID_LL = struct.Struct(">HH")

_AF6 = socket.AF_INET6


def _ntop(b: bytes) -> str:
    return socket.inet_ntop(_AF6, b)


def _pton(s: str) -> bytes:
    return socket.inet_pton(_AF6, s)


_MSG_TYPES = {int(t): t for t in Dhcp6Type}


class Duid(NamedTuple):
    """A decoded DUID (RFC 8415 section 11).

    kind: 1 LLT, 2 EN, 3 LL, 4 UUID (others kept as they are). hwtype/time/enterprise are
    filled where the kind has them; ident is the rest as colon hex (the MAC for LLT and LL).
    """

    kind: int
    hwtype: int | None
    time: int | None
    enterprise: int | None
    ident: str


# -- option decoders: (data, depth, level) -> value -----------------------------------------
# depth counts relay layers around the data; level counts option nesting inside one message
# (it restarts at 0 inside each relayed message), so a message decodes the same at any level.

Decoder = Callable[[bytes, int, int], object]
Encoder = Callable[[object], bytes]


def _dec_duid(d: bytes, depth: int, level: int) -> Duid:
    n = len(d)
    if n < 2:
        raise DecodeError(f"DUID is {n} bytes, at least 2 needed")
    kind = (d[0] << 8) | d[1]
    if kind == 1:
        if n < 8:
            raise DecodeError(f"DUID-LLT is {n} bytes, at least 8 needed")
        _, hw, t = _DUID_LLT.unpack_from(d)
        return Duid(1, hw, t, None, d[8:].hex(":"))
    if kind == 2:
        if n < 6:
            raise DecodeError(f"DUID-EN is {n} bytes, at least 6 needed")
        return Duid(2, None, None, _DUID_EN.unpack_from(d)[1], d[6:].hex(":"))
    if kind == 3:
        if n < 4:
            raise DecodeError(f"DUID-LL is {n} bytes, at least 4 needed")
        return Duid(3, _DUID_LL.unpack_from(d)[1], None, None, d[4:].hex(":"))
    return Duid(kind, None, None, None, d[2:].hex(":"))


def _dec_ia_na(d: bytes, depth: int, level: int) -> tuple[int, int, int, tuple[Dhcp6Option, ...]]:
    if len(d) < 12:
        raise DecodeError(f"IA is {len(d)} bytes, at least 12 needed")
    iaid, t1, t2 = _IA.unpack_from(d)
    return iaid, t1, t2, _parse_options(d, 12, len(d), depth, level + 1, False)


def _dec_ia_ta(d: bytes, depth: int, level: int) -> tuple[int, tuple[Dhcp6Option, ...]]:
    if len(d) < 4:
        raise DecodeError(f"IA_TA is {len(d)} bytes, at least 4 needed")
    return _IATA.unpack_from(d)[0], _parse_options(d, 4, len(d), depth, level + 1, False)


def _dec_iaaddr(d: bytes, depth: int, level: int) -> tuple[str, int, int, tuple[Dhcp6Option, ...]]:
    if len(d) < 24:
        raise DecodeError(f"IAADDR is {len(d)} bytes, at least 24 needed")
    addr, pref, valid = _IAADDR.unpack_from(d)
    return _ntop(addr), pref, valid, _parse_options(d, 24, len(d), depth, level + 1, False)


def _dec_iaprefix(
    d: bytes, depth: int, level: int
) -> tuple[str, int, int, tuple[Dhcp6Option, ...]]:
    """("prefix/len", preferred, valid, sub-options): same shape as IAADDR's value."""
    if len(d) < 25:
        raise DecodeError(f"IAPREFIX is {len(d)} bytes, at least 25 needed")
    pref, valid, plen, prefix = _IAPREFIX.unpack_from(d)
    subs = _parse_options(d, 25, len(d), depth, level + 1, False)
    return f"{_ntop(prefix)}/{plen}", pref, valid, subs


def _dec_codes(d: bytes, depth: int, level: int) -> tuple[int, ...]:
    if len(d) % 2:
        raise DecodeError(f"option request list has odd length {len(d)}")
    return struct.unpack(f">{len(d) // 2}H", d)


def _dec_u8(d: bytes, depth: int, level: int) -> int:
    if len(d) != 1:
        raise DecodeError(f"must be 1 byte, got {len(d)}")
    return d[0]


def _dec_u16(d: bytes, depth: int, level: int) -> int:
    if len(d) != 2:
        raise DecodeError(f"must be 2 bytes, got {len(d)}")
    return (d[0] << 8) | d[1]


def _dec_u32(d: bytes, depth: int, level: int) -> int:
    if len(d) != 4:
        raise DecodeError(f"must be 4 bytes, got {len(d)}")
    return int(_U32.unpack(d)[0])


def _dec_relay_msg(d: bytes, depth: int, level: int) -> Dhcp6:
    return _parse_message(d, depth)


def _dec_status(d: bytes, depth: int, level: int) -> tuple[int, str]:
    if len(d) < 2:
        raise DecodeError(f"status code is {len(d)} bytes, at least 2 needed")
    return (d[0] << 8) | d[1], d[2:].decode("utf-8", "backslashreplace")


def _dec_flag(d: bytes, depth: int, level: int) -> bool:
    if d:
        raise DecodeError(f"must be empty, got {len(d)} bytes")
    return True


def _dec_opaque(d: bytes, depth: int, level: int) -> bytes:
    return d


def _dec_addr(d: bytes, depth: int, level: int) -> str:
    if len(d) != 16:
        raise DecodeError(f"address must be 16 bytes, got {len(d)}")
    return _ntop(d)


def _dec_addrs(d: bytes, depth: int, level: int) -> tuple[str, ...]:
    if len(d) % 16:
        raise DecodeError(f"address list length {len(d)} is not a multiple of 16")
    return tuple(_ntop(d[i : i + 16]) for i in range(0, len(d), 16))


def _dec_domains(d: bytes, depth: int, level: int) -> tuple[str, ...]:
    return decode_dns_names(d, compression=False)


def _dec_enterprise(d: bytes, depth: int, level: int) -> tuple[int, bytes]:
    if len(d) < 4:
        raise DecodeError(f"is {len(d)} bytes, at least 4 needed")
    return int(_U32.unpack_from(d)[0]), d[4:]


def _dec_linklayer(d: bytes, depth: int, level: int) -> tuple[int, str]:
    """(hardware type, address as colon hex): option 79, RFC 6939."""
    if len(d) < 2:
        raise DecodeError(f"is {len(d)} bytes, at least 2 needed")
    return (d[0] << 8) | d[1], d[2:].hex(":")


# -- option encoders: value -> option data --------------------------------------------------


def _enc_duid(v: object) -> bytes:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if not isinstance(v, Duid):
        raise ValueError(f"expected a Duid, got {v!r}")
    ident = bytes.fromhex(v.ident.replace(":", ""))
    if v.kind == 1:
        return _DUID_LLT.pack(1, v.hwtype or 0, v.time or 0) + ident
    if v.kind == 2:
        return _DUID_EN.pack(2, v.enterprise or 0) + ident
    if v.kind == 3:
        return _DUID_LL.pack(3, v.hwtype or 0) + ident
    return _U16.pack(v.kind) + ident


def _enc_ia_na(v: object) -> bytes:
    iaid, t1, t2, subs = _tuple(v, 4)
    return _IA.pack(iaid, t1, t2) + encode_options(subs)


def _enc_ia_ta(v: object) -> bytes:
    iaid, subs = _tuple(v, 2)
    return _IATA.pack(iaid) + encode_options(subs)


def _enc_iaaddr(v: object) -> bytes:
    addr, pref, valid, subs = _tuple(v, 4)
    return _IAADDR.pack(_pton(addr), pref, valid) + encode_options(subs)


def _enc_iaprefix(v: object) -> bytes:
    prefix, pref, valid, subs = _tuple(v, 4)
    net, _, plen = str(prefix).partition("/")
    return _IAPREFIX.pack(pref, valid, int(plen), _pton(net)) + encode_options(subs)


def _enc_codes(v: object) -> bytes:
    codes = list(_iter(v))
    return struct.pack(f">{len(codes)}H", *codes)





def _enc_relay_msg(v: object) -> bytes:
    if isinstance(v, Dhcp6):
        return encode_message(v)
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    raise ValueError(f"relay message must be a Dhcp6 or bytes, got {v!r}")


def _enc_status(v: object) -> bytes:
    code, msg = _tuple(v, 2)
    return _U16.pack(code) + str(msg).encode("utf-8")


def _enc_flag(v: object) -> bytes:
    return b""


def _enc_opaque(v: object) -> bytes:
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    raise ValueError(f"expected bytes, got {v!r}")


def _enc_addr(v: object) -> bytes:
    return _pton(str(v))


def _enc_addrs(v: object) -> bytes:
    return b"".join(_pton(str(a)) for a in _iter(v))


def _enc_domains(v: object) -> bytes:
    return encode_dns_names(str(n) for n in _iter(v))


def _enc_enterprise(v: object) -> bytes:
    ent, data = _tuple(v, 2)
    return _U32.pack(ent) + bytes(data)


def _enc_linklayer(v: object) -> bytes:
    hw, addr = _tuple(v, 2)
    return _U16.pack(hw) + bytes.fromhex(str(addr).replace(":", ""))


def _tuple(v: object, n: int) -> tuple:  # type: ignore[type-arg]  # values are heterogenous
    if not isinstance(v, (tuple, list)) or len(v) != n:
        raise ValueError(f"expected a {n}-tuple, got {v!r}")
    return tuple(v)


def _iter(v: object) -> Iterable[object]:
    if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
        raise ValueError(f"expected a sequence, got {v!r}")
    return v



# The option table: code -> (name, decoder, encoder). Values are what each decoder returns.
OPTIONS: dict[int, tuple[str, Decoder, Encoder]] = {
    OPT_CLIENTID: ("client-id", _dec_duid, _enc_duid),
    OPT_SERVERID: ("server-id", _dec_duid, _enc_duid),
    OPT_IA_NA: ("ia-na", _dec_ia_na, _enc_ia_na),  # (iaid, t1, t2, sub-options)
    OPT_IA_TA: ("ia-ta", _dec_ia_ta, _enc_ia_ta),  # (iaid, sub-options)
    OPT_IAADDR: ("iaaddr", _dec_iaaddr, _enc_iaaddr),  # (address, preferred, valid, subs)
    OPT_ORO: ("oro", _dec_codes, _enc_codes),
    OPT_PREFERENCE: ("preference", _dec_u8, enc_u8),
    OPT_ELAPSED_TIME: ("elapsed-time", _dec_u16, enc_u16),  # hundredths of a second
    OPT_RELAY_MSG: ("relay-message", _dec_relay_msg, _enc_relay_msg),  # nested Dhcp6
    OPT_UNICAST: ("unicast", _dec_addr, _enc_addr),
    OPT_STATUS_CODE: ("status-code", _dec_status, _enc_status),  # (code, message)
    OPT_RAPID_COMMIT: ("rapid-commit", _dec_flag, _enc_flag),
    OPT_INTERFACE_ID: ("interface-id", _dec_opaque, _enc_opaque),
    OPT_RECONF_ACCEPT: ("reconf-accept", _dec_flag, _enc_flag),
    21: ("sip-domains", _dec_domains, _enc_domains),
    22: ("sip-servers", _dec_addrs, _enc_addrs),
    OPT_DNS_SERVERS: ("dns-servers", _dec_addrs, _enc_addrs),
    OPT_DOMAIN_LIST: ("domain-list", _dec_domains, _enc_domains),
    OPT_IA_PD: ("ia-pd", _dec_ia_na, _enc_ia_na),  # (iaid, t1, t2, sub-options)
    OPT_IAPREFIX: ("iaprefix", _dec_iaprefix, _enc_iaprefix),  # ("p/len", pref, valid, subs)
    31: ("sntp-servers", _dec_addrs, _enc_addrs),
    32: ("information-refresh-time", _dec_u32, enc_u32),
    OPT_REMOTE_ID: ("remote-id", _dec_enterprise, _enc_enterprise),  # (enterprise, bytes)
    38: ("subscriber-id", _dec_opaque, _enc_opaque),
    OPT_CLIENT_LINKLAYER_ADDR: ("client-linklayer-addr", _dec_linklayer, _enc_linklayer),
}
DECODERS: dict[int, Decoder] = {code: dec for code, (_, dec, _e) in OPTIONS.items()}
ENCODERS: dict[int, Encoder] = {code: enc for code, (_, _d, enc) in OPTIONS.items()}
OPTION_NAMES: dict[int, str] = {code: name for code, (name, _d, _e) in OPTIONS.items()}


# -- decode ----------------------------------------------------------------------------------


def parse_dhcp6(buf: bytes) -> Dhcp6:
    """Decode one DHCPv6 message (the UDP payload). Raises DecodeError when malformed."""
    return _parse_message(buf, 0)


# Decoded messages by their bytes, with their relay height (relay layers inside, itself
# included). Records are immutable, so sharing them is safe. It pays off twice: a bridge
# capture holds every datagram once per port, and each RELAY-FORW carries the previous hop's
# payload verbatim in option 9.
_cache: dict[bytes, tuple[Dhcp6, int]] = {}


def _relay_height(msg: Dhcp6) -> int:
    h = 0
    m: Dhcp6 | None = msg
    while m is not None and m.is_relay:
        h += 1
        m = m.inner
    return h


def _parse_message(buf: bytes, depth: int) -> Dhcp6:
    hit = _cache.get(buf)
    if hit is not None and depth + hit[1] <= MAX_RELAY_DEPTH:
        return hit[0]
    msg = _parse_uncached(buf, depth)
    if CACHE_SIZE:
        if len(_cache) >= CACHE_SIZE:
            _cache.clear()
        _cache[buf] = (msg, _relay_height(msg))
    return msg


def _parse_uncached(buf: bytes, depth: int) -> Dhcp6:
    n = len(buf)
    if n == 0:
        raise DecodeError("empty DHCPv6 message")
    mt = buf[0]
    if mt == 12 or mt == 13:
        if depth >= MAX_RELAY_DEPTH:
            raise DecodeError(
                f"DHCPv6 relay messages nested more than {MAX_RELAY_DEPTH} deep "
                "(RFC 8415 HOP_COUNT_LIMIT)"
            )
        if n < 34:
            raise DecodeError(f"DHCPv6 relay header cut short ({n} of 34 bytes)")
        _, hops, link, peer = _RELAY.unpack_from(buf)
        opts = _parse_options(buf, 34, n, depth + 1, 0, True)
        return Dhcp6(_MSG_TYPES[mt], None, hops, _ntop(link), _ntop(peer), opts)
    msg_type = _MSG_TYPES.get(mt)
    if msg_type is None or mt == 0:
        raise DecodeError(f"unknown DHCPv6 message type {mt}")
    if n < 4:
        raise DecodeError(f"DHCPv6 header cut short ({n} of 4 bytes)")
    xid = (buf[1] << 16) | (buf[2] << 8) | buf[3]
    return Dhcp6(msg_type, xid, None, None, None, _parse_options(buf, 4, n, depth, 0, False))


def _parse_options(
    buf: bytes, pos: int, end: int, depth: int, level: int, relay: bool
) -> tuple[Dhcp6Option, ...]:
    """Options in buf[pos:end]. Option 9 is decoded only at the top of a relay message: RFC
    8415 allows it nowhere else, and decoding it elsewhere would let nesting go unbounded."""
    if level > MAX_OPTION_NESTING:
        raise DecodeError(
            f"DHCPv6 options nested more than {MAX_OPTION_NESTING} deep in one message"
        )
    out: list[Dhcp6Option] = []
    decoders = DECODERS
    unpack = _OPT.unpack_from
    while pos < end:
        if end - pos < 4:
            raise DecodeError(
                f"DHCPv6 option header cut short: {end - pos} trailing bytes after the last option"
            )
        code, length = unpack(buf, pos)
        pos += 4
        if length > end - pos:
            raise DecodeError(
                f"DHCPv6 option {code} length {length} exceeds remaining {end - pos} bytes"
            )
        data = buf[pos : pos + length]
        pos += length
        dec = decoders.get(code)
        if dec is None or (code == OPT_RELAY_MSG and not relay):
            out.append(Dhcp6Option(code, data))
            continue
        try:
            value = dec(data, depth, level)
        except DecodeError as exc:
            if code == OPT_RELAY_MSG or code in _CONTAINERS:
                raise  # the inner layer already names where it broke
            name = OPTION_NAMES[code]
            raise DecodeError(f"DHCPv6 option {code} ({name}): {exc.reason}") from None
        out.append(Dhcp6Option(code, data, value))
    return tuple(out)


_CONTAINERS = frozenset((OPT_IA_NA, OPT_IA_TA, OPT_IAADDR, OPT_IA_PD, OPT_IAPREFIX))


# -- build -----------------------------------------------------------------------------------

def build_option(code: int, value: object) -> bytes:
    """One option TLV. ``value`` is raw bytes, or a value of the shape the table's decoder
    returns for ``code`` (a Dhcp6 for option 9)."""
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        enc = ENCODERS.get(code)
        if enc is None:
            raise ValueError(f"DHCPv6 option {code} has no encoder: pass raw bytes")
        data = enc(value)
    if len(data) > 0xFFFF:
        raise ValueError(f"DHCPv6 option {code} is {len(data)} bytes (max 65535)")
    return _OPT.pack(code, len(data)) + data


def encode_option(opt: Dhcp6Option) -> bytes:
    """A decoded option back to bytes: its raw data, or a re-encoded nested message."""
    if opt.code == OPT_RELAY_MSG and isinstance(opt.value, Dhcp6):
        return build_option(OPT_RELAY_MSG, opt.value)
    return _OPT.pack(opt.code, len(opt.data)) + opt.data


def encode_options(items: object) -> bytes:
    """Options from pre-built TLV bytes, Dhcp6Option records or (code, value) pairs."""
    parts: list[bytes] = []
    for item in _iter(items):
        if isinstance(item, (bytes, bytearray)):
            parts.append(bytes(item))
        elif isinstance(item, Dhcp6Option):
            parts.append(encode_option(item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], int):
            parts.append(build_option(item[0], item[1]))
        else:
            raise ValueError(f"not an option: {item!r}")
    return b"".join(parts)


def build_message(msg_type: Dhcp6Type | int, xid: int, options: Iterable[object] = ()) -> bytes:
    """A client/server message: header + options (see encode_options for their forms)."""
    if int(msg_type) in (12, 13):
        raise ValueError("use build_relay for RELAY-FORW / RELAY-REPL")
    head = bytes(Dhcp6Header(msg_type=int(msg_type), xid=(xid & 0xFFFFFF).to_bytes(3, "big")))
    return head + encode_options(options)


def build_relay(
    msg_type: Dhcp6Type | int,
    hop_count: int,
    link_address: str,
    peer_address: str,
    relay_message: bytes | Dhcp6 | None,
    options: Iterable[object] = (),
) -> bytes:
    """A RELAY-FORW/RELAY-REPL: header, ``options`` (e.g. interface-id), then option 9.

    Pass relay_message=None and put option 9 in ``options`` yourself for another order.
    """
    if int(msg_type) not in (12, 13):
        raise ValueError("build_relay builds RELAY-FORW (12) or RELAY-REPL (13) only")
    head = bytes(
        Dhcp6RelayHeader(
            msg_type=int(msg_type),
            hop_count=hop_count,
            link_address=_pton(link_address),
            peer_address=_pton(peer_address),
        )
    )
    body = encode_options(options)
    if relay_message is not None:
        body += build_option(OPT_RELAY_MSG, relay_message)
    return head + body


def encode_message(msg: Dhcp6) -> bytes:
    """A decoded record back to bytes; decode then encode gives the same bytes."""
    if msg.is_relay:
        return build_relay(
            msg.msg_type, msg.hop_count or 0, msg.link_address or "::", msg.peer_address or "::",
            None, msg.options,
        )
    return build_message(msg.msg_type, msg.xid or 0, msg.options)
