"""Address pool (start..end inclusive) and the JSON lease store.

File format (diff-friendly, one object per lease)::

    {"version": 1, "leases": [{"address": "192.168.100.10", "client": "hw:e63d3d9abeaa",
      "state": "bound", "expires": 1700000000, "mac": "e6:3d:3d:9a:be:aa"}]}

States: ``offered`` (held briefly between OFFER/ADVERTISE and REQUEST), ``bound``,
``declined`` (unusable until it expires). A missing file is an empty store (the lab resets
state by deleting it); a corrupt one is a LeaseFileError and is never overwritten. Writes go
to a temp file in the same directory, then ``os.replace``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from lab.dut.errors import LeaseFileError

STATES = ("offered", "bound", "declined")
FORMAT_VERSION = 1
# A pool scan gives up after this many addresses: a /64 pool must not stall the server.
SCAN_LIMIT = 1 << 16


@dataclass
class Lease:
    """One lease. Fields: address (text), client (key: "id:<hex>"/"hw:<hex>" for v4,
    "<duid hex>/<iaid hex>" for v6), state, expires (unix seconds), mac (text, may be "")."""

    address: str
    client: str
    state: str
    expires: float
    mac: str = ""


class Pool:
    """An inclusive address range of one family."""

    def __init__(self, start: str, end: str) -> None:
        self.start = ipaddress.ip_address(start)
        self.end = ipaddress.ip_address(end)
        self.version = self.start.version
        self.lo = int(self.start)
        self.hi = int(self.end)

    def __contains__(self, addr: object) -> bool:
        if not isinstance(addr, str):
            return False
        try:
            a = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return a.version == self.version and self.lo <= int(a) <= self.hi

    def __len__(self) -> int:
        return self.hi - self.lo + 1

    def addresses(self) -> Iterator[str]:
        for i in range(self.lo, min(self.hi, self.lo + SCAN_LIMIT - 1) + 1):
            yield str(ipaddress.ip_address(i))


def _check(path: str, doc: object) -> list[Lease]:
    if not isinstance(doc, dict) or not isinstance(doc.get("leases"), list):
        raise LeaseFileError(f'lease file {path}: corrupt: expected {{"leases": [...]}}; '
                             "fix or delete it")
    out = []
    for i, item in enumerate(doc["leases"]):
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("address"), str)
            and isinstance(item.get("client"), str)
            and item.get("state") in STATES
            and isinstance(item.get("expires"), int | float)
            and not isinstance(item.get("expires"), bool)
            and isinstance(item.get("mac", ""), str)
        )
        if ok:
            try:
                ipaddress.ip_address(item["address"])
            except ValueError:
                ok = False
        if not ok:
            raise LeaseFileError(f"lease file {path}: corrupt: bad entry leases[{i}]; "
                                 "fix or delete it")
        out.append(Lease(item["address"], item["client"], item["state"],
                         float(item["expires"]), item.get("mac", "")))
    return out


def read_lease_file(path: str) -> list[Lease]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    except OSError as err:
        raise LeaseFileError(f"lease file {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise LeaseFileError(f"lease file {path}: corrupt: not UTF-8; fix or delete it") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise LeaseFileError(f"lease file {path}: corrupt: {err}; fix or delete it") from None
    return _check(path, doc)


def write_atomic(path: str, text: str) -> None:
    """Write via a temp file in the same directory and os.replace: readers see old or new."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class LeaseStore:
    """Leases by address, with the allocation rules both servers share."""

    def __init__(self, path: str | None, pool: Pool,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.pool = pool
        self.clock = clock
        self.by_addr: dict[str, Lease] = {}
        if path is not None:
            for lease in read_lease_file(path):
                self.by_addr[lease.address] = lease

    def save(self) -> None:
        if self.path is None:
            return
        items = []
        for lease in sorted(self.by_addr.values(),
                            key=lambda x: int(ipaddress.ip_address(x.address))):
            item = asdict(lease)
            item["expires"] = int(lease.expires)
            items.append(item)
        doc = {"version": FORMAT_VERSION, "leases": items}
        write_atomic(self.path, json.dumps(doc, indent=1) + "\n")

    def active(self, lease: Lease) -> bool:
        return lease.expires > self.clock()

    def holder(self, addr: str) -> Lease | None:
        """The unexpired lease on addr (any state), or None."""
        lease = self.by_addr.get(addr)
        return lease if lease is not None and self.active(lease) else None

    def of_client(self, client: str) -> Lease | None:
        """The client's lease (expired ones count while nobody else took the address)."""
        best = None
        for lease in self.by_addr.values():
            if lease.client == client and lease.state != "declined":
                if best is None or lease.expires > best.expires:
                    best = lease
        return best

    def usable_by(self, addr: str, client: str) -> bool:
        """addr is in the pool and either free or already this client's."""
        if addr not in self.pool:
            return False
        lease = self.holder(addr)
        return lease is None or (lease.client == client and lease.state != "declined")

    def allocate(self, client: str, hint: str | None = None) -> str | None:
        """Pick an address: the client's own, then the hint, then a never-used one, then an
        expired one. None when the pool is exhausted."""
        own = self.of_client(client)
        if own is not None and self.usable_by(own.address, client):
            return own.address
        if hint is not None and self.usable_by(hint, client):
            return hint
        expired = None
        for addr in self.pool.addresses():
            lease = self.by_addr.get(addr)
            if lease is None:
                return addr
            if expired is None and not self.active(lease):
                expired = addr
        return expired

    def put(self, addr: str, client: str, state: str, seconds: float, mac: str = "") -> Lease:
        # one lease per client key: drop the client's other non-declined leases
        for other in [x for x in self.by_addr.values()
                      if x.client == client and x.address != addr and x.state != "declined"]:
            del self.by_addr[other.address]
        lease = Lease(addr, client, state, self.clock() + seconds, mac)
        self.by_addr[addr] = lease
        self.save()
        return lease

    def release(self, addr: str, client: str) -> bool:
        lease = self.by_addr.get(addr)
        if lease is None or lease.client != client or lease.state == "declined":
            return False
        del self.by_addr[addr]
        self.save()
        return True

    def decline(self, addr: str, seconds: float) -> None:
        self.by_addr[addr] = Lease(addr, "declined", "declined", self.clock() + seconds)
        self.save()
