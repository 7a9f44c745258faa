"""DHCPv4 (RFC 2131/2132): decode to ``lab.records.Dhcp4`` and build messages back to bytes.

The fixed BOOTP header is dpkt's table (``dpkt.dhcp.DHCP.__hdr__``), compiled once with the
four address fields read as raw 4-byte strings. dpkt's own option loop is not used: it never
checks an option length against the bytes left, and a decoder for a test lab must say so when a
DUT writes an option that runs off the end.

Options go through one table, code -> kind, and each kind has a decoder and an encoder, so the
decode and build sides cannot drift apart. Codes the table doesn't know keep their raw bytes.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterable, Sequence

import dpkt.dhcp

from lab.errors import DecodeError
from lab.optcodec import as_int, enc_u8, enc_u16, enc_u32
from lab.records import Dhcp4, Dhcp4Type

DHCP_MAGIC = dpkt.dhcp.DHCP_MAGIC
BOOTP_MIN = 236  # fixed header without the magic cookie
OPT_PAD = 0
OPT_END = 255
OPT_OVERLOAD = 52
OPT_MSGTYPE = 53
OPT_AGENT_INFO = 82

_ADDR_FIELDS = frozenset(("ciaddr", "yiaddr", "siaddr", "giaddr"))
_HDR = struct.Struct(
    ">" + "".join("4s" if name in _ADDR_FIELDS else fmt for name, fmt, _ in dpkt.dhcp.DHCP.__hdr__)
)
assert _HDR.size == 240

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_ntoa = socket.inet_ntoa
_aton = socket.inet_aton


_MSG_TYPES: dict[int, Dhcp4Type] = {int(t): t for t in Dhcp4Type}


def _need(data: bytes, n: int, what: str) -> None:
    if len(data) != n:
        raise DecodeError(f"{what} must be {n} bytes, got {len(data)}")


# -- decoders: bytes -> value. They raise DecodeError with a reason and no frame number. -----


def _dec_ip(d: bytes) -> str:
    if len(d) != 4:
        raise DecodeError(f"address option must be 4 bytes, got {len(d)}")
    return _ntoa(d)


def _dec_ips(d: bytes) -> tuple[str, ...]:
    if not d or len(d) % 4:
        raise DecodeError(f"address list length {len(d)} is not a positive multiple of 4")
    return tuple(_ntoa(d[i : i + 4]) for i in range(0, len(d), 4))


def _dec_u8(d: bytes) -> int:
    _need(d, 1, "8-bit option")
    return d[0]


def _dec_u16(d: bytes) -> int:
    _need(d, 2, "16-bit option")
    return int(_U16.unpack(d)[0])


def _dec_u32(d: bytes) -> int:
    _need(d, 4, "32-bit option")
    return int(_U32.unpack(d)[0])


def _dec_i32(d: bytes) -> int:
    _need(d, 4, "32-bit option")
    return int(_I32.unpack(d)[0])


def _dec_str(d: bytes) -> str:
    return d.decode("utf-8", "backslashreplace")


def _dec_msgtype(d: bytes) -> Dhcp4Type | int:
    _need(d, 1, "message type (option 53)")
    return _MSG_TYPES.get(d[0], d[0])


def _dec_codes(d: bytes) -> tuple[int, ...]:
    return tuple(d)


def _dec_client_id(d: bytes) -> tuple[int, str]:
    """(type, identifier as colon hex): type 1 is a MAC, 255 is RFC 4361's IAID + DUID."""
    if not d:
        raise DecodeError("client identifier (option 61) is empty")
    return d[0], d[1:].hex(":")


def _dec_agent_info(d: bytes) -> tuple[tuple[int, bytes], ...]:
    """Relay agent information (RFC 3046): (sub-option code, raw bytes) pairs."""
    out: list[tuple[int, bytes]] = []
    pos, end = 0, len(d)
    while pos < end:
        if end - pos < 2:
            raise DecodeError(f"option 82 sub-option {d[pos]} has no length byte")
        sub, n = d[pos], d[pos + 1]
        pos += 2
        if n > end - pos:
            raise DecodeError(f"option 82 sub-option {sub} length {n} exceeds remaining "
                              f"{end - pos} bytes")
        out.append((sub, d[pos : pos + n]))
        pos += n
    return tuple(out)


