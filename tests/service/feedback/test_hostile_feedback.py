"""Hostile feedback bodies get a 4xx, with the same answer on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.storage.db import session_factory
from tests.conftest import API_KEY, make_settings
from tests.service.assist.scenario import World, build_world

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture
def world(database_url: str) -> World:
    return build_world(session_factory(database_url))


@pytest.fixture
def any_db_client(database_url: str, world: World) -> Iterator[TestClient]:
    from service.main import create_app

    with TestClient(create_app(make_settings(database_url)), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("revision", "status"), [(2**31 - 1, 409), (2**31, 422), (2**63, 422)])
def test_a_revision_past_the_column_is_refused(any_db_client, world, revision, status) -> None:
    # Found by schemathesis: 2472844587 raised DataError (integer out of range) on PostgreSQL.
    response = any_db_client.post(
        f"/v1/tickets/{world.ticket_id}/feedback",
        json={"agent": "jane", "urgency": "low", "revision": revision},
        headers=AUTH,
    )

    assert response.status_code == status, response.text
