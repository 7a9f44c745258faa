"""Read (and write) classic pcap and pcapng files without trusting dpkt's readers.

Why our own reader: dpkt's pcapng reader applies the first Interface Description Block's link
type to every packet, and its iterators raise ``NeedData`` from inside the loop when the last
record is cut short. A capture of ``tcpdump -i any`` that got killed mid-write is normal in a
lab, so here a truncated last record just ends the file and sets ``truncated``.

The format is chosen by magic number, never by file name. The whole file is read into memory:
lab captures are small, and slicing one ``bytes`` object is the fastest way through it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lab.errors import DecodeError

# A raw record: (frame index 1-based, timestamp seconds, link type, interface id or None, bytes)
RawRecord = tuple[int, float, int, "int | None", bytes]

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAP_MAGIC_MODIFIED = 0xA1B2CD34  # Kuznetsov's patched libpcap: 8 more bytes per record
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BOM = 0x1A2B3C4D

BT_IDB = 0x00000001
BT_PB = 0x00000002  # obsolete Packet Block, still written by old tools
BT_SPB = 0x00000003
BT_EPB = 0x00000006

OPT_END = 0
IF_NAME = 2
IF_TSRESOL = 9
IF_TSOFFSET = 14

# libpcap's MAXIMUM_SNAPLEN: a record longer than this is corruption, not truncation.
MAX_RECORD = 262144

_FILE_HDR_LEN = 24


@dataclass
class Capture:
    """An opened capture file. Iterate it for raw records.

    Fields: path, format ("pcap" or "pcapng"), linktypes (one per interface, in order; a pcap
    has exactly one), interfaces (pcapng interface id -> if_name, for those that name
    themselves), truncated (set once iteration hit a cut-short last record).

    Interface ids are numbered across the whole file: in a file of several pcapng sections the
    second section's interface 0 gets the id after the first section's last one. For a
    single-section file (what every tool writes) they equal the ids in the file.
    """

    path: str
    data: bytes = field(repr=False)
    format: str
    linktypes: list[int] = field(default_factory=list)
    interfaces: dict[int, str] = field(default_factory=dict)
    truncated: bool = False

    def __iter__(self) -> Iterator[RawRecord]:
        if self.format == "pcap":
            return self._iter_pcap()
        return self._iter_pcapng()

    # -- classic pcap -------------------------------------------------------------------
    def _iter_pcap(self) -> Iterator[RawRecord]:
        data = self.data
        magic_le = struct.unpack_from("<I", data, 0)[0]
        endian = "<" if magic_le in (PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_MODIFIED) else ">"
        magic = struct.unpack_from(endian + "I", data, 0)[0]
        scale = 1e-9 if magic == PCAP_MAGIC_NS else 1e-6
        extra = 8 if magic == PCAP_MAGIC_MODIFIED else 0
        snaplen = struct.unpack_from(endian + "I", data, 16)[0]
        limit = max(snaplen, MAX_RECORD)
        linktype = self.linktypes[0]
        rec = struct.Struct(endian + "IIII")
        rec_len = rec.size + extra
        pos = _FILE_HDR_LEN
        end = len(data)
        index = 0
        unpack = rec.unpack_from
        while pos < end:
            index += 1
            if end - pos < rec_len:
                self.truncated = True
                return
            sec, frac, caplen, _wirelen = unpack(data, pos)
            if caplen > limit:
                raise DecodeError(
                    f"record length {caplen} exceeds the snapshot length {snaplen}: "
                    "corrupt pcap record header",
                    frame=index,
                )
            pos += rec_len
            if end - pos < caplen:
                self.truncated = True
                return
            yield index, sec + frac * scale, linktype, None, data[pos : pos + caplen]
            pos += caplen

    # -- pcapng -------------------------------------------------------------------------
    def _iter_pcapng(self) -> Iterator[RawRecord]:
        data = self.data
        end = len(data)
        pos = 0
        index = 0
        endian = "<"
        # Per section: interface ids in this section -> (global id, linktype, tsresol, offset)
        section: list[tuple[int, int, float, int]] = []
        while pos < end:
            if end - pos < 12:
                self.truncated = True
                return
            btype_le = struct.unpack_from("<I", data, pos)[0]
            if btype_le == PCAPNG_SHB:
                bom_le = struct.unpack_from("<I", data, pos + 8)[0]
                if bom_le == PCAPNG_BOM:
                    endian = "<"
                elif bom_le == 0x4D3C2B1A:
                    endian = ">"
                else:
                    raise DecodeError(
                        f"pcapng section header at byte {pos} has a bad byte-order magic "
                        f"0x{bom_le:08x}",
                        frame=index + 1,
                    )
                section = []
            btype, blen = struct.unpack_from(endian + "II", data, pos)
            if blen < 12 or blen % 4:
                raise DecodeError(
                    f"pcapng block at byte {pos} has an invalid length {blen}", frame=index + 1
                )
            if end - pos < blen:
                self.truncated = True
                return
            body = pos + 8
            body_end = pos + blen - 4
            trailer = struct.unpack_from(endian + "I", data, body_end)[0]
            if trailer != blen:
                raise DecodeError(
                    f"pcapng block at byte {pos}: trailing length {trailer} != leading {blen}",
                    frame=index + 1,
                )
            if btype == BT_IDB:
                section.append(self._read_idb(data, body, body_end, endian, len(section)))
            elif btype in (BT_EPB, BT_PB, BT_SPB):
                index += 1
                yield self._read_packet(data, btype, body, body_end, endian, section, index)
            # Every other block (name resolution, statistics, custom...) carries no packet.
            pos += blen

    def _read_idb(
        self, data: bytes, body: int, body_end: int, endian: str, local_id: int
    ) -> tuple[int, int, float, int]:
        if body_end - body < 8:
            raise DecodeError(f"pcapng interface block {local_id} is too short")
        linktype = struct.unpack_from(endian + "H", data, body)[0]
        global_id = len(self.linktypes)
        self.linktypes.append(linktype)
        scale = 1e-6
        offset = 0
        for code, value in _iter_options(data, body + 8, body_end, endian):
            if code == IF_NAME:
                self.interfaces[global_id] = value.rstrip(b"\x00").decode("utf-8", "replace")
            elif code == IF_TSRESOL and value:
                r = value[0]
                scale = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0**-r
            elif code == IF_TSOFFSET and len(value) == 8:
                offset = struct.unpack(endian + "q", value)[0]
        return global_id, linktype, scale, offset

    def _read_packet(
        self,
        data: bytes,
        btype: int,
        body: int,
        body_end: int,
        endian: str,
        section: list[tuple[int, int, float, int]],
        index: int,
    ) -> RawRecord:
        if btype == BT_SPB:
            if_id, ts_raw = 0, None
            if body_end - body < 4:
                raise DecodeError("simple packet block too short", frame=index)
            caplen = struct.unpack_from(endian + "I", data, body)[0]
            caplen = min(caplen, body_end - body - 4)
            start = body + 4
        else:
            if body_end - body < 20:
                raise DecodeError("packet block too short", frame=index)
            if btype == BT_EPB:
                if_id, hi, lo, caplen = struct.unpack_from(endian + "IIII", data, body)
            else:
                if_id, _drops, hi, lo, caplen = struct.unpack_from(endian + "HHIII", data, body)
            ts_raw = (hi << 32) | lo
            start = body + 20
            if caplen > body_end - start:
                raise DecodeError(
                    f"packet block captured length {caplen} exceeds its block "
                    f"({body_end - start} bytes)",
                    frame=index,
                )
        if if_id >= len(section):
            raise DecodeError(
                f"packet refers to interface {if_id}, but only {len(section)} interface "
                "blocks precede it",
                frame=index,
            )
        global_id, linktype, scale, offset = section[if_id]
        ts = 0.0 if ts_raw is None else ts_raw * scale + offset
        return index, ts, linktype, global_id, data[start : start + caplen]


def _iter_options(data: bytes, pos: int, end: int, endian: str) -> Iterator[tuple[int, bytes]]:
    """pcapng options: (code, length) then value padded to 4 bytes; a broken list just ends."""
    while end - pos >= 4:
        code, length = struct.unpack_from(endian + "HH", data, pos)
        if code == OPT_END:
            return
        pos += 4
        if length > end - pos:
            return
        yield code, data[pos : pos + length]
        pos += (length + 3) & ~3


def open_capture(path: str | Path) -> Capture:
    """Open a pcap or pcapng file by its magic number. Raises DecodeError if it is neither."""
    p = str(path)
    try:
        data = Path(p).read_bytes()
    except OSError as exc:
        raise DecodeError(f"cannot read {p}: {exc.strerror or exc}") from exc
    return parse_capture(data, p)


def parse_capture(data: bytes, name: str = "<bytes>") -> Capture:
    """Like open_capture, for bytes already in memory."""
    if not data:
        raise DecodeError(f"{name} is empty (0 bytes): not a pcap or pcapng file")
    if len(data) < 4:
        raise DecodeError(f"{name} is only {len(data)} bytes: too short for a capture header")
    magic_le, magic_be = struct.unpack_from("<I", data)[0], struct.unpack_from(">I", data)[0]
    pcap_magics = (PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_MODIFIED)
    if magic_le in pcap_magics or magic_be in pcap_magics:
        if len(data) < _FILE_HDR_LEN:
            raise DecodeError(
                f"{name}: pcap file header cut short ({len(data)} of {_FILE_HDR_LEN} bytes)"
            )
        endian = "<" if magic_le in pcap_magics else ">"
        network = struct.unpack_from(endian + "I", data, 20)[0]
        # The upper bits carry FCS length flags (LINKTYPE_FCS_*); the type is the low 16.
        return Capture(name, data, "pcap", linktypes=[network & 0xFFFF])
    if magic_le == PCAPNG_SHB:
        if len(data) < 12:
            raise DecodeError(f"{name}: pcapng section header cut short ({len(data)} bytes)")
        bom = data[8:12]
        if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
            raise DecodeError(f"{name}: pcapng section header has no valid byte-order magic")
        return Capture(name, data, "pcapng")
    raise DecodeError(
        f"{name} is not a pcap or pcapng file (magic 0x{magic_be:08x}; expected a1b2c3d4, "
        "a1b23c4d or 0a0d0d0a)"
    )


# -- writers (tests, the corpus script and the synthetic generator need them) ------------


def pcap_header(linktype: int, snaplen: int = MAX_RECORD, nano: bool = False) -> bytes:
    """A little-endian classic pcap file header."""
    magic = PCAP_MAGIC_NS if nano else PCAP_MAGIC_US
    return struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


_REC = struct.Struct("<IIII")


def pcap_record(ts: float, data: bytes) -> bytes:
    """One classic (microsecond) pcap record."""
    sec = int(ts)
    usec = int(round((ts - sec) * 1e6))
    if usec >= 1_000_000:
        sec, usec = sec + 1, usec - 1_000_000
    return _REC.pack(sec, usec, len(data), len(data)) + data


def write_pcap(
    out: str | Path | BinaryIO, linktype: int, records: Iterable[tuple[float, bytes]]
) -> int:
    """Write a classic pcap; returns the number of records written."""
    n = 0
    chunks = [pcap_header(linktype)]
    for ts, data in records:
        chunks.append(pcap_record(ts, data))
        n += 1
    _write(out, b"".join(chunks))
    return n


def _pcapng_block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    blen = len(body) + 12
    return struct.pack("<II", btype, blen) + body + struct.pack("<I", blen)


def _pcapng_option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def pcapng_shb() -> bytes:
    return _pcapng_block(PCAPNG_SHB, struct.pack("<IHHq", PCAPNG_BOM, 1, 0, -1))


def pcapng_idb(linktype: int, name: str | None = None, snaplen: int = MAX_RECORD) -> bytes:
    opts = b""
    if name is not None:
        opts = _pcapng_option(IF_NAME, name.encode()) + _pcapng_option(OPT_END, b"")
    return _pcapng_block(BT_IDB, struct.pack("<HHI", linktype, 0, snaplen) + opts)


def pcapng_epb(if_id: int, ts: float, data: bytes) -> bytes:
    t = int(round(ts * 1e6))
    body = struct.pack("<IIIII", if_id, t >> 32, t & 0xFFFFFFFF, len(data), len(data)) + data
    return _pcapng_block(BT_EPB, body)


def write_pcapng(
    out: str | Path | BinaryIO,
    interfaces: Iterable[tuple[int, str | None]],
    records: Iterable[tuple[int, float, bytes]],
) -> int:
    """Write a one-section pcapng: interfaces are (linktype, name); records (if_id, ts, data)."""
    chunks = [pcapng_shb()]
    chunks.extend(pcapng_idb(lt, name) for lt, name in interfaces)
    n = 0
    for if_id, ts, data in records:
        chunks.append(pcapng_epb(if_id, ts, data))
        n += 1
    _write(out, b"".join(chunks))
    return n


def _write(out: str | Path | BinaryIO, blob: bytes) -> None:
    if isinstance(out, (str, Path)):
        Path(out).write_bytes(blob)
    else:
        out.write(blob)
