"""GET /v1/tickets/{id}/assist and the page at /assist/{id}: what an agent sees, per tenant."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from service.domain import Message, Ticket
from service.tickets.service import store_ticket
from tests.conftest import make_settings
from tests.service.assist.scenario import build_world


@pytest.fixture
def world(sessions):
    return build_world(sessions)


def test_assist_shows_scores_with_confidence_and_reason_codes(client, auth, world):
    body = client.get(f"/v1/tickets/{world.ticket_id}/assist", headers=auth).json()

    assert body["ticket"]["external_id"] == "E-2"
    triage = body["triage"]
    assert triage["frustration"] == {
        "level": "severe",
        "probability": 0.95,
        "confidence": "high",
        "distribution": None,
    }
    assert triage["urgency"]["level"] == "high" and triage["urgency"]["confidence"] == "high"
    assert triage["reason_codes"] == ["repeat_contact"] and triage["model_version"] == "fake-markers-1"


def test_evidence_is_highlighted_in_the_customers_own_words(client, auth, world):
    body = client.get(f"/v1/tickets/{world.ticket_id}/assist", headers=auth).json()

    [message] = body["messages"]
    marked = [(s["text"], s["signal"]) for s in message["segments"] if s["highlight"]]
    assert marked == [
        ("You charged my card twice for one order!", "frustration"),
        ("I wrote last week and nobody answered.", "urgency"),
    ]
    # The segments put back together are exactly what the customer wrote.
    assert "".join(s["text"] for s in message["segments"]).endswith("Call me on +49 170 1234567.")


def test_customer_history_lists_earlier_tickets_and_the_trend(client, auth, world):
    history = client.get(f"/v1/tickets/{world.ticket_id}/assist", headers=auth).json()["history"]

    assert [e["external_id"] for e in history["earlier"]] == ["E-1"]
    assert history["earlier"][0]["frustration"] == "mild"
    assert history["frustration_trend"] == ["mild", "severe"] and history["trend"] == "rising"


def test_up_to_three_ranked_drafts_matched_to_the_problem_and_tone(client, auth, world):
    drafts = client.get(f"/v1/tickets/{world.ticket_id}/assist", headers=auth).json()["drafts"]

    assert [d["rank"] for d in drafts] == [1, 2, 3]
    assert drafts[0]["template_id"] == "billing-double-charge" and drafts[0]["tone"] == "severe"
    assert "taking ownership" in drafts[0]["text"] and "1234567" not in drafts[0]["text"]


def test_suggested_actions_name_the_rule_that_chose_each(client, auth, world):
    actions = client.get(f"/v1/tickets/{world.ticket_id}/assist", headers=auth).json()["actions"]

    chosen = {(a["action"], a["rule"], a["mode"], a["value"]) for a in actions}
    assert ("raise_priority", "severe-frustration", "auto", "urgent") in chosen
    # The earlier ticket was milder: the repeat-contact rule suggests (but does not set) high priority.
    assert ("raise_priority", "repeat-contact", "suggest", "high") in chosen
    assert ("draft_reply", "frustrated-reply", "auto", None) in chosen
    assert all(a["reason"] for a in actions)


def test_untriaged_ticket_has_no_scores_drafts_or_actions_yet(client, auth, sessions):
    with sessions.begin() as session:
        ticket_id = store_ticket(
            session,
            Ticket(source="api", external_id="N", messages=[Message(author_role="customer", body="hi")]),
        ).ticket_id

    body = client.get(f"/v1/tickets/{ticket_id}/assist", headers=auth).json()

    assert body["triage"] is None and body["drafts"] == [] and body["actions"] == []


def test_another_tenants_ticket_is_404_and_no_key_is_401(tmp_path, sqlite_url, sessions, auth):
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants:\n  - name: globex\n    api_keys: [globex-key]\n")
    world = build_world(sessions, tenant="default")
    from service.main import create_app

    with TestClient(create_app(make_settings(sqlite_url, tenants_file=tenants))) as client:
        other = client.get(f"/v1/tickets/{world.ticket_id}/assist", headers={"X-API-Key": "globex-key"})
        anonymous = client.get(f"/v1/tickets/{world.ticket_id}/assist")
        own = client.get(f"/v1/tickets/{world.ticket_id}/assist", headers=auth)

    assert other.status_code == 404 and anonymous.status_code == 401 and own.status_code == 200


def test_page_is_served_without_data_under_a_strict_policy(sqlite_url):
    from service.main import create_app

    settings = make_settings(sqlite_url, assist_frame_ancestors=["https://*.zendesk.com"])
    with TestClient(create_app(settings)) as client:
        page = client.get("/assist/some-ticket")
        script = client.get("/assist/static/assist.js")
        hidden = client.get("/assist/static/assist.html")

    csp = page.headers["content-security-policy"]
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors https://*.zendesk.com" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and page.headers["cache-control"] == "no-store"
    assert "some-ticket" not in page.text  # the id is read by the script, never templated in
    assert script.status_code == 200 and "textContent" in script.text and "innerHTML" not in script.text
    assert hidden.status_code == 404


def test_openapi_documents_assist_and_feedback(client):
    paths = client.get("/openapi.json").json()["paths"]

    assert "/v1/tickets/{ticket_id}/assist" in paths
    assert {"201", "401", "404", "409", "422"} <= set(
        paths["/v1/tickets/{ticket_id}/feedback"]["post"]["responses"]
    )
    assert "/assist/{ticket_id}" not in paths


def test_api_modules_for_assist_and_feedback_never_import_torch_or_workers():
    code = (
        "import sys; import service.asgi, service.assist.router, service.feedback.router, "
        "service.feedback.export; "
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
