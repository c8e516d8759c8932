"""Shared fixtures: settings on a fresh database, the API client, real Redis and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.storage.db import session_factory
from service.storage.migrate import upgrade

API_KEY = "test-api-key"
POSTGRES_ADMIN_URL = os.environ.get(
    "TRIAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "api_key": API_KEY,
        "redis_url": "redis://127.0.0.1:1/0",  # nothing listens: unit tests never reach a broker
        "enqueue_timeout_seconds": 0.5,
        "classifier": "tests.fakes.classifier:MarkerClassifier",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Create a throwaway database on the local PostgreSQL server, dropped at the end."""
    name = f"triage_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a missing server is a failure in CI, not a skip: .ci/run starts it
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {exc}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    yield postgres_server
    engine = create_engine(postgres_server)
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE tickets, messages, triage_results, decisions, actions, inbound_deliveries, "
                "feedback, erasures"
            )
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run a test on both backends."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")  # type: ignore[no-any-return]
    return request.getfixturevalue("postgres_url")  # type: ignore[no-any-return]


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(sqlite_url)


@pytest.fixture
def sessions(settings: Settings) -> sessionmaker[Session]:
    return session_factory(settings.sqlalchemy_url)


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[object]]]:
    """Record what the API publishes instead of talking to a broker."""
    calls: list[tuple[str, list[object]]] = []

    def fake_send(
        settings: Settings, task: str, args: list[object], *, countdown: float | None = None
    ) -> bool:
        calls.append((task, list(args)))
        return True

    monkeypatch.setattr("service.queue.send", fake_send)
    return calls


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from service.main import create_app

    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def auth() -> dict[str, str]:
    return {"X-API-Key": API_KEY}
