"""One small spec per daemon: it renders its config and argv; ``Daemon`` runs any of them.

Every daemon runs inside its node's namespace with ``ip netns exec`` (which execs, so the
pid we start is the daemon's), logs into the lab's run directory, and counts as ready only
once its UDP port is bound by that very process inside the namespace. No fixed sleeps.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lab import proc
from lab.errors import DaemonError
from lab.topology import Topology

UDP_LISTEN = "07"  # TCP_CLOSE is what an unconnected bound UDP socket shows in /proc/net/udp


@dataclass(frozen=True)
class DaemonSpec:
    """What to run and how to know it serves. Fields: key (unique per lab, used in file
    names), node (role), ns, argv (without the netns prefix), ports ((family, port) pairs
    that must be bound), config (file name -> text, written into the run dir first)."""

    key: str
    node: str
    ns: str
    argv: tuple[str, ...]
    ports: tuple[tuple[int, int], ...]
    config: tuple[tuple[str, str], ...] = ()

    def log(self, run_dir: Path) -> Path:
        return run_dir / f"{self.key}.log"


def bound_udp_ports(pid: int, family: int) -> set[int]:
    """UDP ports bound by ``pid`` itself, read from its namespace's /proc table."""
    table = Path(f"/proc/{pid}/net/{'udp' if family == 4 else 'udp6'}")
    try:
        fds = Path(f"/proc/{pid}/fd")
        inodes = set()
        for fd in fds.iterdir():
            try:
                target = fd.readlink().as_posix()
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        rows = table.read_text().splitlines()[1:]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return set()
    ports = set()
    for row in rows:
        f = row.split()
        if len(f) > 9 and f[3] == UDP_LISTEN and f[9] in inodes:
            ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty log)"


def start(spec: DaemonSpec, run_dir: Path) -> proc.ProcId:
    """Write the configs, start the daemon in its namespace, return its identity."""
    for name, text in spec.config:
        (run_dir / name).write_text(text)
    log = spec.log(run_dir)
    if log.exists():  # a restart: keep what the previous process said
        with log.open("a") as fh:
            fh.write(f"=== {spec.key} restarted ===\n")
    p = proc.spawn(["ip", "netns", "exec", spec.ns, *spec.argv], log=log)
    ident = proc.identify(p.pid)
    if ident is None:
        raise DaemonError(f"{spec.key} exited at once in {spec.ns}:\n{log_tail(log)}")
    return ident


def wait_ready(specs: list[tuple[DaemonSpec, proc.ProcId]], run_dir: Path,
               timeout: float) -> None:
    """Wait until every daemon has bound its ports; fail naming the first one that didn't."""
    pending = list(specs)
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while pending:
        for spec, ident in list(pending):
            if not ident.alive() or proc.is_zombie(ident.pid):
                raise DaemonError(
                    f"{spec.key} exited before it was ready (node {spec.node}); "
                    f"log {spec.log(run_dir)}:\n{log_tail(spec.log(run_dir))}"
                )
            if all(port in bound_udp_ports(ident.pid, fam) for fam, port in spec.ports):
                pending.remove((spec, ident))
        if not pending:
            return
        if time.monotonic() > deadline:
            spec = pending[0][0]
            want = ", ".join(f"udp{'6' if f == 6 else ''}/{p}" for f, p in spec.ports)
            raise DaemonError(
                f"{spec.key} never became ready within {timeout:g}s (wanted {want} bound in "
                f"{spec.ns}); log {spec.log(run_dir)}:\n{log_tail(spec.log(run_dir))}"
            )
        time.sleep(delay)  # polling /proc for a bound socket, with a deadline
        delay = min(delay * 2, 0.01)


# ---------------------------------------------------------------- dnsmasq

def _dnsmasq_common(key: str, run_dir: Path) -> list[str]:
    return [
        "port=0",  # no DNS: DHCP only
        "no-resolv",
        "no-hosts",
        "log-dhcp",
        "user=root",
        f"pid-file={run_dir / (key + '.pid')}",
        f"dhcp-leasefile={run_dir / (key + '.leases')}",
    ]


def dnsmasq_server(topo: Topology, run_dir: Path) -> DaemonSpec:
    """The backend DHCP server: answers only on its ext leg ``srv``."""
    key = "dnsmasq-server"
    srv = topo.iface("srv")
    lines = [
        f"interface={srv.name}",
        *_dnsmasq_common(key, run_dir),
        f"dhcp-range={topo.pool4[0]},{topo.pool4[1]},12h",
        f"dhcp-range={topo.pool6[0]},{topo.pool6[1]},12h",
        f"dhcp-option=option:router,{topo.addr('rly-int', 4)}",
        # Measured: no-ping takes a DHCPv4 exchange from ~3 s to ~30 ms; authoritative makes
        # the ADVERTISE carry preference 255 so the client requests at once.
        "no-ping",
        "dhcp-authoritative",
    ]
    return _dnsmasq_spec(key, "server", topo.node("server").ns, run_dir, lines,
                         ((4, 67), (6, 547)))


def dnsmasq_relay(topo: Topology, run_dir: Path) -> DaemonSpec:
    """dnsmasq relaying both families from the client link to the balancer."""
    key = "dnsmasq-relay"
    lines = [
        f"interface={topo.iface('rly-int').name}",
        f"interface={topo.iface('rly-ext').name}",
        *_dnsmasq_common(key, run_dir),
        f"dhcp-relay={topo.addr('rly-int', 4)},{topo.addr('lb', 4)}",
        f"dhcp-relay={topo.addr('rly-int', 6)},{topo.addr('lb', 6)}",
        "enable-ra",
    ]
    return _dnsmasq_spec(key, "relay", topo.node("relay").ns, run_dir, lines,
                         ((4, 67), (6, 547)))


