"""Server mode, DHCPv4 (RFC 2131), as a pure function: request bytes -> [(reply, Dest)].

- DISCOVER -> OFFER from the pool (start..end inclusive), held briefly as "offered".
- REQUEST: SELECTING (server-id present) for another server's id -> silent drop (our offer is
  withdrawn); INIT-REBOOT (requested-ip, no server-id) and RENEWING/REBINDING (ciaddr) -> ACK
  only if the address is in the pool and free or this client's, otherwise NAK; an
  INIT-REBOOT from a client the server has no record of gets no answer (RFC 2131 4.3.2).
- RELEASE frees the client's lease; DECLINE marks the address unusable for a lease time;
  INFORM -> ACK without yiaddr or lease times.
- Destination (RFC 2131 section 4.1): giaddr -> giaddr:67; NAK -> broadcast; ciaddr ->
  ciaddr:68; broadcast flag -> 255.255.255.255:68; else a link-layer unicast to chaddr/yiaddr.
- The server identifier is the address the request arrived on.
"""

from __future__ import annotations

import logging
import socket
import struct

from lab.dut import wire4
from lab.dut.config import HandlerConfig
from lab.dut.leases import LeaseStore
from lab.dut.route import Dest, Out
from lab.dut.wire4 import MsgType, Opt

log = logging.getLogger("dut")

OFFER_HOLD = 60  # seconds an offered address stays reserved for its client
BROADCAST = "255.255.255.255"


def _ip(raw: bytes) -> str:
    return socket.inet_ntoa(raw)


def client_key(p: wire4.Packet) -> str:
    """Client identity: option 61 if present, else chaddr (RFC 2131 section 4.2)."""
    cid = p.options.get(Opt.CLIENT_ID)
    if cid:
        return "id:" + cid.hex()
    return "hw:" + p.mac.hex()


