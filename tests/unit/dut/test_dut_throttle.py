"""The per-client token bucket (throttle_rate / throttle_cache_size / throttle_cache_rate)."""

from __future__ import annotations

from lab.dut.throttle import Throttle, make_throttle
from tests.unit.dut.dut_helpers import Clock


def test_disabled_when_rate_zero() -> None:
    assert make_throttle(1024, 128, 0) is None


def test_bucket_allows_burst_then_refills() -> None:
    clock = Clock(0.0)
    t = Throttle(10, 0, 3, clock)
    assert [t.ok(b"a") for _ in range(4)] == [True, True, True, False]
    assert t.ok(b"b")  # another client has its own bucket
    clock.now += 1.0
    assert t.ok(b"a")


def test_new_key_rate_limited() -> None:
    clock = Clock(0.0)
    t = Throttle(100, 2, 5, clock)
    assert [t.ok(bytes([i])) for i in range(3)] == [True, True, False]


def test_lru_capacity() -> None:
    t = Throttle(2, 0, 1, Clock(0.0))
    for k in (b"a", b"b", b"c"):
        t.ok(k)
    assert list(t.cache) == [b"b", b"c"]