def _dnsmasq_spec(key: str, node: str, ns: str, run_dir: Path, lines: list[str],
                  ports: tuple[tuple[int, int], ...]) -> DaemonSpec:
    conf = f"{key}.conf"
    argv = ("dnsmasq", "--keep-in-foreground", "--log-facility=-",
            f"--conf-file={run_dir / conf}")
    return DaemonSpec(key, node, ns, argv, ports, ((conf, "\n".join(lines) + "\n"),))


# ---------------------------------------------------------------- the DUT

def dut_command(dut_bin: str | None) -> tuple[str, ...]:
    """The DUT slot: a real dhcplb binary when given, else the reference balancer."""
    if dut_bin:
        return (dut_bin,)
    return (sys.executable, "-m", "lab.dut")


# Keys the real dhcplb needs in every section, server mode included: it refuses a config
# without a known algorithm, reads packets into a packet_buf_size buffer (0 would truncate
# every one), and sizes its throttle from these. Values as in dhcplb's own namespace lab.
DHCPLB_COMMON: dict[str, object] = {
    "packet_buf_size": 1024,
    "algorithm": "xid",
    "update_server_interval": 1,
    "rc_ratio": 0,
    "throttle_cache_size": 1024,
    "throttle_cache_rate": 128,
    "throttle_rate": 256,
}


def dut_config(topo: Topology, run_dir: Path, throttle: bool = True) -> dict[str, object]:
    """dhcplb's JSON config for this lab (same schema for the reference DUT and dhcplb).

    ``throttle=False`` turns the per-client rate limit off (throttle_rate 0), for the
    forwarding benchmark, which would otherwise measure the throttle.
    """
    if not throttle:
        return _without_throttle(dut_config(topo, run_dir))
    if topo.mode == "relay":
        (run_dir / "dut-servers-v4.cfg").write_text(topo.addr("srv", 4) + "\n")
        (run_dir / "dut-servers-v6.cfg").write_text(topo.addr("srv", 6) + "\n")
        return {
            "v4": {"version": 4, "listen_addr": "0.0.0.0", "port": 67, **DHCPLB_COMMON,
                   "host_sourcer": f"file:{run_dir / 'dut-servers-v4.cfg'}"},
            "v6": {"version": 6, "listen_addr": topo.addr("lb", 6), "port": 547,
                   **DHCPLB_COMMON,
                   "host_sourcer": f"file:{run_dir / 'dut-servers-v6.cfg'}"},
        }
    return {
        "v4": {"version": 4, "listen_addr": "0.0.0.0", "port": 67, **DHCPLB_COMMON,
               "handler": {
                   "type": "range", "start_ip": topo.pool4[0], "end_ip": topo.pool4[1],
                   "lease_time": "10m", "lease_file": str(run_dir / "dut-v4.leases"),
                   "options": {"subnet-mask": "255.255.255.0",
                               "router": topo.addr("dut", 4)}}},
        "v6": {"version": 6, "listen_addr": "::", "port": 547, **DHCPLB_COMMON,
               "handler": {
                   "type": "range", "start_ip": topo.pool6[0], "end_ip": topo.pool6[1],
                   "lease_time": "10m", "lease_file": str(run_dir / "dut-v6.leases"),
                   # Two knobs of the reference DUT that dhcplb ignores (unknown handler
                   # keys and option names are skipped): ADVERTISE preference 255, so the
                   # client requests at once, and rapid commit when the client asks for it.
                   "rapid_commit": True,
                   "options": {"dns-server": [topo.addr("dut", 6)], "preference": 255}}},
    }


def _without_throttle(cfg: dict[str, object]) -> dict[str, object]:
    return {fam: {**sec, "throttle_rate": 0, "throttle_cache_rate": 0}
            if isinstance(sec, dict) else sec for fam, sec in cfg.items()}


def dut(topo: Topology, run_dir: Path, family: int, dut_bin: str | None,
        throttle: bool = True) -> DaemonSpec:
    """One DUT process per family, in lb (relay mode) or dut (server mode)."""
    role = "lb" if topo.mode == "relay" else "dut"
    conf = "dut.json"
    argv = [*dut_command(dut_bin), "-config", str(run_dir / conf), "-version", str(family)]
    if topo.mode == "server":
        argv.append("-server")
    text = json.dumps(dut_config(topo, run_dir, throttle), indent=2) + "\n"
    port = 67 if family == 4 else 547
    return DaemonSpec(f"dut-v{family}", role, topo.node(role).ns, tuple(argv),
                      ((family, port),), ((conf, text),))


def lab_daemons(topo: Topology, run_dir: Path, dut_bin: str | None) -> list[DaemonSpec]:
    """Every daemon of a lab, in start order."""
    if topo.mode == "relay":
        return [dnsmasq_server(topo, run_dir), dut(topo, run_dir, 4, dut_bin),
                dut(topo, run_dir, 6, dut_bin), dnsmasq_relay(topo, run_dir)]
    return [dut(topo, run_dir, 4, dut_bin), dut(topo, run_dir, 6, dut_bin)]
