from __future__ import annotations

import pytest

from lab import topology
from lab.errors import UsageError


def test_relay_topology_matches_lab_facts() -> None:
    t = topology.build("lab", "relay")
    assert [n.role for n in t.nodes] == ["client", "relay", "lb", "server"]
    assert t.addr("rly-int", 4) == "192.168.100.1"
    assert t.addr("rly-ext", 6) == "fd00:200::1"
    assert t.addr("lb", 4) == "192.168.200.2"
    assert t.addr("srv", 4) == "192.168.200.3"
    assert t.addr("srv-int", 6) == "fd00:100::3"
    assert t.iface("srv-int").bridge == t.bridge("int")  # the DSR leg
    assert t.iface("srv").bridge == t.bridge("ext")
    assert t.iface("cli").addrs == ()
    assert {(r.dst, r.via) for r in t.routes} == {
        ("192.168.100.0/24", "192.168.200.1"), ("fd00:100::/64", "fd00:200::1")}
    assert t.node("relay").forwarding and not t.node("lb").forwarding
    assert (t.pool4, t.pool6) == (("192.168.100.10", "192.168.100.50"),
                                  ("fd00:100::10", "fd00:100::50"))


def test_server_topology_is_client_and_dut_on_one_bridge() -> None:
    t = topology.build("lab", "server")
    assert [n.role for n in t.nodes] == ["client", "dut"]
    assert [b for _, b in t.bridges] == ["lab-br-int"]
    assert t.addr("dut", 4) == "192.168.100.1" and t.addr("dut", 6) == "fd00:100::1"


def test_every_object_carries_the_lab_name() -> None:
    t = topology.build("ab1", "relay")
    links = [b for _, b in t.bridges] + [i.name for i in t.ifaces] + [i.port for i in t.ifaces]
    assert all(n.startswith("ab1-") for n in [*t.namespaces, *links])
    assert len(set(links)) == len(links) and len(set(t.namespaces)) == len(t.namespaces)


def test_two_labs_share_no_name_or_mac() -> None:
    a, b = topology.build("a", "relay"), topology.build("b", "relay")
    assert not set(a.namespaces) & set(b.namespaces)
    assert not {i.mac for i in a.ifaces} & {i.mac for i in b.ifaces}


def test_macs_are_stable_and_locally_administered() -> None:
    t1, t2 = topology.build("lab", "relay"), topology.build("lab", "relay")
    assert [i.mac for i in t1.ifaces] == [i.mac for i in t2.ifaces]
    for i in t1.ifaces:
        first = int(i.mac.split(":")[0], 16)
        assert first & 0x02 and not first & 0x01


def test_link_local_is_eui64() -> None:
    assert topology.link_local("da:58:fd:b6:ed:6d") == "fe80::d858:fdff:feb6:ed6d"


def test_interface_names_fit_15_bytes_and_longer_names_are_refused() -> None:
    t = topology.build("abcde", "relay")
    assert max(len(i.port) for i in t.ifaces) == 15
    with pytest.raises(UsageError, match=r"too long.*at most 5 characters"):
        topology.build("abcdef", "relay")


@pytest.mark.parametrize("bad", ["", "Lab", "a b", "-x", "a/b", "a;b", "ä"])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid"):
        topology.build(bad, "relay")


def test_unknown_mode_and_node_are_refused_with_the_choices() -> None:
    with pytest.raises(UsageError, match="unknown mode 'bridge': choose one of relay, server"):
        topology.build("lab", "bridge")
    with pytest.raises(UsageError, match="unknown node 'lb'.*client, dut"):
        topology.build("lab", "server").node("lb")


def test_all_namespaces_covers_both_modes() -> None:
    assert set(topology.all_namespaces("x")) == {
        "x-sw", "x-client", "x-relay", "x-lb", "x-server", "x-dut"}
