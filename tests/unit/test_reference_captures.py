"""The normalizer on real traffic: the reference captures from the public dhcplb lab
(tests/data/reference, copied from shared/reference/captures with their JSON maps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.decode import decode_pcap
from lab.errors import DecodeError
from lab.flow import Flow, normalize, render
from lab.golden import parse
from lab.ifmap import IfMap
from lab.refmap import from_reference, load_reference, mode_of, parse_port_of

REF = Path(__file__).resolve().parent.parent / "data" / "reference"
RELAY_V6 = REF / "dhcplb-relay-v6.any.pcap"
RELAY_V6_ETH = REF / "dhcplb-relay-v6.client-eth.pcap"
SERVER_V4 = REF / "dhcplb-server-v4.any.pcap"


def flow_of(pcap: Path, json_name: str) -> tuple[Flow, IfMap]:
    ifmap = load_reference(REF / json_name, mode_of(pcap))
    return normalize(decode_pcap(pcap).frames, ifmap), ifmap


RELAY_V6_FLOW = """\
# dhcp-lab flow v1
client     -> all-dhcp-agents  SOLICIT                             addr=-
relay.ext  -> lb               RELAY-FORW(SOLICIT)                 addr=-        hop=0 link=relay.int peer=client ifid=no
lb         -> server.ext       RELAY-FORW(RELAY-FORW(SOLICIT))     addr=-        hop=1,0 link=relay.int,relay.int peer=relay.ext,client ifid=no,no
server.ext -> lb               RELAY-REPL(RELAY-REPL(ADVERTISE))   addr=in-pool  hop=1,0 link=relay.int,relay.int peer=relay.ext,client ifid=no,no
lb         -> relay.ext        RELAY-REPL(ADVERTISE)               addr=in-pool  hop=0 link=relay.int peer=client ifid=no
relay.int  -> client           ADVERTISE                           addr=in-pool
client     -> all-dhcp-agents  REQUEST                             addr=in-pool
relay.ext  -> lb               RELAY-FORW(REQUEST)                 addr=in-pool  hop=0 link=relay.int peer=client ifid=no
lb         -> server.ext       RELAY-FORW(RELAY-FORW(REQUEST))     addr=in-pool  hop=1,0 link=relay.int,relay.int peer=relay.ext,client ifid=no,no
server.ext -> lb               RELAY-REPL(RELAY-REPL(REPLY))       addr=in-pool  hop=1,0 link=relay.int,relay.int peer=relay.ext,client ifid=no,no
lb         -> relay.ext        RELAY-REPL(REPLY)                   addr=in-pool  hop=0 link=relay.int peer=client ifid=no
relay.int  -> client           REPLY                               addr=in-pool

exchange SOLICIT -> ADVERTISE: client > relay.ext > lb > server.ext, reply server.ext > lb > relay.int > client (through the balancer)
exchange REQUEST -> REPLY: client > relay.ext > lb > server.ext, reply server.ext > lb > relay.int > client (through the balancer)
"""  # noqa: E501

SERVER_V4_FLOW = """\
# dhcp-lab flow v1
client     -> broadcast        DISCOVER     hops=0 giaddr=-          flags=- ciaddr=-          yiaddr=-          opt82=no
dut        -> client           OFFER        hops=0 giaddr=-          flags=- ciaddr=-          yiaddr=in-pool    opt82=no
client     -> broadcast        REQUEST      hops=0 giaddr=-          flags=- ciaddr=-          yiaddr=-          opt82=no
dut        -> client           ACK          hops=0 giaddr=-          flags=- ciaddr=-          yiaddr=in-pool    opt82=no

