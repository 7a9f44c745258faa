"""Fuzzing: random and mutated bytes may fail only with DecodeError, never another exception.

The hypothesis budget comes from LAB_FUZZ_EXAMPLES (default 2000 per test, what CI runs).
For a longer local run:

    LAB_FUZZ_EXAMPLES=200000 .venv/bin/pytest tests/unit/test_fuzz_decode.py -q -p no:cacheprovider

and LAB_FUZZ_MUTANTS (default 20000) sizes the deterministic mutation sweep.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.decode import decode_frame
from lab.dhcp4 import parse_dhcp4
from lab.dhcp6 import parse_dhcp6
from lab.errors import DecodeError
from lab.linklayer import DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW
from lab.pcapfile import open_capture
from lab.synth import synthetic_records

DATA = Path(__file__).resolve().parent.parent / "data"
EXAMPLES = int(os.environ.get("LAB_FUZZ_EXAMPLES", "2000"))
MUTANTS = int(os.environ.get("LAB_FUZZ_MUTANTS", "20000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LINKTYPES = [DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW]


def _seed_frames() -> list[tuple[int, bytes]]:
    """(linktype, frame) from the real captures plus a synthetic one of each link type."""
    out: list[tuple[int, bytes]] = []
    for p in sorted((DATA / "reference").glob("*.pcap")):
        out.extend((lt, data) for _, _, lt, _, data in open_capture(p))
    for lt in (DLT_LINUX_SLL2, DLT_LINUX_SLL, DLT_EN10MB):
        out.extend((lt, data) for _, data in synthetic_records(3, seed=11, linktype=lt))
    return out


SEEDS = _seed_frames()


def _check_frame(linktype: int, data: bytes) -> None:
    try:
        decode_frame(1, 0.0, linktype, None, data)
    except DecodeError as exc:
        assert exc.frame == 1
        assert str(exc).startswith("frame 1: ")


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip a bit
            i = pos % len(buf)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:  # set a byte to an edge value
            buf[pos % len(buf)] = rng.choice((0, 1, 0x7F, 0x80, 0xFE, 0xFF))
        elif op == 2:  # truncate
            del buf[pos:]
        elif op == 3:  # insert junk
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == 4:  # delete a run
            del buf[pos : pos + rng.randint(1, 8)]
        else:  # overwrite a 16-bit field (lengths live there)
            buf[pos : pos + 2] = rng.randbytes(2)
    return bytes(buf)


@FUZZ
@given(st.sampled_from(LINKTYPES), st.binary(max_size=600))
def test_random_bytes_into_decode_frame(linktype: int, data: bytes) -> None:
    _check_frame(linktype, data)


@FUZZ
@given(st.sampled_from(SEEDS), st.integers(min_value=0, max_value=2**32))
def test_mutated_real_frames_into_decode_frame(seed: tuple[int, bytes], salt: int) -> None:
    linktype, data = seed
    _check_frame(linktype, _mutate(random.Random(salt), data))


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_into_the_dhcp_parsers(data: bytes) -> None:
    for parse in (parse_dhcp4, parse_dhcp6):
        try:
            parse(data)
        except DecodeError:
            pass


@FUZZ
@given(
    st.sampled_from([b"\x0c", b"\x0d"]),
    st.binary(min_size=33, max_size=33),
    st.lists(st.tuples(st.integers(0, 100), st.binary(max_size=40)), max_size=6),
)
def test_structured_dhcp6_relays(head: bytes, addrs: bytes, opts: list[tuple[int, bytes]]) -> None:
    """Well-formed TLVs with random contents reach the option decoders, not just the framing."""
    body = b"".join(code.to_bytes(2, "big") + len(v).to_bytes(2, "big") + v for code, v in opts)
    try:
        parse_dhcp6(head + addrs + body)
    except DecodeError:
        pass


def test_twenty_thousand_mutants_raise_nothing_but_decode_error() -> None:
    rng = random.Random(20240)
    others: list[str] = []
    decoded = failed = 0
    for _ in range(MUTANTS):
        linktype, data = SEEDS[rng.randrange(len(SEEDS))]
        mutant = _mutate(rng, data)
        try:
            decode_frame(1, 0.0, linktype, None, mutant)
            decoded += 1
        except DecodeError:
            failed += 1
        except Exception as exc:  # noqa: BLE001  # the point is to catch anything else
            others.append(f"{type(exc).__name__}: {exc} <- {mutant.hex()}")
    assert others == []
    assert decoded + failed == MUTANTS >= 20000 or "LAB_FUZZ_MUTANTS" in os.environ
    assert decoded and failed  # the mutations exercise both outcomes
