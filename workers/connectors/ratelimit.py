"""A request budget per helpdesk account, shared by every worker process through Redis."""

from __future__ import annotations

import logging
import math
import time
from functools import lru_cache
from typing import Protocol

import redis

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    def acquire(self, key: str, *, limit: int, window_seconds: float = 60.0) -> float:
        """Count one request; return 0 when it may go now, else the seconds to wait."""
        ...

    def block(self, key: str, seconds: float) -> None:
        """Hold every worker back from `key` for `seconds` (the helpdesk answered 429)."""
        ...


class RedisRateLimiter:
    """Fixed-window counter per key, plus a shared "blocked until" set from the vendor's Retry-After.

    Every worker increments the same Redis key, so N workers together stay under the account's
    budget instead of each spending all of it. INCR is atomic; the window's counter expires by itself.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "triage:ratelimit"):
        self.client = client
        self.prefix = prefix

    def acquire(self, key: str, *, limit: int, window_seconds: float = 60.0) -> float:
        now = time.time()
        window = math.floor(now / window_seconds)
        bucket = f"{self.prefix}:{key}:{window}"
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.pttl(f"{self.prefix}:{key}:blocked")
            pipe.incr(bucket)
            pipe.pexpire(bucket, int(window_seconds * 2000))
            blocked_ms, count, _ = pipe.execute()
        except redis.RedisError as exc:
            # Fail open: a Redis hiccup must not stop write-backs; the helpdesk's own 429 with
            # Retry-After still stops us, through the outbox's retry schedule.
            log.warning(
                "rate limiter unavailable (%s); sending without the shared budget", type(exc).__name__
            )
            return 0.0
        if blocked_ms and blocked_ms > 0:
            return blocked_ms / 1000.0
        if count > limit:
            return max((window + 1) * window_seconds - now, 0.001)
        return 0.0

    def block(self, key: str, seconds: float) -> None:
        try:
            self.client.set(f"{self.prefix}:{key}:blocked", "1", px=max(int(seconds * 1000), 1))
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable (%s); block not shared", type(exc).__name__)


@lru_cache(maxsize=8)
def limiter_for(redis_url: str) -> RedisRateLimiter:
    """Return one limiter per Redis URL per process, with short timeouts so a dead Redis costs little."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
    return RedisRateLimiter(client)
