"""The generic intake and status API, with the broker replaced by a recorder."""

from __future__ import annotations

import subprocess
import sys

from fastapi.testclient import TestClient

from service.config import Settings
from tests.conftest import make_settings

TICKET = {
    "external_id": "T-1",
    "subject": "Charged twice",
    "requester_id": "cust-1",
    "messages": [{"author_role": "customer", "body": "You charged my card twice."}],
}


def test_post_ticket_answers_202_with_status_url_and_enqueues_its_id(client, auth, enqueued):
    response = client.post("/v1/tickets", json=TICKET, headers=auth)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted" and body["queued"] is True and body["revision"] == 1
    assert body["status_url"].endswith(f"/v1/tickets/{body['ticket_id']}")
    assert response.headers["location"] == body["status_url"]
    # The message carries the id only, never the ticket's text.
    assert enqueued == [("triage.classify", [[body["ticket_id"]]])]


def test_get_ticket_returns_the_stored_conversation(client, auth, enqueued):
    ticket_id = client.post("/v1/tickets", json=TICKET, headers=auth).json()["ticket_id"]

    body = client.get(f"/v1/tickets/{ticket_id}", headers=auth).json()

    assert body["status"] == "accepted"
    assert body["messages"][0]["body"] == "You charged my card twice."
    assert body["triage"] is None and body["decision"] is None and body["actions"] == []


def test_customer_reply_appends_and_bumps_revision_but_a_repeat_does_not(client, auth, enqueued):
    first = client.post("/v1/tickets", json=TICKET, headers=auth).json()
    reply = {**TICKET, "messages": [*TICKET["messages"], {"body": "Still waiting. Third time I write."}]}

    second = client.post("/v1/tickets", json=reply, headers=auth).json()
    repeat = client.post("/v1/tickets", json=reply, headers=auth).json()

    assert second["ticket_id"] == first["ticket_id"] and second["revision"] == 2
    assert repeat["duplicate"] is True and repeat["revision"] == 2
    assert len(enqueued) == 2
    stored = client.get(f"/v1/tickets/{first['ticket_id']}", headers=auth).json()
    assert [m["body"] for m in stored["messages"]][-1] == "Still waiting. Third time I write."
    assert len(stored["messages"]) == 2


def test_missing_field_is_422_naming_the_field(client, auth, enqueued):
    response = client.post("/v1/tickets", json={"messages": TICKET["messages"]}, headers=auth)

    assert response.status_code == 422
    assert ["body", "external_id"] in [err["loc"] for err in response.json()["detail"]]
    assert enqueued == []


