"""``python -m lab``: the one command line behind every invoke task and nox session.

A LabError becomes one line on stderr and a non-zero exit; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lab import client, daemons, defaults, instance, netns, preflight, proc
from lab.errors import LabError, UsageError

if TYPE_CHECKING:
    from lab import scenario


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}: see 'invoke --list' or 'python3 -m lab --help'")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def _name(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default=None, help="lab instance (default: $LAB_NAME or 'lab')")


def cmd_up(a: argparse.Namespace) -> int:
    name = defaults.lab_name(a.name)
    state, reused = instance.up(name, a.mode, defaults.dut_bin(a.dut_bin))
    verb = "already up, reused" if reused else "up"
    print(f"lab {name} ({state.mode} mode) {verb}: run dir {instance.run_dir(name)}")
    return 0


def cmd_down(a: argparse.Namespace) -> int:
    name = defaults.lab_name(a.name)
    existed, foreign = instance.down_report(name)
    print(f"lab {name} {'removed' if existed else 'was not up; nothing to remove'}")
    for ns in foreign:
        print(f"note: left namespace {ns} alone: lab {name} did not create it")
    return 0


def cmd_status(a: argparse.Namespace) -> int:
    name = defaults.lab_name(a.name)
    preflight.check_root()  # daemon health is read from /proc/PID/fd
    state = instance.load(name)
    if state is None:
        print(f"lab {name}: not up")
        return 1
    print(f"lab {name}: {state.mode} mode, {state.status}, run dir {instance.run_dir(name)}")
    for ns in state.namespaces:
        there = "present" if netns.ns_exists(ns) else "MISSING"
        print(f"  namespace {ns}: {there}")
        if netns.ns_exists(ns):
            out = proc.run(["ip", "-n", ns, "-br", "addr"], check=False).stdout
            for line in out.splitlines():
                if not line.startswith("lo "):
                    print(f"    {line}")
    for d in state.daemons:
        alive = d.ident.alive()
        ports = {tuple(p) for p in d.ports}
        bound = all(port in daemons.bound_udp_ports(d.pid, fam) for fam, port in ports)
        health = "serving" if alive and bound else ("not bound" if alive else "DEAD")
        print(f"  daemon {d.key} in {d.node}: pid {d.pid} {health}, log {d.log}")
    return 0 if instance.healthy(state) else 1


def cmd_logs(a: argparse.Namespace) -> int:
    state = instance.require_up(defaults.lab_name(a.name))
    picked = [d for d in state.daemons if a.node in (None, d.node, d.key)]
    if not picked:
        nodes = sorted({d.node for d in state.daemons} | {d.key for d in state.daemons})
        raise UsageError(f"no daemon on node {a.node!r}: choose one of {', '.join(nodes)}")
    for d in picked:
        print(f"==> {d.key} ({d.node}): {d.log} <==")
        print(daemons.log_tail(Path(d.log), a.lines))
    return 0


SWITCH_NODES = ("sw", "switch")


def _ns_of(a: argparse.Namespace) -> str:
    """A node's namespace; ``sw`` is the switch namespace holding the bridges."""
    preflight.check_root()
    state = instance.require_up(defaults.lab_name(a.name))
    if a.node in SWITCH_NODES:
        return state.topo.switch_ns
    return state.topo.node(a.node).ns


def cmd_exec(a: argparse.Namespace) -> int:
    argv = [x for x in a.cmd if x != "--"] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not argv:
        raise UsageError("nothing to run: give a command after '--', e.g. lab.exec client -- ip a")
    return proc.interactive(["ip", "netns", "exec", _ns_of(a), *argv])


def cmd_shell(a: argparse.Namespace) -> int:
    import os

    return proc.interactive(["ip", "netns", "exec", _ns_of(a), os.environ.get("SHELL", "bash")])


