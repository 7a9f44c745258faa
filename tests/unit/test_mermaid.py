"""lab.mermaid: a valid sequenceDiagram with one arrow per flow line."""

from __future__ import annotations

import re

from lab.flow import normalize
from lab.mermaid import escape, sequence_diagram
from tests.unit.flowkit import IFMAP, relay_v4, relay_v6

# The statement shapes of Mermaid's sequenceDiagram grammar that this module emits. Texts
# (after ':' and after 'as') end at '#' and ';' in Mermaid's lexer, so neither may appear
# except as an entity code (#NN;).
_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_TEXT = r"(?:[^#;\n]|#\d+;)+"
_STATEMENTS = [
    re.compile(rf"^    participant {_ID}(?: as {_TEXT})?$"),
    re.compile(rf"^    {_ID}(?:->>|-->>){_ID}: {_TEXT}$"),
    re.compile(rf"^    Note over {_ID}(?:,{_ID})?: {_TEXT}$"),
    re.compile(rf"^    title {_TEXT}$"),
]


def check_syntax(src: str) -> list[str]:
    lines = src.splitlines()
    assert lines[0] == "sequenceDiagram"
    bad = [ln for ln in lines[1:] if not any(p.match(ln) for p in _STATEMENTS)]
    assert not bad, bad
    return lines


def test_participants_in_chain_order_and_arrow_styles() -> None:
    flow = normalize(relay_v4(), IFMAP)
    lines = check_syntax(sequence_diagram(flow))
    parts = [ln.split()[1] for ln in lines if ln.startswith("    participant")]
    # a multi-homed node's legs sit together, client side first
    assert parts == ["client", "broadcast", "relay_int", "relay_ext", "lb", "server_int",
                     "server_ext"]
    assert "    participant relay_int as relay.int" in lines
    arrows = [ln for ln in lines if ">>" in ln and "Note" not in ln]
    assert len(arrows) == len(flow.lines)
    assert arrows[0].startswith("    client-->>broadcast: DISCOVER")  # broadcast: dashed
    assert arrows[1].startswith("    relay_ext->>lb: DISCOVER hops=1 giaddr=relay.int")  # unicast
    notes = [ln for ln in lines if ln.startswith("    Note over client,server_ext: ")]
    assert len(notes) == len(flow.exchanges) == 2
    assert "DSR: the reply skips lb" in notes[0]


def test_v6_multicast_participant_and_nesting_label() -> None:
    src = sequence_diagram(normalize(relay_v6(), IFMAP), title="relay_v6; #1")
    lines = check_syntax(src)
    assert "    participant all_dhcp_agents as all-dhcp-agents ff02::1:2" in lines
    assert "    client-->>all_dhcp_agents: SOLICIT addr=-" in lines
    assert any(ln.startswith("    lb->>server_ext: RELAY-FORW(RELAY-FORW(SOLICIT))")
               for ln in lines)
    assert "    title relay_v6#59; #35;1" in lines


def test_escape_removes_what_mermaid_dislikes() -> None:
    assert escape("a;b#c%d<e\nf") == "a#59;b#35;c#37;d#60;e f"
    assert escape("client > relay: ok") == "client > relay: ok"
