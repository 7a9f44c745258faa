"""Cross-check the dpkt decoder against Wireshark's dissectors (tshark through pyshark).

Two independent decoders must see the same message sequence in a capture: for every frame
the flow attribution keeps (the ingress copy on the sender's bridge port, or every frame of an
Ethernet capture), the sender's port (or source MAC) and the message nesting, e.g.
RELAY-FORW(RELAY-FORW(SOLICIT)). Integration tests compare ``tshark_sequence`` with
``dpkt_sequence``; ``throughput_pyshark`` is the baseline for the decoder benchmark.

pyshark runs tshark as a subprocess and leaves event loops behind when a capture isn't closed,
so every capture here is closed in a ``finally``. tshark 3.0 renamed ``bootp.*`` to ``dhcp.*``;
both are supported.
"""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab.ifmap import IfMap
from lab.records import Dhcp4, Dhcp4Type, Dhcp6, Dhcp6Type, Frame, PacketType

Step = tuple[str, str]  # (sender port name or source MAC, message nesting)

_OUTGOING = int(PacketType.OUTGOING)


def _tshark_major() -> int:
    from pyshark.tshark.tshark import get_tshark_version

    return int(str(get_tshark_version()).split(".")[0])


def dhcp4_protocol() -> str:
    """Wireshark's name for the DHCPv4 dissector: 'dhcp' since 3.0, 'bootp' before."""
    return "dhcp" if _tshark_major() >= 3 else "bootp"


def keep(ifindex: int | None, pkttype: int | None, mac: str | None,
         ifmap: IfMap) -> str | None:
    """The attribution rule of ``lab.flow``, in terms both decoders can provide.

    Cooked capture: keep the ingress copy on a bridge port, named by the port. Ethernet:
    every frame, named by its source MAC. None: not kept (a copy, or an unknown interface).
    """
    if pkttype is not None and ifindex is not None:
        entry = ifmap.interfaces.get(ifindex)
        if entry is None or entry.kind != "port" or pkttype == _OUTGOING:
            return None
        return entry.name
    if pkttype == _OUTGOING:
        return None
    return mac.lower() if mac else None


def _name4(code: int) -> str:
    try:
        return Dhcp4Type(code).name
    except ValueError:
        return f"TYPE{code}"


def _name6(code: int) -> str:
    try:
        return Dhcp6Type(code).name.replace("_", "-")
    except ValueError:
        return f"TYPE{code}"


def nesting(names: Sequence[str]) -> str:
    """['RELAY-FORW', 'RELAY-FORW', 'SOLICIT'] -> 'RELAY-FORW(RELAY-FORW(SOLICIT))'."""
    if not names:
        return "?"
    return "".join(n + "(" for n in names[:-1]) + names[-1] + ")" * (len(names) - 1)


def _dpkt_nesting(msg: Dhcp4 | Dhcp6 | None) -> str:
    if isinstance(msg, Dhcp4):
        return _name4(int(msg.msg_type)) if msg.msg_type is not None else "BOOTP"
    names: list[str] = []
    m: Dhcp6 | None = msg if isinstance(msg, Dhcp6) else None
    while m is not None and len(names) < 40:
        names.append(_name6(int(m.msg_type)))
        m = m.inner if m.is_relay else None
    return nesting(names)


def dpkt_sequence(frames: Sequence[Frame], ifmap: IfMap) -> list[Step]:
    """(sender port or MAC, nesting) of every kept frame, from ``lab.decode`` records."""
    out: list[Step] = []
    for f in frames:
        if f.dhcp is None:
            continue
        who = keep(f.ifindex, None if f.pkttype is None else int(f.pkttype), f.src_mac, ifmap)
        if who is not None:
            out.append((who, _dpkt_nesting(f.dhcp)))
    return out


