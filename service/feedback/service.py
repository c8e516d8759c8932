"""Record agents' feedback, capture helpdesk-side corrections, and count acceptance and overrides."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain import URGENCY_LEVELS
from service.feedback.schemas import FeedbackIn, FeedbackOut, FeedbackRecorded
from service.storage.models import ActionRow, DecisionRow, FeedbackRow, TicketRow, TriageRow

# Helpdesk priorities as Zendesk (low..urgent), Freshdesk (1..4) and Zammad ("3 high") write them.
PRIORITY_WORDS = {"low": "low", "normal": "normal", "medium": "normal", "high": "high", "urgent": "urgent"}
PRIORITY_NUMBERS = {"1": "low", "2": "normal", "3": "high", "4": "urgent"}
PRIORITY_TO_URGENCY = {"low": "low", "normal": "normal", "high": "high", "urgent": "critical"}


class FeedbackError(ValueError):
    """The feedback cannot be recorded: no such ticket, revision or draft."""


def normalise_priority(value: str | int | None) -> str | None:
    """Return low, normal, high or urgent for a helpdesk's priority value, or None if unknown."""
    if value is None:
        return None
    text = str(value).strip().lower()
    for word in re.findall(r"[a-z]+", text):
        if word in PRIORITY_WORDS:
            return PRIORITY_WORDS[word]
    digits = re.findall(r"\d", text)
    return PRIORITY_NUMBERS.get(digits[0]) if digits else None


def _latest_triage(session: Session, ticket_id: str, revision: int | None) -> TriageRow | None:
    query = select(TriageRow).where(TriageRow.ticket_id == ticket_id)
    if revision is not None:
        query = query.where(TriageRow.revision == revision)
    return session.scalars(query.order_by(TriageRow.revision.desc())).first()


def record_feedback(session: Session, *, tenant: str, ticket_id: str, body: FeedbackIn) -> FeedbackOut | None:
    """Store each part of an agent's feedback as its own row, with who and when; None outside the tenant."""
    ticket = session.get(TicketRow, ticket_id)
    if ticket is None or ticket.tenant != tenant:
        return None
    triage = _latest_triage(session, ticket_id, body.revision)
    if triage is None:
        raise FeedbackError("the ticket has no triage for that revision yet")
    now = datetime.now(UTC)
    parts: list[tuple[str, str, dict[str, Any]]] = []
    if body.draft is not None:
        decision = session.scalars(
            select(DecisionRow).where(
                DecisionRow.ticket_id == ticket_id, DecisionRow.revision == triage.revision
            )
        ).first()
        drafts = (decision.drafts or []) if decision else []
        shown = next((d for d in drafts if d.get("rank") == body.draft.rank), None)
        if shown is None:
            raise FeedbackError(f"draft {body.draft.rank} was not offered for this revision")
        payload = {
            "rank": body.draft.rank,
            "verdict": body.draft.verdict,
            "backend": shown.get("backend"),
            "template_id": shown.get("template_id"),
            "text": body.draft.text if body.draft.verdict == "edited" else None,
        }
        parts.append(("draft", body.draft.verdict, payload))
    for kind, corrected, predicted in (
        ("frustration", body.frustration, triage.frustration_level),
        ("urgency", body.urgency, triage.urgency_level),
    ):
        if corrected is not None:
            verdict = "confirmed" if corrected == predicted else "overridden"
            parts.append(
                (kind, verdict, {"predicted": predicted, "corrected": corrected, "verdict": verdict})
            )
    if body.comment or (body.draft is not None and body.draft.verdict == "edited"):
        # The agent's words may quote the customer: a ticket past retention has them purged again.
        ticket.purged_at = None
    recorded = []
    for kind, verdict, payload in parts:
        if body.comment:
            payload["comment"] = body.comment
        row = FeedbackRow(
            ticket_id=ticket_id,
            tenant=tenant,
            revision=triage.revision,
            agent=body.agent,
            kind=kind,
            source="agent",
            model_version=triage.model_version,
            payload=payload,
            created_at=now,
        )
        session.add(row)
        session.flush()
        recorded.append(FeedbackRecorded(id=row.id, kind=kind, verdict=verdict, created_at=now))
    return FeedbackOut(
        ticket_id=ticket_id, revision=triage.revision, model_version=triage.model_version, recorded=recorded
    )


def _priority_we_left(decision: dict[str, Any]) -> tuple[str | None, bool]:
    """Return the priority the ticket should have after our decision, and whether we set it."""
    seen = None
    for action in decision.get("actions", []):
        params = action.get("params") or {}
        if action.get("kind") == "ticket.escalated" and not action.get("shadow") and params.get("priority"):
            return normalise_priority(params["priority"]), True
        if action.get("kind") == "ticket.triaged":
            seen = normalise_priority(params.get("priority_seen"))
    return seen, False


def _written_before(session: Session, ticket: TicketRow, revision: int) -> bool:
    """Return whether our escalation was delivered before the helpdesk's latest update of the ticket."""
    delivered = session.scalars(
        select(ActionRow.delivered_at).where(
            ActionRow.ticket_id == ticket.id,
            ActionRow.revision == revision,
            ActionRow.kind == "ticket.escalated",
            ActionRow.delivered_at.is_not(None),
        )
    ).all()
    return any(at is not None and at < ticket.updated_at for at in delivered)


