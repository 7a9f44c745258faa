"""Forwarding benchmark helpers: a UDP blaster of pre-built relayed requests and a sink.

    python -m lab.dut.blast sink  -version 4 -bind 127.0.0.2:6768 -seconds 10
    python -m lab.dut.blast send  -version 4 -to 127.0.0.1:6767 -count 500000 -clients 1024

``send`` cycles through ``clients`` pre-built messages (relayed DHCPv4 DISCOVERs with giaddr
set, or DHCPv6 RELAY-FORW around a SOLICIT, one DUID/MAC per client) and sends ``count`` of
them as fast as it can. ``sink`` counts datagrams arriving on a port from the first one until
``seconds`` pass or the line stays idle for ``idle`` seconds, then prints the count and rate.
Both loops are bounded and stop by themselves. Targets must be loopback addresses unless
``-allow-remote`` is given (the lab's namespaces).
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import struct
import sys
import time

from lab.dut import wire4, wire6


def v4_requests(clients: int, giaddr: str = "127.0.0.1") -> list[bytes]:
    gi = socket.inet_aton(giaddr)
    out = []
    for i in range(clients):
        mac = b"\x02\x00" + struct.pack("!I", i)
        prl = [(int(wire4.Opt.PARAM_REQUEST), b"\x01\x03\x06")]
        out.append(wire4.build_request(wire4.MsgType.DISCOVER, mac, xid=i + 1, giaddr=gi,
                                       hops=1, options=prl))
    return out


def v6_requests(clients: int, link: str = "fd00:100::1") -> list[bytes]:
    linkb = socket.inet_pton(socket.AF_INET6, link)
    out = []
    for i in range(clients):
        mac = b"\x02\x00" + struct.pack("!I", i)
        duid = b"\x00\x03\x00\x01" + mac
        solicit = wire6.build_message(wire6.MsgType.SOLICIT, struct.pack("!I", i)[1:], [
            (wire6.Opt.CLIENTID, duid),
            (wire6.Opt.ELAPSED_TIME, b"\0\0"),
            (wire6.Opt.IA_NA, wire6.encode_ia_na(mac[2:], 0, 0, [])),
        ])
        peer = b"\xfe\x80" + bytes(6) + bytes((mac[0] ^ 2,)) + mac[1:3] + b"\xff\xfe" + mac[3:]
        out.append(wire6.build_relay(wire6.MsgType.RELAY_FORW, 0, linkb, peer,
                                     [(wire6.Opt.RELAY_MSG, solicit)]))
    return out


def parse_hostport(text: str) -> tuple[str, int]:
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, _, port = text.rpartition(":")
    return host, int(port)


def _check_target(host: str, allow_remote: bool) -> None:
    if not allow_remote and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"error: {host} is not a loopback address (use -allow-remote)")


def blast(version: int, target: tuple[str, int], packets: list[bytes], count: int,
          source: str | None = None) -> tuple[int, float]:
    """Send ``count`` datagrams cycling over ``packets``; return (sent, seconds)."""
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    if source is not None:
        sock.bind((source, 0))
    send = sock.sendto
    k = len(packets)
    sent = errors = 0
    t0 = time.perf_counter()
    for i in range(count):
        try:
            send(packets[i % k], target)
            sent += 1
        except OSError:  # ENOBUFS and friends under overload: count and go on
            errors += 1
    elapsed = time.perf_counter() - t0
    sock.close()
    return sent, elapsed


def sink(version: int, bind: tuple[str, int], seconds: float, idle: float = 1.0,
         first_timeout: float = 30.0) -> tuple[int, float]:
    """Count datagrams from the first arrival until ``seconds`` or ``idle`` s of silence."""
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 8 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(bind)
    buf = bytearray(2048)
    recv = sock.recv_into
    sock.settimeout(first_timeout)
    try:
        recv(buf)
    except TimeoutError:
        sock.close()
        return 0, 0.0
    count = 1
    t0 = last = time.perf_counter()
    deadline = t0 + seconds
    sock.settimeout(idle)
    try:
        while True:
            recv(buf)
            count += 1
            if not count & 63:
                last = time.perf_counter()
                if last > deadline:
                    break
    except TimeoutError:
        pass
    sock.close()
    return count, max(last - t0, 1e-9)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.dut.blast", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("-version", type=int, choices=(4, 6), default=4)
    s.add_argument("-to", required=True, help="ADDR:PORT or [V6]:PORT of the balancer")
    s.add_argument("-count", type=int, default=200000)
    s.add_argument("-clients", type=int, default=1024)
    s.add_argument("-source", default=None, help="bind to this address first")
    s.add_argument("-allow-remote", action="store_true")
    k = sub.add_parser("sink")
    k.add_argument("-version", type=int, choices=(4, 6), default=4)
    k.add_argument("-bind", required=True)
    k.add_argument("-seconds", type=float, default=10.0)
    k.add_argument("-idle", type=float, default=1.0)
    k.add_argument("-allow-remote", action="store_true")
    a = ap.parse_args(argv)
    if a.cmd == "send":
        target = parse_hostport(a.to)
        _check_target(target[0], a.allow_remote)
        pkts = v4_requests(a.clients) if a.version == 4 else v6_requests(a.clients)
        sent, secs = blast(a.version, target, pkts, max(0, a.count), a.source)
        print(f"blast: sent={sent} seconds={secs:.3f} rate={sent / max(secs, 1e-9):.0f}/s",
              flush=True)
        return 0
    bind = parse_hostport(a.bind)
    _check_target(bind[0], a.allow_remote)
    count, secs = sink(a.version, bind, a.seconds, a.idle)
    print(f"sink: received={count} seconds={secs:.3f} rate={count / max(secs, 1e-9):.0f}/s",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
