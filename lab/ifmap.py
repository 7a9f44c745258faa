"""The interface map recorded next to every pcap: which capture interface and MAC belongs
to which lab node. A pcap keeps only interface indexes, so the lab writes this at capture
time; the normalizer reads it to attribute each frame to its sender.

Format (JSON)::

    {"format": "dhcp-lab/ifmap/1", "lab": NAME, "mode": MODE,
     "interfaces": {"<ifindex>": {"name": IFNAME, "kind": "port"|"bridge"|"node",
                                  "node": ROLE|null, "link": LINK|null, "bridge": BR|null}},
     # ROLE is the node, or node.leg for a node on both bridges (relay.int, server.ext)
     "macs": {"<mac>": ROLE},
     "addresses": {"<ip>": ROLE},            # every static and link-local lab address
     "pools": {"4": [FIRST, LAST], "6": [FIRST, LAST]}}
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

from lab.errors import DecodeError
from lab.topology import Topology

FORMAT = "dhcp-lab/ifmap/1"


@dataclass(frozen=True)
class IfEntry:
    name: str
    kind: str
    node: str | None
    link: str | None
    bridge: str | None


@dataclass(frozen=True)
class IfMap:
    """Fields: lab, mode, interfaces (ifindex -> IfEntry), macs (mac -> role),
    addresses (ip -> role), pools (family -> (first, last))."""

    lab: str
    mode: str
    interfaces: dict[int, IfEntry]
    macs: dict[str, str]
    addresses: dict[str, str]
    pools: dict[int, tuple[str, str]]

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "lab": self.lab, "mode": self.mode,
            "interfaces": {str(k): vars(v) for k, v in sorted(self.interfaces.items())},
            "macs": self.macs, "addresses": self.addresses,
            "pools": {str(k): list(v) for k, v in self.pools.items()},
        }, indent=1) + "\n"


def from_topology(topo: Topology, links: list[dict[str, object]]) -> IfMap:
    """Build the map from the topology and ``ip -j link`` of the switch namespace."""
    by_port = {i.port: i for i in topo.ifaces}
    bridges = {b for _, b in topo.bridges}
    interfaces: dict[int, IfEntry] = {}
    for link in links:
        name = str(link.get("ifname", ""))
        index = int(str(link.get("ifindex", 0)))
        if name in by_port:
            i = by_port[name]
            interfaces[index] = IfEntry(name, "port", i.role, i.link, i.bridge)
        elif name in bridges:
            interfaces[index] = IfEntry(name, "bridge", None, None, name)
    macs = {i.mac: i.role for i in topo.ifaces}
    addresses: dict[str, str] = {}
    for i in topo.ifaces:
        addresses[i.link_local] = i.role
        for cidr in i.addrs:
            addresses[str(ipaddress.ip_interface(cidr).ip)] = i.role
    return IfMap(topo.name, topo.mode, interfaces, macs, addresses,
                 {4: topo.pool4, 6: topo.pool6})


def load(path: Path) -> IfMap:
    try:
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict):
            raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
        if raw.get("format") != FORMAT:
            raise ValueError(f"format is {raw.get('format')!r}, expected {FORMAT!r}")
        return IfMap(
            lab=raw["lab"], mode=raw["mode"],
            interfaces={int(k): IfEntry(**v) for k, v in raw["interfaces"].items()},
            macs=dict(raw["macs"]), addresses=dict(raw["addresses"]),
            pools={int(k): (v[0], v[1]) for k, v in raw["pools"].items()},
        )
    except FileNotFoundError as exc:
        raise DecodeError(f"interface map {path} is missing: capture with the lab, or pass "
                          "--ifmap") from exc
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise DecodeError(f"interface map {path} is malformed: {exc}") from exc
