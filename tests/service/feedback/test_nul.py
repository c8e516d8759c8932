"""NUL in the feedback API's free text is stripped, with the same answer on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.storage.db import session_factory
from service.storage.models import FeedbackRow
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


def stored(database_url: str) -> list[FeedbackRow]:
    with session_factory(database_url)() as session:
        return list(session.scalars(select(FeedbackRow).order_by(FeedbackRow.id)))


def feedback(client: TestClient, world: World, **body: object) -> int:
    response = client.post(f"/v1/tickets/{world.ticket_id}/feedback", json=body, headers=AUTH)
    return response.status_code


def test_nul_in_agent_comment_and_edited_text_is_stripped(any_db_client, world, database_url) -> None:
    status = feedback(
        any_db_client,
        world,
        agent="jane\x00@acme.test",
        draft={"rank": 2, "verdict": "edited", "text": "Hi,\x00 sorry."},
        comment="too\x00 formal",
    )

    assert status == 201
    [row] = stored(database_url)
    assert row.agent == "jane@acme.test"
    assert row.payload["text"] == "Hi, sorry." and row.payload["comment"] == "too formal"


def test_nul_in_a_score_correction_comment_is_stripped(any_db_client, world, database_url) -> None:
    status = feedback(any_db_client, world, agent="jane", urgency="low", comment="\x00calm\x00")

    assert status == 201
    assert [row.payload["comment"] for row in stored(database_url)] == ["calm"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"agent": "\x00", "urgency": "low"}, id="agent only NUL"),
        pytest.param({"agent": "jane", "draft": {"rank": 2, "verdict": "edited", "text": "\x00"}}, id="text"),
        pytest.param(
            {"agent": "jane", "draft": {"rank": 2, "verdict": "edited", "text": " \x00\n"}}, id="blank text"
        ),
    ],
)
def test_a_field_that_is_only_nul_is_refused(any_db_client, world, database_url, body) -> None:
    assert feedback(any_db_client, world, **body) == 422
    assert stored(database_url) == []