def test_malformed_json_is_422(client, auth, enqueued):
    response = client.post(
        "/v1/tickets", content=b'{"external_id": "1", ', headers={**auth, "content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_message_longer_than_setting_is_422_naming_it(sqlite_url, auth, enqueued):
    from service.main import create_app

    with TestClient(create_app(make_settings(sqlite_url, max_message_chars=10))) as client:
        response = client.post("/v1/tickets", json=TICKET, headers=auth)

    assert response.status_code == 422
    assert response.json()["detail"].startswith("messages.0.body")


def test_body_over_limit_is_413_counted_on_streamed_bytes(sqlite_url, auth, enqueued):
    from service.main import create_app

    def chunks():
        yield b'{"external_id": "big", "messages": [{"body": "'
        for _ in range(40):
            yield b"x" * 1024
        yield b'"}]}'

    with TestClient(create_app(make_settings(sqlite_url, max_body_bytes=32 * 1024))) as client:
        # A generator body goes out chunked, without Content-Length: only counting bytes catches it.
        response = client.post(
            "/v1/tickets", content=chunks(), headers={**auth, "content-type": "application/json"}
        )
        declared = client.post(
            "/v1/tickets", content=b"x" * (33 * 1024), headers={**auth, "content-type": "application/json"}
        )

    assert response.status_code == 413
    assert declared.status_code == 413
    assert enqueued == []


def test_body_just_under_limit_is_accepted(sqlite_url, auth, enqueued):
    from service.main import create_app

    settings = make_settings(sqlite_url, max_body_bytes=32 * 1024, max_message_chars=40_000)
    with TestClient(create_app(settings)) as client:
        ticket = {**TICKET, "messages": [{"body": "y" * (30 * 1024)}]}
        assert client.post("/v1/tickets", json=ticket, headers=auth).status_code == 202


def test_unknown_ticket_is_404(client, auth):
    assert client.get("/v1/tickets/nope", headers=auth).status_code == 404


def test_missing_or_wrong_api_key_is_401(client, enqueued):
    assert client.post("/v1/tickets", json=TICKET).status_code == 401
    assert client.post("/v1/tickets", json=TICKET, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/v1/tickets/x", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert enqueued == []


def test_bearer_token_is_accepted(client, enqueued):
    response = client.post("/v1/tickets", json=TICKET, headers={"Authorization": "Bearer test-api-key"})
    assert response.status_code == 202


def test_broker_down_still_stores_and_answers_202(client, auth):
    # No monkeypatch: the settings point at a port where nothing listens.
    response = client.post("/v1/tickets", json=TICKET, headers=auth)

    assert response.status_code == 202
    body = response.json()
    assert body["queued"] is False
    stored = client.get(f"/v1/tickets/{body['ticket_id']}", headers=auth).json()
    assert stored["status"] == "accepted"


def test_database_down_is_503_with_retry_after(auth, enqueued):
    from service.main import create_app

    settings = make_settings("postgresql+psycopg://postgres@127.0.0.1:1/none")
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/tickets", json=TICKET, headers=auth)

    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0


def test_readyz_reports_each_dependency(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "error: ConnectionError"}
    assert client.get("/healthz").json() == {"status": "ok"}


def test_openapi_documents_every_route_and_error(client):
    spec = client.get("/openapi.json").json()

    post = spec["paths"]["/v1/tickets"]["post"]
    assert {"202", "401", "413", "422", "503"} <= set(post["responses"])
    assert "/v1/tickets/{ticket_id}" in spec["paths"]
    assert "/v1/admin/dead-letters" in spec["paths"]


def test_placeholder_api_key_is_refused_outside_development():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production", api_key="changeme")


def test_api_process_never_imports_torch_or_worker_code():
    code = (
        "import sys; import service.asgi; "
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('workers', 'transformers'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"TRIAGE_DATA_DIR": "/tmp/triage-import-check", "PATH": ""},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_message_time_without_zone_is_read_as_utc(client, auth, enqueued):
    ticket = {**TICKET, "messages": [{"body": "hi", "created_at": "2026-11-01T09:30:00"}]}

    ticket_id = client.post("/v1/tickets", json=ticket, headers=auth).json()["ticket_id"]

    stored = client.get(f"/v1/tickets/{ticket_id}", headers=auth).json()
    assert stored["messages"][0]["created_at"] == "2026-11-01T09:30:00Z"


def test_intake_marks_a_queued_ticket_in_its_one_transaction_and_clears_a_failed_publish(
    client, auth, sessions, monkeypatch
):
    from sqlalchemy import event

    from service.storage.models import TicketRow

    published: list[bool] = [True]
    monkeypatch.setattr("service.queue.send", lambda *args, **kwargs: published[0])
    commits: list[int] = []

    def count_commit(connection: object) -> None:
        commits.append(1)

    engine = sessions.kw["bind"]
    event.listen(engine, "commit", count_commit)
    try:
        queued = client.post("/v1/tickets", json=TICKET, headers=auth).json()
        assert queued["queued"] is True and len(commits) == 1  # one commit: no second round trip
        published[0] = False
        deferred = client.post("/v1/tickets", json={**TICKET, "external_id": "T-2"}, headers=auth).json()
    finally:
        event.remove(engine, "commit", count_commit)
    assert deferred["queued"] is False
    with sessions() as session:
        # The sweep re-enqueues a ticket with no mark at once; a marked one only after the deadline.
        assert session.get(TicketRow, queued["ticket_id"]).enqueued_at is not None
        assert session.get(TicketRow, deferred["ticket_id"]).enqueued_at is None
