"""lab.flow on synthetic traffic: each test changes one thing a DUT could get wrong and checks
that the flow text shows it (and that run-to-run noise does not)."""

from __future__ import annotations

import dataclasses
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from lab.flow import HEADER, LINE_RE, Flow, normalize, render
from lab.ifmap import IfMap
from lab.records import Dhcp4Type, Dhcp6Type, Frame, PacketType
from tests.unit.flowkit import (
    ADDR4,
    ADDR6,
    CLIENT_LL,
    IFMAP,
    LEASE4,
    LEASE6,
    Wire,
    d4,
    d6,
    relay6,
    relay_v4,
    relay_v6,
)


def lines_of(flow: Flow) -> list[str]:
    return [ln.text for ln in flow.lines]


def test_every_transmission_once_attributed_to_its_sender() -> None:
    frames = relay_v4()
    flow = normalize(frames, IFMAP)
    assert [(ln.sender, ln.receiver, ln.message) for ln in flow.lines[:5]] == [
        ("client", "broadcast", "DISCOVER"),
        ("relay.ext", "lb", "DISCOVER"),
        ("lb", "server.ext", "DISCOVER"),
        ("server.int", "relay.int", "OFFER"),  # the DSR leg, on the client's bridge
        ("relay.int", "client", "OFFER"),
    ]
    assert len(flow.lines) == 10
    assert flow.stats.kept == 10 and flow.stats.copies == len(frames) - 10
    assert flow.stats.unknown == 0 and flow.stats.folded == 0


def test_dsr_and_through_balancer_v4_render_differently() -> None:
    dsr = normalize(relay_v4(dsr=True), IFMAP)
    back = normalize(relay_v4(dsr=False), IFMAP)
    assert render(dsr) != render(back)
    assert dsr.exchanges[0].text == (
        "exchange DISCOVER -> OFFER: client > relay.ext > lb > server.ext, "
        "reply server.int > relay.int > client (DSR: the reply skips lb)")
    assert back.exchanges[0].text == (
        "exchange DISCOVER -> OFFER: client > relay.ext > lb > server.ext, "
        "reply server.ext > lb > relay.int > client (through the balancer)")
    assert "server.int -> relay.int" in render(dsr) and "server.ext -> lb" in render(back)


def test_a_reply_on_the_wrong_leg_of_a_multi_homed_node_renders_differently() -> None:
    """DSR through the server's ext leg to the relay's ext address is still 'server to relay
    directly', but not the path lab-facts describes: the legs make it visible."""
    right = normalize(relay_v4(), IFMAP)
    wrong = normalize(relay_v4(ext_leg=True), IFMAP)
    assert render(right) != render(wrong)
    assert "server.int -> relay.int" in render(right)
    assert "server.ext -> relay.ext" in render(wrong)
    assert wrong.exchanges[0].reply_path == ("server.ext", "relay.int", "client")


def test_v6_nesting_hop_counts_and_reply_path() -> None:
    flow = normalize(relay_v6(), IFMAP)
    lb_line = flow.lines[2]
    assert lb_line.message == "RELAY-FORW(RELAY-FORW(SOLICIT))"
    assert "hop=1,0" in lb_line.fields and "peer=relay.ext,client" in lb_line.fields
    assert "link=relay.int,relay.int" in lb_line.fields and "ifid=no,no" in lb_line.fields
    assert flow.exchanges[0].reply_path == ("server.ext", "lb", "relay.int", "client")
    assert flow.exchanges[0].note == "through the balancer"


def _v6_with_layers(layers: int, hops: tuple[int, ...] | None = None) -> Flow:
    w = Wire()
    msg = d6(Dhcp6Type.SOLICIT)
    w.send("cli", "ff02::1:2", msg)
    inner = msg
    peers = [CLIENT_LL, ADDR6["rly-ext"], ADDR6["lb"]]
    for k in range(layers):
        hop = hops[k] if hops else k
        inner = relay6(Dhcp6Type.RELAY_FORW, hop, ADDR6["rly-int"], peers[k], inner)
    w.send("lb", ADDR6["srv"], inner, to="srv")
    return normalize(w.frames, IFMAP)


def test_missing_and_extra_relay_layer_and_wrong_hop_count_show() -> None:
    good = _v6_with_layers(2).lines[1].text
    missing = _v6_with_layers(1).lines[1].text
    extra = _v6_with_layers(3).lines[1].text
    wrong = _v6_with_layers(2, hops=(0, 0)).lines[1].text
    assert "RELAY-FORW(RELAY-FORW(SOLICIT))" in good
    assert "RELAY-FORW(SOLICIT)" in missing and "RELAY-FORW(RELAY" not in missing
    assert "RELAY-FORW(RELAY-FORW(RELAY-FORW(SOLICIT)))" in extra and "hop=2,1,0" in extra
    assert "hop=0,0" in wrong
    assert len({good, missing, extra, wrong}) == 4


