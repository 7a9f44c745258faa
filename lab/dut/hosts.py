"""Backend host lists, their reload, MAC overrides and backend selection (dhcplb's rules).

- A host file holds one backend a line: an address, or ``host:port`` / ``[v6]:port``
  (dhcplb's FileSourcer); the default port is 67 (v4) or 547 (v6). Blank lines and ``#``
  comments are skipped; a line that doesn't resolve is logged and skipped.
- ``xid``: 32-bit FNV-1a over the client identifier (chaddr[:hlen] for v4, the DUID bytes of
  the innermost message's option 1 for v6), index = hash mod len(list). ``rr``: round robin
  per message, one counter for stable and one for RC, reset when a list changes.
- ``rc_ratio``: hash mod 100 < rc_ratio picks the RC list (the second host_sourcer file).
- Overrides (dhcplb's ``-overrides`` JSON: {"v4": {MAC: {host, tier, expiration}}, "v6": ...})
  come first: ``host`` is one address, ``tier`` a host-file path; an expired or unparsable
  ``expiration`` ("2006/01/02 15:04 -0700") means the override is ignored.
Reloads run off the hot path: ``Watcher`` polls (mtime, ctime, inode, size) from a thread and
swaps in a new tuple, so a packet only reads an attribute.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger("dut")

Addr = tuple[str, int]
FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193


def fnv1a32(data: bytes | bytearray | memoryview) -> int:
    """32-bit FNV-1a, as Go's hash/fnv New32a."""
    h = FNV_OFFSET
    for b in bytes(data):
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
    return h


def default_port(version: int) -> int:
    return 67 if version == 4 else 547


def parse_host_line(line: str, version: int) -> Addr | None:
    """One host-file line -> (numeric address, port), None for blank/comment/unusable lines."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    host, port = line, default_port(version)
    if line.startswith("["):
        end = line.find("]")
        if end < 0:
            log.error("host list: bad line %r", line)
            return None
        host, rest = line[1:end], line[end + 1 :]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                log.error("host list: bad port in %r", line)
                return None
            port = int(rest[1:])
    elif line.count(":") == 1:
        host, _, p = line.partition(":")
        if not p.isdigit():
            log.error("host list: bad port in %r", line)
            return None
        port = int(p)
    if not 0 < port < 65536:
        log.error("host list: bad port in %r", line)
        return None
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    try:
        info = socket.getaddrinfo(host, port, family, socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        log.error("host list: can't resolve %r for IPv%d, skipped", host, version)
        return None
    return (str(info[0][4][0]), port)


def read_host_file(path: str, version: int) -> tuple[Addr, ...]:
    """Read a host file; a missing/unreadable file is an empty list (logged)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as err:
        log.error("host list %s: %s", path, err.strerror or err)
        return ()
    out = []
    for line in lines:
        addr = parse_host_line(line, version)
        if addr is not None:
            out.append(addr)
    return tuple(out)


