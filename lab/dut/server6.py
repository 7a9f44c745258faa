"""Server mode, DHCPv6 (RFC 8415 section 18.3), as a pure function: bytes -> [(reply, Dest)].

- Validation (section 16): a message with a foreign or a missing server-id where one is
  required is ignored, as are messages servers never accept.
- SOLICIT -> ADVERTISE (with preference when configured), or REPLY with rapid-commit when
  both sides want it. No address for any IA -> ADVERTISE with NoAddrsAvail and no IAs.
- REQUEST: an address outside the link -> IA with NotOnLink; else bind (own, hint, free).
- RENEW: no binding -> NoBinding; else extend it and return other addresses with lifetimes 0.
- REBIND: like RENEW, but no binding + off-link addresses -> lifetimes 0; on-link and free
  -> bind it; otherwise NoBinding.
- CONFIRM: Success when every address is on-link (the /64 of the pool), else NotOnLink; no
  reply when it carries no address. RELEASE/DECLINE -> REPLY with Success.
- INFORMATION-REQUEST -> REPLY with options only (23, 24).
A relayed request gets a RELAY-REPL with every layer mirrored (hop-count, link, peer,
interface-id), sent to the sender on 547; a direct one goes to the sender on 546.
The server DUID (DUID-LL) is persisted in ``<lease_file>.duid`` so it survives restarts.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket

from lab.dut import wire4, wire6
from lab.dut.config import HandlerConfig
from lab.dut.errors import LeaseFileError
from lab.dut.leases import LeaseStore, write_atomic
from lab.dut.route import Dest, Out
from lab.dut.wire6 import MsgType, Opt, Status

log = logging.getLogger("dut")

OFFER_HOLD = 60
LINK_PREFIX = 64  # "on-link" means inside the pool start address's /64

# msg type -> server-id rule: "required" (must be ours), "absent", "optional" (ours if present)
SERVER_ID_RULE = {
    MsgType.SOLICIT: "absent",
    MsgType.REQUEST: "required",
    MsgType.CONFIRM: "absent",
    MsgType.RENEW: "required",
    MsgType.REBIND: "absent",
    MsgType.RELEASE: "required",
    MsgType.DECLINE: "required",
    MsgType.INFORMATION_REQUEST: "optional",
}


def _addr(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, raw)


def system_mac() -> bytes | None:
    """The MAC of the first non-loopback interface that has one (by ifindex)."""
    best: tuple[int, bytes] | None = None
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return None
    for name in names:
        try:
            with open(f"/sys/class/net/{name}/address") as f:
                text = f.read().strip()
            with open(f"/sys/class/net/{name}/ifindex") as f:
                idx = int(f.read().strip())
        except (OSError, ValueError):
            continue
        parts = text.split(":")
        if len(parts) != 6:
            continue
        try:
            mac = bytes(int(x, 16) for x in parts)
        except ValueError:
            continue
        if mac == bytes(6) or name == "lo":
            continue
        if best is None or idx < best[0]:
            best = (idx, mac)
    return best[1] if best else None


def make_duid_ll(mac: bytes) -> bytes:
    return b"\x00\x03\x00\x01" + mac


def load_or_create_duid(lease_file: str | None) -> bytes:
    """The server DUID: read ``<lease_file>.duid`` (hex), or create a DUID-LL and store it."""
    path = f"{lease_file}.duid" if lease_file else None
    if path is not None:
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
        except FileNotFoundError:
            text = None
        except (OSError, UnicodeDecodeError) as err:
            raise LeaseFileError(f"server DUID file {path}: {err}") from None
        if text is not None:
            try:
                duid = bytes.fromhex(text)
            except ValueError:
                duid = b""
            if not 2 < len(duid) <= 130:
                raise LeaseFileError(f"server DUID file {path}: corrupt (want hex); "
                                     "fix or delete it")
            return duid
    mac = system_mac() or (bytes((0x02,)) + os.urandom(5))
    duid = make_duid_ll(mac)
    if path is not None:
        write_atomic(path, duid.hex() + "\n")
    return duid


# Messages a client may send by unicast only after a Server Unicast option (RFC 8415 18.2.x).
UNICAST_NEEDS_OPTION = frozenset((MsgType.REQUEST, MsgType.RENEW, MsgType.RELEASE,
                                  MsgType.DECLINE))


class Server6:
    def __init__(self, handler: HandlerConfig, store: LeaseStore, duid: bytes) -> None:
        self.handler = handler
        self.store = store
        self.duid = duid
        self.lease = handler.lease_time
        self.t1 = self.lease // 2
        self.t2 = self.lease * 4 // 5
        self.link = ipaddress.ip_network(f"{handler.start_ip}/{LINK_PREFIX}", strict=False)
        opts = handler.options
        self.preference = opts.preference
        self.rapid_commit = opts.rapid_commit
        self.info: list[tuple[int, bytes]] = []
        if opts.dns_servers:
            self.info.append((Opt.DNS_SERVERS, b"".join(
                socket.inet_pton(socket.AF_INET6, a) for a in opts.dns_servers)))
        if opts.domain_search:
            self.info.append((Opt.DOMAIN_LIST, wire4.encode_domain_list(opts.domain_search)))

    # -- entry point ---------------------------------------------------------------------
    def handle(self, data: bytes, peer: tuple[str, int, int, int] | tuple[str, int],
               local: str | None = None) -> list[Out]:
        """``local`` is the address the datagram was sent to (None when unknown)."""
        layers, inner = wire6.unwrap(bytes(data))
        if layers and layers[0].msg_type != MsgType.RELAY_FORW:
            log.debug("ignoring RELAY-REPL from %s", peer[0])
            return []
        msg = wire6.parse_message(inner)
        unicast = not layers and local is not None and not local.lower().startswith("ff")
        reply = self.respond(msg, unicast)
        if reply is None:
            return []
        scope = peer[3] if len(peer) > 3 else 0
        host = peer[0].partition("%")[0]
        if not layers:
            return [(reply, Dest(host, wire6.CLIENT_PORT, scope))]
        for layer in reversed(layers):
            opts: list[tuple[int, bytes]] = [(Opt.RELAY_MSG, reply)]
            if layer.interface_id is not None:
                opts.append((Opt.INTERFACE_ID, layer.interface_id))
            reply = wire6.build_relay(MsgType.RELAY_REPL, layer.hop_count, layer.link,
                                      layer.peer, opts)
        return [(reply, Dest(host, wire6.SERVER_PORT, scope))]

    def on_link(self, raw: bytes) -> bool:
        return ipaddress.IPv6Address(raw) in self.link

    def in_pool(self, raw: bytes) -> bool:
        return _addr(raw) in self.store.pool

    def respond(self, msg: wire6.Message, unicast: bool = False) -> bytes | None:
        """The reply to a client message, or None to stay silent. ``unicast``: the client
        sent it straight to one of our addresses rather than to ff02::1:2."""
        t = msg.msg_type
        rule = SERVER_ID_RULE.get(t)  # type: ignore[call-overload]
        if rule is None:
            log.debug("ignoring DHCPv6 message type %d", t)
            return None
        cid = msg.get(Opt.CLIENTID)
        sid = msg.get(Opt.SERVERID)
        if cid is None and t != MsgType.INFORMATION_REQUEST:
            log.info("ignoring %s without client-id", MsgType(t).name)
            return None
        if (rule == "absent" and sid is not None) or (rule == "required" and sid != self.duid) \
                or (rule == "optional" and sid is not None and sid != self.duid):
            log.info("ignoring %s: server-id is %s", MsgType(t).name,
                     "missing" if sid is None else "not ours")
            return None
        if unicast and t in UNICAST_NEEDS_OPTION:
            # RFC 8415 18.3.1/18.3.4/18.3.7/18.3.8: we never sent a Server Unicast option, so
            # the message is discarded and answered with UseMulticast and nothing else.
            log.info("%s sent by unicast: answering UseMulticast", MsgType(t).name)
            return wire6.build_message(MsgType.REPLY, msg.xid, [
                *([(Opt.CLIENTID, cid)] if cid is not None else []),
                (Opt.SERVERID, self.duid),
                (Opt.STATUS_CODE, wire6.encode_status(Status.USE_MULTICAST,
                                                      "send to ff02::1:2")),
            ])
        ias = [wire6.parse_ia_na(v) for v in msg.all(Opt.IA_NA)]
        if t == MsgType.INFORMATION_REQUEST:
            if any(c in (Opt.IA_NA, Opt.IA_TA, Opt.IA_PD) for c, _ in msg.options):
                return None
            return self._build(MsgType.REPLY, msg, [])
        assert cid is not None
        if t == MsgType.SOLICIT:
            return self._solicit(msg, cid, ias)
        if t == MsgType.REQUEST:
            return self._build(MsgType.REPLY, msg, [self._request_ia(cid, ia) for ia in ias])
        if t in (MsgType.RENEW, MsgType.REBIND):
            rebind = t == MsgType.REBIND
            return self._build(MsgType.REPLY, msg,
                               [self._renew_ia(cid, ia, rebind) for ia in ias])
        if t == MsgType.CONFIRM:
            addrs = [a for ia in ias for a in ia.addresses]
            if not addrs:
                return None
            ok = all(self.on_link(a) for a in addrs)
            status = (Status.SUCCESS, "all addresses on-link") if ok else (
                Status.NOT_ON_LINK, "some addresses are not on-link")
            return self._build(MsgType.REPLY, msg, [(Opt.STATUS_CODE,
                                                     wire6.encode_status(*status))])
        if t == MsgType.RELEASE:
            out = [ia_opt for ia in ias if (ia_opt := self._release_ia(cid, ia)) is not None]
            out.append((Opt.STATUS_CODE, wire6.encode_status(Status.SUCCESS,
                                                             "release received")))
            return self._build(MsgType.REPLY, msg, out)
        if t == MsgType.DECLINE:
            out = [ia_opt for ia in ias if (ia_opt := self._decline_ia(cid, ia)) is not None]
            out.append((Opt.STATUS_CODE, wire6.encode_status(Status.SUCCESS,
                                                             "decline received")))
            return self._build(MsgType.REPLY, msg, out)
        return None

    # -- pieces ----------------------------------------------------------------------------
    def _build(self, t: int, msg: wire6.Message, body: list[tuple[int, bytes]]) -> bytes:
        opts: list[tuple[int, bytes]] = []
        cid = msg.get(Opt.CLIENTID)
        if cid is not None:
            opts.append((Opt.CLIENTID, cid))
        opts.append((Opt.SERVERID, self.duid))
        opts += body
        if t == MsgType.ADVERTISE and self.preference is not None:
            opts.append((Opt.PREFERENCE, bytes((self.preference,))))
        opts += self.info
        return wire6.build_message(t, msg.xid, opts)

    @staticmethod
    def key(cid: bytes, iaid: bytes) -> str:
        return f"{cid.hex()}/{iaid.hex()}"

    def _ia(self, iaid: bytes, addrs: list[tuple[bytes, int]],
            status: tuple[int, str] | None = None) -> tuple[int, bytes]:
        sub: list[tuple[int, bytes]] = [
            (Opt.IAADDR, wire6.encode_iaaddr(a, life, life)) for a, life in addrs]
        if status is not None:
            sub.append((Opt.STATUS_CODE, wire6.encode_status(*status)))
        live = any(life for _, life in addrs)
        t1, t2 = (self.t1, self.t2) if live else (0, 0)
        return (Opt.IA_NA, wire6.encode_ia_na(iaid, t1, t2, sub))

    def _hint(self, ia: wire6.IaNa) -> str | None:
        for a in ia.addresses:
            if self.in_pool(a):
                return _addr(a)
        return None

    def _solicit(self, msg: wire6.Message, cid: bytes, ias: list[wire6.IaNa]) -> bytes:
        rapid = self.rapid_commit and msg.get(Opt.RAPID_COMMIT) is not None
        body: list[tuple[int, bytes]] = []
        assigned = False
        for ia in ias:
            k = self.key(cid, ia.iaid)
            addr = self.store.allocate(k, self._hint(ia))
            if addr is None:
                body.append(self._ia(ia.iaid, [], (Status.NO_ADDRS_AVAIL, "pool exhausted")))
                continue
            assigned = True
            own = self.store.holder(addr)
            if rapid:
                self.store.put(addr, k, "bound", self.lease)
            elif own is None or own.state != "bound":
                self.store.put(addr, k, "offered", min(OFFER_HOLD, self.lease))
            body.append(self._ia(ia.iaid, [(socket.inet_pton(socket.AF_INET6, addr),
                                            self.lease)]))
        if not assigned:
            return self._build(MsgType.ADVERTISE, msg, [(Opt.STATUS_CODE, wire6.encode_status(
                Status.NO_ADDRS_AVAIL, "no addresses available"))])
        if rapid:
            return self._build(MsgType.REPLY, msg, body + [(Opt.RAPID_COMMIT, b"")])
        return self._build(MsgType.ADVERTISE, msg, body)

    def _request_ia(self, cid: bytes, ia: wire6.IaNa) -> tuple[int, bytes]:
        if any(not self.on_link(a) for a in ia.addresses):
            return self._ia(ia.iaid, [], (Status.NOT_ON_LINK, "address not on this link"))
        k = self.key(cid, ia.iaid)
        addr = self.store.allocate(k, self._hint(ia))
        if addr is None:
            return self._ia(ia.iaid, [], (Status.NO_ADDRS_AVAIL, "pool exhausted"))
        self.store.put(addr, k, "bound", self.lease)
        return self._ia(ia.iaid, [(socket.inet_pton(socket.AF_INET6, addr), self.lease)])

    def _renew_ia(self, cid: bytes, ia: wire6.IaNa, rebind: bool) -> tuple[int, bytes]:
        k = self.key(cid, ia.iaid)
        own = self.store.of_client(k)
        if own is not None and not self.store.usable_by(own.address, k):
            own = None
        if own is None and rebind:
            if any(not self.on_link(a) for a in ia.addresses):
                return self._ia(ia.iaid, [(a, 0) for a in ia.addresses])
            for a in ia.addresses:
                if self.store.usable_by(_addr(a), k):
                    own = self.store.put(_addr(a), k, "bound", self.lease)
                    break
        if own is None:
            return self._ia(ia.iaid, [], (Status.NO_BINDING, "no binding for this IA"))
        self.store.put(own.address, k, "bound", self.lease)
        packed = socket.inet_pton(socket.AF_INET6, own.address)
        addrs = [(packed, self.lease)] + [(a, 0) for a in ia.addresses if a != packed]
        return self._ia(ia.iaid, addrs)

    def _release_ia(self, cid: bytes, ia: wire6.IaNa) -> tuple[int, bytes] | None:
        k = self.key(cid, ia.iaid)
        released = [a for a in ia.addresses if self.store.release(_addr(a), k)]
        if released:
            return None
        return self._ia(ia.iaid, [], (Status.NO_BINDING, "no binding for this IA"))

    def _decline_ia(self, cid: bytes, ia: wire6.IaNa) -> tuple[int, bytes] | None:
        k = self.key(cid, ia.iaid)
        hit = False
        for a in ia.addresses:
            lease = self.store.holder(_addr(a))
            if lease is not None and lease.client == k:
                self.store.decline(_addr(a), self.lease)
                hit = True
        return None if hit else self._ia(ia.iaid, [], (Status.NO_BINDING,
                                                       "no binding for this IA"))
