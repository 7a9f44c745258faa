"""The lab's lifecycle through the real CLI: up, client tests, status, down, leaving no trace."""

from __future__ import annotations

import ipaddress
import json

import pytest

from lab import instance, topology
from tests.integration.conftest import host_snapshot, run_lab


@pytest.mark.parametrize("mode", ["relay", "server"])
def test_up_both_client_tests_down_leaves_host_as_it_was(mode: str, lab_name: str) -> None:
    before = host_snapshot()
    up = run_lab("up", "--mode", mode, "--name", lab_name)
    assert up.returncode == 0, up.stderr
    status = run_lab("status", "--name", lab_name)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "DEAD" not in status.stdout and "not bound" not in status.stdout
    topo = topology.build(lab_name, mode)
    for family, pool in ((4, topo.pool4), (6, topo.pool6)):
        res = run_lab("test", "--family", str(family), "--name", lab_name)
        assert res.returncode == 0, res.stdout + res.stderr
        address = res.stdout.split(" got ")[1].split()[0]
        lo, hi = (ipaddress.ip_address(a) for a in pool)
        assert lo <= ipaddress.ip_address(address) <= hi  # type: ignore[operator]
    down = run_lab("down", "--name", lab_name)
    assert down.returncode == 0, down.stderr
    assert host_snapshot() == before


def test_up_is_idempotent_and_refuses_another_mode(lab_name: str) -> None:
    assert run_lab("up", "--mode", "server", "--name", lab_name).returncode == 0
    first = instance.load(lab_name)
    again = run_lab("up", "--mode", "server", "--name", lab_name)
    assert again.returncode == 0 and "reused" in again.stdout
    assert instance.load(lab_name) == first  # same daemons, same pids
    other = run_lab("up", "--mode", "relay", "--name", lab_name)
    assert other.returncode != 0
    assert other.stderr.count("\n") == 1 and "already up in server mode" in other.stderr
    assert "Traceback" not in other.stderr


def test_client_state_never_leaks_between_tests(lab_name: str) -> None:
    """Two v6 tests in a row: each starts clean, so the second SOLICITs instead of CONFIRMing
    a stale lease, and the DUT's leases are reset too."""
    assert run_lab("up", "--mode", "server", "--name", lab_name).returncode == 0
    for _ in range(2):
        res = run_lab("test", "--family", "6", "--name", lab_name)
        assert res.returncode == 0, res.stderr
    events = (instance.run_dir(lab_name) / f"dhclient.{lab_name}.v6.events").read_text()
    assert events.split()[0] == "PREINIT6" and "BOUND6" in events and "REBOOT6" not in events


def test_daemon_that_dies_is_named_with_its_log(lab_name: str) -> None:
    res = run_lab("up", "--mode", "relay", "--name", lab_name,
                  env={"LAB_DUT_BIN": "/bin/false"})
    assert res.returncode != 0
    assert "dut-v4 exited before it was ready" in res.stderr
    assert "Traceback" not in res.stderr
    assert not any(ns.startswith(f"{lab_name}-") for ns in host_snapshot()["netns"])  # type: ignore[union-attr]


def test_state_file_records_every_object(lab_name: str) -> None:
    assert run_lab("up", "--mode", "relay", "--name", lab_name).returncode == 0
    state = json.loads((instance.run_dir(lab_name) / "state.json").read_text())
    assert state["status"] == "up"
    assert set(state["namespaces"]) == set(topology.build(lab_name, "relay").namespaces)
    assert {d["key"] for d in state["daemons"]} == {
        "dnsmasq-server", "dut-v4", "dut-v6", "dnsmasq-relay"}
    assert all(lab_name in ns for ns in state["namespaces"])


def test_relay_forwards_without_rp_filter_and_every_veth_has_tx_offload_off(
        lab_name: str) -> None:
    import subprocess

    assert run_lab("up", "--mode", "relay", "--name", lab_name).returncode == 0
    topo = topology.build(lab_name, "relay")
    relay = topo.node("relay").ns
    keys = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.ipv4.conf.all.rp_filter"]
    keys += [f"net.ipv4.conf.{i.name}.rp_filter" for i in topo.ifaces_of("relay")]
    out = subprocess.run(["ip", "netns", "exec", relay, "sysctl", "-n", *keys],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "1", "0", "0", "0"]
    for i in topo.ifaces:
        for ns, dev in ((i.ns, i.name), (topo.switch_ns, i.port)):
            k = subprocess.run(["ip", "netns", "exec", ns, "ethtool", "-k", dev],
                               capture_output=True, text=True, check=True).stdout
            assert "tx-checksumming: off" in k, (ns, dev)
    # no tentative (DAD) addresses anywhere: the v6 client never waits on DAD
    for n in topo.nodes:
        addrs = subprocess.run(["ip", "-n", n.ns, "-6", "addr", "show", "tentative"],
                               capture_output=True, text=True, check=True).stdout
        assert addrs.strip() == "", (n.ns, addrs)


def test_each_client_test_starts_without_the_previous_address(lab_name: str) -> None:
    import subprocess

    assert run_lab("up", "--mode", "server", "--name", lab_name).returncode == 0
    topo = topology.build(lab_name, "server")
    cli = topo.iface("cli")
    for _ in range(2):
        res = run_lab("test", "--family", "4", "--name", lab_name)
        assert res.returncode == 0, res.stderr
        shown = subprocess.run(["ip", "-n", cli.ns, "-4", "-o", "addr", "show", "dev", cli.name],
                               capture_output=True, text=True, check=True).stdout
        assert len(shown.strip().splitlines()) == 1, shown  # exactly the one leased now