def cmd_test(a: argparse.Namespace) -> int:
    if a.rapid_commit and a.family != 6:
        raise UsageError("--rapid-commit is a DHCPv6 option: use it with --family 6")
    res = client.run(defaults.lab_name(a.name), a.family, a.rapid_commit)
    print(f"DHCPv{res.family} client got {res.address} (in pool) in {res.seconds:.3f}s")
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    names = instance.list_labs()
    if not names:
        print(f"no labs on this host (run dirs live in {defaults.run_root()})")
    for name in names:
        st = instance.load(name)
        print(f"{name}: {st.mode} {st.status}" if st else name)
    return 0


def _report(runs: list[scenario.Run], what: str) -> int:
    from lab import golden, scenario

    failed = [r for r in runs if not r.ok]
    for r in runs:
        mark = "PASS" if r.ok else "FAIL"
        print(f"{mark} {r.scenario.name} ({r.timings.get('total', 0):.2f}s): {r.message}")
    if what == "check":
        for stale in golden.unused(defaults.GOLDENS_DIR, list(scenario.SCENARIOS)):
            print(f"note: golden {stale} is used by no scenario")
    print(f"{len(runs) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_scenario(a: argparse.Namespace) -> int:
    from lab import scenario

    names = a.scenarios or list(defaults.MATRIX)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"scenario {twice[0]} is given twice: each scenario runs once per call "
                         "(use 'invoke flake --runs N' to repeat)")
    # Several scenarios run in several labs: --name / LAB_NAME becomes their common prefix.
    prefix = a.name or os.environ.get("LAB_NAME") or ""
    if len(names) == 1:
        r = scenario.run(names[0], lab=a.name or os.environ.get("LAB_NAME"),
                         dut_bin=defaults.dut_bin(a.dut_bin))
        return _report([r], "run")
    runs = scenario.run_matrix(names, parallel=a.parallel, dut_bin=defaults.dut_bin(a.dut_bin),
                               prefix=prefix)
    return _report(runs, "check")


def cmd_goldens_update(a: argparse.Namespace) -> int:
    from lab import golden, scenario

    names = [a.scenario] if a.scenario else list(scenario.SCENARIOS)
    runs = scenario.run_matrix(names, parallel=False, dut_bin=defaults.dut_bin(a.dut_bin),
                               update=True)
    for r in runs:
        print(r.message if r.ok else f"FAIL {r.scenario.name}: {r.message}")
    for stale in golden.unused(defaults.GOLDENS_DIR, list(scenario.SCENARIOS)):
        print(f"note: golden {stale} is used by no scenario")
    return 0 if all(r.ok for r in runs) else 1


def cmd_captures_show(a: argparse.Namespace) -> int:
    from lab import decode, flow, ifmap, mermaid

    target = Path(a.target)
    if target.is_dir():
        pcap, mapfile = target / "capture.pcap", target / "ifmap.json"
    else:
        pcap, mapfile = target, target.parent / "ifmap.json"
    if a.ifmap:
        mapfile = Path(a.ifmap)
    if not pcap.exists():
        raise UsageError(f"{pcap} does not exist: give a pcap file or a capture run directory "
                         "(e.g. captures/relay_v4/latest)")
    decoded = decode.decode_pcap(pcap)
    f = flow.normalize(decoded.frames, ifmap.load(mapfile))
    flow.check_attributed(f, mapfile)
    if not decoded.frames:
        print(f"note: {pcap} holds no DHCP frames ({decoded.records} frames in all)",
              file=sys.stderr)
    if decoded.truncated:
        print(f"note: the last record of {pcap} was cut short and was skipped", file=sys.stderr)
    if a.mermaid:
        out = Path(a.mermaid)
    else:
        out = pcap.parent / "flow.mmd" if target.is_dir() else pcap.with_suffix(".mmd")
    out.write_text(mermaid.sequence_diagram(f))
    print(flow.render(f), end="")
    print(f"# mermaid sequence diagram written to {out}")
    return 0


