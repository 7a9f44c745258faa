"""Shared helpers for the DUT unit tests: configs, crafted packets, a tiny pcap reader.

Imported as ``tests.unit.dut.dut_helpers``; not a conftest so its
name can't clash with another directory's conftest module."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from pathlib import Path

from lab.dut import wire6
from lab.dut.config import HandlerConfig, HandlerOptions
from lab.dut.leases import LeaseStore, Pool

CAPTURES = Path("/work/shared/reference/captures")
MAC = bytes.fromhex("e63d3d9abeaa")
DUID = bytes.fromhex("00010001") + struct.pack("!I", 849630218) + bytes.fromhex("da58fdb6ed6d")
IAID = struct.pack("!I", 4256623981)
CLIENT_LL = "fe80::d858:fdff:feb6:ed6d"


class Clock:
    """A settable clock for lease expiry."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def handler4(lease_file: str | None = None, start: str = "192.168.100.10",
             end: str = "192.168.100.50") -> HandlerConfig:
    return HandlerConfig(start, end, 600, lease_file, HandlerOptions(
        subnet_mask="255.255.255.0", routers=("192.168.100.1",), dns_servers=("192.168.100.1",),
        domain_search=("lab.example",)))


def handler6(lease_file: str | None = None, start: str = "fd00:100::10",
             end: str = "fd00:100::50", preference: int | None = 255,
             rapid_commit: bool = True) -> HandlerConfig:
    return HandlerConfig(start, end, 600, lease_file, HandlerOptions(
        dns_servers=("fd00:100::1",), domain_search=("lab.example",), preference=preference,
        rapid_commit=rapid_commit))


def store_for(h: HandlerConfig, clock: Callable[[], float] | None = None) -> LeaseStore:
    return LeaseStore(h.lease_file, Pool(h.start_ip, h.end_ip), clock or Clock())


def a6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


def ia_na(addrs: list[str] | None = None, iaid: bytes = IAID) -> tuple[int, bytes]:
    sub = [(int(wire6.Opt.IAADDR), wire6.encode_iaaddr(a6(a), 7200, 7500)) for a in addrs or []]
    return (int(wire6.Opt.IA_NA), wire6.encode_ia_na(iaid, 3600, 5400, sub))


def msg6(mtype: int, *opts: tuple[int, bytes], duid: bytes | None = DUID,
         server_duid: bytes | None = None, xid: bytes = b"\x3b\x54\xbb") -> bytes:
    options: list[tuple[int, bytes]] = []
    if duid is not None:
        options.append((int(wire6.Opt.CLIENTID), duid))
    if server_duid is not None:
        options.append((int(wire6.Opt.SERVERID), server_duid))
    options += list(opts)
    return wire6.build_message(mtype, xid, options)


def read_sll2_pcap(path: Path) -> list[tuple[int, int, str, str, int, int, bytes]]:
    """(ifindex, pkttype, src, dst, sport, dport, udp payload) for each IPv6/UDP frame of a
    Linux cooked v2 pcap."""
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1" and struct.unpack_from("<I", data, 20)[0] == 276
    out = []
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, off)
        frame = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        proto, _, ifindex, _, pkttype = struct.unpack_from("!HHIHB", frame, 0)
        if proto != 0x86DD:
            continue
        ip = frame[20:]
        src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
        sport, dport, ulen, _ = struct.unpack_from("!HHHH", ip, 40)
        out.append((ifindex, pkttype, src, dst, sport, dport, ip[48 : 40 + ulen]))
    return out
