"""POST /v1/tickets/{id}/feedback, helpdesk-side priority changes, and acceptance and override rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from service.domain import Message, Ticket
from service.feedback.cli import feedback_app
from service.feedback.service import capture_helpdesk_corrections, feedback_rates, normalise_priority
from service.storage.models import ActionRow, FeedbackRow
from service.tickets.service import store_ticket
from tests.conftest import make_settings
from tests.service.assist.scenario import SECOND, build_world


@pytest.fixture
def world(sessions):
    return build_world(sessions)


def post(client, auth, ticket_id, **body):
    return client.post(
        f"/v1/tickets/{ticket_id}/feedback", json={"agent": "jane@acme.test", **body}, headers=auth
    )


def rows(sessions):
    with sessions() as session:
        return session.scalars(select(FeedbackRow).order_by(FeedbackRow.id)).all()


def test_accepting_a_draft_is_stored_with_who_when_and_model(client, auth, sessions, world):
    response = post(client, auth, world.ticket_id, draft={"rank": 1, "verdict": "accepted"})

    assert response.status_code == 201
    body = response.json()
    assert body["revision"] == 1 and body["model_version"] == "fake-markers-1"
    assert [(r["kind"], r["verdict"]) for r in body["recorded"]] == [("draft", "accepted")]
    [row] = rows(sessions)
    assert row.agent == "jane@acme.test" and row.kind == "draft" and row.source == "agent"
    assert row.payload["template_id"] == "billing-double-charge" and row.payload["backend"] == "retrieval"
    assert datetime.now(UTC) - row.created_at < timedelta(minutes=1)


def test_edited_draft_keeps_the_agents_text_and_needs_it(client, auth, sessions, world):
    edited = post(client, auth, world.ticket_id, draft={"rank": 2, "verdict": "edited", "text": "Hi, sorry."})
    missing = post(client, auth, world.ticket_id, draft={"rank": 2, "verdict": "edited"})

    assert edited.status_code == 201 and missing.status_code == 422
    assert rows(sessions)[0].payload["text"] == "Hi, sorry."


def test_score_corrections_are_overrides_or_confirmations(client, auth, world):
    body = post(
        client, auth, world.ticket_id, frustration="moderate", urgency="high", comment="not that angry"
    ).json()

    assert [(r["kind"], r["verdict"]) for r in body["recorded"]] == [
        ("frustration", "overridden"),
        ("urgency", "confirmed"),
    ]


def test_feedback_refusals(client, auth, sessions, world):
    with sessions.begin() as session:
        fresh = store_ticket(
            session,
            Ticket(source="api", external_id="new", messages=[Message(author_role="customer", body="x")]),
        ).ticket_id

    assert post(client, auth, world.ticket_id).status_code == 422  # nothing to record
    assert post(client, auth, world.ticket_id, draft={"rank": 4, "verdict": "accepted"}).status_code == 422
    assert post(client, auth, world.ticket_id, frustration="furious").status_code == 422
    assert post(client, auth, fresh, urgency="low").status_code == 409  # not triaged yet
    assert post(client, auth, "nope", urgency="low").status_code == 404
    assert (
        client.post(
            f"/v1/tickets/{world.ticket_id}/feedback", json={"agent": "x", "urgency": "low"}
        ).status_code
        == 401
    )


def helpdesk_update(sessions, priority: str, body: str = SECOND) -> None:
    """Deliver the helpdesk's later update of ticket E-2, as its webhook would."""
    with sessions.begin() as session:
        store_ticket(
            session,
            Ticket(
                source="zendesk",
                external_id="E-2",
                subject="Billing",
                messages=[Message(author_role="customer", body=body)],
                requester_id="cust-7",
                priority=priority,
            ),
        )


def deliver_escalation(sessions, ticket_id: str) -> None:
    """Mark our escalation as written to the helpdesk (the connectors are faked out here)."""
    with sessions.begin() as session:
        session.add(
            ActionRow(
                idempotency_key=f"{ticket_id}.1.zendesk.ticket.escalated",
                ticket_id=ticket_id,
                tenant="default",
                revision=1,
                connector="zendesk",
                kind="ticket.escalated",
                payload={},
                status="delivered",
                attempts=1,
                delivered_at=datetime.now(UTC) - timedelta(seconds=5),
            )
        )


def test_agent_lowering_the_priority_we_set_is_captured_once(sessions, world):
    deliver_escalation(sessions, world.ticket_id)
    helpdesk_update(sessions, "high")

    with sessions.begin() as session:
        first = capture_helpdesk_corrections(session)
    with sessions.begin() as session:
        again = capture_helpdesk_corrections(session)

    [row] = rows(sessions)
    assert (first, again) == (1, 0)
    assert row.source == "helpdesk" and row.agent == "helpdesk:zendesk" and row.kind == "priority"
    assert row.payload["expected"] == "urgent" and row.payload["now"] == "high"
    assert row.payload["corrected"] == "high" and row.payload["predicted"] == "high"


