"""Balancer mode: dhcplb's forwarding rules, with lean hot paths.

DHCPv4: check length and magic cookie, add 1 to hops (mod 256, no hop limit, as dhcplb),
leave giaddr alone (DSR), pick a backend from chaddr[:hlen] and send the same bytes to
backend:67. giaddr 0.0.0.0 is forwarded the same way, with a warning.

DHCPv6: anything but RELAY-REPL is wrapped in a new RELAY-FORW whose only option is the
Relay Message (9): hop-count = inner relay's + 1 (0 for a client message), link-address =
inner relay's (:: for a client), peer-address = the sender. A RELAY-REPL loses its outer layer
and the inner message goes to the outer peer-address, port 547 when it is itself a RELAY-REPL
and 546 otherwise (RFC 8415 section 19.2; dhcplb always uses 547).

``forward`` methods work on a receive buffer in place and return (payload, backend) or None;
``handle`` wraps them as pure bytes -> [(bytes, Dest)] functions for the unit tests. The
``run`` loops are one blocking socket each, with counters kept in locals.
"""

from __future__ import annotations

import logging
import socket
import struct
import time

from lab.dut import wire4, wire6
from lab.dut.errors import Malformed
from lab.dut.hosts import Addr, Selector
from lab.dut.route import Dest, Out
from lab.dut.stats import Counters
from lab.dut.throttle import Throttle

log = logging.getLogger("dut")

_RELAY_OUT = struct.Struct("!BB16s16sHH")  # relay header + option 9 header
_RELAY_OUT_LEN = _RELAY_OUT.size  # 38
_COOKIE = wire4.COOKIE
IP_PKTINFO: int = getattr(socket, "IP_PKTINFO", 8)  # missing from typeshed