def capture_helpdesk_corrections(session: Session, *, tenant: str | None = None) -> int:
    """Record agents' priority changes made in the helpdesk after our decision; return how many are new.

    The helpdesk's later updates overwrite the ticket's priority at intake. Where it now differs from
    what we set (or from what it was when we decided), an agent overrode us: that is an urgency label.
    """
    query = select(TicketRow).where(TicketRow.priority.is_not(None))
    if tenant is not None:
        query = query.where(TicketRow.tenant == tenant)
    added = 0
    for ticket in session.scalars(query):
        decision = session.scalars(
            select(DecisionRow)
            .where(DecisionRow.ticket_id == ticket.id)
            .order_by(DecisionRow.revision.desc())
        ).first()
        if decision is None or ticket.updated_at <= decision.created_at:
            continue
        expected, we_set = _priority_we_left(decision.decision)
        now_priority = normalise_priority(ticket.priority)
        if now_priority is None or expected is None or now_priority == expected:
            continue
        if we_set and not _written_before(session, ticket, decision.revision):
            continue  # our priority has not reached the helpdesk yet: the old value is no override
        existing = session.scalars(
            select(FeedbackRow).where(
                FeedbackRow.ticket_id == ticket.id,
                FeedbackRow.revision == decision.revision,
                FeedbackRow.kind == "priority",
            )
        ).all()
        if any(row.payload.get("now") == now_priority for row in existing):
            continue
        triage = _latest_triage(session, ticket.id, decision.revision)
        session.add(
            FeedbackRow(
                ticket_id=ticket.id,
                tenant=ticket.tenant,
                revision=decision.revision,
                agent=f"helpdesk:{ticket.source}",
                kind="priority",
                source="helpdesk",
                model_version=triage.model_version if triage else None,
                payload={
                    "expected": expected,
                    "now": now_priority,
                    "we_set": we_set,
                    "predicted": triage.urgency_level if triage else None,
                    "corrected": PRIORITY_TO_URGENCY[now_priority],
                    "verdict": "overridden",
                    "seen_at": ticket.updated_at.isoformat(),
                },
                created_at=datetime.now(UTC),
            )
        )
        added += 1
    session.flush()
    return added


@dataclass
class Rates:
    """Acceptance and override counts of one tenant and model version."""

    tenant: str
    model_version: str
    triaged: int = 0
    drafts_offered: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    overrides: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    confirmations: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def as_json(self) -> dict[str, Any]:
        judged = sum(self.verdicts.values())
        return {
            "tenant": self.tenant,
            "model_version": self.model_version,
            "triaged": self.triaged,
            "drafts_offered": self.drafts_offered,
            "draft_verdicts": dict(self.verdicts),
            "draft_acceptance_rate": round(self.verdicts["accepted"] / judged, 4) if judged else None,
            "draft_edit_rate": round(self.verdicts["edited"] / judged, 4) if judged else None,
            "overrides": dict(self.overrides),
            "confirmations": dict(self.confirmations),
            "frustration_override_rate": round(self.overrides["frustration"] / self.triaged, 4)
            if self.triaged
            else None,
            "urgency_override_rate": round(
                (self.overrides["urgency"] + self.overrides["priority"]) / self.triaged, 4
            )
            if self.triaged
            else None,
        }


def feedback_rates(session: Session, *, since: datetime, tenant: str | None = None) -> list[Rates]:
    """Count triaged tickets, drafts offered, verdicts and overrides per tenant and model version."""
    table: dict[tuple[str, str], Rates] = {}

    def rates(tenant_name: str, model_version: str | None) -> Rates:
        key = (tenant_name, model_version or "unknown")
        if key not in table:
            table[key] = Rates(*key)
        return table[key]

    triaged = select(TicketRow.tenant, TriageRow.model_version, TriageRow.ticket_id, TriageRow.revision).join(
        TicketRow, TicketRow.id == TriageRow.ticket_id
    )
    triaged = triaged.where(TriageRow.created_at >= since)
    if tenant is not None:
        triaged = triaged.where(TicketRow.tenant == tenant)
    offered = {
        (d.ticket_id, d.revision)
        for d in session.scalars(select(DecisionRow).where(DecisionRow.created_at >= since))
        if d.drafts
    }
    for tenant_name, model_version, ticket_id, revision in session.execute(triaged):
        entry = rates(tenant_name, model_version)
        entry.triaged += 1
        entry.drafts_offered += (ticket_id, revision) in offered
    feedback = select(FeedbackRow).where(FeedbackRow.created_at >= since)
    if tenant is not None:
        feedback = feedback.where(FeedbackRow.tenant == tenant)
    for row in session.scalars(feedback):
        entry = rates(row.tenant, row.model_version)
        verdict = str(row.payload.get("verdict", ""))
        if row.kind == "draft":
            entry.verdicts[verdict] += 1
        elif verdict == "overridden":
            entry.overrides[row.kind] += 1
        elif verdict == "confirmed":
            entry.confirmations[row.kind] += 1
    return sorted(table.values(), key=lambda r: (r.tenant, r.model_version))


def verdict_of(kind: str, payload: dict[str, Any]) -> str:
    """Return the Prometheus verdict of a feedback row: accepted, or overridden."""
    verdict = str(payload.get("verdict", ""))
    return "accepted" if verdict in ("accepted", "confirmed") else "overridden"


def urgency_label(payload: dict[str, Any]) -> str | None:
    """Return the urgency level a correction names, if it is a valid one."""
    value = payload.get("corrected")
    return value if value in URGENCY_LEVELS else None