class Server4:
    def __init__(self, handler: HandlerConfig, store: LeaseStore) -> None:
        self.handler = handler
        self.store = store
        self.lease_time = handler.lease_time
        opts = handler.options
        common: list[tuple[int, bytes]] = []
        if opts.subnet_mask:
            common.append((Opt.SUBNET_MASK, socket.inet_aton(opts.subnet_mask)))
        if opts.routers:
            common.append((Opt.ROUTER, b"".join(socket.inet_aton(r) for r in opts.routers)))
        if opts.dns_servers:
            common.append((Opt.DNS, b"".join(socket.inet_aton(d) for d in opts.dns_servers)))
        if opts.domain_search:
            common.append((Opt.DOMAIN_SEARCH, wire4.encode_domain_list(opts.domain_search)))
        self.common = common

    def handle(self, data: bytes, peer: tuple[str, int], local: str | None,
               ifindex: int = 0) -> list[Out]:
        """Handle one request that arrived on local address ``local`` (the server id) and
        interface ``ifindex``. Malformed propagates to the caller, which counts it."""
        p = wire4.parse(data)
        if p.op != wire4.BOOTREQUEST:
            log.debug("ignoring BOOTREPLY from %s", peer[0])
            return []
        mt = p.msg_type
        if mt is None:
            log.debug("ignoring BOOTP (no message type) from %s", peer[0])
            return []
        if local is None or local == "0.0.0.0" or local == BROADCAST:
            log.warning("don't know which address the request arrived on; no reply")
            return []
        sid = socket.inet_aton(local)
        client = client_key(p)
        if mt == MsgType.DISCOVER:
            return self._discover(p, client, sid, ifindex)
        if mt == MsgType.REQUEST:
            return self._request(p, client, sid, ifindex)
        if mt == MsgType.RELEASE:
            self._release(p, client, sid)
            return []
        if mt == MsgType.DECLINE:
            self._decline(p, client, sid)
            return []
        if mt == MsgType.INFORM:
            return [self._reply(p, MsgType.ACK, wire4.ZERO4, sid, ifindex, lease=False)]
        log.debug("ignoring DHCP message type %d from %s", mt, peer[0])
        return []

    def _discover(self, p: wire4.Packet, client: str, sid: bytes, ifindex: int) -> list[Out]:
        hint = p.ip_option(Opt.REQUESTED_IP)
        addr = self.store.allocate(client, _ip(hint) if hint else None)
        if addr is None:
            log.error("pool exhausted: no address for %s", client)
            return []
        own = self.store.holder(addr)
        if own is None or own.state != "bound":
            self.store.put(addr, client, "offered", min(OFFER_HOLD, self.lease_time),
                           _mac(p))
        return [self._reply(p, MsgType.OFFER, socket.inet_aton(addr), sid, ifindex)]

    def _request(self, p: wire4.Packet, client: str, sid: bytes, ifindex: int) -> list[Out]:
        server_id = p.ip_option(Opt.SERVER_ID)
        requested = p.ip_option(Opt.REQUESTED_IP)
        if server_id is not None:  # SELECTING
            if server_id != sid:
                own = self.store.of_client(client)
                if own is not None and own.state == "offered":
                    self.store.release(own.address, client)
                log.info("REQUEST from %s selects server %s, not us: ignored", client,
                         _ip(server_id))
                return []
            target = requested if requested is not None else p.ciaddr
        elif requested is not None:  # INIT-REBOOT
            target = requested
        elif p.ciaddr != wire4.ZERO4:  # RENEWING / REBINDING
            target = p.ciaddr
        else:
            return [self._nak(p, sid, ifindex, "no address requested")]
        addr = _ip(target)
        if addr not in self.store.pool:
            return [self._nak(p, sid, ifindex, f"{addr} is not in this server's pool")]
        if not self.store.usable_by(addr, client):
            return [self._nak(p, sid, ifindex, f"{addr} belongs to another client")]
        if server_id is None and requested is not None:  # INIT-REBOOT
            own = self.store.of_client(client)
            if own is None:
                # RFC 2131 4.3.2: no record of this client, so the server MUST stay silent
                # (another server may hold its lease).
                log.info("INIT-REBOOT from %s for %s: no record of this client, silent",
                         client, addr)
                return []
            if own.address != addr:
                return [self._nak(p, sid, ifindex,
                                  f"{addr} is not {client}'s address ({own.address} is)")]
        self.store.put(addr, client, "bound", self.lease_time, _mac(p))
        return [self._reply(p, MsgType.ACK, target, sid, ifindex)]

    def _release(self, p: wire4.Packet, client: str, sid: bytes) -> None:
        server_id = p.ip_option(Opt.SERVER_ID)
        if server_id is not None and server_id != sid:
            return
        if self.store.release(_ip(p.ciaddr), client):
            log.info("released %s from %s", _ip(p.ciaddr), client)

    def _decline(self, p: wire4.Packet, client: str, sid: bytes) -> None:
        server_id = p.ip_option(Opt.SERVER_ID)
        requested = p.ip_option(Opt.REQUESTED_IP)
        if (server_id is not None and server_id != sid) or requested is None:
            return
        addr = _ip(requested)
        lease = self.store.holder(addr)
        if lease is not None and lease.client == client:
            self.store.decline(addr, self.lease_time)
            log.warning("%s declined %s: address marked unusable", client, addr)

    def _options(self, mt: int, sid: bytes, lease: bool) -> list[tuple[int, bytes]]:
        opts: list[tuple[int, bytes]] = [(Opt.MSG_TYPE, bytes((mt,))), (Opt.SERVER_ID, sid)]
        if lease:
            t = self.lease_time
            opts += [(Opt.LEASE_TIME, struct.pack("!I", t)),
                     (Opt.T1, struct.pack("!I", t // 2)),
                     (Opt.T2, struct.pack("!I", t * 7 // 8))]
        return opts + self.common

    def _reply(self, p: wire4.Packet, mt: int, yiaddr: bytes, sid: bytes, ifindex: int,
               lease: bool = True) -> Out:
        ciaddr = p.ciaddr if mt == MsgType.ACK else wire4.ZERO4
        msg = wire4.build(op=wire4.BOOTREPLY, htype=p.htype, hlen=p.hlen, xid=p.xid,
                          flags=p.flags, ciaddr=ciaddr, yiaddr=yiaddr, giaddr=p.giaddr,
                          chaddr=p.chaddr, options=self._options(mt, sid, lease))
        return msg, reply_dest(p, mt, yiaddr, _ip(sid), ifindex)

    def _nak(self, p: wire4.Packet, sid: bytes, ifindex: int, why: str) -> Out:
        log.info("NAK to %s: %s", client_key(p), why)
        flags = p.flags | wire4.BROADCAST_FLAG if p.giaddr != wire4.ZERO4 else p.flags
        opts = [(Opt.MSG_TYPE, bytes((MsgType.NAK,))), (Opt.SERVER_ID, sid),
                (Opt.MESSAGE, why.encode())]
        msg = wire4.build(op=wire4.BOOTREPLY, htype=p.htype, hlen=p.hlen, xid=p.xid,
                          flags=flags, giaddr=p.giaddr, chaddr=p.chaddr, options=opts)
        return msg, reply_dest(p, MsgType.NAK, wire4.ZERO4, _ip(sid), ifindex)


def _mac(p: wire4.Packet) -> str:
    return ":".join(f"{b:02x}" for b in p.mac)


def reply_dest(p: wire4.Packet, mt: int, yiaddr: bytes, src: str, ifindex: int) -> Dest:
    """RFC 2131 section 4.1, in its order: giaddr, (NAK broadcast), ciaddr, broadcast flag,
    link-layer unicast to chaddr carrying yiaddr."""
    if p.giaddr != wire4.ZERO4:
        return Dest(_ip(p.giaddr), wire4.SERVER_PORT, src=src, ifindex=0)
    if mt == MsgType.NAK:
        return Dest(BROADCAST, wire4.CLIENT_PORT, src=src, ifindex=ifindex)
    if p.ciaddr != wire4.ZERO4:
        return Dest(_ip(p.ciaddr), wire4.CLIENT_PORT, src=src, ifindex=0)
    if p.broadcast or yiaddr == wire4.ZERO4 or p.htype != 1 or p.hlen != 6:
        return Dest(BROADCAST, wire4.CLIENT_PORT, src=src, ifindex=ifindex)
    return Dest(_ip(yiaddr), wire4.CLIENT_PORT, src=src, ifindex=ifindex, mac=p.mac)
