from __future__ import annotations

from pathlib import Path

import pytest

from lab import preflight
from lab.errors import PreflightError


def test_not_root_says_sudo() -> None:
    with pytest.raises(PreflightError, match="needs root: run it with sudo"):
        preflight.check_root(euid=1000, system="Linux")


def test_not_root_on_macos_points_at_lima() -> None:
    with pytest.raises(PreflightError, match="Lima VM"):
        preflight.check_root(euid=501, system="Darwin")


def test_root_passes() -> None:
    preflight.check_root(euid=0, system="Linux")


def test_missing_binary_names_the_debian_package() -> None:
    with pytest.raises(PreflightError, match=r"dhclient is missing: .*apt-get install isc-dhcp-client"):
        preflight.check_binaries(["ip", "dhclient"], which=lambda n: None if n == "dhclient" else "/x")


def test_ipv6_disabled(tmp_path: Path) -> None:
    flag = tmp_path / "sys/net/ipv6/conf/all/disable_ipv6"
    flag.parent.mkdir(parents=True)
    flag.write_text("1\n")
    with pytest.raises(PreflightError, match="IPv6 is disabled"):
        preflight.check_ipv6(tmp_path)
    flag.write_text("0\n")
    preflight.check_ipv6(tmp_path)


def test_ipv6_absent_from_kernel(tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match="IPv6 is not available"):
        preflight.check_ipv6(tmp_path)


@pytest.mark.parametrize("output, kind", [
    ("Error: Unknown device type.\nCommand failed -:3", "veth or bridge"),
    ("RTNETLINK answers: Operation not supported (veth)", "veth"),
])
def test_missing_link_support_is_explained(output: str, kind: str) -> None:
    hint = preflight.explain_link_failure(output)
    assert hint is not None and kind in hint and "modprobe" in hint


def test_other_ip_failures_are_not_misexplained() -> None:
    assert preflight.explain_link_failure("RTNETLINK answers: File exists") is None


def test_bridge_netfilter_blocks_only_when_it_cannot_be_worked_around() -> None:
    # loaded, switches not per namespace (old kernel), calls iptables, FORWARD DROP: blocked
    assert preflight.bridge_netfilter_blocks(True, False, "1", "DROP")
    # per-namespace switches: the lab turns them off in its own switch namespace
    assert not preflight.bridge_netfilter_blocks(True, True, "1", "DROP")
    assert not preflight.bridge_netfilter_blocks(False, False, "1", "DROP")
    assert not preflight.bridge_netfilter_blocks(True, False, "0", "DROP")
    assert not preflight.bridge_netfilter_blocks(True, False, "1", "ACCEPT")


def test_bridge_netfilter_check_message(tmp_path: Path) -> None:
    flag = tmp_path / "sys/net/bridge/bridge-nf-call-iptables"
    flag.parent.mkdir(parents=True)
    flag.write_text("1\n")
    with pytest.raises(PreflightError, match="FORWARD policy is DROP"):
        preflight.check_bridge_netfilter("4.19.0", tmp_path, forward_policy="DROP")
    preflight.check_bridge_netfilter("6.1.0", tmp_path, forward_policy="DROP")
