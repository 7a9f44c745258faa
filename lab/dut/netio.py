"""Sockets: open and bind the one listening socket, join ff02::1:2, and the server loop.

When the listen address is a wildcard, IP_PKTINFO / IPV6_RECVPKTINFO tell us which local
address a datagram arrived on (the v4 server identifier, and the source the balancer sends
from). The balancer's own loops live in ``balancer``.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
from collections.abc import Callable

from lab.dut import wire4, wire6
from lab.dut.errors import Malformed, SocketError
from lab.dut.rawsock import RawSender
from lab.dut.route import Dest, Out
from lab.dut.stats import Counters

log = logging.getLogger("dut")

ALL_DHCP_SERVERS = "ff02::1:2"
SOCK_BUF = 4 << 20
IP_PKTINFO: int = getattr(socket, "IP_PKTINFO", 8)  # missing from typeshed
_PKTINFO4 = struct.Struct("@i4s4s")
_PKTINFO6 = struct.Struct("@16sI")


class Shutdown(Exception):
    """Raised by the SIGTERM/SIGINT handler to leave a blocking loop."""


def is_wildcard(addr: str) -> bool:
    return ipaddress.ip_address(addr).is_unspecified


def join_all_dhcp_servers(sock: socket.socket) -> list[str]:
    """IPV6_JOIN_GROUP ff02::1:2 on every interface; returns the names joined."""
    group = socket.inet_pton(socket.AF_INET6, ALL_DHCP_SERVERS)
    joined = []
    for index, name in socket.if_nameindex():
        try:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                            group + struct.pack("@I", index))
        except OSError as err:
            log.debug("can't join %s on %s: %s", ALL_DHCP_SERVERS, name, err)
            continue
        joined.append(name)
    return joined


def _bufsize(sock: socket.socket, opt_force: int, opt: int) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, opt_force, SOCK_BUF)
    except OSError:
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCK_BUF)
        except OSError:
            pass


def open_socket(version: int, addr: str, port: int, want_pktinfo: bool
                ) -> tuple[socket.socket, bool]:
    """Bind the listening UDP socket. Returns it and whether it delivers pktinfo."""
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    pktinfo = want_pktinfo or is_wildcard(addr)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _bufsize(sock, getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF)
        _bufsize(sock, getattr(socket, "SO_SNDBUFFORCE", 32), socket.SO_SNDBUF)
        if version == 4:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            if pktinfo:
                sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            sock.bind((addr, port))
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if pktinfo:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            sock.bind((addr, port, 0, 0))
            if is_wildcard(addr):
                joined = join_all_dhcp_servers(sock)
                log.info("joined %s on %s", ALL_DHCP_SERVERS, ", ".join(joined) or "nothing")
    except OSError as err:
        sock.close()
        where = f"[{addr}]:{port}" if version == 6 else f"{addr}:{port}"
        raise SocketError(f"cannot listen on {where}: {err.strerror or err}") from None
    return sock, pktinfo


def local_info(anc: list[tuple[int, int, bytes]], version: int) -> tuple[str | None, int]:
    """(local address the datagram arrived on, interface index) from pktinfo ancillary data."""
    for level, kind, data in anc:
        if version == 4 and level == socket.IPPROTO_IP and kind == IP_PKTINFO \
                and len(data) >= _PKTINFO4.size:
            ifindex, spec_dst, _ = _PKTINFO4.unpack_from(data)
            return socket.inet_ntoa(spec_dst), ifindex
        if version == 6 and level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO \
                and len(data) >= _PKTINFO6.size:
            addr, ifindex = _PKTINFO6.unpack_from(data)
            return socket.inet_ntop(socket.AF_INET6, addr), ifindex
    return None, 0


class ReplySender:
    """Sends a handler's (bytes, Dest) list: UDP with a chosen source/interface, or an L2
    frame for the v4 server's chaddr unicast (falling back to broadcast, as dhcplb does)."""

    def __init__(self, sock: socket.socket, version: int, raw: RawSender | None) -> None:
        self.sock = sock
        self.version = version
        self.raw = raw

    def send(self, payload: bytes, dest: Dest) -> None:
        if dest.mac is not None and self.version == 4:
            if self.raw is not None and dest.ifindex and dest.src:
                try:
                    self.raw.send(dest.ifindex, dest.mac, dest.src, dest.host, payload)
                    return
                except OSError as err:
                    log.warning("L2 unicast to %s failed (%s); broadcasting instead",
                                dest.host, err)
            dest = Dest("255.255.255.255", dest.port, src=dest.src, ifindex=dest.ifindex)
        if self.version == 4 and (dest.src or dest.ifindex):
            src = socket.inet_aton(dest.src) if dest.src else b"\0\0\0\0"
            cmsg = [(socket.IPPROTO_IP, IP_PKTINFO,
                     _PKTINFO4.pack(dest.ifindex, src, b"\0\0\0\0"))]
            self.sock.sendmsg([payload], cmsg, 0, dest.sockaddr())
        else:
            self.sock.sendto(payload, dest.sockaddr())


Handler = Callable[[bytes, tuple[object, ...], str | None, int], list[Out]]


def _describe(version: int, data: bytes) -> str:
    return wire4.describe(data) if version == 4 else wire6.describe(data)


def serve(sock: socket.socket, version: int, handler: Handler, sender: ReplySender,
          counters: Counters, bufsize: int, verbose: int, default_local: str | None) -> None:
    """The server loop: one blocking socket, every datagram through ``handler``."""
    buf = bytearray(bufsize)
    cspace = socket.CMSG_SPACE(20)
    bufs = [buf]
    while True:
        n, anc, _flags, peer = sock.recvmsg_into(bufs, cspace)
        counters.received += 1
        local, ifindex = local_info(anc, version)
        data = bytes(buf[:n])
        try:
            out = handler(data, peer, local or default_local, ifindex)
        except Malformed as err:
            counters.malformed += 1
            log.warning("malformed v%d packet from %s: %s", version, peer[0], err)
            continue
        except Shutdown:
            raise
        except Exception as err:  # a bug must not kill the server; count and go on
            counters.dropped += 1
            log.error("error handling v%d packet from %s: %s: %s", version, peer[0],
                      type(err).__name__, err)
            continue
        if not out:
            counters.dropped += 1
            if verbose:
                log.info("v%d %s from %s: no reply", version, _describe(version, data), peer[0])
            continue
        for payload, dest in out:
            try:
                sender.send(payload, dest)
            except OSError as err:
                counters.dropped += 1
                log.error("send to %s failed: %s", dest, err)
                continue
            counters.replied += 1
            if verbose:
                log.info("v%d %s from %s -> %s to %s", version, _describe(version, data),
                         peer[0], _describe(version, payload), dest)
