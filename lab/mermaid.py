"""Render a normalized flow as a Mermaid sequence diagram, for reports and pull requests.

One arrow per flow line: solid for unicast, dashed for broadcast and multicast. Broadcast and
the All_DHCP_Relay_Agents_and_Servers group are drawn as participants next to the client, so a
reader sees at a glance which messages went to everyone. Each exchange summary becomes a Note.
"""

from __future__ import annotations

import re

from lab.flow import ALL_DHCP_AGENTS, BROADCAST, Flow

# Chain order: how a DHCP request travels (by node; a node's legs stay together). Unknown
# roles follow in order of appearance.
CHAIN = ("client", BROADCAST, ALL_DHCP_AGENTS, "relay", "lb", "lb2", "server", "dut")
_LABELS = {BROADCAST: "broadcast 255.255.255.255", ALL_DHCP_AGENTS: "all-dhcp-agents ff02::1:2"}
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_]")
# Mermaid ends a text at '#' (comment) and ';' (statement break), reads '%%' as a comment and
# '<...>' as HTML; its entity codes (#NN;) are decoded after parsing, so they are safe.
_ESCAPES = {"#": "#35;", ";": "#59;", "%": "#37;", "<": "#60;"}
_ESCAPE_RE = re.compile("[" + re.escape("".join(_ESCAPES)) + "]")


def escape(text: str) -> str:
    """Make text safe inside a Mermaid message, note or participant alias."""
    text = " ".join(text.split())  # no newlines or tabs: one statement per line
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], text)


def _ident(name: str, taken: dict[str, str]) -> str:
    base = _UNSAFE_ID.sub("_", name) or "p"
    if base[0].isdigit():
        base = "p_" + base
    if base.lower() in ("end", "participant", "actor", "note", "loop", "alt", "opt", "par",
                        "rect", "critical", "break", "box", "as", "and", "else"):
        base = "n_" + base
    ident, n = base, 2
    while ident in taken.values():
        ident, n = f"{base}_{n}", n + 1
    return ident


def sequence_diagram(flow: Flow, title: str | None = None) -> str:
    """The Mermaid source of a flow's sequence diagram."""
    seen: list[str] = []
    for line in flow.lines:
        for role in (line.sender, line.receiver):
            if role not in seen:
                seen.append(role)
    rank = {r: i for i, r in enumerate(CHAIN)}
    # A multi-homed node's legs (relay.int, relay.ext) sit together at the node's place,
    # the client-side leg first.
    legs = {"int": 0, "ext": 1}

    def place(r: str) -> tuple[int, int, int]:
        node, _, leg = r.partition(".")
        return rank.get(node, len(CHAIN)), legs.get(leg, 2), seen.index(r)

    ordered = sorted(seen, key=place)
    ids: dict[str, str] = {}
    for role in ordered:
        ids[role] = _ident(role, ids)
    out = ["sequenceDiagram"]
    if title:
        out.append(f"    title {escape(title)}")
    for role in ordered:
        label = _LABELS.get(role, role)
        if ids[role] == label:
            out.append(f"    participant {ids[role]}")
        else:
            out.append(f"    participant {ids[role]} as {escape(label)}")
    for line in flow.lines:
        arrow = "->>" if line.cast == "unicast" else "-->>"
        label = escape(" ".join((line.message, *(f.strip() for f in line.fields))))
        out.append(f"    {ids[line.sender]}{arrow}{ids[line.receiver]}: {label}")
    if flow.exchanges and ordered:
        span = ids[ordered[0]] if len(ordered) == 1 else f"{ids[ordered[0]]},{ids[ordered[-1]]}"
        for ex in flow.exchanges:
            out.append(f"    Note over {span}: {escape(ex.text)}")
    return "\n".join(out) + "\n"
