"""A per-client token-bucket throttle in an LRU cache, shaped like dhcplb's throttle.

throttle_rate: tokens per second per key (and the bucket size); 0 disables throttling.
throttle_cache_size: LRU capacity. throttle_cache_rate: at most this many new keys per second
(0 = unlimited), so a flood of new clients can't flush the cache. dhcplb keys its throttle by
the backend address; ours keys by client identifier, as the issue asks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class Bucket:
    """Go's rate.Limiter(rate, burst): starts full, refills ``rate`` tokens per second."""

    __slots__ = ("rate", "burst", "tokens", "last")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = now

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Throttle:
    def __init__(
        self,
        capacity: int,
        cache_rate: int,
        rate: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = max(1, capacity)
        self.rate = rate
        self.clock = clock
        self.cache: OrderedDict[bytes, Bucket] = OrderedDict()
        now = clock()
        self.new_keys = Bucket(cache_rate, cache_rate, now) if cache_rate > 0 else None

    def ok(self, key: bytes) -> bool:
        now = self.clock()
        bucket = self.cache.get(key)
        if bucket is None:
            if self.new_keys is not None and not self.new_keys.allow(now):
                return False
            bucket = Bucket(self.rate, self.rate, now)
            self.cache[key] = bucket
            if len(self.cache) > self.capacity:
                self.cache.popitem(last=False)
        else:
            self.cache.move_to_end(key)
        return bucket.allow(now)


def make_throttle(capacity: int, cache_rate: int, rate: int) -> Throttle | None:
    """None when throttle_rate <= 0 (dhcplb: "No throttling will be done")."""
    return Throttle(capacity, cache_rate, rate) if rate > 0 else None
