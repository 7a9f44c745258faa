"""Encoders shared by the DHCPv4 and DHCPv6 option tables: checked ints to fixed-width bytes."""

from __future__ import annotations

import struct

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


def as_int(v: object) -> int:
    if not isinstance(v, int):
        raise ValueError(f"expected an int, got {v!r}")
    return v


def enc_u8(v: object) -> bytes:
    return bytes((as_int(v),))


def enc_u16(v: object) -> bytes:
    return _U16.pack(as_int(v))


def enc_u32(v: object) -> bytes:
    return _U32.pack(as_int(v))