def test_broadcast_where_unicast_was_due() -> None:
    w = Wire()
    w.send("rly-int", "255.255.255.255", d4(Dhcp4Type.OFFER, giaddr=ADDR4["rly-int"],
                                            yiaddr=LEASE4))
    w.send("rly-int", LEASE4, d4(Dhcp4Type.OFFER, giaddr=ADDR4["rly-int"], yiaddr=LEASE4),
           to="cli")
    bcast, ucast = normalize(w.frames, IFMAP).lines
    assert bcast.receiver == "broadcast" and bcast.cast == "broadcast"
    assert ucast.receiver == "client" and ucast.cast == "unicast"
    assert bcast.text.startswith("relay.int  -> broadcast") and ucast.text.startswith(
        "relay.int  -> client")


def test_retransmissions_fold_into_the_first_line() -> None:
    w = Wire()
    for secs in range(3):  # same xid: dhclient retransmitting its DISCOVER
        w.send("cli", "255.255.255.255", dataclasses.replace(d4(Dhcp4Type.DISCOVER),
                                                              secs=secs))
    w.send("rly-ext", ADDR4["lb"], d4(Dhcp4Type.DISCOVER, hops=1, giaddr=ADDR4["rly-int"]),
           to="lb")
    once = normalize(w.frames[:4] + w.frames[-2:], IFMAP)
    thrice = normalize(w.frames, IFMAP)
    assert render(once) == render(thrice)
    assert thrice.lines[0].count == 3 and thrice.stats.folded == 2
    assert "3" not in thrice.lines[0].text  # counts vary run to run: never in the text


def test_new_transaction_is_not_folded() -> None:
    frames = relay_v4(xid=1)[:4] + [
        dataclasses.replace(f, index=100 + i) for i, f in enumerate(relay_v4(xid=2)[:4])]
    flow = normalize(frames, IFMAP)
    assert [ln.text for ln in flow.lines].count(flow.lines[0].text) == 2


def test_leased_address_outside_the_pool_shows_the_literal() -> None:
    w = Wire()
    w.send("rly-int", "192.168.100.200", d4(Dhcp4Type.OFFER, giaddr=ADDR4["rly-int"],
                                            yiaddr="192.168.100.200"), to="cli")
    w.send("rly-int", CLIENT_LL, d6(Dhcp6Type.REPLY, addr="fd00:100::99"), to="cli")
    v4, v6 = normalize(w.frames, IFMAP).lines
    assert "yiaddr=192.168.100.200" in v4.text and v4.receiver == "192.168.100.200"
    assert "addr=fd00:100::99" in v6.text
    good = Wire()
    good.send("rly-int", CLIENT_LL, d6(Dhcp6Type.REPLY, addr=LEASE6), to="cli")
    assert "addr=in-pool" in normalize(good.frames, IFMAP).lines[0].text


def test_option_82_and_interface_id_presence() -> None:
    w = Wire()
    w.send("rly-ext", ADDR4["lb"], d4(Dhcp4Type.DISCOVER, hops=1, giaddr=ADDR4["rly-int"],
                                      opt82=True), to="lb")
    inner = d6(Dhcp6Type.SOLICIT)
    w.send("rly-ext", ADDR6["lb"], relay6(Dhcp6Type.RELAY_FORW, 0, ADDR6["rly-int"], CLIENT_LL,
                                          inner, ifid=True), to="lb")
    v4, v6 = normalize(w.frames, IFMAP).lines
    assert "opt82=yes" in v4.text
    assert "ifid=yes" in v6.text


def test_non_standard_ports_show_only_when_different() -> None:
    w = Wire()
    rep = d6(Dhcp6Type.ADVERTISE, addr=LEASE6)
    r1 = relay6(Dhcp6Type.RELAY_REPL, 0, ADDR6["rly-int"], CLIENT_LL, rep)
    w.send("lb", ADDR6["rly-ext"], r1, to="rly-ext")  # 547 -> 547: standard
    w.send("lb", ADDR6["rly-ext"], r1, to="rly-ext", dport=546)
    w.send("rly-int", CLIENT_LL, rep, to="cli", dport=547)
    std, odd_relay, odd_client = normalize(w.frames, IFMAP).lines
    assert "ports=" not in std.text
    assert odd_relay.text.endswith("ports=547>546")
    assert odd_client.text.endswith("ports=547>547")
    v4 = Wire()
    v4.send("rly-int", LEASE4, d4(Dhcp4Type.OFFER, yiaddr=LEASE4), to="cli", dport=67)
    assert normalize(v4.frames, IFMAP).lines[0].text.endswith("ports=67>67")


