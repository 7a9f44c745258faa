from __future__ import annotations

from collections.abc import Callable
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
    with pytest.raises(PreflightError,
                       match=r"dhclient is missing: .*apt-get install isc-dhcp-client"):
        preflight.check_binaries(["ip", "dhclient"],
                                 which=lambda n: None if n == "dhclient" else "/x")


def test_ipv6_disabled(tmp_path: Path) -> None:
    flag = tmp_path / "sys/net/ipv6/conf/all/disable_ipv6"
    flag.parent.mkdir(parents=True)
    inherit = tmp_path / "sys/net/core/devconf_inherit_init_net"
    inherit.parent.mkdir(parents=True)
    flag.write_text("1\n")
    for value in ("1", "3"):  # new namespaces copy the host's setting: the lab has no IPv6
        inherit.write_text(value + "\n")
        with pytest.raises(PreflightError, match="IPv6 is disabled"):
            preflight.check_ipv6(tmp_path)
    inherit.write_text("0\n")  # the kernel default: new namespaces start with IPv6 on
    preflight.check_ipv6(tmp_path)
    inherit.write_text("2\n")
    preflight.check_ipv6(tmp_path)
    inherit.write_text("1\n")
    flag.write_text("0\n")
    preflight.check_ipv6(tmp_path)
    default = tmp_path / "sys/net/ipv6/conf/default/disable_ipv6"
    default.parent.mkdir(parents=True)
    default.write_text("1\n")
    with pytest.raises(PreflightError, match="IPv6 is disabled"):
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


def test_bridge_netfilter_reads_the_policy_only_when_it_matters(tmp_path: Path) -> None:
    flag = tmp_path / "sys/net/bridge/bridge-nf-call-iptables"
    flag.parent.mkdir(parents=True)
    flag.write_text("1\n")
    asked: list[str] = []

    def policy(answer: str | None) -> Callable[[], str | None]:
        def read() -> str | None:
            asked.append("yes")
            return answer
        return read

    with pytest.raises(PreflightError, match="FORWARD policy is DROP"):
        preflight.check_bridge_netfilter("5.2.0-1-amd64", tmp_path, read_policy=policy("DROP"))
    assert asked == ["yes"]
    preflight.check_bridge_netfilter("4.19.0", tmp_path, read_policy=policy("ACCEPT"))
    preflight.check_bridge_netfilter("4.19.0", tmp_path, read_policy=policy(None))
    asked.clear()
    # per-namespace switches (>= 5.3), br_netfilter off, or not loaded: iptables is not asked
    preflight.check_bridge_netfilter("5.3.0", tmp_path, read_policy=policy("DROP"))
    preflight.check_bridge_netfilter("6.18.44-fc-v1147", tmp_path, read_policy=policy("DROP"))
    flag.write_text("0\n")
    preflight.check_bridge_netfilter("4.19.0", tmp_path, read_policy=policy("DROP"))
    preflight.check_bridge_netfilter("4.19.0", tmp_path / "nothing", read_policy=policy("DROP"))
    assert asked == []


def test_veth_and_bridge_failures_from_ip_batch_are_one_line() -> None:
    for output in ("Error: Unknown device type.\nCommand failed -:7",
                   "RTNETLINK answers: Operation not supported\nveth: Command failed -:7",
                   "Error: Unknown device type.\nbridge: Command failed -:1"):
        hint = preflight.explain_link_failure(output)
        assert hint is not None and "\n" not in hint and "modprobe" in hint
    assert "bridge" in (preflight.explain_link_failure(
        "Error: Unknown device type.\nbridge: Command failed") or "")
    assert preflight.explain_link_failure("Cannot find device \"x\"") is None
