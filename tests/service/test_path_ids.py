"""An id with NUL in a URL path is refused (422) on SQLite and PostgreSQL, never a 500.

PostgreSQL cannot compare text with NUL in it: `GET /v1/tickets/%00` raised psycopg's DataError.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, make_settings

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture
def any_db_client(database_url: str) -> Iterator[TestClient]:
    from service.main import create_app

    with TestClient(create_app(make_settings(database_url)), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/tickets/{id}", None),
        ("GET", "/v1/tickets/{id}/assist", None),
        ("POST", "/v1/tickets/{id}/feedback", {"agent": "jane", "urgency": "low"}),
        ("POST", "/v1/admin/dead-letters/{id}/replay", None),
    ],
)
@pytest.mark.parametrize("ticket_id", ["%00", "abc%00def"])
def test_nul_in_a_path_id_is_refused(any_db_client, method, path, body, ticket_id) -> None:
    response = any_db_client.request(method, path.format(id=ticket_id), json=body, headers=AUTH)

    assert response.status_code == 422, response.text