class RateLimitedLog:
    """At most one log line per ``every`` seconds for a repeated condition, with a count."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.last = -1e9
        self.suppressed = 0

    def __call__(self, level: int, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            self.suppressed += 1
            return
        if self.suppressed:
            msg += f" ({self.suppressed} similar suppressed)"
        self.suppressed = 0
        self.last = now
        log.log(level, msg, *args)


def _mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


class Balancer4:
    def __init__(self, selector: Selector, throttle: Throttle | None = None,
                 verbose: int = 0) -> None:
        self.selector = selector
        self.throttle = throttle
        self.verbose = verbose
        self.warn_gi0 = RateLimitedLog()
        self.warn_drop = RateLimitedLog()

    def forward(self, buf: bytearray, n: int, peer: tuple[str, int]) -> Addr | None:
        """Bump hops in ``buf`` and return the backend, or None to drop (logged)."""
        if n < 240 or not buf.startswith(_COOKIE, 236):
            raise Malformed(f"not a DHCPv4 message ({n} bytes)")
        hlen = buf[2]
        if hlen > 16:
            hlen = 16
        cid = bytes(buf[28 : 28 + hlen])
        buf[3] = (buf[3] + 1) & 0xFF
        if not (buf[24] | buf[25] | buf[26] | buf[27]):
            self.warn_gi0(logging.WARNING, "request from %s with giaddr 0.0.0.0 (not relayed); "
                          "forwarding it unchanged", peer[0])
        if self.throttle is not None and not self.throttle.ok(cid):
            self.warn_drop(logging.ERROR, "dropping request from %s: throttled",
                           _mac_text(cid))
            return None
        dest = self.selector.pick(cid, cid)
        if dest is None:
            self.warn_drop(logging.ERROR, "dropping request from %s: no backend servers",
                           _mac_text(cid))
        return dest

    def handle(self, data: bytes, peer: tuple[str, int]) -> list[Out]:
        """Pure form for tests: the forwarded bytes and their destination."""
        buf = bytearray(data)
        dest = self.forward(buf, len(buf), peer)
        return [] if dest is None else [(bytes(buf), Dest(dest[0], dest[1]))]

    def describe(self, buf: bytearray, n: int, peer: tuple[str, ...], dest: object) -> str:
        xid = int.from_bytes(buf[4:8], "big")
        hlen = min(buf[2], 16)
        gi = socket.inet_ntoa(bytes(buf[24:28]))
        mac = _mac_text(bytes(buf[28 : 28 + hlen]))
        return (f"v4 {peer[0]}:{peer[1]} xid=0x{xid:08x} chaddr={mac} giaddr={gi} "
                f"hops={buf[3]} -> {dest}")


class Balancer6:
    def __init__(self, selector: Selector, bufsize: int, throttle: Throttle | None = None,
                 verbose: int = 0) -> None:
        self.selector = selector
        self.throttle = throttle
        self.verbose = verbose
        self.out = bytearray(_RELAY_OUT_LEN + bufsize)
        self.out_mv = memoryview(self.out)
        self._packed: dict[str, bytes] = {}
        self._texts: dict[bytes, str] = {}
        self.scopes: dict[bytes, int] = {}  # link-local peer -> interface it was heard on
        self.warn_drop = RateLimitedLog()

    def _pack(self, host: str) -> bytes:
        p = self._packed.get(host)
        if p is None:
            if len(self._packed) > 65536:
                self._packed.clear()
            p = self._packed[host] = socket.inet_pton(socket.AF_INET6, host.partition("%")[0])
        return p

    def _text(self, packed: bytes) -> str:
        t = self._texts.get(packed)
        if t is None:
            if len(self._texts) > 65536:
                self._texts.clear()
            t = self._texts[packed] = socket.inet_ntop(socket.AF_INET6, packed)
        return t

    def forward(
        self, buf: bytearray, n: int, peer: tuple[str, int, int, int], mv: memoryview
    ) -> tuple[memoryview, tuple[str, int] | tuple[str, int, int, int]] | None:
        """Return (payload, destination) or None to drop. ``mv`` is a memoryview of buf."""
        if n < 4:
            raise Malformed(f"DHCPv6 message of {n} bytes")
        if buf[0] == 13:
            return self.unwrap_reply(buf, n, mv)
        duid = wire6.client_duid(buf, n)
        if duid is None:
            self.warn_drop(logging.ERROR, "dropping message from %s: no client identifier",
                           peer[0])
            return None
        peer_packed = self._pack(peer[0])
        if len(peer) > 3 and peer[3]:
            if len(self.scopes) > 65536:
                self.scopes.clear()
            self.scopes[peer_packed] = peer[3]
        if self.throttle is not None and not self.throttle.ok(duid):
            self.warn_drop(logging.ERROR, "dropping message from %s: throttled", peer[0])
            return None
        mac = None
        sel = self.selector
        if sel.overrides is not None and sel.overrides.entries:
            mac = self.client_mac(bytes(buf[:n]), duid)
        dest = sel.pick(duid, mac)
        if dest is None:
            self.warn_drop(logging.ERROR, "dropping message from %s: no backend servers",
                           peer[0])
            return None
        out = self.out
        if buf[0] == 12:
            _RELAY_OUT.pack_into(out, 0, 12, (buf[1] + 1) & 0xFF, bytes(buf[2:18]), peer_packed,
                                 9, n)
        else:
            _RELAY_OUT.pack_into(out, 0, 12, 0, wire6.ZERO16, peer_packed, 9, n)
        end = _RELAY_OUT_LEN + n
        out[_RELAY_OUT_LEN:end] = mv[:n]
        return self.out_mv[:end], dest

    @staticmethod
    def client_mac(data: bytes, duid: bytes) -> bytes | None:
        try:
            layers, _ = wire6.unwrap(data)
        except Malformed:
            layers = []
        return wire6.mac_from(layers, duid)

    def unwrap_reply(
        self, buf: bytearray, n: int, mv: memoryview
    ) -> tuple[memoryview, tuple[str, int, int, int]] | None:
        if n < wire6.RELAY_HDR_LEN:
            raise Malformed("RELAY-REPL shorter than its header")
        i = wire6.RELAY_HDR_LEN
        while i + 4 <= n:
            j = i + 4 + ((buf[i + 2] << 8) | buf[i + 3])
            if j > n:
                raise Malformed("option overruns the RELAY-REPL")
            if buf[i] == 0 and buf[i + 1] == 9:
                if j - i - 4 < 4:
                    raise Malformed("relay message option too short")
                peer = bytes(buf[18:34])
                port = 547 if buf[i + 4] == 13 else 546
                link_local = peer[0] == 0xFE and peer[1] & 0xC0 == 0x80
                scope = self.scopes.get(peer, 0) if link_local else 0
                return mv[i + 4 : j], (self._text(peer), port, 0, scope)
            i = j
        raise Malformed("RELAY-REPL without a relay-message option")

    def handle(self, data: bytes, peer: tuple[str, int, int, int]) -> list[Out]:
        """Pure form for tests."""
        buf = bytearray(data)
        res = self.forward(buf, len(buf), peer, memoryview(buf))
        if res is None:
            return []
        payload, dest = res
        scope = dest[3] if len(dest) > 3 else 0
        return [(bytes(payload), Dest(dest[0], dest[1], scope))]

    def describe(self, buf: bytearray, n: int, peer: tuple[str, ...], dest: object) -> str:
        try:
            t = wire6.MsgType(buf[0]).name
        except ValueError:
            t = f"type-{buf[0]}"
        return f"v6 {t} from [{peer[0]}]:{peer[1]} ({n} bytes) -> {dest}"


def _src_cmsg4(cache: dict[bytes, list[tuple[int, int, bytes]]], data: bytes
               ) -> list[tuple[int, int, bytes]]:
    """A send-side IP_PKTINFO that sets the source to the address the request came in on."""
    c = cache.get(data)
    if c is None:
        c = cache[data] = [(socket.IPPROTO_IP, IP_PKTINFO,
                            b"\0\0\0\0" + data[4:8] + b"\0\0\0\0")]
    return c


def _src_cmsg6(cache: dict[bytes, list[tuple[int, int, bytes]]], data: bytes
               ) -> list[tuple[int, int, bytes]]:
    c = cache.get(data)
    if c is None:
        src = data[:16] if data[0] != 0xFF else bytes(16)  # multicast: kernel picks
        c = cache[data] = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, src + b"\0\0\0\0")]
    return c


def run4(sock: socket.socket, bal: Balancer4, bufsize: int, counters: Counters,
         pktinfo: bool) -> None:
    """The v4 forwarding loop. Returns only through an exception (Shutdown)."""
    buf = bytearray(bufsize)
    mv = memoryview(buf)
    forward = bal.forward
    verbose = bal.verbose
    received = forwarded = dropped = malformed = 0
    cmsgs: dict[bytes, list[tuple[int, int, bytes]]] = {}
    cspace = socket.CMSG_SPACE(12)
    try:
        if not pktinfo:
            recv = sock.recvfrom_into
            send = sock.sendto
            while True:
                n, peer = recv(buf)
                received += 1
                try:
                    dest = forward(buf, n, peer)
                except Malformed as err:
                    malformed += 1
                    log.warning("malformed v4 packet from %s: %s", peer[0], err)
                    continue
                if dest is None:
                    dropped += 1
                    continue
                try:
                    send(mv[:n], dest)
                except OSError as err:
                    dropped += 1
                    log.error("send to %s:%d failed: %s", dest[0], dest[1], err)
                    continue
                forwarded += 1
                if verbose:
                    log.info("%s", bal.describe(buf, n, peer, f"{dest[0]}:{dest[1]}"))
        else:
            recvmsg = sock.recvmsg_into
            sendmsg = sock.sendmsg
            bufs = [buf]
            while True:
                n, anc, _flags, peer = recvmsg(bufs, cspace)
                received += 1
                try:
                    dest = forward(buf, n, peer)
                except Malformed as err:
                    malformed += 1
                    log.warning("malformed v4 packet from %s: %s", peer[0], err)
                    continue
                if dest is None:
                    dropped += 1
                    continue
                try:
                    if anc:
                        sendmsg([mv[:n]], _src_cmsg4(cmsgs, anc[0][2]), 0, dest)
                    else:
                        sendmsg([mv[:n]], [], 0, dest)
                except OSError as err:
                    dropped += 1
                    log.error("send to %s:%d failed: %s", dest[0], dest[1], err)
                    continue
                forwarded += 1
                if verbose:
                    log.info("%s", bal.describe(buf, n, peer, f"{dest[0]}:{dest[1]}"))
    finally:
        counters.add(received=received, forwarded=forwarded, dropped=dropped,
                     malformed=malformed)


def run6(sock: socket.socket, bal: Balancer6, bufsize: int, counters: Counters,
         pktinfo: bool) -> None:
    """The v6 loop: wrap toward backends, unwrap RELAY-REPL toward relays/clients."""
    buf = bytearray(bufsize)
    mv = memoryview(buf)
    forward = bal.forward
    verbose = bal.verbose
    received = forwarded = replied = dropped = malformed = 0
    cmsgs: dict[bytes, list[tuple[int, int, bytes]]] = {}
    cspace = socket.CMSG_SPACE(20)
    recv = sock.recvfrom_into
    recvmsg = sock.recvmsg_into
    send = sock.sendto
    sendmsg = sock.sendmsg
    bufs = [buf]
    anc: list[tuple[int, int, bytes]] = []
    try:
        while True:
            if pktinfo:
                n, anc, _flags, peer = recvmsg(bufs, cspace)
            else:
                n, peer = recv(buf)
            received += 1
            try:
                res = forward(buf, n, peer, mv)
            except Malformed as err:
                malformed += 1
                log.warning("malformed v6 packet from %s: %s", peer[0], err)
                continue
            if res is None:
                dropped += 1
                continue
            payload, dest = res
            try:
                if pktinfo and anc and dest[1] != 546:
                    sendmsg([payload], _src_cmsg6(cmsgs, anc[0][2]), 0, dest)
                else:
                    send(payload, dest)
            except OSError as err:
                dropped += 1
                log.error("send to [%s]:%d failed: %s", dest[0], dest[1], err)
                continue
            if buf[0] == 13:
                replied += 1
            else:
                forwarded += 1
            if verbose:
                log.info("%s", bal.describe(buf, n, peer, f"[{dest[0]}]:{dest[1]}"))
    finally:
        counters.add(received=received, forwarded=forwarded, replied=replied, dropped=dropped,
                     malformed=malformed)