def decode_dns_names(d: bytes, compression: bool = True) -> tuple[str, ...]:
    """A sequence of DNS wire-format names (RFC 1035 3.1), as used by v4 119 and v6 24.

    v4 option 119 may use compression pointers into its own data (RFC 3397); DHCPv6 forbids
    them. Names come back without the trailing dot; the root name is "".
    """
    names: list[str] = []
    pos, end = 0, len(d)
    while pos < end:
        labels: list[str] = []
        cur, jumps, resume = pos, 0, -1
        while True:
            if cur >= end:
                raise DecodeError("domain name runs past the end of the option")
            n = d[cur]
            if n == 0:
                cur += 1
                break
            if n & 0xC0 == 0xC0:
                if not compression:
                    raise DecodeError("compression pointer in a DHCPv6 domain name")
                if cur + 1 >= end:
                    raise DecodeError("compression pointer cut short")
                jumps += 1
                if jumps > 32:
                    raise DecodeError("compression pointer loop in domain name")
                if resume < 0:
                    resume = cur + 2
                cur = ((n & 0x3F) << 8) | d[cur + 1]
                continue
            if n & 0xC0:
                raise DecodeError(f"unsupported DNS label type 0x{n & 0xC0:02x}")
            if cur + 1 + n > end:
                raise DecodeError(f"DNS label length {n} exceeds remaining {end - cur - 1} bytes")
            labels.append(d[cur + 1 : cur + 1 + n].decode("ascii", "backslashreplace"))
            cur += 1 + n
        names.append(".".join(labels))
        pos = resume if resume >= 0 else cur
    return tuple(names)


def encode_dns_names(names: Iterable[str]) -> bytes:
    """Names -> DNS wire format, uncompressed."""
    out = bytearray()
    for name in names:
        for label in name.strip(".").split("."):
            if label:
                raw = label.encode("ascii")
                if len(raw) > 63:
                    raise ValueError(f"DNS label longer than 63 bytes: {label!r}")
                out.append(len(raw))
                out += raw
        out.append(0)
    return bytes(out)


def _dec_classless_routes(d: bytes) -> tuple[tuple[str, str], ...]:
    """RFC 3442: (destination "a.b.c.d/n", router) pairs."""
    out: list[tuple[str, str]] = []
    pos, end = 0, len(d)
    while pos < end:
        width = d[pos]
        if width > 32:
            raise DecodeError(f"option 121 prefix length {width} > 32")
        sig = (width + 7) // 8
        if pos + 1 + sig + 4 > end:
            raise DecodeError("option 121 route cut short")
        dest = d[pos + 1 : pos + 1 + sig] + b"\x00" * (4 - sig)
        router = d[pos + 1 + sig : pos + 5 + sig]
        out.append((f"{_ntoa(dest)}/{width}", _ntoa(router)))
        pos += 5 + sig
    return tuple(out)


# -- encoders: value -> bytes (the inverse of each decoder) -----------------------------------


def _enc_ip(v: object) -> bytes:
    return _aton(str(v))


def _enc_ips(v: object) -> bytes:
    return b"".join(_aton(a) for a in _seq(v, str))





def _enc_i32(v: object) -> bytes:
    return _I32.pack(as_int(v))


def _enc_str(v: object) -> bytes:
    return v.encode("utf-8") if isinstance(v, str) else bytes(_bytes(v))


def _enc_codes(v: object) -> bytes:
    return bytes(_seq(v, int))


def _enc_client_id(v: object) -> bytes:
    if not isinstance(v, tuple) or len(v) != 2:
        raise ValueError("client identifier value is (type, 'colon:hex') ")
    kind, ident = v
    raw = bytes.fromhex(ident.replace(":", "")) if isinstance(ident, str) else _bytes(ident)
    return bytes((as_int(kind),)) + raw


def _enc_agent_info(v: object) -> bytes:
    out = bytearray()
    for pair in _seq(v, tuple):
        sub, data = pair
        raw = _bytes(data)
        out += bytes((as_int(sub), len(raw))) + raw
    return bytes(out)


def _enc_domains(v: object) -> bytes:
    return encode_dns_names(_seq(v, str))


