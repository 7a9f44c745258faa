"""Normalize decoded frames into a scenario-independent packet flow, the thing goldens hold.

A flow says who sent what to whom, broadcast or unicast, how deeply relayed and which way the
reply came back, and nothing that changes from run to run (xid, MACs, DUIDs, times, link-local
addresses, checksums, lease times, IAIDs, retransmission counts). ``normalize`` is pure, so it
runs in unit tests from checked-in pcaps; ``render`` gives the golden text.

Attribution: a ``tcpdump -i any`` capture in the switch namespace shows each frame once per
bridge port it crosses (OUTGOING when the bridge hands it to a node) plus once on the bridge
device for broadcast and multicast. Only the ingress copy on the sender's own port is kept, so
each transmission appears exactly once and its sender is that port's node. Captures without
cooked headers (Ethernet) are attributed by source MAC, then source IP.

Text format (one line per transmission, then one line per exchange)::

    # dhcp-lab flow v1
    client -> broadcast        DISCOVER     hops=0 giaddr=-      flags=- ciaddr=-       ...
    ...
    exchange DISCOVER -> OFFER: client > relay > lb > server, reply server > relay > client (DSR: the reply skips lb)
"""  # noqa: E501

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from lab.errors import DecodeError
from lab.ifmap import IfMap
from lab.records import Dhcp4, Dhcp4Type, Dhcp6, Dhcp6Option, Dhcp6Type, Frame, PacketType, bulk
from lab.topology import link_local

HEADER = "# dhcp-lab flow v1"

BROADCAST = "broadcast"
ALL_DHCP_AGENTS = "all-dhcp-agents"  # ff02::1:2, All_DHCP_Relay_Agents_and_Servers
CLIENT = "client"
IN_POOL = "in-pool"
LINK_LOCAL = "link-local"  # a link-local address of no known node: abstracted, never literal

# Column widths: fixed, so one changed line never re-pads the others in a diff.
SENDER_W = 10
RECEIVER_W = 15
MESSAGE_W = {4: 11, 6: 34}

# What a golden line looks like; lab.golden validates files with these.
LINE_RE = re.compile(
    r"^(?P<sender>[a-z][a-z0-9_.-]*) +-> (?P<receiver>[0-9A-Za-z:._-]+) +"
    r"(?P<message>[A-Z][A-Z0-9()?-]*)(?P<fields>(?: +[a-z0-9]+=\S+)*)$"
)
EXCHANGE_RE = re.compile(r"^exchange (?P<request>[A-Z][A-Z0-9-]*)(?: -> [A-Z][A-Z0-9/-]*)?: \S.*$")

_V4_REPLIES: dict[str, frozenset[str]] = {
    "DISCOVER": frozenset({"OFFER"}),
    "REQUEST": frozenset({"ACK", "NAK"}),
    "INFORM": frozenset({"ACK"}),
    "DECLINE": frozenset(),
    "RELEASE": frozenset(),
}
_V6_REPLIES: dict[str, frozenset[str]] = {
    "SOLICIT": frozenset({"ADVERTISE", "REPLY"}),
    **{t: frozenset({"REPLY"}) for t in (
        "REQUEST", "CONFIRM", "RENEW", "REBIND", "RELEASE", "DECLINE", "INFORMATION-REQUEST")},
}
_V6_CLIENT_MSGS = frozenset(_V6_REPLIES)
_V6_STATUS = {0: "Success", 1: "UnspecFail", 2: "NoAddrsAvail", 3: "NoBinding",
              4: "NotOnLink", 5: "UseMulticast", 6: "NoPrefixAvail"}
_MAX_DEPTH = 40  # relay layers walked; the decoder already caps nesting at 32
_OUTGOING = PacketType.OUTGOING


@dataclass(frozen=True)
class FlowStats:
    """Where the frames went; not part of the golden (the numbers vary run to run).

    Fields: frames (given), kept (attributed transmissions, before folding), copies (the
    same transmission seen again on another port or the bridge), unknown (on an interface
    not in the map, or from a MAC/IP the map doesn't know: dropped, never guessed),
    folded (retransmissions folded into an earlier line).
    """

    frames: int = 0
    kept: int = 0
    copies: int = 0
    unknown: int = 0
    folded: int = 0


