"""Mutated DHCP packets from the client namespace never crash the reference DUT.

The DUT counts and drops what it can't parse; afterwards the same process answers a valid
request, and its summary line counts the malformed packets.
"""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lab import instance, proc
from lab.dhcp4 import build_dhcp4
from lab.dhcp6 import build_message
from lab.records import Dhcp4Type, Dhcp6Type

SENDER = textwrap.dedent("""
    import socket, sys
    family, dest, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    blob = open(path, "rb").read()
    af = socket.AF_INET if family == "4" else socket.AF_INET6
    s = socket.socket(af, socket.SOCK_DGRAM)
    if af == socket.AF_INET:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[5].encode())
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF,
                     socket.if_nametoindex(sys.argv[5]))
    s.bind(("", 68 if af == socket.AF_INET else 546))
    n = 0
    while blob:
        size = int.from_bytes(blob[:2], "big")
        s.sendto(blob[2:2 + size], (dest, port))
        blob = blob[2 + size:]
        n += 1
    # Then one valid request that needs no free address (INFORM / INFORMATION-REQUEST): the
    # DUT handles packets in order, so its reply proves it took every mutant and still serves.
    probe = open(sys.argv[6], "rb").read()
    s.sendto(probe, (dest, port))
    s.settimeout(15)
    while True:
        reply = s.recv(4096)
        if af == socket.AF_INET and reply[4:8] == probe[4:8] and reply[0] == 2:
            break
        if af == socket.AF_INET6 and reply[1:4] == probe[1:4] and reply[0] == 7:
            break
    print(n, "answered")
""")


def _mutants(seed_packets: list[bytes], count: int) -> bytes:
    rnd = random.Random(1234)
    out = bytearray()
    for i in range(count):
        p = bytearray(rnd.choice(seed_packets))
        kind = i % 4
        if kind == 0:
            p = p[: rnd.randrange(0, len(p))]  # truncated
        elif kind == 1:
            for _ in range(rnd.randint(1, 8)):
                p[rnd.randrange(len(p))] = rnd.randrange(256)  # flipped bytes
        elif kind == 2:
            p += bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 64)))  # junk tail
        else:
            p = bytearray(rnd.randbytes(rnd.randint(0, 300)))  # garbage
        out += len(p).to_bytes(2, "big") + p
    return bytes(out)


@pytest.mark.parametrize("family", [4, 6])
def test_mutated_packets_from_the_client_namespace_never_crash_the_dut(
        family: int, lab_name: str, tmp_path: Path) -> None:
    instance.up(lab_name, "server")
    state = instance.require_up(lab_name)
    if family == 4:
        seeds = [build_dhcp4(op=1, xid=7, chaddr="02:00:00:00:00:01", msg_type=t)
                 for t in (Dhcp4Type.DISCOVER, Dhcp4Type.REQUEST)]
        dest, port = "255.255.255.255", 67
    else:
        seeds = [build_message(t, 7, [(1, b"\x00\x03\x00\x01\x02\x00\x00\x00\x00\x01"),
                                      (3, bytes(12))])
                 for t in (Dhcp6Type.SOLICIT, Dhcp6Type.REQUEST, Dhcp6Type.CONFIRM)]
        dest, port = "ff02::1:2", 547
    blob = tmp_path / "mutants.bin"
    blob.write_bytes(_mutants(seeds, 3000))
    probe = tmp_path / "probe.bin"
    if family == 4:
        probe.write_bytes(build_dhcp4(op=1, xid=0x5EED, chaddr="02:00:00:00:00:99",
                                      msg_type=Dhcp4Type.INFORM, ciaddr="192.168.100.200"))
    else:
        probe.write_bytes(build_message(Dhcp6Type.INFORMATION_REQUEST, 0x5EED,
                                        [(1, b"\x00\x03\x00\x01\x02\x00\x00\x00\x00\x99")]))
    cli = state.topo.iface("cli")
    if family == 4:  # the client has no address yet: give it one outside the pool to send from
        subprocess.run(["ip", "-n", cli.ns, "addr", "add", "192.168.100.200/24", "dev", cli.name],
                       check=True)
    sent = subprocess.run(["ip", "netns", "exec", cli.ns, sys.executable, "-c", SENDER,
                           str(family), dest, str(port), str(blob), cli.name, str(probe)],
                          capture_output=True, text=True, timeout=60)
    dut = next(d for d in state.daemons if d.key == f"dut-v{family}")
    assert sent.returncode == 0, sent.stderr + Path(dut.log).read_text()[-1500:]
    assert sent.stdout.split() == ["3000", "answered"]
    assert dut.ident.alive()
    proc.stop(dut.ident, sig=signal.SIGTERM)
    log = Path(dut.log).read_text()
    assert "Traceback" not in log
    m = re.search(r"summary: received=(\d+) .*malformed=(\d+)", log)
    assert m, log[-2000:]
    assert int(m.group(1)) >= 3001 and int(m.group(2)) > 0