def _enc_classless_routes(v: object) -> bytes:
    out = bytearray()
    for pair in _seq(v, tuple):
        dest, router = pair
        net, _, width_s = str(dest).partition("/")
        width = int(width_s)
        out.append(width)
        out += _aton(net)[: (width + 7) // 8] + _aton(str(router))
    return bytes(out)



def _bytes(v: object) -> bytes:
    if not isinstance(v, (bytes, bytearray)):
        raise ValueError(f"expected bytes, got {v!r}")
    return bytes(v)


def _seq(v: object, kind: type) -> list:  # type: ignore[type-arg]  # heterogenous helper
    if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
        if isinstance(v, kind) and kind is str:
            return [v]
        raise ValueError(f"expected a sequence of {kind.__name__}, got {v!r}")
    return list(v)


Decoder = Callable[[bytes], object]
Encoder = Callable[[object], bytes]

KINDS: dict[str, tuple[Decoder, Encoder]] = {
    "ip": (_dec_ip, _enc_ip),
    "ips": (_dec_ips, _enc_ips),
    "u8": (_dec_u8, enc_u8),
    "u16": (_dec_u16, enc_u16),
    "u32": (_dec_u32, enc_u32),
    "i32": (_dec_i32, _enc_i32),
    "str": (_dec_str, _enc_str),
    "msgtype": (_dec_msgtype, enc_u8),
    "codes": (_dec_codes, _enc_codes),
    "client_id": (_dec_client_id, _enc_client_id),
    "agent_info": (_dec_agent_info, _enc_agent_info),
    "domains": (decode_dns_names, _enc_domains),
    "classless_routes": (_dec_classless_routes, _enc_classless_routes),
}

# The option table: code -> kind. Values of each kind are described by its decoder.
OPTIONS: dict[int, str] = {
    1: "ip",  # subnet mask
    2: "i32",  # time offset
    3: "ips",  # routers
    4: "ips",  # time servers
    5: "ips",  # name servers
    6: "ips",  # DNS servers
    7: "ips",  # log servers
    12: "str",  # host name
    13: "u16",  # boot file size
    15: "str",  # domain name
    17: "str",  # root path
    19: "u8",  # IP forwarding
    23: "u8",  # default TTL
    26: "u16",  # interface MTU
    28: "ip",  # broadcast address
    40: "str",  # NIS domain
    41: "ips",  # NIS servers
    42: "ips",  # NTP servers
    44: "ips",  # NetBIOS name servers
    50: "ip",  # requested address
    51: "u32",  # lease time
    52: "u8",  # option overload
    53: "msgtype",  # DHCP message type
    54: "ip",  # server identifier
    55: "codes",  # parameter request list
    56: "str",  # message
    57: "u16",  # maximum message size
    58: "u32",  # renewal (T1) time
    59: "u32",  # rebinding (T2) time
    60: "str",  # vendor class identifier
    61: "client_id",  # client identifier
    66: "str",  # TFTP server name
    67: "str",  # boot file name
    82: "agent_info",  # relay agent information
    118: "ip",  # subnet selection
    119: "domains",  # domain search
    121: "classless_routes",  # classless static routes
}

DECODERS: dict[int, Decoder] = {code: KINDS[kind][0] for code, kind in OPTIONS.items()}
ENCODERS: dict[int, Encoder] = {code: KINDS[kind][1] for code, kind in OPTIONS.items()}


# -- decode ----------------------------------------------------------------------------------


def _parse_options(
    buf: bytes, pos: int, end: int, out: list[tuple[int, object]], area: str
) -> None:
    decoders = DECODERS
    while pos < end:
        code = buf[pos]
        if code == OPT_PAD:
            pos += 1
            continue
        if code == OPT_END:
            return
        if pos + 1 >= end:
            raise DecodeError(f"DHCPv4 option {code} has no length byte{area}")
        n = buf[pos + 1]
        pos += 2
        if n > end - pos:
            raise DecodeError(
                f"DHCPv4 option {code} length {n} exceeds remaining {end - pos} bytes{area}"
            )
        data = buf[pos : pos + n]
        dec = decoders.get(code)
        if dec is None:
            out.append((code, data))
        else:
            try:
                out.append((code, dec(data)))
            except DecodeError as exc:
                raise DecodeError(f"DHCPv4 option {code}: {exc.reason}") from None
        pos += n


CACHE_SIZE = 4096  # decoded messages kept by payload bytes; 0 turns the cache off

# A bridge capture holds each datagram once per port it crosses; records are immutable, so
# the same bytes can share one decoded record.
_cache: dict[bytes, Dhcp4] = {}


def parse_dhcp4(buf: bytes) -> Dhcp4:
    """Decode one DHCPv4/BOOTP payload (the UDP data). Raises DecodeError when malformed."""
    msg = _cache.get(buf)
    if msg is None:
        msg = _parse_uncached(buf)
        if CACHE_SIZE:
            if len(_cache) >= CACHE_SIZE:
                _cache.clear()
            _cache[buf] = msg
    return msg


def _parse_uncached(buf: bytes) -> Dhcp4:
    n = len(buf)
    if n < BOOTP_MIN:
        raise DecodeError(f"DHCPv4 message cut short ({n} bytes, the BOOTP header needs 236)")
    if n < 240:
        buf4 = buf[:BOOTP_MIN] + b"\x00\x00\x00\x00"
        (op, _hrd, hln, hops, xid, secs, flags, ci, yi, si, gi, chaddr, _sn, _fl,
         _magic) = _HDR.unpack(buf4)
        magic = 0
    else:
        (op, _hrd, hln, hops, xid, secs, flags, ci, yi, si, gi, chaddr, sname, file,
         magic) = _HDR.unpack_from(buf)
    options: list[tuple[int, object]] = []
    msg_type: Dhcp4Type | None = None
    if magic == DHCP_MAGIC:
        _parse_options(buf, 240, n, options, "")
        for code, value in options:
            if code == OPT_OVERLOAD:
                over = value if isinstance(value, int) else 0
                if over & 1:
                    _parse_options(file, 0, len(file), options, " (in the file field)")
                if over & 2:
                    _parse_options(sname, 0, len(sname), options, " (in the sname field)")
                break
        for code, value in options:
            if code == OPT_MSGTYPE:
                msg_type = value if isinstance(value, Dhcp4Type) else None
                break
    return Dhcp4(
        op, hops, xid, secs, flags, _ntoa(ci), _ntoa(yi), _ntoa(si), _ntoa(gi),
        (chaddr[:hln] if hln < 16 else chaddr).hex(":"), msg_type, tuple(options),
    )


# -- build -----------------------------------------------------------------------------------


def build_option(code: int, value: object) -> bytes:
    """One option TLV. ``value`` is raw bytes, or a value of the kind the table gives ``code``."""
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        enc = ENCODERS.get(code)
        if enc is None:
            raise ValueError(f"DHCPv4 option {code} has no encoder: pass raw bytes")
        data = enc(value)
    if len(data) > 255:
        raise ValueError(f"DHCPv4 option {code} value is {len(data)} bytes (max 255)")
    return bytes((code, len(data))) + data


def build_dhcp4(
    *,
    op: int,
    xid: int,
    chaddr: str,
    msg_type: Dhcp4Type | int | None = None,
    options: Sequence[tuple[int, object]] = (),
    hops: int = 0,
    secs: int = 0,
    flags: int = 0,
    ciaddr: str = "0.0.0.0",
    yiaddr: str = "0.0.0.0",
    siaddr: str = "0.0.0.0",
    giaddr: str = "0.0.0.0",
    sname: bytes = b"",
    file: bytes = b"",
    pad_to: int = 300,
) -> bytes:
    """A DHCPv4 message: header, magic, option 53 (if msg_type) then ``options``, end, padding.

    ``pad_to`` pads with zeros to the BOOTP minimum of 300 bytes that many clients send.
    """
    mac = bytes.fromhex(chaddr.replace(":", ""))
    head = _HDR.pack(
        op, 1, len(mac), hops, xid, secs, flags, _aton(ciaddr), _aton(yiaddr), _aton(siaddr),
        _aton(giaddr), mac, sname, file, DHCP_MAGIC,
    )
    parts = [head]
    if msg_type is not None:
        parts.append(bytes((OPT_MSGTYPE, 1, int(msg_type))))
    parts.extend(build_option(code, value) for code, value in options)
    parts.append(bytes((OPT_END,)))
    out = b"".join(parts)
    if len(out) < pad_to:
        out += b"\x00" * (pad_to - len(out))
    return out


def encode_dhcp4(msg: Dhcp4, pad_to: int = 300) -> bytes:
    """Build bytes from a decoded record (options in its order, option 53 included)."""
    return build_dhcp4(
        op=msg.op, xid=msg.xid, chaddr=msg.chaddr, options=msg.options, hops=msg.hops,
        secs=msg.secs, flags=msg.flags, ciaddr=msg.ciaddr, yiaddr=msg.yiaddr,
        siaddr=msg.siaddr, giaddr=msg.giaddr, pad_to=pad_to,
    )
