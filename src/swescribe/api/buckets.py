"""Token buckets by name, for the API's rate limits."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_BUCKETS = 10_000


class TokenBuckets:
    """One token bucket per name: up to `burst` tokens, refilled at rate_per_minute / 60 a
    second; a request spends one. Memory is bounded: a bucket idle long enough to be full
    again is dropped (a new one would be the same), and past max_buckets the least
    recently used goes. Safe to share between threads."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive (0 means no limiter at all)")
        self.rate = rate_per_minute / 60.0
        self.capacity = float(max(burst, 1))
        self.clock = clock
        self.max_buckets = max(max_buckets, 1)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """name -> (tokens, when they were counted), least recently used first."""
        self._lock = threading.Lock()

    def take(self, name: str) -> float:
        """Spend a token of name's bucket: 0.0 if it had one, else the seconds until it will."""
        with self._lock:
            now = self.clock()
            tokens = self._tokens(self._buckets.pop(name, None), now)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[name] = (tokens, now)
            self._evict(now)
            return wait

    def peek(self, name: str) -> float:
        """What take would answer, spending nothing (and making no bucket)."""
        with self._lock:
            tokens = self._tokens(self._buckets.get(name), self.clock())
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def _tokens(self, bucket: tuple[float, float] | None, now: float) -> float:
        if bucket is None:
            return self.capacity
        tokens, counted = bucket
        return min(self.capacity, tokens + max(0.0, now - counted) * self.rate)

    def _evict(self, now: float) -> None:
        while self._buckets:
            name, bucket = next(iter(self._buckets.items()))
            full = self._tokens(bucket, now) >= self.capacity
            if not full and len(self._buckets) <= self.max_buckets:
                return
            del self._buckets[name]