@dataclass(frozen=True)
class FlowLine:
    """One transmission. Fields: sender and receiver (roles), family (4/6), message (relay
    nesting, e.g. RELAY-FORW(SOLICIT)), inner (innermost message type), xid (innermost
    transaction, not rendered), cast ("unicast"/"broadcast"/"multicast"), fields (rendered
    key=value tokens), text (the golden line), first (frame number of the first copy),
    count (frames folded into this line, retransmissions included; not rendered)."""

    sender: str
    receiver: str
    family: int
    message: str
    inner: str
    xid: int | None
    cast: str
    fields: tuple[str, ...]
    text: str
    first: int
    count: int = 1


@dataclass(frozen=True)
class Exchange:
    """A client request and the reply to it, matched by the innermost xid.

    Fields: family, request (type), replies (types seen, in order; empty: no reply),
    path (nodes the request went through), reply_path, note (how the reply came back),
    text (the golden line).
    """

    family: int
    request: str
    replies: tuple[str, ...]
    path: tuple[str, ...]
    reply_path: tuple[str, ...]
    note: str
    text: str


@dataclass(frozen=True)
class Flow:
    """The normalized flow: lines in first-seen order, exchange summaries, stats."""

    lines: tuple[FlowLine, ...]
    exchanges: tuple[Exchange, ...]
    stats: FlowStats

    @property
    def summary(self) -> tuple[str, ...]:
        return tuple(e.text for e in self.exchanges)


def render(flow: Flow) -> str:
    """The golden text of a flow: header, transmissions, blank line, exchanges."""
    out = [HEADER, *(line.text for line in flow.lines)]
    if flow.exchanges:
        out.append("")
        out.extend(flow.summary)
    return "\n".join(out) + "\n"


# -- address abstraction ----------------------------------------------------------------------


