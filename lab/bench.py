"""Benchmarks that print numbers (never timed tests): ``python -m lab bench [--json FILE]``.

Rows: lab up/down per topology, each scenario end to end, the four-scenario matrix
sequential and parallel, decode+normalize throughput (dpkt path vs pyshark path on one
synthetic pcap), and the reference DUT's forwarding rate through lab namespaces.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lab import daemons, decode, defaults, flow, netns, proc, scenario, topology
from lab.errors import LabError, UsageError


@dataclass(frozen=True)
class Row:
    """One benchmark result: key (JSON key), label, unit, samples, target (text)."""

    key: str
    label: str
    unit: str
    samples: tuple[float, ...]
    target: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def line(self) -> str:
        fmt = _fmt(self.unit)
        lo, hi = min(self.samples), max(self.samples)
        return (f"{self.label:<44} {fmt(self.median):>10} {self.unit:<6} "
                f"min {fmt(lo):>9}  max {fmt(hi):>9}  n={len(self.samples):<3} {self.target}")


def _fmt(unit: str) -> Callable[[float], str]:
    if unit == "pkt/s" or unit == "msg/s":
        return lambda v: f"{v:,.0f}"
    if unit == "ms":
        return lambda v: f"{v:.1f}"
    return lambda v: f"{v:.3f}"


def _times(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def bench_topology(mode: str, runs: int) -> list[Row]:
    topo = topology.build("bt", mode)
    ups, downs = [], []
    netns.destroy(topology.all_namespaces("bt"))
    for _ in range(runs):
        t0 = time.perf_counter()
        netns.build(topo)
        t1 = time.perf_counter()
        netns.destroy(topo.namespaces)
        t2 = time.perf_counter()
        ups.append((t1 - t0) * 1000)
        downs.append((t2 - t1) * 1000)
    tgt_up, tgt_down = ("<= 50 ms", "<= 150 ms") if mode == "relay" else ("", "")
    return [Row(f"{mode}_lab_up_ms", f"{mode} lab up (topology)", "ms", tuple(ups), tgt_up),
            Row(f"{mode}_lab_down_ms", f"{mode} lab down (topology)", "ms", tuple(downs),
                tgt_down)]


def _check(runs: list[scenario.Run]) -> None:
    bad = [r for r in runs if not r.ok]
    if bad:
        raise LabError(f"benchmark scenario {bad[0].scenario.name} failed: {bad[0].message}")


def bench_scenarios(runs: int) -> list[Row]:
    rows = []
    for name in defaults.MATRIX:
        samples = []
        for _ in range(runs):
            r = scenario.run(name, lab="b" + scenario.get(name).lab)
            _check([r])
            samples.append(r.timings["total"])
        target = "<= 0.5 s" if name == "relay_v4" else ""
        rows.append(Row(f"scenario_{name}_s", f"scenario {name}, end to end", "s",
                        tuple(samples), target))
    seq = _times(lambda: _check(scenario.run_matrix(list(defaults.MATRIX), prefix="b")), runs)
    par = _times(lambda: _check(scenario.run_matrix(list(defaults.MATRIX), parallel=True,
                                                    prefix="b")), runs)
    rows.append(Row("matrix_sequential_s", "four-scenario matrix, sequential", "s",
                    tuple(seq), "<= 3.0 s"))
    rows.append(Row("matrix_parallel_s", "four-scenario matrix, parallel labs", "s",
                    tuple(par), "<= 2.0 s"))
    return rows


def bench_decode(runs: int, exchanges: int, pyshark_runs: int = 1) -> list[Row]:
    from lab import refmap, synth

    with tempfile.TemporaryDirectory() as tmp:
        pcap = Path(tmp) / "synthetic.pcap"
        synth.write_synthetic_pcap(pcap, exchanges)
        imap = refmap.synth_ifmap()
        samples = []
        packets = 0
        for _ in range(runs):
            t0 = time.perf_counter()
            decoded = decode.decode_pcap(pcap)
            flow.normalize(decoded.frames, imap)
            samples.append(decoded.records / (time.perf_counter() - t0))
            packets = decoded.records
        rows = [Row("decode_normalize_pps", f"decode+normalize, dpkt path ({packets:,} pkts)",
                    "pkt/s", tuple(samples), ">= 50,000 pkt/s")]
        from lab import crosscheck

        py = [crosscheck.throughput_pyshark(pcap) for _ in range(pyshark_runs)]
        rows.append(Row("decode_pyshark_pps", "decode, pyshark/tshark path (same pcap)",
                        "pkt/s", tuple(py)))
        return rows


def bench_dut(seconds: float, runs: int) -> list[Row]:
    """The reference DUT in a lab's lb namespace, a blaster in relay, a sink in server."""
    topo = topology.build("bf", "relay")
    netns.destroy(topology.all_namespaces("bf"))
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        netns.build(topo)
        try:
            rows = []
            for family in (4, 6):
                rates = [_forward_rate(topo, run_dir, family, seconds) for _ in range(runs)]
                unit = "pkt/s" if family == 4 else "msg/s"
                target = ">= 60k pkt/s" if family == 4 else ">= 45k msg/s"
                rows.append(Row(f"dut_forward_v{family}_pps",
                                f"reference DUT forwarding, v{family} (blaster)", unit,
                                tuple(rates), target))
            perf = _perfdhcp_rate(topo, run_dir, seconds)
            if perf is not None:
                rows.append(Row("dut_forward_v4_perfdhcp_pps",
                                "reference DUT forwarding, v4 (perfdhcp)", "pkt/s", (perf,)))
            return rows
        finally:
            netns.destroy(topo.namespaces)


