"""Golden flows: compare an obtained flow with the stored one, and regenerate on request.

Modelled on pytest-regressions: a mismatch writes ``<golden>.obtained`` beside the golden
and returns a unified diff; a missing golden fails loudly (it is never written implicitly:
a golden must be reviewed, so creating one is the explicit ``invoke goldens.update``);
a match removes a stale ``.obtained``. Goldens live at ``goldens/<scenario>.flow``.

Every obtained file ends in ``.obtained`` (one ``*.obtained`` line in .gitignore covers them)
and never in ``.flow``, so it is never mistaken for a golden.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lab.errors import GoldenError
from lab.flow import EXCHANGE_RE, HEADER, LINE_RE

SUFFIX = ".flow"
OBTAINED_SUFFIX = ".obtained"
UPDATE_HINT = "invoke goldens.update --scenario {scenario}"
_SCENARIO_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MAX_BYTES = 1 << 20  # a flow golden is a few KB; anything near this is not a golden


@dataclass(frozen=True)
class Golden:
    """A validated golden text. Fields: source (for messages), lines (without the header),
    transmissions and exchanges (how many lines of each kind)."""

    source: str
    lines: tuple[str, ...]
    transmissions: int
    exchanges: int


@dataclass(frozen=True)
class GoldenResult:
    """Outcome of one comparison. Fields: scenario, golden (path), ok, missing, obtained
    (the .obtained path written on failure, else None), diff (unified, '' when ok),
    message (one line saying what happened and what to do)."""

    scenario: str
    golden: Path
    ok: bool
    missing: bool
    obtained: Path | None
    diff: str
    message: str

    def check(self) -> None:
        """Raise GoldenError (message, then the diff) unless the flow matched."""
        if not self.ok:
            raise GoldenError(self.message + ("\n" + self.diff if self.diff else ""))


def golden_path(scenario: str, goldens_dir: Path) -> Path:
    if not _SCENARIO_RE.match(scenario):
        raise GoldenError(f"scenario name {scenario!r} is invalid: use [a-z0-9_-], "
                          "starting with a letter or digit")
    return goldens_dir / f"{scenario}{SUFFIX}"


def obtained_path(scenario: str, goldens_dir: Path) -> Path:
    return golden_path(scenario, goldens_dir).with_name(f"{scenario}{SUFFIX}{OBTAINED_SUFFIX}")


def parse(text: str, source: str = "<golden>") -> Golden:
    """Validate a golden text; GoldenError names the source and line of the first problem."""
    if not text.strip():
        raise GoldenError(f"{source}: golden is empty; regenerate it with "
                          "invoke goldens.update")
    if not text.endswith("\n"):
        raise GoldenError(f"{source}: golden does not end with a newline (truncated?)")
    raw_lines = text[:-1].split("\n")
    if raw_lines[0] != HEADER:
        raise GoldenError(f"{source}:1: expected header {HEADER!r}, found "
                          f"{_show(raw_lines[0])}")
    transmissions = exchanges = 0
    seen_exchange = False
    for n, line in enumerate(raw_lines[1:], start=2):
        if not line:
            continue
        if any(ord(c) < 32 or ord(c) == 127 for c in line):
            raise GoldenError(f"{source}:{n}: control characters in line: {_show(line)}")
        if LINE_RE.match(line):
            if seen_exchange:
                raise GoldenError(f"{source}:{n}: transmission after the exchange summary")
            transmissions += 1
        elif EXCHANGE_RE.match(line):
            seen_exchange = True
            exchanges += 1
        else:
            raise GoldenError(f"{source}:{n}: not a flow line: {_show(line)}")
    if transmissions == 0:
        raise GoldenError(f"{source}: golden has a header but no transmissions")
    return Golden(source, tuple(raw_lines[1:]), transmissions, exchanges)


def _show(line: str, limit: int = 60) -> str:
    s = repr(line)
    return s if len(s) <= limit else s[:limit] + "..."


def read_text(path: Path) -> str:
    """A golden's text, refusing binary junk with a message naming file and line."""
    data = path.read_bytes()
    if len(data) > _MAX_BYTES:
        raise GoldenError(f"{path}: {len(data)} bytes is far too large for a golden flow")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data[:nul].count(b"\n") + 1
        raise GoldenError(f"{path}:{line}: binary data (NUL byte) in a golden")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GoldenError(f"{path}:{line}: not UTF-8 text ({exc.reason})") from None


