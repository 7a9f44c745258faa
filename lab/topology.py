"""Topology specs: frozen data that names every object a lab will own. No side effects.

A lab is one switch namespace holding its bridges, plus one namespace per node. Every veth
has its node end inside the node's namespace and its bridge port inside the switch namespace,
so nothing of a lab lives in the host's own namespace and the host firewall never sees the
lab's bridged frames. Every name carries the lab's instance name, so labs can coexist.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

from lab.defaults import MODES
from lab.errors import UsageError

IFNAMSIZ = 15  # bytes an interface name may hold (IFNAMSIZ - 1)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")

POOL4 = ("192.168.100.10", "192.168.100.50")
POOL6 = ("fd00:100::10", "fd00:100::50")


@dataclass(frozen=True)
class Iface:
    """One veth: node end ``name`` in ``ns``, bridge end ``port`` on ``bridge`` in the switch ns.

    Fields: node (role), link (short link name from lab-facts), name, port, bridge, mac,
    port_mac, addrs (CIDR strings, global v4/v6 without the link-local), link_local, and
    role: the node, qualified by its leg (``relay.int``, ``server.ext``) when the node has
    one on each bridge, so a flow shows which leg a packet left or reached.
    """

    node: str
    link: str
    ns: str
    name: str
    port: str
    bridge: str
    mac: str
    port_mac: str
    addrs: tuple[str, ...]
    link_local: str
    role: str = ""


@dataclass(frozen=True)
class Route:
    """A static route inside a node: ``dst`` via ``via``."""

    node: str
    dst: str
    via: str


@dataclass(frozen=True)
class Node:
    """A namespace with a role; ``forwarding`` turns on routing with rp_filter off."""

    role: str
    ns: str
    forwarding: bool = False


@dataclass(frozen=True)
class Topology:
    """Everything a lab owns, by name. Fields: name, mode, switch_ns, nodes, bridges
    (bridge key -> name), ifaces, routes, pool4, pool6."""

    name: str
    mode: str
    switch_ns: str
    nodes: tuple[Node, ...]
    bridges: tuple[tuple[str, str], ...]
    ifaces: tuple[Iface, ...]
    routes: tuple[Route, ...]
    pool4: tuple[str, str] = POOL4
    pool6: tuple[str, str] = POOL6

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.switch_ns, *(n.ns for n in self.nodes))

    def node(self, role: str) -> Node:
        for n in self.nodes:
            if n.role == role:
                return n
        roles = ", ".join(n.role for n in self.nodes)
        raise UsageError(f"unknown node {role!r} in {self.mode} mode; choose one of: {roles}")

    def ifaces_of(self, role: str) -> tuple[Iface, ...]:
        return tuple(i for i in self.ifaces if i.node == role)

    def iface(self, link: str) -> Iface:
        for i in self.ifaces:
            if i.link == link:
                return i
        raise KeyError(link)

    def bridge(self, key: str) -> str:
        return dict(self.bridges)[key]

    def addr(self, link: str, family: int) -> str:
        """The address (no prefix) of ``link`` in ``family``."""
        for cidr in self.iface(link).addrs:
            ip = ipaddress.ip_interface(cidr)
            if ip.version == family:
                return str(ip.ip)
        raise KeyError((link, family))


# (node, link, bridge key, addresses) per mode, straight from lab-facts.md.
_LINKS: dict[str, tuple[tuple[str, str, str, tuple[str, ...]], ...]] = {
    "relay": (
        ("client", "cli", "int", ()),
        ("relay", "rly-int", "int", ("192.168.100.1/24", "fd00:100::1/64")),
        ("relay", "rly-ext", "ext", ("192.168.200.1/24", "fd00:200::1/64")),
        ("lb", "lb", "ext", ("192.168.200.2/24", "fd00:200::2/64")),
        ("server", "srv", "ext", ("192.168.200.3/24", "fd00:200::3/64")),
        ("server", "srv-int", "int", ("192.168.100.3/24", "fd00:100::3/64")),
    ),
    "server": (
        ("client", "cli", "int", ()),
        ("dut", "dut", "int", ("192.168.100.1/24", "fd00:100::1/64")),
    ),
}
_ROUTES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "relay": (
        ("lb", "192.168.100.0/24", "192.168.200.1"),
        ("lb", "fd00:100::/64", "fd00:200::1"),
    ),
    "server": (),
}
_FORWARDING = {"relay"}


def _mac(name: str, salt: str) -> str:
    """A stable, locally administered unicast MAC for (lab, object): reproducible flows."""
    digest = hashlib.sha256(f"{name}/{salt}".encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))


def link_local(mac: str) -> str:
    """The EUI-64 link-local address of ``mac`` (what the kernel would generate)."""
    b = bytearray(int(x, 16) for x in mac.split(":"))
    eui = bytes([b[0] ^ 0x02, b[1], b[2], 0xFF, 0xFE, b[3], b[4], b[5]])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui))


def leg_role(node: str, bridge_key: str) -> str:
    """The role of a multi-homed node's leg on bridge ``bridge_key``: ``relay.int``."""
    return f"{node}.{bridge_key}"