def test_old_priority_before_our_write_arrives_is_not_an_override(sessions, world):
    helpdesk_update(sessions, "normal")  # our "urgent" has not been delivered yet

    with sessions.begin() as session:
        assert capture_helpdesk_corrections(session) == 0


def test_agent_raising_priority_we_left_alone_is_captured(sessions, world):
    # The calm earlier ticket got no escalation; an agent then marks it urgent in the helpdesk.
    with sessions.begin() as session:
        store_ticket(
            session,
            Ticket(
                source="zendesk",
                external_id="E-1",
                subject="Billing",
                messages=[Message(author_role="customer", body="[frustration=0.3] How do I change my plan?")],
                requester_id="cust-7",
                priority="4",  # Freshdesk's urgent
            ),
        )

    with sessions.begin() as session:
        assert capture_helpdesk_corrections(session) == 1
    [row] = rows(sessions)
    assert row.ticket_id == world.earlier_id and row.payload["corrected"] == "critical"


def test_rates_per_tenant_and_model_version(client, auth, sessions, world):
    post(client, auth, world.ticket_id, draft={"rank": 1, "verdict": "accepted"})
    post(client, auth, world.ticket_id, draft={"rank": 2, "verdict": "rejected"})
    post(client, auth, world.ticket_id, frustration="mild")
    post(client, auth, world.earlier_id, urgency="normal")

    with sessions() as session:
        [rates] = feedback_rates(session, since=datetime.now(UTC) - timedelta(days=1))

    summary = rates.as_json()
    assert (summary["tenant"], summary["model_version"]) == ("default", "fake-markers-1")
    assert summary["triaged"] == 2 and summary["drafts_offered"] == 2
    assert summary["draft_acceptance_rate"] == 0.5
    assert summary["frustration_override_rate"] == 0.5 and summary["urgency_override_rate"] == 0.0
    assert summary["confirmations"] == {"urgency": 1}


def test_metrics_command_prints_rates(client, auth, sessions, sqlite_url, monkeypatch, world):
    monkeypatch.setattr("service.config.get_settings", lambda: make_settings(sqlite_url))
    post(client, auth, world.ticket_id, draft={"rank": 1, "verdict": "accepted"})

    result = CliRunner().invoke(feedback_app, ["metrics", "--since", "1d"])

    assert result.exit_code == 0, result.output
    assert "default" in result.output and "fake-markers-1" in result.output and "100%" in result.output


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("urgent", "urgent"),
        ("4", "urgent"),
        ("3 high", "high"),
        ("medium", "normal"),
        (1, "low"),
        ("?", None),
    ],
)
def test_helpdesk_priorities_are_normalised(value, level):
    assert normalise_priority(value) == level


def test_agent_who_changed_nothing_leaves_no_correction(sessions, world):
    deliver_escalation(sessions, world.ticket_id)
    helpdesk_update(sessions, "urgent")  # the helpdesk echoes what we set

    with sessions.begin() as session:
        assert capture_helpdesk_corrections(session) == 0
    assert rows(sessions) == []


def test_each_verdict_is_counted_per_tenant_and_model_version(client, auth, world):
    from prometheus_client import REGISTRY

    labels = {"tenant": "default", "model_version": "fake-markers-1"}
    before = {
        v: REGISTRY.get_sample_value("triage_feedback_total", {**labels, "verdict": v}) or 0.0
        for v in ("accepted", "overridden")
    }

    post(client, auth, world.ticket_id, draft={"rank": 1, "verdict": "accepted"}, frustration="none")

    after = {v: REGISTRY.get_sample_value("triage_feedback_total", {**labels, "verdict": v}) for v in before}
    assert after == {"accepted": before["accepted"] + 1, "overridden": before["overridden"] + 1}


def test_feedback_capture_and_export_on_both_databases(database_url):
    from service.feedback.export import export_rows
    from service.feedback.schemas import FeedbackIn
    from service.feedback.service import record_feedback
    from service.storage.db import session_factory

    sessions = session_factory(database_url)
    world = build_world(sessions)
    with sessions.begin() as session:
        recorded = record_feedback(
            session,
            tenant="default",
            ticket_id=world.ticket_id,
            body=FeedbackIn(agent="jane", frustration="mild", draft={"rank": 1, "verdict": "rejected"}),
        )
    deliver_escalation(sessions, world.ticket_id)
    helpdesk_update(sessions, "low")
    with sessions.begin() as session:
        captured = capture_helpdesk_corrections(session)
    with sessions() as session:
        exported = list(export_rows(session, since=datetime.now(UTC) - timedelta(days=1)))

    assert recorded is not None and [r.kind for r in recorded.recorded] == ["draft", "frustration"]
    assert captured == 1
    assert sorted((k, v) for line in exported for k, v in line.items() if k != "text") == [
        ("frustration", "mild"),
        ("urgency", "low"),
    ]
