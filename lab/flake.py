"""The flake gate: run the scenario matrix N times and report every run whose normalized
flow differed from the first one (or from its golden).

    python -m lab flake --runs 50 [--parallel]
"""

from __future__ import annotations

import difflib
import time
from collections import Counter
from dataclasses import dataclass, field

from lab import defaults, scenario


@dataclass
class FlakeReport:
    """Fields: runs (N), flows (scenario -> Counter of flow texts), failures (scenario ->
    list of (round, message)), seconds."""

    runs: int
    flows: dict[str, Counter[str]] = field(default_factory=dict)
    failures: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def differing(self) -> int:
        """Runs whose flow differed from that scenario's most common flow, plus failures."""
        n = sum(sum(c.values()) - c.most_common(1)[0][1] for c in self.flows.values() if c)
        return n + sum(len(f) for f in self.failures.values())


def gate(runs: int, names: list[str] | None = None, parallel: bool = False) -> FlakeReport:
    names = names or list(defaults.MATRIX)
    report = FlakeReport(runs)
    t0 = time.perf_counter()
    for i in range(runs):
        for r in scenario.run_matrix(names, parallel=parallel, prefix="f"):
            name = r.scenario.name
            report.flows.setdefault(name, Counter())
            if r.flow_text is not None:
                report.flows[name][r.flow_text] += 1
            if not r.ok:
                report.failures.setdefault(name, []).append((i + 1, r.message))
        print(f"round {i + 1}/{runs}: {report.differing} differing so far", flush=True)
    report.seconds = time.perf_counter() - t0
    return report


def render(report: FlakeReport) -> str:
    lines = [f"flake gate: {report.runs} rounds of {len(report.flows)} scenarios "
             f"in {report.seconds:.1f}s: {report.differing} differing"]
    for name, flows in report.flows.items():
        total = sum(flows.values())
        lines.append(f"  {name}: {total} runs, {len(flows)} distinct flow(s), "
                     f"{len(report.failures.get(name, []))} failed")
        if len(flows) > 1:
            common = flows.most_common(1)[0][0]
            for text, count in flows.most_common()[1:]:
                lines.append(f"  --- {name}: {count} run(s) differ from the usual flow:")
                lines += ["    " + d for d in difflib.unified_diff(
                    common.splitlines(), text.splitlines(), "usual", "odd", lineterm="")]
        for rnd, msg in report.failures.get(name, [])[:5]:
            lines.append(f"    round {rnd}: {msg.splitlines()[0]}")
    return "\n".join(lines)