class _Namer:
    """Turns addresses into roles; caches, since a capture repeats a handful of addresses."""

    def __init__(self, ifmap: IfMap) -> None:
        self.roles: dict[str, str] = {}
        for mac, role in ifmap.macs.items():
            try:
                self.roles[link_local(mac)] = role
            except ValueError:
                continue
        self.roles.update(ifmap.addresses)
        self.pools: list[tuple[int, int, int]] = []
        for fam, (first, last) in sorted(ifmap.pools.items()):
            self.pools.append((fam, int(ipaddress.ip_address(first)),
                               int(ipaddress.ip_address(last))))
        self.nodes = frozenset(ifmap.addresses.values()) | frozenset(ifmap.macs.values()) | {
            e.node for e in ifmap.interfaces.values() if e.node} | {CLIENT}
        self._value: dict[str, str] = {}
        self._receiver: dict[str, tuple[str, str]] = {}

    def _in_pool(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        n = int(addr)
        return any(fam == addr.version and lo <= n <= hi for fam, lo, hi in self.pools)

    def value(self, ip: str) -> str:
        """An address inside a message: role, in-pool, '-' for unset v4, or the literal."""
        v = self._value.get(ip)
        if v is None:
            if ip == "0.0.0.0":
                v = "-"
            elif ip in self.roles:
                v = self.roles[ip]
            elif self._in_pool(ip):
                v = IN_POOL
            elif ip.lower().startswith("fe80:"):
                v = LINK_LOCAL
            else:
                v = ip
            self._value[ip] = v
        return v

    def receiver(self, ip: str) -> tuple[str, str]:
        """(receiver role, cast) for a destination IP."""
        r = self._receiver.get(ip)
        if r is None:
            if ip == "255.255.255.255":
                r = (BROADCAST, "broadcast")
            elif ip.lower() == "ff02::1:2":
                r = (ALL_DHCP_AGENTS, "multicast")
            elif ip in self.roles:
                r = (self.roles[ip], "unicast")
            elif self._in_pool(ip):
                r = (CLIENT, "unicast")
            elif ip.lower().startswith("ff"):
                r = (ip, "multicast")
            elif ip.lower().startswith("fe80:"):
                r = (LINK_LOCAL, "unicast")
            elif ip.endswith(".255"):
                r = (ip, "broadcast")
            else:
                r = (ip, "unicast")
            self._receiver[ip] = r
        return r


# -- message rendering --------------------------------------------------------------------------


_NAMES4: dict[object, str] = {t: t.name for t in Dhcp4Type}
_NAMES6: dict[object, str] = {t: t.name.replace("_", "-") for t in Dhcp6Type}


def _type_name(t: object, names: dict[object, str]) -> str:
    name = names.get(t)
    if name is not None:
        return name
    return f"TYPE{int(t)}" if isinstance(t, int) else "?"


def _tok(key: str, value: str, width: int = 0) -> str:
    return f"{key}={value}".ljust(width)


def _v4(msg: Dhcp4, sender: str, receiver: str, sport: int, dport: int,
        name: _Namer) -> tuple[str, str, tuple[str, ...]]:
    """(message, innermost type, fields) of a DHCPv4 message."""
    if msg.msg_type is not None:
        mtype = _type_name(msg.msg_type, _NAMES4)
    else:
        mtype = "BOOTREQUEST" if msg.op == 1 else "BOOTREPLY" if msg.op == 2 else f"OP{msg.op}"
    flags = msg.flags
    flag = "-" if flags == 0 else "B" if flags == 0x8000 else f"0x{flags:04x}"
    opt82 = "no"
    for code, _ in msg.options:
        if code == 82:
            opt82 = "yes"
            break
    value = name.value
    fields = [
        f"hops={msg.hops}".ljust(6),
        f"giaddr={value(msg.giaddr)}".ljust(17),
        f"flags={flag}".ljust(7),
        f"ciaddr={value(msg.ciaddr)}".ljust(17),
        f"yiaddr={value(msg.yiaddr)}".ljust(17),
        f"opt82={opt82}",
    ]
    want_sport = 68 if sender == CLIENT else 67
    want_dport = 68 if msg.op == 2 and receiver in (CLIENT, BROADCAST) else 67
    if sport != want_sport or dport != want_dport:
        fields.append(f"ports={sport}>{dport}")
    return mtype, mtype, tuple(fields)


def _status(opt: Dhcp6Option, out: list[str]) -> None:
    value = opt.value
    if isinstance(value, tuple) and value and value[0] != 0:
        code = value[0]
        out.append(_V6_STATUS.get(code, str(code)) if isinstance(code, int) else "?")


def _v6_lease(opts: tuple[Dhcp6Option, ...], name: _Namer) -> tuple[list[str], list[str]]:
    """(leased addresses, non-Success status codes) of the innermost message: its IA_NA ->
    IAADDR options, and status codes at message, IA and address level."""
    addrs: list[str] = []
    statuses: list[str] = []
    for opt in opts:
        code = opt.code
        if code == 13:
            _status(opt, statuses)
        elif code == 3 or code == 4:
            value = opt.value
            if not isinstance(value, tuple) or not value or not isinstance(value[-1], tuple):
                continue
            for sub in value[-1]:
                if not isinstance(sub, Dhcp6Option):
                    continue
                if sub.code == 13:
                    _status(sub, statuses)
                elif sub.code == 5 and isinstance(sub.value, tuple) and sub.value:
                    if code == 3 and isinstance(sub.value[0], str):
                        addrs.append(name.value(sub.value[0]))
                    if isinstance(sub.value[-1], tuple):
                        for s2 in sub.value[-1]:
                            if isinstance(s2, Dhcp6Option) and s2.code == 13:
                                _status(s2, statuses)
    return addrs, statuses


def _v6(msg: Dhcp6, sport: int, dport: int,
        name: _Namer) -> tuple[str, str, int | None, tuple[str, ...]]:
    """(message, innermost type, innermost xid, fields) of a DHCPv6 message."""
    layers: list[Dhcp6] = []
    m: Dhcp6 | None = msg
    while m is not None and m.is_relay and len(layers) < _MAX_DEPTH:
        layers.append(m)
        m = m.inner
    if m is not None:
        inner = _type_name(m.msg_type, _NAMES6)
        addrs, statuses = _v6_lease(m.options, name)
    else:
        inner = "?"
        addrs, statuses = [], []
    fields = [f"addr={','.join(addrs) or '-'}".ljust(13)]
    if layers:
        value = name.value
        names = [_type_name(x.msg_type, _NAMES6) for x in layers]
        message = "(".join(names) + "(" + inner + ")" * len(layers)
        fields += [
            "hop=" + ",".join(str(x.hop_count) for x in layers),
            "link=" + ",".join(value(x.link_address or "::") for x in layers),
            "peer=" + ",".join(value(x.peer_address or "::") for x in layers),
            "ifid=" + ",".join(
                "yes" if any(o.code == 18 for o in x.options) else "no" for x in layers),
        ]
        want = (547, 547)
    else:
        message = inner
        want = (546, 547) if inner in _V6_CLIENT_MSGS else (547, 546)
    if statuses:
        fields.append("status=" + ",".join(statuses))
    if sport != want[0] or dport != want[1]:
        fields.append(f"ports={sport}>{dport}")
    return message, inner, (m.xid if m is not None else None), tuple(fields)


def _line_text(sender: str, receiver: str, family: int, message: str,
               fields: tuple[str, ...]) -> str:
    head = f"{sender.ljust(SENDER_W)} -> {receiver.ljust(RECEIVER_W)}  "
    body = message.ljust(MESSAGE_W.get(family, 0))
    return (head + body + "  " + " ".join(fields)).rstrip() if fields else (
        head + message).rstrip()


# -- attribution ---------------------------------------------------------------------------------


def _sender(frame: Frame, ifmap: IfMap, macs: dict[str, str],
            namer: _Namer) -> tuple[str | None, bool]:
    """(sender role, is_copy). (None, False): unknown, drop and count. (None, True): a copy."""
    if frame.pkttype is not None and frame.ifindex is not None:
        entry = ifmap.interfaces.get(frame.ifindex)
        if entry is None:
            return None, False
        if entry.kind != "port" or frame.pkttype is _OUTGOING:
            return None, True
        return entry.node, False
    if frame.pkttype is _OUTGOING:  # cooked v1: no ifindex, but direction is known
        return None, True
    if frame.src_mac is not None:
        role = macs.get(frame.src_mac.lower())
        if role is not None:
            return role, False
    return namer.roles.get(frame.src_ip), False


def normalize(frames: Sequence[Frame], ifmap: IfMap) -> Flow:
    """Attribute, abstract and fold the frames of one capture into a Flow. Pure."""
    with bulk():
        return _normalize(frames, ifmap)


def _normalize(frames: Sequence[Frame], ifmap: IfMap) -> Flow:
    namer = _Namer(ifmap)
    macs = {k.lower(): v for k, v in ifmap.macs.items()}
    port_node = {i: e.node for i, e in ifmap.interfaces.items() if e.kind == "port" and e.node}
    known = ifmap.interfaces
    copies = unknown = kept = folded = 0
    first: dict[tuple[str, int, int | None], FlowLine] = {}
    counts: dict[tuple[str, int, int | None], int] = {}
    for frame in frames:
        ifindex = frame.ifindex
        if frame.pkttype is not None and ifindex is not None:  # the fast path: cooked v2
            sender = port_node.get(ifindex)
            if sender is None or frame.pkttype is _OUTGOING:
                entry = known.get(ifindex)
                if entry is not None and (entry.kind != "port" or sender is not None):
                    copies += 1  # egress copy on a receiver's port, or the bridge's own copy
                else:
                    unknown += 1  # not in the map, or a port of no node: never guessed
                continue
        else:
            sender, is_copy = _sender(frame, ifmap, macs, namer)
            if sender is None:
                if is_copy:
                    copies += 1
                else:
                    unknown += 1
                continue
        kept += 1
        receiver, cast = namer.receiver(frame.dst_ip)
        msg = frame.dhcp
        family = frame.ip_version
        xid: int | None
        if isinstance(msg, Dhcp4):
            message, inner, fields = _v4(msg, sender, receiver, frame.sport, frame.dport, namer)
            xid = msg.xid
        elif isinstance(msg, Dhcp6):
            message, inner, xid, fields = _v6(msg, frame.sport, frame.dport, namer)
        else:
            message = inner = "NOT-DHCP"
            xid = None
            fields = (_tok("ports", f"{frame.sport}>{frame.dport}"),)
        text = _line_text(sender, receiver, family, message, fields)
        key = (text, family, xid)
        seen = first.get(key)
        if seen is not None:
            folded += 1
            counts[key] += 1
            if frame.index < seen.first:  # input order of duplicates must not matter
                first[key] = replace(seen, first=frame.index)
            continue
        first[key] = FlowLine(sender, receiver, family, message, inner, xid, cast, fields,
                              text, frame.index)
        counts[key] = 1
    built = sorted((replace(line, count=counts[key]) if counts[key] > 1 else line
                    for key, line in first.items()), key=lambda ln: ln.first)
    lines = tuple(built)
    stats = FlowStats(frames=len(frames), kept=kept, copies=copies, unknown=unknown,
                      folded=folded)
    return Flow(lines, _exchanges(lines, namer.nodes), stats)


# -- exchanges ----------------------------------------------------------------------------------


def _is_balancer(role: str) -> bool:
    return role.startswith("lb")


def _path(lines: list[FlowLine], nodes: frozenset[str]) -> list[str]:
    path: list[str] = []
    for ln in lines:
        if ln.sender not in path:
            path.append(ln.sender)
    last = lines[-1].receiver
    if last in nodes and last not in path:
        path.append(last)
    return path


def _exchanges(lines: tuple[FlowLine, ...], nodes: frozenset[str]) -> tuple[Exchange, ...]:
    """Pair each client request with its reply by innermost xid and name the reply path."""
    starts: dict[tuple[int, int | None, str], list[FlowLine]] = {}
    by_xid: dict[tuple[int, int | None], list[FlowLine]] = {}
    for ln in lines:
        by_xid.setdefault((ln.family, ln.xid), []).append(ln)
        table = _V4_REPLIES if ln.family == 4 else _V6_REPLIES
        if ln.inner in table:
            starts.setdefault((ln.family, ln.xid, ln.inner), []).append(ln)
    out: list[Exchange] = []
    for (family, xid, request), req_lines in starts.items():
        table = _V4_REPLIES if family == 4 else _V6_REPLIES
        wanted = table[request]
        rep_lines = [ln for ln in by_xid[(family, xid)] if ln.inner in wanted]
        path = _path(req_lines, nodes)
        last = req_lines[-1].receiver
        if last not in nodes:
            if rep_lines and rep_lines[0].sender not in path:
                path.append(rep_lines[0].sender)  # whoever answered heard the broadcast
            elif not rep_lines:
                path.append(last)
        head = f"exchange {request}"
        if not rep_lines:
            if wanted:
                text = f"{head}: {' > '.join(path)}, NO REPLY"
                note = "NO REPLY"
            else:
                text = f"{head}: {' > '.join(path)} (no reply expected)"
                note = "no reply expected"
            out.append(Exchange(family, request, (), tuple(path), (), note, text))
            continue
        replies = tuple(dict.fromkeys(ln.inner for ln in rep_lines))
        reply_path = _path(rep_lines, nodes)
        if reply_path[-1] != CLIENT:
            note = "the reply did not reach the client"
        elif len(reply_path) == 2:
            note = "direct"
        elif any(_is_balancer(r) for r in reply_path):
            note = "through the balancer"
        elif any(_is_balancer(r) for r in path):
            note = "DSR: the reply skips lb"
        else:
            note = "relayed"
        text = (f"{head} -> {'/'.join(replies)}: {' > '.join(path)}, "
                f"reply {' > '.join(reply_path)} ({note})")
        out.append(Exchange(family, request, replies, tuple(path), tuple(reply_path), note,
                            text))
    return tuple(out)


def check_attributed(flow: Flow, mapfile: object) -> None:
    """Refuse a flow whose DHCP frames the interface map could not place.

    Frames on interfaces the map doesn't know are dropped, never guessed; when there are any,
    the map belongs to another capture and the flow would silently miss transmissions.
    """
    if flow.stats.unknown:
        raise DecodeError(
            f"{flow.stats.unknown} DHCP frame(s) came from interfaces or addresses that the "
            f"interface map {mapfile} does not know: it belongs to another capture; pass the "
            "capture's own ifmap.json (--ifmap)"
        )
