"""Regenerate the checked-in capture corpus under tests/data/.

    .venv/bin/python tests/data/make_corpus.py

Deterministic: running it again rewrites identical files. The "bad" corpus holds files a
decoder must reject (or survive) with a clear message; two of them are valid but awkward
(header-only, and a pcapng whose two interfaces have different link types).
"""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from lab.dhcp6 import Duid, build_message, build_relay  # noqa: E402
from lab.linklayer import DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, ETH_TYPE_IP6  # noqa: E402
from lab.pcapfile import (  # noqa: E402
    open_capture,
    pcap_header,
    pcap_record,
    write_pcap,
    write_pcapng,
)
from lab.records import Dhcp6Type, PacketType  # noqa: E402
from lab.synth import link_frame, synthetic_records, udp_ipv6  # noqa: E402

BAD = HERE / "bad"
REF = HERE / "reference"
CLIENT_MAC = "da:58:fd:b6:ed:6d"
CLIENT_LL = "fe80::d858:fdff:feb6:ed6d"
TS = 1_700_000_000.0


def solicit() -> bytes:
    return build_message(
        Dhcp6Type.SOLICIT, 0x3B54BB,
        [(1, Duid(1, 1, 849630218, None, CLIENT_MAC)), (8, 0), (3, (1, 3600, 5400, ()))],
    )


def sll2_udp6(src: str, dst: str, payload: bytes) -> bytes:
    return link_frame(DLT_LINUX_SLL2, PacketType.HOST, 153, "b6:a0:99:23:f2:c8", "",
                      ETH_TYPE_IP6, udp_ipv6(src, dst, 547, 547, payload))


def nested_relay(depth: int) -> bytes:
    msg = solicit()
    for hop in range(depth):
        msg = build_relay(Dhcp6Type.RELAY_FORW, hop, "fd00:100::1",
                          CLIENT_LL if hop == 0 else "fd00:200::2", msg)
    return msg


def opt9_mismatch() -> bytes:
    """A RELAY-FORW whose option 9 claims 10 bytes more than the message holds."""
    relay = bytearray(build_relay(Dhcp6Type.RELAY_FORW, 0, "fd00:100::1", CLIENT_LL, solicit()))
    code, length = struct.unpack_from(">HH", relay, 34)
    assert code == 9
    struct.pack_into(">H", relay, 36, length + 10)
    return bytes(relay)


def main() -> None:
    BAD.mkdir(exist_ok=True)
    (BAD / "empty.pcap").write_bytes(b"")
    rng = random.Random(1)
    (BAD / "garbage.pcap").write_bytes(b"GARBAGE!" + rng.randbytes(504))
    (BAD / "header-only.pcap").write_bytes(pcap_header(DLT_LINUX_SLL2))
    (BAD / "short-header.pcap").write_bytes(pcap_header(DLT_LINUX_SLL2)[:10])

    recs = list(synthetic_records(1, seed=3))[:3]
    blob = pcap_header(DLT_LINUX_SLL2) + b"".join(pcap_record(ts, d) for ts, d in recs)
    (BAD / "truncated.pcap").write_bytes(blob[:-10])  # the last record loses 10 bytes

    # Two interfaces, two link types: the client's Ethernet view and the SLL2 "any" view.
    eth = list(open_capture(REF / "dhcplb-relay-v6.client-eth.pcap"))
    anyv = list(open_capture(REF / "dhcplb-relay-v6.any.pcap"))[:4]
    mixed: list[tuple[int, float, bytes]] = []
    for (_, ts_e, _, _, d_e), (_, ts_a, _, _, d_a) in zip(eth, anyv, strict=False):
        mixed.append((0, ts_e, d_e))
        mixed.append((1, ts_a, d_a))
    write_pcapng(BAD / "two-linktypes.pcapng", [(DLT_EN10MB, "cli"), (DLT_LINUX_SLL2, "any")],
                 mixed)

    write_pcap(BAD / "relay-40-deep.pcap", DLT_LINUX_SLL2,
               [(TS, sll2_udp6("fd00:200::2", "fd00:200::3", nested_relay(40)))])
    write_pcap(BAD / "opt9-length-mismatch.pcap", DLT_LINUX_SLL2,
               [(TS, sll2_udp6("fd00:200::1", "fd00:200::2", opt9_mismatch()))])

    # Good files for link types the reference captures lack.
    write_pcap(HERE / "synth-sll1.pcap", DLT_LINUX_SLL, synthetic_records(4, seed=7,
                                                                         linktype=DLT_LINUX_SLL))
    write_pcap(HERE / "relay-32-deep.pcap", DLT_LINUX_SLL2,
               [(TS, sll2_udp6("fd00:200::2", "fd00:200::3", nested_relay(32)))])


if __name__ == "__main__":
    main()