def cmd_flake(a: argparse.Namespace) -> int:
    from lab import flake

    report = flake.gate(a.runs, a.scenarios or None, a.parallel)
    print(flake.render(report))
    return 1 if report.differing else 0


def cmd_bench(a: argparse.Namespace) -> int:
    from lab import bench

    return bench.main(a.runs, a.json, a.only or None)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m lab", description="dhcp-lab: DHCP namespace lab")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    s = sub.add_parser("up", help="build a lab and start its daemons")
    _name(s)
    s.add_argument("--mode", required=True, choices=defaults.MODES)
    s.add_argument("--dut-bin", default=None, help="a real dhcplb binary (or $LAB_DUT_BIN)")
    s.set_defaults(func=cmd_up)
    s = sub.add_parser("down", help="remove a lab and everything it made")
    _name(s)
    s.set_defaults(func=cmd_down)
    s = sub.add_parser("status", help="namespaces, addresses and daemons")
    _name(s)
    s.set_defaults(func=cmd_status)
    s = sub.add_parser("logs", help="daemon logs")
    _name(s)
    s.add_argument("node", nargs="?", default=None)
    s.add_argument("-n", "--lines", type=_positive, default=40)
    s.set_defaults(func=cmd_logs)
    s = sub.add_parser("exec", help="run a command in a node's namespace")
    _name(s)
    s.add_argument("node")
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_exec)
    s = sub.add_parser("shell", help="a shell in a node's namespace")
    _name(s)
    s.add_argument("node")
    s.set_defaults(func=cmd_shell)
    s = sub.add_parser("test", help="run the DHCP client test in the lab that is up")
    _name(s)
    s.add_argument("--family", type=int, required=True, choices=defaults.FAMILIES)
    s.add_argument("--rapid-commit", action="store_true")
    s.set_defaults(func=cmd_test)
    s = sub.add_parser("list", help="labs on this host")
    s.set_defaults(func=cmd_list)
    s = sub.add_parser("scenario", help="run scenarios end to end against their goldens")
    _name(s)
    s.add_argument("scenarios", nargs="*", help=f"default: {' '.join(defaults.MATRIX)}")
    s.add_argument("--parallel", action="store_true", help="each scenario in its own lab, at once")
    s.add_argument("--dut-bin", default=None)
    s.set_defaults(func=cmd_scenario)
    s = sub.add_parser("goldens-update", help="re-record goldens and say which changed")
    s.add_argument("--scenario", default=None, choices=list(defaults.SCENARIOS))
    s.add_argument("--dut-bin", default=None)
    s.set_defaults(func=cmd_goldens_update)
    s = sub.add_parser("captures-show", help="print a capture's flow and write its diagram")
    s.add_argument("target", help="a pcap file or a capture run directory")
    s.add_argument("--ifmap", default=None, help="interface map (default: next to the pcap)")
    s.add_argument("--mermaid", default=None, help="where to write the diagram")
    s.set_defaults(func=cmd_captures_show)
    s = sub.add_parser("flake", help="run the matrix N times; report any differing flow")
    s.add_argument("--runs", type=_positive, default=50)
    s.add_argument("--parallel", action="store_true")
    s.add_argument("scenarios", nargs="*")
    s.set_defaults(func=cmd_flake)
    s = sub.add_parser("bench", help="benchmarks: print medians, min and max")
    s.add_argument("--runs", type=_positive, default=5)
    s.add_argument("--json", default=None, help="also write the rows to this JSON file")
    s.add_argument("only", nargs="*", metavar="SECTION",
                   help="topology, scenarios, decode or dut (default: all)")
    s.set_defaults(func=cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except LabError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head` closed the pipe: not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the exit flush quiet
        return 0
    except OSError as err:  # the host refused something (permissions, a full disk): one line
        print(f"error: {err}", file=sys.stderr)
        return 1
