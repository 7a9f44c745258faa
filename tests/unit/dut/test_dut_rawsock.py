"""The L2 unicast frame: Ethernet + IPv4 + UDP with correct checksums."""

from __future__ import annotations

import struct

from lab.dut.rawsock import build_frame, checksum


def test_checksum_rfc1071_example() -> None:
    # RFC 1071 section 3 example words 0001 f203 f4f5 f6f7 sum to ddf2 -> checksum 220d
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_frame_layout_and_checksums() -> None:
    payload = b"\x02" + bytes(299)
    src_mac, dst_mac = bytes.fromhex("0eba32aac324"), bytes.fromhex("e63d3d9abeaa")
    f = build_frame(src_mac, dst_mac, "192.168.100.1", "192.168.100.10", 67, 68, payload)
    assert f[:6] == dst_mac and f[6:12] == src_mac and f[12:14] == b"\x08\x00"
    ip = f[14:34]
    assert ip[0] == 0x45 and struct.unpack("!H", ip[2:4])[0] == 20 + 8 + len(payload)
    assert checksum(ip) == 0  # a correct header checksums to zero
    udp = f[34:]
    sport, dport, ulen, _ = struct.unpack("!HHHH", udp[:8])
    assert (sport, dport, ulen) == (67, 68, 8 + len(payload))
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, ulen)
    assert checksum(pseudo + udp) == 0
    assert udp[8:] == payload
