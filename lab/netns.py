"""Apply a topology with batched iproute2, and remove exactly what a lab owns.

Building takes one root batch (namespaces, and veths created directly inside them), one
batch per namespace (run in parallel), and one sysctl call per namespace that needs one.
Transmit checksum offload is turned off by ioctl from sockets opened inside the namespaces.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import ipaddress
import os
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from lab import defaults, faults, preflight, proc
from lab.errors import CommandError, LabError, PreflightError
from lab.topology import Iface, Topology

NETNS_DIR = Path("/run/netns")
SIOCETHTOOL = 0x8946
SIOCGIFHWADDR = 0x8927
ETHTOOL_STXCSUM = 0x17


def ns_exists(ns: str) -> bool:
    return (NETNS_DIR / ns).exists()


def ns_batch(ns: str | None, lines: Iterable[str]) -> tuple[list[str], str]:
    """argv and stdin of one ``ip -batch`` run, in ``ns`` or the root namespace."""
    argv = ["ip", "-batch", "-"] if ns is None else ["ip", "-n", ns, "-batch", "-"]
    return argv, "\n".join(lines) + "\n"


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def sockets_in(namespaces: Iterable[str]) -> dict[str, socket.socket]:
    """One UDP socket created inside each namespace, for ioctls on its interfaces.

    setns() switches only the calling thread, so a short-lived helper thread enters each
    namespace in turn; a socket stays bound to the namespace it was created in.
    """
    out: dict[str, socket.socket] = {}
    errors: list[str] = []

    def enter_each() -> None:
        for ns in namespaces:
            fd = os.open(NETNS_DIR / ns, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    errors.append(f"setns({ns}): {os.strerror(ctypes.get_errno())}")
                    return
            finally:
                os.close(fd)
            out[ns] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    worker = threading.Thread(target=enter_each)
    worker.start()
    worker.join()
    if errors:
        for s in out.values():
            s.close()
        raise PreflightError(errors[0] + ": the lab needs root (CAP_SYS_ADMIN)")
    return out


def tx_checksum_off(sock: socket.socket, ifname: str) -> None:
    """ethtool -K IFNAME tx off, through ``sock``'s namespace, without a process."""
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
    ifr = struct.pack("16sP", ifname.encode(), ctypes.addressof(value))
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifr)


def _neighbours(topo: Topology, me: Iface) -> list[str]:
    """Permanent neighbour entries for every other lab address on ``me``'s bridge.

    They remove ARP/ND round trips (and dnsmasq's wait to learn a MAC) without changing
    any DHCP packet the lab compares.
    """
    lines = []
    for other in topo.ifaces:
        if other is me or other.bridge != me.bridge or other.node == me.node:
            continue
        for cidr in (*other.addrs, other.link_local + "/64"):
            ip = str(ipaddress.ip_interface(cidr).ip)
            lines.append(f"neigh replace {ip} lladdr {other.mac} dev {me.name} nud permanent")
    return lines


def _node_lines(topo: Topology, role: str) -> list[str]:
    lines = ["link set lo up"]
    for i in topo.ifaces_of(role):
        lines += [
            f"link set {i.name} addrgenmode none",
            f"link set {i.name} up",
            f"addr add {i.link_local}/64 dev {i.name} nodad",
        ]
        for cidr in i.addrs:
            nodad = " nodad" if ipaddress.ip_interface(cidr).version == 6 else ""
            lines.append(f"addr add {cidr} dev {i.name}{nodad}")
        lines += _neighbours(topo, i)
    for r in topo.routes:
        if r.node == role:
            lines.append(f"route add {r.dst} via {r.via}")
    return lines


def _switch_lines(topo: Topology) -> list[str]:
    lines = ["link set lo up"]
    for _, br in topo.bridges:
        lines += [
            f"link add {br} type bridge stp_state 0 forward_delay 0 mcast_snooping 0",
            f"link set {br} addrgenmode none",
            f"link set {br} up",
        ]
    for i in topo.ifaces:
        lines += [f"link set {i.port} addrgenmode none", f"link set {i.port} master {i.bridge}",
                  f"link set {i.port} up"]
    return lines