def test_status_code_shows_when_not_success() -> None:
    w = Wire()
    w.send("rly-int", CLIENT_LL, d6(Dhcp6Type.REPLY, status=2), to="cli")
    w.send("rly-int", CLIENT_LL, d6(Dhcp6Type.REPLY, 7, status=0), to="cli")
    bad, ok = normalize(w.frames, IFMAP).lines
    assert "status=NoAddrsAvail" in bad.text and "status" not in ok.text


def test_frames_on_unknown_interfaces_are_dropped_and_counted() -> None:
    frames = relay_v4()
    stray = dataclasses.replace(frames[0], index=999, ifindex=4242)
    flow = normalize([*frames, stray], IFMAP)
    assert render(flow) == render(normalize(frames, IFMAP))
    assert flow.stats.unknown == 1


def test_ethernet_capture_attributed_by_mac_then_ip() -> None:
    eth = [dataclasses.replace(f, ifindex=None, pkttype=None) for f in relay_v6()
           if f.pkttype is not PacketType.OUTGOING and f.ifindex not in (2, 3)]
    cooked = normalize(relay_v6(), IFMAP)
    assert render(normalize(eth, IFMAP)) == render(cooked)
    by_ip = [dataclasses.replace(f, src_mac="02:99:99:99:99:99") for f in eth]
    flow = normalize(by_ip, IFMAP)
    # the client sends from its link-local: known through its MAC's EUI-64 address
    assert [ln.sender for ln in flow.lines[:3]] == ["client", "relay.ext", "lb"]
    nobody = [dataclasses.replace(f, src_mac="02:99:99:99:99:99", src_ip="10.9.9.9")
              for f in eth]
    assert normalize(nobody, IFMAP).stats.unknown == len(nobody)


def test_missing_reply_is_reported() -> None:
    frames = relay_v4()[:8]  # DISCOVER reaches the server, nothing comes back
    assert frames[-1].dst_ip == ADDR4["srv"]
    flow = normalize(frames, IFMAP)
    assert flow.exchanges[0].text == (
        "exchange DISCOVER: client > relay.ext > lb > server.ext, NO REPLY")


def test_reply_that_never_reaches_the_client() -> None:
    frames = [f for f in relay_v4() if not (f.dst_ip == LEASE4)]
    ex = normalize(frames, IFMAP).exchanges[0]
    assert ex.note == "the reply did not reach the client"


def test_server_mode_direct_reply() -> None:
    server_map = IfMap("t", "server", dict(IFMAP.interfaces), dict(IFMAP.macs),
                       {**IFMAP.addresses, "192.168.100.1": "dut"}, dict(IFMAP.pools))
    w = Wire()
    w.send("cli", "255.255.255.255", d4(Dhcp4Type.DISCOVER))
    w.send("rly-int", LEASE4, d4(Dhcp4Type.OFFER, yiaddr=LEASE4), to="cli")
    flow = normalize(w.frames, server_map)
    assert flow.exchanges[0].text == (
        "exchange DISCOVER -> OFFER: client > relay.int, reply relay.int > client (direct)")


def test_render_is_well_formed_and_stable() -> None:
    text = render(normalize(relay_v6(), IFMAP))
    lines = text.splitlines()
    assert lines[0] == HEADER and text.endswith("\n")
    body = lines[1:lines.index("")]
    assert all(LINE_RE.match(ln) for ln in body)
    assert all(ln == ln.rstrip() for ln in lines)
    # fixed columns: the arrow and the message start at the same place on every line
    assert len({ln.index("->") for ln in body}) == 1
    assert len({ln.index(ln.split()[3]) for ln in body}) == 1


def test_run_to_run_noise_is_abstracted() -> None:
    a = render(normalize(relay_v6(xids=(1, 2)), IFMAP))
    b = render(normalize(relay_v6(xids=(0xFFFFF, 0x77)), IFMAP))
    assert a == b
    for noise in (CLIENT_LL, "fe80", "0x", "02:"):
        assert noise not in a


def _shuffle_copies(frames: list[Frame], seed: int) -> list[Frame]:
    """Permute the input, keeping each kept frame's number (its position in the file)."""
    rnd = random.Random(seed)
    out = list(frames)
    rnd.shuffle(out)
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dsr=st.booleans(), dup=st.integers(0, 3))
def test_normalize_is_deterministic_and_order_of_duplicates_independent(
        seed: int, dsr: bool, dup: int) -> None:
    frames = relay_v4(dsr=dsr)
    retrans = [dataclasses.replace(f, index=len(frames) + 1 + i)
               for i, f in enumerate(frames[:dup])]
    base = normalize(frames + retrans, IFMAP)
    shuffled = normalize(_shuffle_copies(frames + retrans, seed), IFMAP)
    assert render(base) == render(shuffled) == render(normalize(frames, IFMAP))
    assert base == normalize(frames + retrans, IFMAP)