exchange DISCOVER -> OFFER: client > dut, reply dut > client (direct)
exchange REQUEST -> ACK: client > dut, reply dut > client (direct)
"""  # noqa: E501


def test_relay_v6_any_every_frame_once() -> None:
    flow, _ = flow_of(RELAY_V6, "dhcplb-relay-v6.any.json")
    assert len(flow.lines) == 12
    assert flow.stats.frames == 28 and flow.stats.kept == 12 and flow.stats.copies == 16
    assert flow.stats.unknown == 0 and flow.stats.folded == 0
    assert [ln.first for ln in flow.lines] == [1, 5, 7, 9, 11, 13, 15, 19, 21, 23, 25, 27]


def test_relay_v6_any_nesting_hops_and_reply_path() -> None:
    flow, _ = flow_of(RELAY_V6, "dhcplb-relay-v6.any.json")
    lb_to_server = flow.lines[2]
    assert (lb_to_server.sender, lb_to_server.receiver) == ("lb", "server.ext")
    assert lb_to_server.message == "RELAY-FORW(RELAY-FORW(SOLICIT))"
    assert "hop=1,0" in lb_to_server.fields
    assert [ex.note for ex in flow.exchanges] == ["through the balancer"] * 2
    assert flow.exchanges[0].reply_path == ("server.ext", "lb", "relay.int", "client")


def test_relay_v6_any_golden_text() -> None:
    flow, _ = flow_of(RELAY_V6, "dhcplb-relay-v6.any.json")
    assert render(flow) == RELAY_V6_FLOW
    parse(render(flow), "relay_v6")


def test_relay_v6_client_eth_four_lines() -> None:
    flow, _ = flow_of(RELAY_V6_ETH, "dhcplb-relay-v6.any.json")
    assert [(ln.sender, ln.receiver, ln.message) for ln in flow.lines] == [
        ("client", "all-dhcp-agents", "SOLICIT"),
        ("relay.int", "client", "ADVERTISE"),
        ("client", "all-dhcp-agents", "REQUEST"),
        ("relay.int", "client", "REPLY"),
    ]
    # the client's view is the tail of the full flow
    full, _ = flow_of(RELAY_V6, "dhcplb-relay-v6.any.json")
    client_side = [ln.text for ln in full.lines if "client" in (ln.sender, ln.receiver)
                   or ln.receiver == "all-dhcp-agents"]
    assert [ln.text for ln in flow.lines] == client_side


def test_server_v4_any() -> None:
    flow, _ = flow_of(SERVER_V4, "dhcplb-server-v4.any.json")
    assert render(flow) == SERVER_V4_FLOW
    offer = flow.lines[1]
    assert (offer.sender, offer.receiver, offer.cast) == ("dut", "client", "unicast")
    assert "yiaddr=in-pool" in offer.fields[4]
    assert flow.stats.kept == 4 and flow.stats.copies == 6


def test_reference_map_conversion() -> None:
    relay = load_reference(REF / "dhcplb-relay-v6.any.json", "relay")
    assert relay.interfaces[153].node == "lb" and relay.interfaces[149].link == "rly-int"
    assert relay.interfaces[145].kind == "bridge"
    assert relay.addresses["fe80::d858:fdff:feb6:ed6d"] == "client"
    assert relay.addresses["192.168.100.3"] == "server.int"
    assert relay.addresses["192.168.200.3"] == "server.ext"
    assert relay.interfaces[157].node == "server.int"  # v-br-srv-int: the DSR leg
    server = load_reference(REF / "dhcplb-server-v4.any.json", "server")
    assert server.interfaces[162].node == "dut"
    assert server.addresses["192.168.100.1"] == "dut"
    assert server.pools == {4: ("192.168.100.10", "192.168.100.50"),
                            6: ("fd00:100::10", "fd00:100::50")}


def test_reference_map_parsing_errors() -> None:
    assert parse_port_of("lb (relay mode) / dut (server mode)", "server") == ("dut", None)
    assert parse_port_of("server (int leg)", "relay") == ("server", "int")
    assert parse_port_of("bridge ext", "relay") is None
    with pytest.raises(DecodeError):
        parse_port_of("lb (relay mode)", "server")
    with pytest.raises(DecodeError):
        from_reference({"interfaces_by_index": {"1": {}}}, "relay")