def _sink_spec(topo: topology.Topology, family: int, seconds: float) -> daemons.DaemonSpec:
    addr = topo.addr("srv", family)
    port = 67 if family == 4 else 547
    bind = f"{addr}:{port}" if family == 4 else f"[{addr}]:{port}"
    argv = (sys.executable, "-m", "lab.dut.blast", "sink", "-version", str(family), "-bind",
            bind, "-seconds", str(seconds), "-idle", "0.5", "-allow-remote")
    return daemons.DaemonSpec(f"sink-v{family}", "server", topo.node("server").ns, argv,
                              ((family, port),))


def _forward_rate(topo: topology.Topology, run_dir: Path, family: int, seconds: float) -> float:
    dut = daemons.dut(topo, run_dir, family, None, throttle=False)
    sink = _sink_spec(topo, family, seconds)
    started = [(dut, daemons.start(dut, run_dir)), (sink, daemons.start(sink, run_dir))]
    try:
        daemons.wait_ready(started, run_dir, defaults.READY_TIMEOUT_S)
        lb = topo.addr("lb", family)
        to = f"{lb}:67" if family == 4 else f"[{lb}]:547"
        count = int(seconds * 150_000)  # more than the DUT can take in ``seconds``
        proc.run(["ip", "netns", "exec", topo.node("relay").ns, sys.executable, "-m",
                  "lab.dut.blast", "send", "-version", str(family), "-to", to, "-count",
                  str(count), "-allow-remote"], timeout=seconds * 10 + 30)
        proc.wait_gone(started[1][1], seconds + 10)  # the sink ends on its own idle timeout
        rate = _last_rate(sink.log(run_dir))
        if rate is None:
            raise LabError("forwarding benchmark: the sink reported nothing: "
                           f"{sink.log(run_dir).read_text().strip()}")
        return rate
    finally:
        for _, ident in started:
            proc.stop(ident)


def _perfdhcp_rate(topo: topology.Topology, run_dir: Path, seconds: float) -> float | None:
    import shutil

    if shutil.which("perfdhcp") is None:
        return None
    dut = daemons.dut(topo, run_dir, 4, None, throttle=False)
    sink = _sink_spec(topo, 4, seconds)
    started = [(dut, daemons.start(dut, run_dir)), (sink, daemons.start(sink, run_dir))]
    try:
        daemons.wait_ready(started, run_dir, defaults.READY_TIMEOUT_S)
        proc.run(["ip", "netns", "exec", topo.node("relay").ns, "perfdhcp", "-4",
                  "-r", "60000", "-R", "100000", "-p", str(int(max(1, seconds))),
                  "-l", topo.addr("rly-ext", 4), topo.addr("lb", 4)], check=False,
                 timeout=seconds * 10 + 30)
        proc.wait_gone(started[1][1], seconds + 10)  # the sink ends on its own idle timeout
        return _last_rate(sink.log(run_dir))
    finally:
        for _, ident in started:
            proc.stop(ident)


def _last_rate(log: Path) -> float | None:
    """The rate of the sink's latest run (a restarted daemon appends to its log)."""
    rates = re.findall(r"rate=(\d+)", log.read_text())
    return float(rates[-1]) if rates else None


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except FileNotFoundError:
        pass
    return f"{platform.node()}: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}"


def main(runs: int = 5, json_out: str | None = None, only: list[str] | None = None) -> int:
    sections: dict[str, Callable[[], list[Row]]] = {
        "topology": lambda: bench_topology("relay", max(runs, 10))
        + bench_topology("server", max(runs, 10)),
        "scenarios": lambda: bench_scenarios(runs),
        "decode": lambda: bench_decode(runs, 5000),
        "dut": lambda: bench_dut(2.0, max(1, min(runs, 3))),
    }
    picked = only or list(sections)
    unknown = [p for p in picked if p not in sections]
    if unknown:
        raise UsageError(f"unknown benchmark section {unknown[0]!r}: choose from "
                         f"{', '.join(sections)}")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# dhcp-lab benchmark, {stamp}, {machine()}")
    print(f"{'metric':<44} {'median':>10} {'unit':<6} {'':>13} {'':>14} {'':>5} target")
    rows: list[Row] = []
    for name in picked:
        for row in sections[name]():
            print(row.line(), flush=True)
            rows.append(row)
    if json_out:
        Path(json_out).write_text(json.dumps({
            "date": stamp, "machine": machine(),
            **{r.key: {"median": r.median, "min": min(r.samples), "max": max(r.samples),
                       "unit": r.unit, "runs": len(r.samples), "target": r.target}
               for r in rows}}, indent=2) + "\n")
    return 0
