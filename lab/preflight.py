"""Host checks before a lab is built. Each failure is one line: what is wrong, what to do."""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from lab.errors import LabError, PreflightError

# binary -> the Debian package that ships it
PACKAGES = {
    "ip": "iproute2",
    "dnsmasq": "dnsmasq-base",
    "dhclient": "isc-dhcp-client",
    "tcpdump": "tcpdump",
    "sysctl": "procps",
}
LAB_BINARIES = ("ip", "sysctl", "dnsmasq", "dhclient", "tcpdump")


def check_root(euid: int | None = None, system: str | None = None) -> None:
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        if (system or platform.system()) == "Darwin":
            raise PreflightError(
                "the lab needs Linux network namespaces: on macOS run the tasks through the "
                "Lima VM (see lima/README.md)"
            )
        raise PreflightError("the lab needs root: run it with sudo (or as root)")


def check_binaries(names: Iterable[str] = LAB_BINARIES,
                   which: Callable[[str], str | None] = shutil.which) -> None:
    for name in names:
        if which(name) is None:
            pkg = PACKAGES.get(name, name)
            raise PreflightError(f"{name} is missing: install it with 'apt-get install {pkg}'")


def check_ipv6(proc_root: Path = Path("/proc")) -> None:
    """Refuse only when the lab's namespaces would really lack IPv6.

    A new network namespace starts with the kernel's IPv6 defaults unless
    net.core.devconf_inherit_init_net is 1 (copy the host's) or 3 (copy the creator's, and
    the lab creates its namespaces from the host's): only then does the host's
    disable_ipv6=1 reach the lab.
    """
    flag = proc_root / "sys/net/ipv6/conf/all/disable_ipv6"
    if not flag.exists():
        raise PreflightError(
            "IPv6 is not available in this kernel: boot without ipv6.disable=1 to run the lab"
        )
    disabled = any(
        _read(proc_root / f"sys/net/ipv6/conf/{which}/disable_ipv6") == "1"
        for which in ("all", "default")
    )
    inherit = _read(proc_root / "sys/net/core/devconf_inherit_init_net") or "0"
    if disabled and inherit in ("1", "3"):
        raise PreflightError(
            "IPv6 is disabled (net.ipv6.conf.all/default.disable_ipv6=1) and new namespaces "
            f"inherit it (net.core.devconf_inherit_init_net={inherit}): set disable_ipv6 to 0 "
            "or devconf_inherit_init_net to 0"
        )


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def explain_link_failure(output: str) -> str | None:
    """Turn iproute2's complaint about a missing link type into a one-line fix.

    Whether veth and bridge are built in can't be read reliably from /sys or /lib/modules
    (a built-in veth shows in neither here), so the lab learns it from the first link it
    creates and explains the failure.
    """
    text = output.lower()
    if "unknown device type" in text or "not supported" in text:
        for kind, mod in (("veth", "veth"), ("bridge", "bridge")):
            if kind in text:
                return (f"the kernel has no {kind} support: run 'modprobe {mod}' or install "
                        "the kernel's modules package (in a container, the host must load it)")
        return ("the kernel lacks veth or bridge support: run 'modprobe veth bridge' or "
                "install the kernel's modules package")
    return None


def bridge_netfilter_blocks(loaded: bool, per_netns: bool, call_iptables: str,
                            forward_policy: str | None) -> bool:
    """Whether br_netfilter would push the lab's bridged DHCP through a DROP policy.

    The lab turns br_netfilter's switches off inside its own switch namespace; that only
    works where the switches are per namespace (Linux >= 5.3).
    """
    if not loaded or per_netns:
        return False
    return call_iptables.strip() == "1" and (forward_policy or "").upper() == "DROP"


def forward_policy() -> str | None:
    """The host's iptables FORWARD policy (ACCEPT/DROP), or None when it can't be read."""
    from lab import proc  # only here: the rest of preflight runs no process

    if shutil.which("iptables") is None:
        return None
    try:
        out = proc.run(["iptables", "-S", "FORWARD"], check=False, timeout=10).stdout
    except LabError:
        return None
    for line in out.splitlines():
        parts = line.split()
        if parts[:2] == ["-P", "FORWARD"] and len(parts) > 2:
            return parts[2]
    return None


def check_bridge_netfilter(release: str | None = None,
                           proc_root: Path = Path("/proc"),
                           forward_policy: str | None = None,
                           read_policy: Callable[[], str | None] = forward_policy) -> None:
    """Refuse when br_netfilter would drop the lab's bridged DHCP and the lab can't stop it.

    The FORWARD policy is read (through iptables) only in that case: on kernels >= 5.3 the
    lab switches br_netfilter off inside its own switch namespace.
    """
    flag = proc_root / "sys/net/bridge/bridge-nf-call-iptables"
    loaded = flag.exists()
    rel = release or platform.release()
    try:
        major, minor = (int(x) for x in rel.split("-")[0].split(".")[:2])
        per_netns = (major, minor) >= (5, 3)
    except ValueError:
        per_netns = False
    call = (_read(flag) or "0") if loaded else "0"
    if not loaded or per_netns or call != "1":
        return
    policy = forward_policy if forward_policy is not None else read_policy()
    if bridge_netfilter_blocks(loaded, per_netns, call, policy):
        raise PreflightError(
            "br_netfilter sends bridged frames through iptables and the FORWARD policy is DROP, "
            "which would silently drop the lab's DHCP: run 'modprobe -r br_netfilter' or "
            "'sysctl -w net.bridge.bridge-nf-call-iptables=0' (and restore it afterwards)"
        )


def check_all() -> None:
    check_root()
    check_binaries()
    check_ipv6()
    check_bridge_netfilter()
