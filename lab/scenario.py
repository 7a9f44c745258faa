"""A scenario run: lab -> capture -> client -> decode -> normalize -> compare -> down.

The run is an explicit list of steps over one context; each step may stop the run with an
outcome. Whatever happens, the lab is removed and the capture run directory keeps the pcap,
the interface map, every daemon's log and the normalized flow, so a failure can be read.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab import (
    capture,
    client,
    decode,
    defaults,
    flow,
    golden,
    ifmap,
    instance,
    mermaid,
    topology,
)
from lab.errors import LabError, UsageError


@dataclass(frozen=True)
class Scenario:
    """Fields: name, mode, family, rapid_commit, lab (default lab instance name). What each
    scenario shows is in the README's scenario table."""

    name: str
    mode: str
    family: int
    rapid_commit: bool
    lab: str


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("relay_v4", "relay", 4, False, "r4"),
        Scenario("relay_v6", "relay", 6, False, "r6"),
        Scenario("server_v4", "server", 4, False, "s4"),
        Scenario("server_v6", "server", 6, False, "s6"),
        Scenario("relay_v6_rapid", "relay", 6, True, "r6r"),
        Scenario("server_v6_rapid", "server", 6, True, "s6r"),
    )
}
assert tuple(SCENARIOS) == defaults.SCENARIOS


def get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UsageError(
            f"unknown scenario {name!r}: choose one of {', '.join(SCENARIOS)}"
        ) from None


@dataclass
class Run:
    """The context that flows through the steps, and the outcome they fill in."""

    scenario: Scenario
    lab: str
    dut_bin: str | None
    update: bool
    goldens_dir: Path
    captures_root: Path
    run: capture.CaptureRun | None = None
    client: client.ClientResult | None = None
    client_error: str | None = None
    flow_text: str | None = None
    ok: bool = False
    owns_lab: bool = False  # only a lab this run claimed is removed at the end
    message: str = ""
    timings: dict[str, float] = field(default_factory=dict)


Step = Callable[[Run], bool]  # False stops the run


def step_claim(r: Run) -> bool:
    """Take the lab name, or refuse before anything (even a capture run) is made."""
    instance.claim_for_scenario(r.lab)  # a scenario always starts from a fresh lab
    r.owns_lab = True
    return True


def step_prepare(r: Run) -> bool:
    r.run = capture.new_run(r.scenario.name, r.lab, r.captures_root)
    return True


def step_up(r: Run) -> bool:
    instance.up(r.lab, r.scenario.mode, r.dut_bin, owner="scenario")
    return True


def step_capture_client(r: Run) -> bool:
    assert r.run is not None
    state = instance.require_up(r.lab)
    with capture.capturing(state.topo, r.run):
        try:
            r.client = client.run(r.lab, r.scenario.family, r.scenario.rapid_commit)
        except LabError as err:
            r.client_error = str(err)
    return True


def keep_logs(r: Run) -> None:
    """Copy the lab's logs and configs into the capture run before the lab goes away."""
    if r.run is None or not r.owns_lab:
        return
    src = instance.run_dir(r.lab)
    for pattern in ("*.log", "*.conf", "*.json", "*.events"):
        for path in sorted(src.glob(pattern)):
            shutil.copy2(path, r.run.dir / path.name)


def step_decode_normalize(r: Run) -> bool:
    assert r.run is not None
    decoded = decode.decode_pcap(r.run.pcap)
    f = flow.normalize(decoded.frames, ifmap.load(r.run.ifmap))
    flow.check_attributed(f, r.run.ifmap)
    r.flow_text = flow.render(f)
    (r.run.dir / "flow.txt").write_text(r.flow_text)
    (r.run.dir / "flow.mmd").write_text(mermaid.sequence_diagram(f))
    if r.client_error is not None:
        r.message = (f"{r.client_error}\n--- obtained flow ({r.run.dir / 'flow.txt'}) ---\n"
                     f"{r.flow_text}")
        return False
    return True


def step_compare(r: Run) -> bool:
    assert r.flow_text is not None and r.run is not None
    name = r.scenario.name
    if r.update:
        existed = golden.golden_path(name, r.goldens_dir).exists()
        changed = golden.update(name, r.flow_text, r.goldens_dir)
        r.ok = True
        verdict = ("CHANGED" if existed else "CREATED") if changed else "unchanged"
        r.message = f"{name}: golden {verdict}"
        return True
    result = golden.compare(name, r.flow_text, r.goldens_dir)
    r.ok = result.ok
    if result.ok:
        r.message = f"{name}: flow matches {golden.golden_path(name, r.goldens_dir)}"
    else:
        diff = f"\n{result.diff}" if result.diff else ""
        r.message = f"{name}: {result.message}{diff}\ncapture run: {r.run.dir}"
    return result.ok


STEPS: tuple[tuple[str, Step], ...] = (
    ("claim", step_claim),
    ("prepare", step_prepare),
    ("up", step_up),
    ("capture+client", step_capture_client),
    ("decode+normalize", step_decode_normalize),
    ("compare", step_compare),
)


def run(name: str, *, lab: str | None = None, dut_bin: str | None = None,
        update: bool = False, goldens_dir: Path | None = None,
        captures_root: Path | None = None) -> Run:
    """Run scenario ``name`` end to end. The lab is always removed afterwards."""
    sc = get(name)
    r = Run(sc, lab or sc.lab, dut_bin, update, goldens_dir or defaults.GOLDENS_DIR,
            captures_root or defaults.CAPTURES_DIR)
    t_all = time.perf_counter()
    try:
        for label, step in STEPS:
            t0 = time.perf_counter()
            try:
                going = step(r)
            except LabError as err:
                r.message = f"{sc.name}: {label} failed: {err}"
                if r.run is not None:
                    r.message += f"\ncapture run: {r.run.dir}"
                going = False
            r.timings[label] = time.perf_counter() - t0
            if not going:
                break
    finally:
        t0 = time.perf_counter()
        keep_logs(r)
        if r.owns_lab:
            if r.run is not None:  # the lab's run dir goes away: point at the kept copies
                r.message = r.message.replace(str(instance.run_dir(r.lab)), str(r.run.dir))
            instance.down(r.lab)
        r.timings["down"] = time.perf_counter() - t0
        r.timings["total"] = time.perf_counter() - t_all
    return r


def run_matrix(names: list[str], *, parallel: bool = False, dut_bin: str | None = None,
               update: bool = False, prefix: str = "") -> list[Run]:
    """Run several scenarios, each in its own lab instance, one after another or at once."""
    labs = {n: f"{prefix}{get(n).lab}" for n in names}
    for n, lab in labs.items():  # every lab name is checked before any lab is built
        try:
            topology.build(lab, get(n).mode)
        except UsageError as err:
            raise UsageError(f"prefix {prefix!r} is too long for scenario {n} (lab {lab!r}): "
                             f"{err}") from None

    def one(n: str) -> Run:
        return run(n, lab=labs[n], dut_bin=dut_bin, update=update)

    if not parallel:
        return [one(n) for n in names]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(one, names))
