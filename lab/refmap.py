"""Interface maps for captures the lab did not record itself.

The reference captures (recorded with the public dhcplb lab) come with a JSON map in their own
shape: ``interfaces_by_index`` whose ``bridge_port_of`` reads like "relay (int leg)" or
"lb (relay mode) / dut (server mode)", and ``sender_mac_to_port``. This module turns that into
an ``IfMap``, with the lab-facts default addresses from ``lab.topology`` and the EUI-64
link-local address of every known MAC, so the normalizer can treat them like lab captures.
``synth_ifmap`` does the same for ``lab.synth`` captures (benchmarks).
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

from lab.errors import DecodeError
from lab.ifmap import IfEntry, IfMap
from lab.topology import POOL4, POOL6, build, link_local

# (node, leg) -> lab link name, per lab-facts.md.
_LINKS = {
    ("client", None): "cli",
    ("relay", "int"): "rly-int",
    ("relay", "ext"): "rly-ext",
    ("lb", None): "lb",
    ("server", "ext"): "srv",
    ("server", None): "srv",
    ("server", "int"): "srv-int",
    ("dut", None): "dut",
}
_ROLE_RE = re.compile(r"^\s*(?P<node>[a-z][a-z0-9-]*)\s*(?:\((?P<what>[^)]*)\))?\s*$")


def parse_port_of(text: str, mode: str) -> tuple[str, str | None] | None:
    """'relay (int leg)' -> ('relay', 'int'); 'lb (relay mode) / dut (server mode)' in server
    mode -> ('dut', None); 'bridge int' -> None (a bridge, not a port)."""
    if text.startswith("bridge "):
        return None
    for alt in text.split("/"):
        m = _ROLE_RE.match(alt)
        if m is None:
            raise DecodeError(f"reference map: can't read port description {text!r}")
        what = (m.group("what") or "").strip()
        if what.endswith(" mode"):
            if what[: -len(" mode")] != mode:
                continue
            return m.group("node"), None
        return m.group("node"), (what[: -len(" leg")] if what.endswith(" leg") else None)
    raise DecodeError(f"reference map: port description {text!r} has no node for {mode} mode")


def from_reference(raw: dict[str, Any], mode: str, lab: str = "reference") -> IfMap:
    """Build an IfMap from a reference capture's JSON map (already parsed)."""
    topo = build("ref", mode)
    bridge_of = {i.link: i.bridge.rsplit("-", 1)[-1] for i in topo.ifaces}
    role_of = {i.link: i.role for i in topo.ifaces}
    interfaces: dict[int, IfEntry] = {}
    try:
        for index, info in raw["interfaces_by_index"].items():
            desc = str(info["bridge_port_of"])
            name = str(info["name"])
            port = parse_port_of(desc, mode)
            if port is None:
                interfaces[int(index)] = IfEntry(name, "bridge", None, None,
                                                 desc.split(" ", 1)[1])
                continue
            node, leg = port
            link = _LINKS.get((node, leg))
            interfaces[int(index)] = IfEntry(name, "port", role_of[link] if link else node,
                                             link, bridge_of.get(link or ""))
        macs: dict[str, str] = {}
        for mac, info in raw.get("sender_mac_to_port", {}).items():
            port = parse_port_of(str(info["node"]), mode)
            if port is not None:
                link = _LINKS.get(port)
                macs[mac.lower()] = role_of[link] if link else port[0]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DecodeError(f"reference map is malformed: {exc!r}") from exc
    addresses: dict[str, str] = {}
    for i in topo.ifaces:
        for cidr in i.addrs:
            addresses[str(ipaddress.ip_interface(cidr).ip)] = i.role
    for mac, role in macs.items():
        addresses[link_local(mac)] = role
    return IfMap(lab, mode, interfaces, macs, addresses, {4: topo.pool4, 6: topo.pool6})


def load_reference(path: Path, mode: str) -> IfMap:
    """Read ``*.any.json`` next to a reference pcap. ``mode`` is "relay" or "server"."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DecodeError(f"reference map {path} can't be read: {exc}") from exc
    if not isinstance(raw, dict):
        raise DecodeError(f"reference map {path} is not a JSON object")
    return from_reference(raw, mode, lab=path.name)


def mode_of(path: Path) -> str:
    """The mode a reference capture was recorded in, from its name (dhcplb-relay-v6...)."""
    for mode in ("relay", "server"):
        if f"-{mode}-" in path.name:
            return mode
    raise DecodeError(f"can't tell the mode of reference capture {path.name}")


def synth_ifmap() -> IfMap:
    """The map of a ``lab.synth`` capture: its ports, MACs and addresses (relay mode)."""
    from lab import synth  # imported here: synth pulls in writers a normal run never needs

    roles = {"client": "client", "relay-int": "relay.int", "relay-ext": "relay.ext",
             "lb": "lb", "server": "server.ext", "server-int": "server.int", "lb2": "lb2"}
    interfaces = {index: IfEntry(f"p-{port}", "port", roles[port], port, None)
                  for port, (index, _) in synth.PORTS.items()}
    macs = {mac: roles[port] for port, (_, mac) in synth.PORTS.items()}
    addresses = {
        synth.RELAY_INT4: "relay.int", synth.RELAY_EXT4: "relay.ext", synth.LB4: "lb",
        synth.SERVER4: "server.ext", synth.SERVER_INT4: "server.int",
        synth.RELAY_LL6: "relay.int",
        **{addr: roles[port] for port, addr in synth.ADDR6.items()},
        synth.RELAY_INT6: "relay.int",
    }
    return IfMap("synth", "relay", interfaces, macs, addresses, {4: POOL4, 6: POOL6})