def load(path: Path) -> Golden:
    """Read and validate a golden file."""
    return parse(read_text(path), str(path))


def _unified(golden: str, obtained: str, fromfile: str, tofile: str) -> str:
    return "".join(difflib.unified_diff(
        golden.splitlines(keepends=True), obtained.splitlines(keepends=True),
        fromfile=fromfile, tofile=tofile))


def _label(path: Path) -> str:
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def compare(scenario: str, obtained: str, goldens_dir: Path) -> GoldenResult:
    """Compare ``obtained`` with goldens/<scenario>.flow.

    Missing golden: writes the .obtained file, fails. Mismatch: writes the .obtained file and
    returns the diff. Match: removes a stale .obtained. A malformed golden raises GoldenError
    (after writing the .obtained file), since no diff against it would mean anything.
    """
    gpath = golden_path(scenario, goldens_dir)
    opath = obtained_path(scenario, goldens_dir)
    hint = UPDATE_HINT.format(scenario=scenario)
    if not gpath.exists():
        _write(opath, obtained)
        return GoldenResult(
            scenario, gpath, ok=False, missing=True, obtained=opath, diff="",
            message=(f"golden {_label(gpath)} is missing: review {_label(opath)}, then "
                     f"create the golden with `{hint}`"))
    try:
        golden_text = read_text(gpath)
        parse(golden_text, _label(gpath))  # a malformed golden raises here
    except GoldenError as err:
        _write(opath, obtained)
        raise GoldenError(f"{err}; fix the file, or re-record it with `{hint}` "
                          f"(the obtained flow is in {_label(opath)})") from err
    if golden_text == obtained:
        opath.unlink(missing_ok=True)
        return GoldenResult(scenario, gpath, ok=True, missing=False, obtained=None, diff="",
                            message=f"flow matches {_label(gpath)}")
    _write(opath, obtained)
    diff = _unified(golden_text, obtained, _label(gpath), _label(opath))
    body = [d for d in diff.splitlines() if not d.startswith(("+++", "---"))]
    missing = sum(1 for d in body if d.startswith("-"))
    extra = sum(1 for d in body if d.startswith("+"))
    return GoldenResult(
        scenario, gpath, ok=False, missing=False, obtained=opath, diff=diff,
        message=(f"flow differs from {_label(gpath)} ({missing} golden line(s) not seen, "
                 f"{extra} unexpected); obtained flow in {_label(opath)}; if the change "
                 f"is intended, run `{hint}`"))


def update(scenario: str, obtained: str, goldens_dir: Path) -> bool:
    """Write the golden (validated first); remove the stale .obtained. True if it changed."""
    parse(obtained, f"obtained flow of {scenario}")
    gpath = golden_path(scenario, goldens_dir)
    opath = obtained_path(scenario, goldens_dir)
    old = gpath.read_text() if gpath.exists() else None
    if old != obtained:
        _write(gpath, obtained)
    opath.unlink(missing_ok=True)
    return old != obtained


def unused(goldens_dir: Path, scenarios: Iterable[str]) -> list[Path]:
    """Goldens that no scenario uses (left behind by a rename or removal)."""
    if not goldens_dir.is_dir():
        return []
    names = set(scenarios)
    return sorted(p for p in goldens_dir.glob(f"*{SUFFIX}")
                  if p.is_file() and p.name[: -len(SUFFIX)] not in names)


def _write(path: Path, text: str) -> None:
    """Write atomically, so an interrupted update never leaves half a golden."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