FORWARDING_SYSCTLS = (
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.forwarding=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
)
# br_netfilter's switches are per network namespace since Linux 5.3: turn them off in the
# lab's own switch namespace so the host's firewall never filters the lab's bridges.
BRIDGE_SYSCTLS = (
    "net.bridge.bridge-nf-call-iptables=0",
    "net.bridge.bridge-nf-call-ip6tables=0",
    "net.bridge.bridge-nf-call-arptables=0",
)


def bridge_netfilter_loaded() -> bool:
    return Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists()


def build(topo: Topology) -> None:
    """Create every namespace, bridge, veth, address and route of ``topo``.

    The caller registers the topology for teardown *before* calling this, so a failure at
    any step leaves nothing that ``destroy`` won't find. Veths are created directly in
    their namespaces: moving a link between namespaces costs ~20 ms each.
    """
    lines = [f"netns add {ns}" for ns in topo.namespaces]
    for i in topo.ifaces:
        lines.append(
            f"link add {i.name} netns {i.ns} address {i.mac} type veth"
            f" peer name {i.port} netns {topo.switch_ns} address {i.port_mac}"
        )
    try:
        with host_lock():
            _run_batch(None, lines)
    except CommandError as exc:
        hint = preflight.explain_link_failure(exc.output)
        if hint:
            raise PreflightError(hint) from exc
        raise
    socks = sockets_in(topo.namespaces)
    try:
        for i in topo.ifaces:
            tx_checksum_off(socks[i.ns], i.name)
            tx_checksum_off(socks[topo.switch_ns], i.port)
    finally:
        for s in socks.values():
            s.close()

    jobs = [ns_batch(topo.switch_ns, _switch_lines(topo))]
    jobs += [ns_batch(n.ns, _node_lines(topo, n.role)) for n in topo.nodes]
    for n in topo.nodes:
        if n.forwarding:
            # IPv4 conf of a new namespace is copied from the host's, and the effective
            # rp_filter is max(all, interface): turn it off on each interface too.
            per_iface = [f"net.ipv4.conf.{i.name.replace('.', '/')}.rp_filter=0"
                         for i in topo.ifaces_of(n.role)]
            jobs.append((_sysctl(n.ns, (*FORWARDING_SYSCTLS, *per_iface)), ""))
    if bridge_netfilter_loaded():
        jobs.append((_sysctl(topo.switch_ns, BRIDGE_SYSCTLS), ""))
    try:
        proc.run_many([a for a, _ in jobs], inputs=[t for _, t in jobs])
    except CommandError as exc:
        if "bridge-nf" in exc.output:
            raise PreflightError(
                "br_netfilter is loaded but its switches are not per-namespace on this kernel, "
                "so the host firewall would filter the lab's bridges: run "
                "'modprobe -r br_netfilter' or use a kernel >= 5.3"
            ) from exc
        raise


