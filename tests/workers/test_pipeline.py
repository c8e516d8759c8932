"""Triage by id: idempotent per revision, poison messages parked, replies re-triaged."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.domain import Message, Ticket
from service.storage.db import session_factory
from service.storage.models import ActionRow, DecisionRow, TicketRow, TriageRow
from service.tickets.service import store_ticket
from tests.fakes.classifier import MarkerClassifier
from tests.workers.helpers import ScriptedConnector, add_ticket
from workers.pipeline import triage_tickets
from workers.routing.policy import load_policy


def run(sessions, ids, connector=None, classifier=None, max_deliveries=5):
    connectors = {"webhook": connector} if connector else {}
    return triage_tickets(
        sessions=sessions,
        ticket_ids=ids,
        classifier=classifier or MarkerClassifier(),
        policy=load_policy(None),
        connectors_for=lambda tenant: connectors,
        max_deliveries=max_deliveries,
    )


def count(sessions, model, **filters):
    with sessions() as session:
        query = select(func.count()).select_from(model).filter_by(**filters)
        return session.scalar(query)


@pytest.fixture
def db(database_url):
    return session_factory(database_url)


def test_triage_stores_result_decision_and_outbox_rows(db):
    ticket_id = add_ticket(db, "[frustration=0.95] [urgency=critical] Production is down!")

    [outcome] = run(db, [ticket_id], connector=ScriptedConnector())

    assert outcome.status == "triaged"
    with db() as session:
        ticket = session.get(TicketRow, ticket_id)
        triage = session.scalars(select(TriageRow)).one()
        kinds = sorted(a.kind for a in session.scalars(select(ActionRow)))
    assert ticket.status == "triaged" and ticket.triaged_revision == 1
    assert triage.frustration_level == "severe" and triage.urgency_level == "critical"
    assert kinds == ["ticket.escalated", "ticket.reply_drafted", "ticket.triaged"]
    assert len(outcome.action_ids) == 3


def test_running_twice_changes_nothing_the_second_time(db):
    ticket_id = add_ticket(db, "[urgency=critical] Outage")
    connector = ScriptedConnector()

    run(db, [ticket_id], connector=connector)
    [again] = run(db, [ticket_id, ticket_id], connector=connector)

    assert again.status == "skipped"
    assert count(db, TriageRow) == 1 and count(db, DecisionRow) == 1
    assert count(db, ActionRow) == 2  # triaged + escalated, once


def test_customer_reply_is_triaged_as_a_new_revision(db):
    ticket_id = add_ticket(db, "[frustration=0.1] Hi")
    run(db, [ticket_id])
    with db.begin() as session:
        store_ticket(
            session,
            Ticket(
                source="api",
                external_id="T-1",
                messages=[
                    Message(author_role="customer", body="[frustration=0.1] Hi"),
                    Message(author_role="customer", body="[frustration=0.9] Third time I ask!"),
                ],
            ),
        )

    [outcome] = run(db, [ticket_id])

    assert outcome.status == "triaged"
    with db() as session:
        levels = [
            t.frustration_level for t in session.scalars(select(TriageRow).order_by(TriageRow.revision))
        ]
    assert levels == ["none", "severe"]


def test_poison_ticket_is_parked_after_max_deliveries(db):
    ticket_id = add_ticket(db, "whatever")
    with db.begin() as session:
        session.get(TicketRow, ticket_id).deliveries = 3  # three earlier tries died mid-task

    [outcome] = run(db, [ticket_id], max_deliveries=3)

    assert outcome.status == "failed"
    with db() as session:
        assert session.get(TicketRow, ticket_id).status == "failed"
    assert count(db, TriageRow) == 0


def test_unsupported_language_is_recorded_without_scores_or_escalation(db):
    ticket_id = add_ticket(db, "[lang=fi] Hei")

    run(db, [ticket_id], connector=ScriptedConnector())

    with db() as session:
        triage = session.scalars(select(TriageRow)).one()
        kinds = [a.kind for a in session.scalars(select(ActionRow))]
    assert triage.result["supported"] is False and triage.frustration_level is None
    assert kinds == ["ticket.triaged"]


def test_many_tickets_are_scored_in_one_batch(db):
    ids = [add_ticket(db, f"[frustration=0.{i}] text {i}", external_id=f"T-{i}") for i in range(5)]
    classifier = MarkerClassifier()

    outcomes = run(db, ids, classifier=classifier)

    assert [o.status for o in outcomes] == ["triaged"] * 5
    assert len(classifier.calls) == 1 and len(classifier.calls[0]) == 5


def test_inference_metric_counts_every_text_sent_to_the_model(db, monkeypatch):
    seen = []
    monkeypatch.setattr("workers.metrics.observe_inference", lambda c, *, texts, seconds: seen.append(texts))
    ticket_id = add_ticket(db, "first")
    with db.begin() as session:
        store_ticket(
            session,
            Ticket(
                source="api",
                external_id="T-1",
                messages=[
                    Message(author_role="customer", body="first"),
                    Message(author_role="customer", body="second, still waiting"),
                ],
            ),
        )

    run(db, [ticket_id])

    # Both customer messages were scored (the trajectory needs them) and the thread once more as a
    # whole (its open need and topic), so the batch held three texts.
    assert seen == [3]


def test_history_reads_each_earlier_tickets_latest_levels_in_three_queries(db):
    from sqlalchemy import event

    from workers.pipeline import _history

    earlier = [add_ticket(db, f"[frustration=0.1] Question {i}", external_id=f"E-{i}") for i in range(5)]
    run(db, earlier)
    # A reply re-triages the first one at a higher level: history must read its latest revision.
    with db.begin() as session:
        store_ticket(
            session,
            Ticket(
                tenant="default",
                source="api",
                external_id="E-0",
                messages=[Message(author_role="customer", body="[frustration=0.95] Still broken!")],
            ),
        )
    run(db, [earlier[0]])
    current = add_ticket(db, "Hello again", external_id="NOW")

    statements: list[str] = []

    def record(connection, cursor, statement, *rest):
        statements.append(statement)

    with db() as session:
        row = session.get(TicketRow, current)
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", record)
        try:
            history = _history(session, row)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    assert len(statements) <= 3, statements
    assert [h.ticket_id for h in history] == list(reversed(earlier))
    levels = {h.ticket_id: h.frustration_level for h in history}
    assert levels[earlier[0]] == "severe" and levels[earlier[1]] == "none"
    assert history[-1].text == "Help\n\n[frustration=0.1] Question 0"