@contextmanager
def _capture(path: Path, display_filter: str | None) -> Iterator[Any]:
    import pyshark

    # A loop of our own per capture, closed afterwards: pyshark would otherwise reuse (and
    # install a child watcher on) the thread's default loop and leave it behind.
    # The default ThreadedChildWatcher can lose tshark's exit status, which pyshark then
    # reports as a crash; a SafeChildWatcher bound to that loop, as pyshark itself installs,
    # doesn't. The previous watcher is put back afterwards.
    loop = asyncio.new_event_loop()
    watcher, previous = _bind_watcher(loop)
    try:
        cap = pyshark.FileCapture(str(path), display_filter=display_filter,
                                  keep_packets=False, eventloop=loop)
        try:
            yield cap
        finally:
            _close(cap)
    finally:
        _unbind_watcher(watcher, previous)
        loop.close()


def _close(cap: Any) -> None:
    """Close a capture. A "crash" reported only at close, after tshark's output was read to
    its end, is a lost exit status, not a lost packet: asyncio's child watcher reports 255
    when another waiter collected tshark first (seen under the full test suite). The packets
    were all read, and callers compare the whole sequence, so a real crash mid-file still
    shows as a missing packet."""
    from pyshark.capture.capture import TSharkCrashException

    try:
        cap.close()
    except TSharkCrashException:
        if not getattr(cap, "_eof_reached", False):
            raise


def _bind_watcher(loop: asyncio.AbstractEventLoop) -> tuple[Any, Any]:
    if threading.current_thread() is not threading.main_thread():
        return None, None  # signal handlers only work in the main thread
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # child watchers: deprecated 3.12
        previous = asyncio.get_child_watcher()
        watcher = asyncio.SafeChildWatcher()
        watcher.attach_loop(loop)
        asyncio.set_child_watcher(watcher)
    return watcher, previous


def _unbind_watcher(watcher: Any, previous: Any) -> None:
    if watcher is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_child_watcher(previous)
        watcher.close()


def _int(value: object) -> int | None:
    try:
        return int(str(value), 0)
    except (TypeError, ValueError):
        return None


def _field(layer: Any, name: str) -> Any:
    return layer.get_field(name) if layer is not None else None


def _tshark_nesting(pkt: Any, proto4: str) -> str | None:
    if hasattr(pkt, "dhcpv6"):
        f = _field(pkt.dhcpv6, "msgtype")
        if f is None:
            return "?"
        codes = [_int(x.show) for x in f.all_fields]
        return nesting([_name6(c) if c is not None else "?" for c in codes])
    if hasattr(pkt, proto4):
        f = _field(getattr(pkt, proto4), "option_dhcp")
        code = _int(f) if f is not None else None
        return _name4(code) if code is not None else "BOOTP"
    return None


def tshark_sequence(path: Path, ifmap: IfMap) -> list[Step]:
    """(sender port or MAC, nesting) of every kept DHCP frame, as Wireshark dissects it."""
    proto4 = dhcp4_protocol()
    out: list[Step] = []
    with _capture(path, f"{proto4} or dhcpv6") as cap:
        for pkt in cap:
            if hasattr(pkt, "sll"):
                sll = pkt.sll
                ifindex = _int(_field(sll, "ifindex"))
                pkttype = _int(_field(sll, "pkttype"))
                mac = _field(sll, "src_eth")
            else:
                ifindex = pkttype = None
                mac = _field(pkt.eth, "src") if hasattr(pkt, "eth") else None
            who = keep(ifindex, pkttype, str(mac) if mac is not None else None, ifmap)
            if who is None:
                continue
            msg = _tshark_nesting(pkt, proto4)
            if msg is not None:
                out.append((who, msg))
    return out


def throughput_pyshark(path: Path) -> float:
    """Packets per second pyshark dissects from ``path`` (every packet, no filter)."""
    start = time.perf_counter()
    n = 0
    with _capture(path, None) as cap:
        for _ in cap:
            n += 1
    elapsed = time.perf_counter() - start
    return n / elapsed if elapsed > 0 else float("inf")
