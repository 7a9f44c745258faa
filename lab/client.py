"""The DHCP client test: dhclient from a clean state, inside the client namespace only.

dhclient runs with its own lease, pid and config files (named ``dhclient.<lab>...`` so
AppArmor profiles still match), a DUID derived from its fixed MAC, and a script of ours that
applies the lease inside the namespace. dhclient-script is never run, so the host's
/etc/resolv.conf, /etc/hosts and /var/lib/dhcp are never written.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from dataclasses import dataclass
from pathlib import Path

from lab import daemons, defaults, instance, preflight, proc
from lab.errors import ClientError, DaemonError, UsageError
from lab.instance import State

SCRIPT = """#!/bin/sh
# dhclient script of lab {name}: applies a lease inside the client namespace and records it.
# It never touches /etc/resolv.conf, /etc/hosts or anything outside {run_dir}.
echo "$reason ${{new_ip_address:-}} ${{new_ip6_address:-}}" >> {events}
case "$reason" in
  PREINIT|PREINIT6) ip link set dev "$interface" up ;;
  BOUND|RENEW|REBIND|REBOOT)
    ip -4 addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
  BOUND6|RENEW6|REBIND6|REBOOT6)
    [ -n "$new_ip6_address" ] && \\
      ip -6 addr replace "$new_ip6_address/$new_ip6_prefixlen" dev "$interface" nodad ;;
esac
exit 0
"""


@dataclass(frozen=True)
class ClientResult:
    """Fields: family, address (leased), in_pool, seconds, output (dhclient's own text)."""

    family: int
    address: str
    in_pool: bool
    seconds: float
    output: str


@dataclass(frozen=True)
class ClientFiles:
    conf: Path
    lease: Path
    pid: Path
    script: Path
    events: Path


def files(state: State, family: int) -> ClientFiles:
    d = instance.run_dir(state.name)
    stem = f"dhclient.{state.name}.v{family}"
    return ClientFiles(d / f"{stem}.conf", d / f"{stem}.leases", d / f"{stem}.pid",
                       d / f"{stem}.script", d / f"{stem}.events")


def reset(name: str, family: int) -> ClientFiles:
    """Fresh client files, and fresh DUT leases: no state leaks from one test to the next."""
    state = instance.require_up(name)
    f = files(state, family)
    stop_client(f)
    for path in (f.lease, f.pid, f.events):
        path.unlink(missing_ok=True)
    cli = state.topo.iface("cli")  # and no address left from an earlier lease of this family
    proc.run(["ip", "-n", cli.ns, f"-{family}", "addr", "flush", "dev", cli.name,
              "scope", "global"])
    d = instance.run_dir(state.name)
    lease = d / f"dut-v{family}.leases"
    if lease.exists():  # the DUT keeps leases in memory too: restart it on an empty file
        lease.unlink()
        instance.restart_daemon(name, f"dut-v{family}")
    return f


def stop_client(f: ClientFiles) -> None:
    """Stop a dhclient we started, found by its pid file and checked by its argv."""
    ident = proc.from_pidfile(f.pid)
    if ident is not None:
        proc.stop(ident)


def check_daemons(state: State) -> None:
    """Fail at once, naming the daemon, when one of the lab's daemons is not running.

    Otherwise dhclient would wait its whole timeout and the report would not say why.
    """
    dead = instance.dead_daemons(state)
    if dead:
        names = ", ".join(f"{d.key} (node {d.node}, pid {d.pid})" for d in dead)
        parts = [f"lab {state.name!r} is broken: daemon {names} is not running; run "
                 f"'invoke lab.up --name {state.name} --mode {state.mode}' to rebuild it"]
        for d in dead:
            parts += [f"--- {d.key} log tail: {d.log} ---", daemons.log_tail(Path(d.log))]
        raise DaemonError("\n".join(parts))


def run(name: str, family: int, rapid_commit: bool = False) -> ClientResult:
    """One DHCP exchange from a clean state; raise ClientError unless a pool address came."""
    if family not in defaults.FAMILIES:
        raise UsageError(f"unknown family {family!r}: choose 4 or 6")
    preflight.check_root()
    preflight.check_binaries(["ip", "dhclient"])
    state = instance.require_up(name)
    check_daemons(state)
    topo = state.topo
    f = reset(name, family)
    d = instance.run_dir(name)
    f.script.write_text(SCRIPT.format(name=name, run_dir=d, events=f.events))
    f.script.chmod(0o755)
    conf = [f"timeout {defaults.CLIENT_TIMEOUT_S};", "retry 1;"]
    if rapid_commit and family == 6:
        conf.append("send dhcp6.rapid-commit;")
    f.conf.write_text("\n".join(conf) + "\n")
    cli = topo.iface("cli")
    argv = ["ip", "netns", "exec", cli.ns, "dhclient", "-1", "-v",
            "-cf", str(f.conf), "-lf", str(f.lease), "-pf", str(f.pid), "-sf", str(f.script)]
    if family == 6:
        argv += ["-6", "-D", "LL"]
    argv.append(cli.name)
    t0 = time.monotonic()
    res = proc.run(argv, check=False, timeout=defaults.CLIENT_TIMEOUT_S + 10)
    seconds = time.monotonic() - t0
    stop_client(f)  # dhclient daemonizes once bound: stop it so nothing renews later
    address = _leased(f.events, family)
    pool = topo.pool4 if family == 4 else topo.pool6
    in_pool = bool(address) and _in_range(address, pool)
    if res.returncode != 0 or not in_pool:
        state = instance.load(name) or state  # a DUT restart changed the pids
        dead = instance.dead_daemons(state)
        why = (f"dhclient exited {res.returncode}" if res.returncode != 0
               else f"leased address {address or 'none'} is not in the pool {pool[0]}-{pool[1]}")
        if dead:
            why += "; daemon " + ", ".join(d.key for d in dead) + " is not running"
        raise ClientError(f"DHCPv{family} client test failed in lab {name!r}: {why}\n"
                          + failure_report(state, res.stdout))
    return ClientResult(family, address, in_pool, seconds, res.stdout)


def _leased(events: Path, family: int) -> str:
    bound = {"BOUND", "REBOOT", "RENEW", "REBIND"} if family == 4 else {
        "BOUND6", "REBOOT6", "RENEW6", "REBIND6"}
    address = ""
    with contextlib.suppress(FileNotFoundError):
        for line in events.read_text().splitlines():
            parts = line.split()
            if parts and parts[0] in bound:
                address = parts[-1] if len(parts) > 1 else ""
    return address


def _in_range(address: str, pool: tuple[str, str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
        lo, hi = ipaddress.ip_address(pool[0]), ipaddress.ip_address(pool[1])
    except ValueError:
        return False
    return ip.version == lo.version and lo <= ip <= hi  # type: ignore[operator]


def failure_report(state: State, client_output: str) -> str:
    parts = ["--- client output ---", client_output.rstrip() or "(none)"]
    for ds in state.daemons:
        health = "running" if ds.ident.alive() else "NOT RUNNING"
        parts += [f"--- {ds.key} ({ds.node}, {health}) log tail: {ds.log} ---",
                  daemons.log_tail(Path(ds.log))]
    return "\n".join(parts)
