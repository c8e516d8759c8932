"""The worker stores ranked drafts and the requester's contacts with each decision, on both databases."""

from __future__ import annotations

from sqlalchemy import select

from service.storage.db import session_factory
from service.storage.models import ActionRow, DecisionRow, TriageRow
from tests.workers.helpers import ScriptedConnector, add_ticket
from tests.workers.routing.stored import triage_stored
from workers.routing.policy import parse_policy_text


def test_drafts_are_stored_and_the_best_one_is_the_outbound_draft(database_url):
    sessions = session_factory(database_url)
    ticket_id = add_ticket(sessions, "[frustration=0.95] You charged my card twice for one order!")

    triage_stored(sessions, [ticket_id], connectors={"webhook": ScriptedConnector()})

    with sessions() as session:
        decision = session.scalars(select(DecisionRow)).one()
        drafted = session.scalars(select(ActionRow).where(ActionRow.kind == "ticket.reply_drafted")).one()
    assert [d["rank"] for d in decision.drafts] == [1, 2, 3]
    assert decision.drafts[0]["template_id"] == "billing-double-charge"
    assert drafted.payload["draft"] == decision.drafts[0]["text"]


def test_earlier_contacts_ride_along_with_the_triage(database_url):
    sessions = session_factory(database_url)
    first = add_ticket(sessions, "[frustration=0.3] A question", external_id="A")
    triage_stored(sessions, [first])
    second = add_ticket(sessions, "[frustration=0.9] Still broken", external_id="B")

    triage_stored(sessions, [second])

    with sessions() as session:
        result = session.scalars(select(TriageRow).where(TriageRow.ticket_id == second)).one().result
    [contact] = result["history"]["contacts"]
    assert contact["ticket_id"] == first and contact["frustration"] == "mild"


def test_shadow_draft_rule_keeps_drafts_for_the_agent_but_writes_nothing(sqlite_url):
    sessions = session_factory(sqlite_url)
    ticket_id = add_ticket(sessions, "[frustration=0.7] The app crashes every time I open it")
    shadow = parse_policy_text(
        "version: s\nrules:\n  - name: d\n    shadow: true\n    when: {frustration: mild}\n"
        "    actions:\n      draft_reply: {suggest: 0.3, auto: 0.5}\n"
    )

    triage_stored(sessions, [ticket_id], policy=shadow, connectors={"webhook": ScriptedConnector()})

    with sessions() as session:
        decision = session.scalars(select(DecisionRow)).one()
        kinds = [a.kind for a in session.scalars(select(ActionRow))]
    assert kinds == ["ticket.triaged"]
    assert decision.drafts and decision.drafts[0]["template_id"] == "bug-crash"
    assert [a["shadow"] for a in decision.decision["actions"] if a["kind"] == "ticket.reply_drafted"] == [
        True
    ]


def test_unsupported_language_gets_no_drafts(sqlite_url):
    sessions = session_factory(sqlite_url)
    ticket_id = add_ticket(sessions, "[lang=fi] Hei, sovellus ei toimi")

    triage_stored(sessions, [ticket_id])

    with sessions() as session:
        assert session.scalars(select(DecisionRow)).one().drafts is None