def check_name(name: str) -> None:
    """Refuse a lab name that isn't a plain token or would overflow an interface name."""
    if not NAME_RE.match(name):
        raise UsageError(
            f"lab name {name!r} is invalid: use lower-case letters, digits and '-', "
            "starting with a letter or digit"
        )


def build(name: str, mode: str) -> Topology:
    """The topology of lab ``name`` in ``mode``. Raises UsageError up front on bad input."""
    topo = _layout(name, mode)
    _check_ifnames(topo)
    return topo


def _layout(name: str, mode: str) -> Topology:
    """The topology's names and addresses, without the interface-length check."""
    check_name(name)
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    bridges = tuple(
        (key, f"{name}-br-{key}") for key in dict.fromkeys(b for _, _, b, _ in _LINKS[mode])
    )
    bridge_names = dict(bridges)
    roles = tuple(dict.fromkeys(n for n, _, _, _ in _LINKS[mode]))
    nodes = tuple(Node(role, f"{name}-{role}", role in _FORWARDING) for role in roles)
    ns_of = {n.role: n.ns for n in nodes}
    ifaces = []
    legs: dict[str, int] = {}
    for node, _, _, _ in _LINKS[mode]:
        legs[node] = legs.get(node, 0) + 1
    for node, link, bkey, addrs in _LINKS[mode]:
        mac = _mac(name, link)
        ifaces.append(
            Iface(
                node=node,
                link=link,
                ns=ns_of[node],
                name=f"{name}-{link}",
                port=f"{name}-p-{link}",
                bridge=bridge_names[bkey],
                mac=mac,
                port_mac=_mac(name, "p-" + link),
                addrs=addrs,
                link_local=link_local(mac),
                role=leg_role(node, bkey) if legs[node] > 1 else node,
            )
        )
    topo = Topology(
        name=name,
        mode=mode,
        switch_ns=f"{name}-sw",
        nodes=nodes,
        bridges=bridges,
        ifaces=tuple(ifaces),
        routes=tuple(Route(*r) for r in _ROUTES[mode]),
    )
    return topo


def _check_ifnames(topo: Topology) -> None:
    names = [b for _, b in topo.bridges]
    names += [i.name for i in topo.ifaces] + [i.port for i in topo.ifaces]
    longest = max(names, key=lambda n: len(n.encode()))
    if len(longest.encode()) > IFNAMSIZ:
        room = IFNAMSIZ - (len(longest.encode()) - len(topo.name.encode()))
        raise UsageError(
            f"lab name {topo.name!r} is too long: interface {longest!r} would exceed "
            f"{IFNAMSIZ} bytes; use a name of at most {room} characters"
        )


def all_namespaces(name: str) -> tuple[str, ...]:
    """Every namespace lab ``name`` could own, in any mode.

    A name may be too long for one mode's interfaces and fine for another's, so this never
    checks interface lengths: ``down`` must accept every name some mode could ``up``.
    """
    out: list[str] = []
    for mode in MODES:
        out += _layout(name, mode).namespaces
    return tuple(dict.fromkeys(out))


def ownership_marks(name: str) -> dict[str, set[tuple[str, str]]]:
    """Per namespace lab ``name`` could own: the (interface, MAC) pairs only it creates there.

    The MACs are derived from the lab name, so a namespace holding one of them was built by
    this lab; one with a look-alike or identical name but none of them was not.
    """
    out: dict[str, set[tuple[str, str]]] = {}
    for mode in MODES:
        topo = _layout(name, mode)
        for i in topo.ifaces:
            out.setdefault(i.ns, set()).add((i.name, i.mac))
            out.setdefault(topo.switch_ns, set()).add((i.port, i.port_mac))
    return out
