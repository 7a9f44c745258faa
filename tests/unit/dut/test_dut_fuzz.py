"""Fuzzing: thousands of mutated packets into every packet handler.

A handler may only return a list of (bytes, Dest) or raise Malformed; anything else is a crash
the real loop would count as an error. Budget: env LAB_FUZZ_EXAMPLES (default 2000) examples
per handler for hypothesis, and five times that for a seeded random mutator.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.dut import wire4, wire6
from lab.dut.balancer import Balancer4, Balancer6
from lab.dut.errors import Malformed
from lab.dut.hosts import HostFile, Selector
from lab.dut.route import Dest
from lab.dut.server4 import Server4
from lab.dut.server6 import Server6
from tests.unit.dut.dut_helpers import CLIENT_LL, a6, handler4, handler6, ia_na, msg6, store_for

EXAMPLES = int(os.environ.get("LAB_FUZZ_EXAMPLES", "2000"))
SERVER_DUID = bytes.fromhex("000300010eba32aac324")
MAC = bytes.fromhex("e63d3d9abeaa")


def seeds4() -> list[bytes]:
    gi = socket.inet_aton("192.168.100.1")
    out = []
    for mt in range(1, 9):
        out.append(wire4.build_request(mt, MAC, giaddr=gi if mt % 2 else b"\0" * 4, options=[
            (50, socket.inet_aton("192.168.100.10")), (54, socket.inet_aton("192.168.100.1")),
            (61, b"\x01" + MAC), (55, b"\x01\x03\x06\x0f\x77"), (52, b"\x03")]))
    return out


def seeds6() -> list[bytes]:
    sid = (2, SERVER_DUID)
    base = [msg6(t, ia_na(["fd00:100::10"]), (14, b""), (6, b"\x00\x17"),
                 *([sid] if t in (3, 5, 8, 9) else [])) for t in range(1, 14)]
    relayed = [wire6.build_relay(12, 0, a6("fd00:100::1"), a6(CLIENT_LL),
                                 [(18, b"eth0"), (9, m)]) for m in base[:6]]
    twice = [wire6.build_relay(12, 1, a6("fd00:100::1"), a6("fd00:200::1"), [(9, m)])
             for m in relayed[:3]]
    repl = [wire6.build_relay(13, 0, a6("fd00:100::1"), a6(CLIENT_LL), [(9, m)])
            for m in base[:3]]
    return base + relayed + twice + repl


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        if op == 0 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1 and b:
            del b[rng.randrange(len(b)):]
        elif op == 2:
            i = rng.randrange(len(b) + 1)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3 and len(b) > 2:
            i = rng.randrange(len(b) - 1)
            b[i : i + 2] = rng.choice([b"\xff\xff", b"\x00\x00", b"\x00\x09", b"\x01\x00"])
        elif op == 4 and b:
            i = rng.randrange(len(b))
            del b[i : i + rng.randint(1, 16)]
        else:
            b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    return bytes(b)


Handler = Callable[[bytes], list[tuple[bytes, Dest]]]


def handlers(tmp_path: Path) -> dict[str, tuple[Handler, list[bytes]]]:
    h4 = tmp_path / "h4"
    h4.write_text("10.0.0.1\n10.0.0.2\n")
    h6 = tmp_path / "h6"
    h6.write_text("fd00:200::3\n")
    b4 = Balancer4(Selector(4, "xid", 10, HostFile(str(h4), 4), HostFile(str(h4), 4)))
    b6 = Balancer6(Selector(6, "rr", 0, HostFile(str(h6), 6)), 4096)
    s4 = Server4(handler4(), store_for(handler4()))
    s6 = Server6(handler6(), store_for(handler6()), SERVER_DUID)
    return {
        "balancer4": (lambda d: b4.handle(d, ("192.168.100.1", 67)), seeds4()),
        "balancer6": (lambda d: b6.handle(d, ("fd00:200::1", 547, 0, 0)), seeds6()),
        "server4": (lambda d: s4.handle(d, ("0.0.0.0", 68), "192.168.100.1", 2), seeds4()),
        "server6": (lambda d: s6.handle(d, (CLIENT_LL, 546, 0, 2)), seeds6()),
    }


def check(fn: Handler, data: bytes) -> None:
    try:
        out = fn(data)
    except Malformed:
        return
    assert isinstance(out, list)
    for payload, dest in out:
        assert isinstance(payload, bytes) and isinstance(dest, Dest)


@pytest.mark.parametrize("name", ["balancer4", "balancer6", "server4", "server6"])
def test_seeded_mutations(tmp_path: Path, name: str) -> None:
    fn, seeds = handlers(tmp_path)[name]
    rng = random.Random(f"dut-{name}")
    for seed in seeds:
        check(fn, seed)
    for _ in range(EXAMPLES * 5):
        check(fn, mutate(rng.choice(seeds), rng))


@pytest.mark.parametrize("name", ["balancer4", "balancer6", "server4", "server6"])
def test_hypothesis_mutations(tmp_path: Path, name: str) -> None:
    fn, seeds = handlers(tmp_path)[name]

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(seed=st.sampled_from(seeds), rseed=st.integers(0, 2**32 - 1),
           raw=st.binary(max_size=600), use_raw=st.booleans())
    def run(seed: bytes, rseed: int, raw: bytes, use_raw: bool) -> None:
        check(fn, raw if use_raw else mutate(seed, random.Random(rseed)))

    run()


def test_balancer_v4_touches_only_hops(tmp_path: Path) -> None:
    fn, seeds = handlers(tmp_path)["balancer4"]
    rng = random.Random(4)
    for _ in range(EXAMPLES):
        data = mutate(rng.choice(seeds), rng)
        try:
            out = fn(data)
        except Malformed:
            continue
        for payload, _ in out:
            assert len(payload) == len(data)
            assert payload[:3] == data[:3] and payload[4:] == data[4:]
            assert payload[3] == (data[3] + 1) % 256


def test_balancer_v6_keeps_payload(tmp_path: Path) -> None:
    fn, seeds = handlers(tmp_path)["balancer6"]
    rng = random.Random(6)
    for _ in range(EXAMPLES):
        data = mutate(rng.choice(seeds), rng)
        try:
            out = fn(data)
        except Malformed:
            continue
        for payload, dest in out:
            if data[0] != 13:
                assert payload[38:] == data and payload[0] == 12 and dest.port == 547
            else:
                assert payload in data


def test_describe_never_raises(tmp_path: Path) -> None:
    rng = random.Random(7)
    for seeds, describe in ((seeds4(), wire4.describe), (seeds6(), wire6.describe)):
        for _ in range(EXAMPLES):
            assert isinstance(describe(mutate(rng.choice(seeds), rng)), str)