def _sysctl(ns: str, settings: Iterable[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, "sysctl", "-q", "-w", *settings]


def _run_batch(ns: str | None, lines: Iterable[str]) -> None:
    argv, text = ns_batch(ns, lines)
    proc.run(argv, input=text)


def ns_inode(ns: str) -> int | None:
    try:
        return (NETNS_DIR / ns).stat().st_ino
    except FileNotFoundError:
        return None


def pids_in(inodes: set[int]) -> list[int]:
    """Every process whose network namespace is one of ``inodes`` (ours by construction)."""
    found = []
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if os.stat(f"/proc/{entry.name}/ns/net").st_ino in inodes:
                found.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def kill_ns_processes(namespaces: Iterable[str], grace: float = 2.0,
                      timeout: float = 10.0) -> list[int]:
    """TERM, then KILL, every process living inside the given namespaces, until none is left.

    Processes are found by their network namespace, not by name, and signalled through a
    pidfd, so nothing outside these namespaces is touched. A process may fork while we stop
    its parent, so the scan repeats until a pass finds nobody (or ``timeout`` runs out).
    """
    inodes = {ino for ns in namespaces if (ino := ns_inode(ns)) is not None}
    if not inodes:
        return []
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        idents = [i for pid in pids_in(inodes) if (i := proc.identify(pid)) is not None]
        idents = [i for i in idents if not proc.is_zombie(i.pid)]
        if not idents:
            return killed
        if time.monotonic() > deadline:
            pids = ", ".join(str(i.pid) for i in idents)
            raise LabError(f"processes {pids} in {', '.join(sorted(namespaces))} survived "
                           "SIGKILL: check them with 'ps -o pid,stat,cmd -p PID'")
        proc.stop_all(idents, grace=grace)
        killed += [i.pid for i in idents]


def links_in(namespaces: Iterable[str]) -> dict[str, dict[str, str]]:
    """Interface name -> MAC of every link in each namespace, read from inside it.

    A namespace that vanished meanwhile is left out. No process is started.
    """
    out: dict[str, dict[str, str]] = {}

    def read_each() -> None:
        for ns in namespaces:
            try:
                fd = os.open(NETNS_DIR / ns, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise PreflightError(f"setns({ns}): {os.strerror(ctypes.get_errno())}: "
                                         "the lab needs root (CAP_SYS_ADMIN)")
            finally:
                os.close(fd)
            links: dict[str, str] = {}
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for _, ifname in socket.if_nameindex():
                    links[ifname] = _hwaddr(sock, ifname)
            out[ns] = links

    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            read_each()
        except BaseException as exc:  # handed to the caller's thread below
            errors.append(exc)

    worker = threading.Thread(target=guarded)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return out


def _hwaddr(sock: socket.socket, ifname: str) -> str:
    try:
        res = fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, struct.pack("256s", ifname.encode()))
    except OSError:
        return ""
    return ":".join(f"{b:02x}" for b in res[18:24])


def owned(namespaces: Iterable[str], marks: dict[str, set[tuple[str, str]]],
          listed: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """Split existing namespaces into (ours, not ours).

    Ours: it holds an interface with a name and MAC only this lab creates (``marks``), or
    the lab's state file lists it and it is still empty (a build interrupted between
    ``netns add`` and its first veth). Anything else with a lab-like name is someone
    else's and is never touched. Namespaces that don't exist are in neither list.
    """
    return classify(links_in([n for n in namespaces if ns_exists(n)]), marks, listed)


def classify(links: dict[str, dict[str, str]], marks: dict[str, set[tuple[str, str]]],
             listed: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """The pure part of ``owned``: ``links`` maps each existing namespace to its links."""
    listed = set(listed)
    ours: list[str] = []
    theirs: list[str] = []
    for ns, found in links.items():
        mine = marks.get(ns, set())
        if any((name, mac) in mine for name, mac in found.items()) or (
            ns in listed and set(found) <= {"lo"}
        ):
            ours.append(ns)
        else:
            theirs.append(ns)
    return ours, theirs


@contextlib.contextmanager
def host_lock() -> Iterator[None]:
    """Serialize ``ip netns add`` across labs: on a host where /run/netns is not yet a mount
    point, concurrent first ``netns add`` calls each stack a bind mount over it."""
    root = defaults.run_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".netns.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def destroy(namespaces: Iterable[str]) -> None:
    """Stop every process inside these namespaces, then delete them. Gone counts as success.

    Deleting a namespace deletes the veth ends and bridges inside it, and with them their
    peers in the lab's other namespaces: nothing of a lab ever lives in the root namespace.
    The caller decides which namespaces are the lab's (see ``owned``).
    """
    namespaces = list(namespaces)
    kill_ns_processes(namespaces)
    faults.checkpoint("down:killed-processes")
    lines = [f"netns del {ns}" for ns in namespaces if ns_exists(ns)]
    if lines:
        try:
            _run_batch(None, lines)
        except CommandError:
            # Someone deleted one meanwhile: delete the rest one by one, gone is fine.
            for ns in namespaces:
                if ns_exists(ns):
                    proc.run(["ip", "netns", "del", ns], check=False)
            left = [ns for ns in namespaces if ns_exists(ns)]
            if left:
                raise
