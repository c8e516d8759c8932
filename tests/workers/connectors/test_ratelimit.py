"""The per-account budget shared by workers through Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
import redis

from service.embedded import start_redis
from workers.connectors.ratelimit import RedisRateLimiter


def test_requests_within_the_budget_go_now() -> None:
    limiter = RedisRateLimiter(fakeredis.FakeRedis())
    assert [limiter.acquire("acme:zendesk", limit=3) for _ in range(3)] == [0.0, 0.0, 0.0]


def test_request_over_the_budget_waits_until_the_window_ends() -> None:
    limiter = RedisRateLimiter(fakeredis.FakeRedis())
    for _ in range(3):
        limiter.acquire("acme:zendesk", limit=3, window_seconds=60)

    wait = limiter.acquire("acme:zendesk", limit=3, window_seconds=60)

    assert 0 < wait <= 60


def test_accounts_have_separate_budgets() -> None:
    limiter = RedisRateLimiter(fakeredis.FakeRedis())
    limiter.acquire("acme:zendesk", limit=1)
    assert limiter.acquire("globex:zendesk", limit=1) == 0.0
    assert limiter.acquire("acme:zendesk", limit=1) > 0


def test_a_vendor_429_blocks_the_account_for_its_retry_after() -> None:
    limiter = RedisRateLimiter(fakeredis.FakeRedis())
    limiter.block("acme:freshdesk", 30)

    wait = limiter.acquire("acme:freshdesk", limit=1000)

    assert 29 < wait <= 30


def test_unreachable_redis_fails_open() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    limiter = RedisRateLimiter(client)
    assert limiter.acquire("acme:zammad", limit=1) == 0.0
    limiter.block("acme:zammad", 5)  # logged, not raised


@pytest.fixture
def real_redis(tmp_path: Path) -> Iterator[str]:
    process, url = start_redis(tmp_path / "redis")
    yield url
    process.terminate()
    process.wait(10)


@pytest.mark.integration
def test_workers_on_a_real_redis_share_one_budget(real_redis: str) -> None:
    # Two processes' limiters: separate clients, one server.
    worker_a = RedisRateLimiter(redis.Redis.from_url(real_redis))
    worker_b = RedisRateLimiter(redis.Redis.from_url(real_redis))

    granted = [
        w.acquire("acme:intercom", limit=4, window_seconds=60) == 0.0 for w in (worker_a, worker_b) * 3
    ]

    assert granted.count(True) == 4


@pytest.mark.integration
def test_block_on_a_real_redis_reaches_the_other_worker(real_redis: str) -> None:
    worker_a = RedisRateLimiter(redis.Redis.from_url(real_redis))
    worker_b = RedisRateLimiter(redis.Redis.from_url(real_redis))

    worker_a.block("acme:helpscout", 12)

    assert 11 < worker_b.acquire("acme:helpscout", limit=100) <= 12
