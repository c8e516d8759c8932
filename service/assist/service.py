"""Build the assist view from what the worker stored: no model runs in the API process."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.assist.schemas import (
    Assist,
    AssistMessage,
    DraftView,
    EarlierTicketView,
    HistoryView,
    ScoreView,
    Segment,
    SuggestedAction,
    TicketView,
    TriageView,
)
from service.domain import FRUSTRATION_LEVELS, AuthorRole, Triage
from service.storage.models import TicketRow, TriageRow
from service.tickets.service import latest_results

EARLIER_LIMIT = 10
MAX_DRAFTS = 3


def confidence_label(probability: float) -> str:
    """Name a calibrated probability the way an agent reads it."""
    if probability >= 0.8:
        return "high"
    if probability >= 0.6:
        return "medium"
    return "low"


def _spans(body: str, evidence: list[tuple[str, str, float]]) -> list[tuple[int, int, str, float]]:
    """Return (start, end, signal, weight) of each evidence text found in `body`, non-overlapping."""
    found: list[tuple[int, int, str, float]] = []
    lowered = body.lower()
    for text, signal, weight in evidence:
        # A span may cover the subject and the body the model read together: try it whole, then by line.
        for fragment in [text, *text.splitlines()]:
            needle = fragment.strip().lower()
            if len(needle) < 3:
                continue
            start = lowered.find(needle)
            if start < 0:
                continue
            end = start + len(needle)
            if not any(s < end and start < e for s, e, _, _ in found):
                found.append((start, end, signal, weight))  # the strongest evidence keeps an overlap
            break
    return sorted(found)


def segments(body: str, evidence: list[tuple[str, str, float]]) -> list[Segment]:
    """Split a message into plain and highlighted runs, in the customer's own words."""
    result: list[Segment] = []
    cursor = 0
    for start, end, signal, weight in _spans(body, evidence):
        if start > cursor:
            result.append(Segment(text=body[cursor:start]))
        result.append(Segment(text=body[start:end], highlight=True, signal=signal, weight=round(weight, 3)))
        cursor = end
    if cursor < len(body) or not result:
        result.append(Segment(text=body[cursor:]))
    return result


def _evidence(triage: Triage | None) -> list[tuple[str, str, float]]:
    if triage is None:
        return []
    items: list[tuple[str, str, float]] = []
    for signal, score in (("frustration", triage.frustration), ("urgency", triage.urgency)):
        if score is not None:
            items += [(e.text, signal, e.weight) for e in score.evidence]
    return sorted(items, key=lambda item: -item[2])


def _trend(levels: list[str]) -> str:
    if len(levels) < 2:
        return "unknown"
    last, before = FRUSTRATION_LEVELS.index(levels[-1]), FRUSTRATION_LEVELS.index(levels[-2])
    return "rising" if last > before else "falling" if last < before else "steady"


def _history(session: Session, row: TicketRow, triage: Triage | None) -> HistoryView:
    earlier: list[EarlierTicketView] = []
    if row.requester_id:
        others = session.scalars(
            select(TicketRow)
            .where(
                TicketRow.tenant == row.tenant,
                TicketRow.requester_id == row.requester_id,
                TicketRow.id != row.id,
                TicketRow.created_at <= row.created_at,
            )
            .order_by(TicketRow.created_at.desc())
            .limit(EARLIER_LIMIT)
        ).all()
        for other in others:
            latest = session.scalars(
                select(TriageRow).where(TriageRow.ticket_id == other.id).order_by(TriageRow.revision.desc())
            ).first()
            earlier.append(
                EarlierTicketView(
                    ticket_id=other.id,
                    external_id=other.external_id,
                    subject=other.subject,
                    created_at=other.created_at,
                    status=other.status,
                    frustration=latest.frustration_level if latest else None,
                    urgency=latest.urgency_level if latest else None,
                )
            )
    levels = [e.frustration for e in reversed(earlier) if e.frustration in FRUSTRATION_LEVELS]
    trend: list[str] = [level for level in levels if level is not None]
    if triage is not None and triage.frustration is not None:
        trend.append(triage.frustration.level)
    return HistoryView(earlier=earlier, frustration_trend=trend, trend=_trend(trend))