def file_signature(path: str) -> tuple[int, ...] | None:
    """What changes when a file is rewritten in place or replaced by rename."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class HostFile:
    """A host list file and its current content (``servers``, a tuple swapped on reload)."""

    def __init__(self, path: str, version: int, name: str = "stable") -> None:
        self.path = path
        self.version = version
        self.name = name
        self.sig = file_signature(path)
        self.servers: tuple[Addr, ...] = read_host_file(path, version)
        self.on_change: Callable[[], None] | None = None
        self._log_list()

    def _log_list(self) -> None:
        shown = ", ".join(f"{h}:{p}" for h, p in self.servers) or "(empty)"
        log.info("%s servers from %s: %s", self.name, self.path, shown)

    def reload_if_changed(self) -> bool:
        sig = file_signature(self.path)
        if sig == self.sig:
            return False
        self.sig = sig
        servers = read_host_file(self.path, self.version)
        changed = servers != self.servers
        self.servers = servers
        if changed:
            self._log_list()
            if self.on_change is not None:
                self.on_change()
        return changed


@dataclass(frozen=True)
class Override:
    """One MAC override. Fields: host (backend address or None), tier (host-file path or
    None), expires (unix time or None = never), invalid (expiration didn't parse)."""

    host: Addr | None
    tier: str | None
    expires: float | None
    invalid: bool = False


def parse_mac(text: str) -> bytes | None:
    parts = text.replace("-", ":").split(":")
    try:
        raw = bytes(int(p, 16) for p in parts)
    except ValueError:
        return None
    if len(parts) < 1 or any(len(p) not in (1, 2) for p in parts):
        return None
    return raw


def parse_overrides(text: str, version: int) -> dict[bytes, Override]:
    """dhcplb's overrides JSON for one family. Raises ValueError with a one-line reason."""
    try:
        doc = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ValueError("must be a JSON object")
    section = doc.get(f"v{version}") or {}
    if not isinstance(section, dict):
        raise ValueError(f"v{version}: must be an object")
    out: dict[bytes, Override] = {}
    for mac_text, spec in section.items():
        mac = parse_mac(mac_text)
        if mac is None or not isinstance(spec, dict):
            raise ValueError(f"v{version}.{mac_text}: must be MAC -> {{host, tier, expiration}}")
        host = spec.get("host") or None
        tier = spec.get("tier") or None
        addr = None
        if host is not None:
            addr = parse_host_line(str(host), version)
            if addr is None:
                raise ValueError(f"v{version}.{mac_text}.host: not an address: {host!r}")
        expires: float | None = None
        invalid = False
        exp = spec.get("expiration") or ""
        if exp:
            try:
                expires = datetime.strptime(str(exp), "%Y/%m/%d %H:%M %z").timestamp()
            except ValueError:
                log.error("override for %s: can't parse expiration %r, ignoring it",
                          mac_text, exp)
                invalid = True
                expires = None
        out[mac] = Override(addr, str(tier) if tier else None, expires, invalid)
    return out


class OverridesFile:
    """The overrides file and its parsed content; a reload that fails keeps the old content."""

    def __init__(self, path: str, version: int) -> None:
        self.path = path
        self.version = version
        self.sig = file_signature(path)
        self.entries: dict[bytes, Override] = self._read(initial=True)

    def _read(self, initial: bool) -> dict[bytes, Override]:
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
            entries = parse_overrides(text, self.version)
        except (OSError, UnicodeDecodeError, ValueError) as err:
            msg = f"overrides file {self.path}: {getattr(err, 'strerror', None) or err}"
            if initial:
                raise ValueError(msg) from None
            log.error("%s; keeping the previous overrides", msg)
            return self.entries
        log.info("loaded %d override(s) from %s", len(entries), self.path)
        return entries

    def reload_if_changed(self) -> bool:
        sig = file_signature(self.path)
        if sig == self.sig:
            return False
        self.sig = sig
        self.entries = self._read(initial=False)
        return True


class Selector:
    """Picks a backend for a client: override, then rc_ratio, then xid or rr."""

    HASH_CACHE_MAX = 65536

    def __init__(
        self,
        version: int,
        algorithm: str,
        rc_ratio: int,
        stable: HostFile,
        rc: HostFile | None = None,
        overrides: OverridesFile | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.version = version
        self.rr = algorithm == "rr"
        self.rc_ratio = rc_ratio
        self.stable = stable
        self.rc = rc
        self.overrides = overrides
        self.clock = clock
        self.iter_stable = 0
        self.iter_rc = 0
        self.iter_list = 0
        self._hashes: dict[bytes, int] = {}
        self._tiers: dict[str, HostFile] = {}
        stable.on_change = self._reset_rr
        if rc is not None:
            rc.on_change = self._reset_rr

    def _reset_rr(self) -> None:
        self.iter_stable = 0
        self.iter_rc = 0

    def hash(self, client_id: bytes) -> int:
        h = self._hashes.get(client_id)
        if h is None:
            if len(self._hashes) >= self.HASH_CACHE_MAX:
                self._hashes.clear()
            h = self._hashes[client_id] = fnv1a32(client_id)
        return h

    def _from_list(self, servers: tuple[Addr, ...], client_id: bytes) -> Addr | None:
        n = len(servers)
        if not n:
            return None
        if self.rr:
            i = self.iter_list % n
            self.iter_list = i + 1
            return servers[i]
        return servers[self.hash(client_id) % n]

    def pick(self, client_id: bytes, mac: bytes | None = None) -> Addr | None:
        """The backend for this message, or None (empty list: the caller drops and logs)."""
        if self.overrides is not None and mac is not None and self.overrides.entries:
            chosen = self._override(mac, client_id)
            if chosen is not None:
                return chosen
        if self.rc_ratio and self.hash(client_id) % 100 < self.rc_ratio:
            servers = self.rc.servers if self.rc is not None else ()
            self.iter_list = self.iter_rc
            self.iter_rc += 1
        else:
            servers = self.stable.servers
            self.iter_list = self.iter_stable
            self.iter_stable += 1
        return self._from_list(servers, client_id)

    def _override(self, mac: bytes, client_id: bytes) -> Addr | None:
        assert self.overrides is not None
        ov = self.overrides.entries.get(mac)
        if ov is None or ov.invalid:
            return None
        mac_s = ":".join(f"{b:02x}" for b in mac)
        if ov.expires is not None and self.clock() > ov.expires:
            log.info("override for %s expired, ignoring it", mac_s)
            return None
        if ov.host is not None:
            return ov.host
        if ov.tier is not None:
            tier = self._tiers.get(ov.tier)
            if tier is None:
                tier = self._tiers[ov.tier] = HostFile(ov.tier, self.version, f"tier {ov.tier}")
            else:
                tier.reload_if_changed()
            chosen = self._from_list(tier.servers, client_id)
            if chosen is None:
                log.error("override for %s: tier %s has no servers", mac_s, ov.tier)
            return chosen
        return None


class Watcher:
    """A daemon thread that calls each source's reload_if_changed every ``interval`` s."""

    def __init__(self, interval: float, sources: list[HostFile | OverridesFile]) -> None:
        self.interval = interval if interval > 0 else 1.0
        self.sources = sources
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="host-watcher", daemon=True)

    def start(self) -> None:
        if self.sources:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def poll(self) -> bool:
        changed = False
        for src in self.sources:
            try:
                changed = src.reload_if_changed() or changed
            except Exception as err:  # a reload never kills the watcher
                log.error("reload of %s failed: %s", src.path, err)
        return changed

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()
