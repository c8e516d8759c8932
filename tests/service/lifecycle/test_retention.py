"""Retention removes customer text past each tenant's window and keeps every label (SQLite, PostgreSQL)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.domain import ActionStatus, Message, Ticket
from service.feedback.export import write_export
from service.lifecycle.retention import run_retention
from service.storage.db import session_factory
from service.storage.models import ActionRow, DecisionRow, FeedbackRow, MessageRow, TicketRow, TriageRow
from service.tenants import Retention, Tenant
from service.tickets.service import store_ticket
from tests.conftest import make_settings
from tests.service.lifecycle.builders import BERTIL, ODALYS, age, build_footprint, grep
from tests.workers.helpers import add_ticket
from workers.routing.policy import load_policy
from workers.routing.replay import replay

NOW = datetime.now(UTC)
DEFAULT = [Tenant(name="default")]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, retention_batch_pause_seconds=0)


@pytest.fixture
def sessions(settings: Settings) -> sessionmaker[Session]:
    return session_factory(settings.sqlalchemy_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from service.main import create_app

    with TestClient(create_app(settings)) as test_client:
        yield test_client


def labels(session: Session, ticket_ids: list[str]) -> dict[str, object]:
    """Return everything retention must keep: levels, decisions, outcomes, feedback labels."""
    triage = session.execute(
        select(TriageRow.frustration_level, TriageRow.urgency_level, TriageRow.model_version)
        .where(TriageRow.ticket_id.in_(ticket_ids))
        .order_by(TriageRow.id)
    ).all()
    decisions = session.scalars(
        select(DecisionRow.decision).where(DecisionRow.ticket_id.in_(ticket_ids)).order_by(DecisionRow.id)
    ).all()
    drafts = session.scalars(
        select(DecisionRow.drafts).where(DecisionRow.ticket_id.in_(ticket_ids)).order_by(DecisionRow.id)
    ).all()
    outcomes = session.execute(
        select(ActionRow.kind, ActionRow.status, ActionRow.attempts, ActionRow.delivered_at)
        .where(ActionRow.ticket_id.in_(ticket_ids))
        .order_by(ActionRow.id)
    ).all()
    feedback = session.execute(
        select(FeedbackRow.kind, FeedbackRow.agent, FeedbackRow.payload)
        .where(FeedbackRow.ticket_id.in_(ticket_ids))
        .order_by(FeedbackRow.id)
    ).all()
    return {
        "triage": [tuple(row) for row in triage],
        "decisions": list(decisions),
        "draft_ranks": [[(d["rank"], d["backend"], d["tone"]) for d in ds or []] for ds in drafts],
        "outcomes": [tuple(row) for row in outcomes],
        "feedback": [
            (kind, agent, {k: v for k, v in payload.items() if k not in ("comment", "text")})
            for kind, agent, payload in feedback
        ],
    }


def test_retention_removes_text_and_keeps_labels(sessions: sessionmaker[Session], settings: Settings) -> None:
    old = build_footprint(sessions, settings, ODALYS).ticket_ids
    recent = build_footprint(sessions, settings, BERTIL).ticket_ids
    age(sessions, old, to=NOW - timedelta(days=91))
    with sessions() as session:
        before = labels(session, old)
        assert all(grep(session, ODALYS.text_strings).values()), "the footprint holds the customer's text"
        exported = io.StringIO()
        write_export(session, exported, since=NOW - timedelta(days=365))
        assert ODALYS.name in exported.getvalue()

    report = run_retention(sessions=sessions, tenants=DEFAULT, settings=settings, now=NOW)

    assert report.purged_tickets == {"default": 2}
    assert report.finished
    with sessions() as session:
        assert grep(session, ODALYS.text_strings) == {s: set() for s in ODALYS.text_strings}
        assert labels(session, old) == before
        purged = session.scalars(select(TicketRow).where(TicketRow.id.in_(old))).all()
        assert {(t.subject, t.requester_id, t.external_id, t.status) for t in purged} == {
            ("", None, "OQ-4471", "triaged"),
            ("", None, "OQ-4472", "triaged"),
        }
        assert session.scalar(select(func.count()).where(MessageRow.ticket_id.in_(old))) == 0
        payloads = session.scalars(select(ActionRow.payload).where(ActionRow.ticket_id.in_(old))).all()
        assert payloads and all(p == {} for p in payloads)
        # The other customer's recent tickets are untouched.
        assert all(grep(session, BERTIL.text_strings).values())
        assert session.scalar(select(func.count()).where(MessageRow.ticket_id.in_(recent))) == 1
        # Exports carry no purged text; replays still count every stored decision.
        exported = io.StringIO()
        write_export(session, exported, since=NOW - timedelta(days=365))
        assert ODALYS.name not in exported.getvalue() and BERTIL.name in exported.getvalue()
        counted = replay(session, load_policy(None), since=NOW - timedelta(days=365))
    assert counted.tickets == 3


def test_running_again_purges_nothing_new(sessions: sessionmaker[Session], settings: Settings) -> None:
    old = build_footprint(sessions, settings, ODALYS).ticket_ids
    age(sessions, old, to=NOW - timedelta(days=91))
    run_retention(sessions=sessions, tenants=DEFAULT, settings=settings, now=NOW)

    again = run_retention(sessions=sessions, tenants=DEFAULT, settings=settings, now=NOW)

    assert again.summary() == {
        "purged_tickets": 0, "purged_rows": 0, "delivery_ids": 0, "batches": 0, "finished": True,
    }  # fmt: skip


def test_each_tenant_has_its_own_window(sessions: sessionmaker[Session], settings: Settings) -> None:
    acme = add_ticket(sessions, "hello", external_id="A-1", tenant="acme")
    default = add_ticket(sessions, "hello", external_id="D-1")
    gone = add_ticket(sessions, "hello", external_id="G-1", tenant="removed-tenant")
    age(sessions, [acme, default, gone], to=NOW - timedelta(days=8), triaged_revision=1)
    tenants = [Tenant(name="default"), Tenant(name="acme", retention=Retention(days=7))]

    report = run_retention(sessions=sessions, tenants=tenants, settings=settings, now=NOW)

    # acme keeps 7 days; default and a tenant no longer configured follow TRIAGE_RETENTION_DAYS (90).
    assert report.purged_tickets == {"acme": 1}
    assert report.tenants == {"acme", "default", "removed-tenant"}


@pytest.mark.parametrize(
    ("state", "days_ago", "purged"),
    [
        ("closed", 31, True),  # closed for longer than TRIAGE_RETENTION_CLOSED_DAYS (30)
        ("closed", 29, False),
        ("deleted", 0, True),  # deleted in the helpdesk: purged at the next run
        (None, 31, False),  # open: only the 90-day window applies
    ],
)
def test_closed_and_deleted_tickets_go_sooner(
    sessions: sessionmaker[Session], settings: Settings, state: str | None, days_ago: int, purged: bool
) -> None:
    ticket = add_ticket(sessions, "hello", external_id="S-1")
    moment = NOW - timedelta(days=days_ago)
    age(sessions, [ticket], to=moment, triaged_revision=1, helpdesk_state=state, helpdesk_state_at=moment)

    report = run_retention(sessions=sessions, tenants=DEFAULT, settings=settings, now=NOW)

    assert report.purged_tickets == ({"default": 1} if purged else {})


def test_a_reply_after_closing_counts_as_activity(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    ticket = add_ticket(sessions, "hello", external_id="R-1")
    closed = NOW - timedelta(days=40)
    age(sessions, [ticket], to=closed, triaged_revision=1, helpdesk_state="closed", helpdesk_state_at=closed)
    with sessions.begin() as session:
        session.execute(
            update(TicketRow).where(TicketRow.id == ticket).values(updated_at=NOW - timedelta(days=5))
        )

    report = run_retention(sessions=sessions, tenants=DEFAULT, settings=settings, now=NOW)

    assert report.purged_tickets == {}


def test_text_being_worked_on_waits(sessions: sessionmaker[Session], settings: Settings) -> None:
    waiting = add_ticket(sessions, "not triaged yet", external_id="W-1")
    footprint = build_footprint(sessions, settings, ODALYS).ticket_ids
    sending = footprint[0]
    with sessions.begin() as session:
        session.execute(
            update(ActionRow).where(ActionRow.ticket_id == sending).values(status=ActionStatus.PENDING)
        )
    age(sessions, [waiting, *footprint], to=NOW - timedelta(days=91))

    first = run_retention(sessions=sessions, tenants=DEFAULT, settings=settings, now=NOW)
    with sessions.begin() as session:
        session.execute(
            update(ActionRow).where(ActionRow.ticket_id == sending).values(status=ActionStatus.DELIVERED)
        )
    second = run_retention(sessions=sessions, tenants=DEFAULT, settings=settings, now=NOW)

    # The ticket waiting for triage keeps its text; the one with write-backs to send waits for them.
    assert first.purged_tickets == {"default": 1}  # ODALYS's second ticket, all sent
    assert second.purged_tickets == {"default": 1}
    with sessions() as session:
        assert session.scalar(select(func.count()).where(MessageRow.ticket_id == waiting)) == 1


def test_a_reply_to_a_purged_ticket_brings_it_back(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    ticket = add_ticket(sessions, "first", external_id="P-1")
    age(sessions, [ticket], to=NOW - timedelta(days=91), triaged_revision=1)
    run_retention(sessions=sessions, tenants=DEFAULT, settings=settings, now=NOW)

    with sessions.begin() as session:
        result = store_ticket(
            session,
            Ticket(
                source="api",
                external_id="P-1",
                subject="Again",
                messages=[Message(author_role="customer", body="second")],
            ),
        )
    later = run_retention(sessions=sessions, tenants=DEFAULT, settings=settings, now=datetime.now(UTC))

    assert result.ticket_id == ticket and result.needs_triage
    assert later.purged_tickets == {}
    with sessions() as session:
        row = session.get(TicketRow, ticket)
        assert row is not None and row.purged_at is None and row.subject == "Again"
        assert [m.body for m in row.messages] == ["second"]


def test_purge_runs_in_batches_and_stops_at_its_time_budget(database_url: str) -> None:
    settings = make_settings(database_url, retention_batch_size=2, retention_batch_pause_seconds=0)
    sessions = session_factory(database_url)
    ids = [add_ticket(sessions, "x", external_id=f"B-{n}") for n in range(5)]
    age(sessions, ids, to=NOW - timedelta(days=91), triaged_revision=1)
    ticks = iter(range(100))

    partial = run_retention(
        sessions=sessions,
        tenants=DEFAULT,
        settings=settings.model_copy(update={"retention_max_run_seconds": 2}),
        now=NOW,
        clock=lambda: float(next(ticks)),
    )
    rest = run_retention(sessions=sessions, tenants=DEFAULT, settings=settings, now=NOW)

    assert (partial.batches, partial.purged_tickets, partial.finished) == (1, {"default": 2}, False)
    assert (rest.batches, rest.purged_tickets, rest.finished) == (2, {"default": 3}, True)


def test_a_dead_letter_whose_content_was_purged_cannot_be_replayed(
    sessions: sessionmaker[Session], settings: Settings, client: TestClient, auth: dict[str, str]
) -> None:
    ticket = build_footprint(sessions, settings, ODALYS).ticket_ids[0]
    with sessions.begin() as session:
        action = session.scalars(select(ActionRow).where(ActionRow.ticket_id == ticket)).first()
        assert action is not None
        action.status = ActionStatus.DEAD
    age(sessions, [ticket], to=NOW - timedelta(days=91))
    run_retention(sessions=sessions, tenants=DEFAULT, settings=settings, now=NOW)

    response = client.post(f"/v1/admin/dead-letters/{action.id}/replay", headers=auth)

    assert response.status_code == 409
    assert "removed by retention" in response.json()["detail"]