def _actions(decision: dict[str, Any] | None) -> list[SuggestedAction]:
    if not decision:
        return []
    steps = _steps(decision)
    return [
        SuggestedAction(
            action=str(s["action"]),
            mode=str(s.get("mode", "auto")),
            shadow=bool(s.get("shadow", False)),
            rule=str(s.get("rule", "")),
            reason=str(s.get("reason", "")),
            confidence=s.get("confidence"),
            value=s.get("priority") or s.get("group") or (", ".join(s.get("tags") or []) or None),
        )
        for s in steps
    ]


def _steps(decision: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the ladder steps stored with the decision (the worker's `ticket.triaged` params)."""
    for action in decision.get("actions", []):
        if action.get("kind") == "ticket.triaged" and "steps" in (action.get("params") or {}):
            return list(action["params"]["steps"])
    # Decisions stored before steps existed: each escalation or draft action is one step.
    steps = []
    for action in decision.get("actions", []):
        if action.get("kind") in ("ticket.escalated", "ticket.reply_drafted"):
            params = action.get("params") or {}
            steps.append(
                {
                    "action": "raise_priority" if action["kind"] == "ticket.escalated" else "draft_reply",
                    "mode": "auto",
                    "shadow": action.get("shadow", False),
                    "rule": action.get("rule", ""),
                    "reason": action.get("reason", ""),
                    "priority": params.get("priority"),
                }
            )
    return steps


def _triage_view(row: TriageRow, triage: Triage) -> TriageView:
    frustration = triage.frustration
    urgency = triage.urgency
    return TriageView(
        revision=row.revision,
        model_version=triage.model_version,
        supported=triage.supported,
        language=triage.language,
        frustration=ScoreView(
            level=frustration.level,
            probability=frustration.probability,
            confidence=confidence_label(frustration.probability),
        )
        if frustration
        else None,
        urgency=ScoreView(
            level=urgency.level,
            probability=urgency.probability,
            confidence=confidence_label(urgency.probability),
            distribution=urgency.distribution,
        )
        if urgency
        else None,
        reason_codes=triage.reason_codes,
    )


def assist_view(session: Session, *, tenant: str, ticket_id: str, public_url: str) -> Assist | None:
    """Return the assist view of a ticket, or None when it does not exist for this tenant."""
    row = session.get(TicketRow, ticket_id)
    if row is None or row.tenant != tenant:
        return None  # another tenant's ticket is indistinguishable from a missing one
    triage_row, decision_row = latest_results(session, ticket_id)
    triage = Triage.model_validate(triage_row.result) if triage_row else None
    evidence = _evidence(triage)
    messages = [
        AssistMessage(
            index=m.position,
            author_role=m.author_role,
            created_at=m.created_at,
            # Only the customer's words are evidence; an agent's text is shown plain.
            segments=segments(m.body, evidence if m.author_role == AuthorRole.CUSTOMER else []),
        )
        for m in row.messages
    ]
    drafts = (
        [DraftView.model_validate(d) for d in (decision_row.drafts or [])[:MAX_DRAFTS]]
        if decision_row
        else []
    )
    return Assist(
        ticket=TicketView(
            id=row.id,
            external_id=row.external_id,
            source=row.source,
            subject=row.subject,
            status=row.status,
            revision=row.revision,
            priority=row.priority,
            tags=list(row.tags or []),
            group=row.group,
            brand=row.brand,
        ),
        triage=_triage_view(triage_row, triage) if triage_row and triage else None,
        messages=messages,
        history=_history(session, row, triage),
        drafts=drafts,
        actions=_actions(decision_row.decision if decision_row else None),
        policy_version=decision_row.policy_version if decision_row else None,
        feedback_url=f"{public_url.rstrip('/')}/v1/tickets/{row.id}/feedback",
    )
