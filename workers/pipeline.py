"""Triage tickets by id: score, decide, and plan the outbound actions in one transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from service.domain import AuthorRole, Decision, Scores, Ticket, TicketStatus, Triage
from service.storage.models import DecisionRow, TicketRow, TriageRow
from service.tenants import TenantCalibration
from service.tickets.service import ticket_from_row
from workers import metrics
from workers.connectors.base import Connector
from workers.drafts.base import DraftBackend, DraftRequest, default_backend, write_drafts
from workers.inference.base import Classifier
from workers.inference.conversation import EarlierTicket, score_tickets
from workers.inference.tenant_calibration import apply_tenant_calibration
from workers.outbox import plan_actions
from workers.routing.decide import decide
from workers.routing.history import contacts_history
from workers.routing.policy import Policy

log = logging.getLogger(__name__)

HISTORY_DAYS = 90
HISTORY_LIMIT = 10


@dataclass(frozen=True)
class TriageOutcome:
    ticket_id: str
    status: str  # triaged | skipped | failed
    action_ids: tuple[str, ...] = ()


def triage_tickets(
    *,
    sessions: sessionmaker[Session],
    ticket_ids: Sequence[str],
    classifier: Classifier,
    policy: Policy,
    connectors_for: Callable[[str], dict[str, Connector]],
    max_deliveries: int,
    drafter: DraftBackend | None = None,
    calibration_for: Callable[[str], TenantCalibration] | None = None,
) -> list[TriageOutcome]:
    """Triage each ticket's current revision once; a repeated call for a done revision changes nothing."""
    claimed: list[tuple[Ticket, int, list[EarlierTicket]]] = []
    outcomes: list[TriageOutcome] = []
    started = time.perf_counter()
    for ticket_id in dict.fromkeys(ticket_ids):
        with sessions.begin() as session:
            row = session.get(TicketRow, ticket_id)
            if row is None or row.status == TicketStatus.FAILED or row.triaged_revision >= row.revision:
                outcomes.append(TriageOutcome(ticket_id, "skipped"))
                continue
            # Count deliveries of this revision: a message that crashes the worker every time is
            # redelivered forever under reject_on_worker_lost, so park it after max_deliveries.
            row.deliveries += 1
            if row.deliveries > 1:
                metrics.TICKET_RETRIES.inc()
            if row.deliveries > max_deliveries:
                row.status = TicketStatus.FAILED
                row.last_error = f"gave up after {max_deliveries} deliveries"
                outcomes.append(TriageOutcome(ticket_id, "failed"))
                continue
            row.status = TicketStatus.TRIAGING
            claimed.append((ticket_from_row(row), row.revision, _history(session, row)))
    if not claimed:
        return outcomes

    load_ms = (time.perf_counter() - started) * 1000
    scored_at = time.perf_counter()
    counting = _CountingClassifier(classifier)
    scored = score_tickets(counting, [(ticket, earlier) for ticket, _, earlier in claimed])
    metrics.observe_inference(classifier, texts=counting.texts, seconds=time.perf_counter() - scored_at)
    inference_ms = (time.perf_counter() - scored_at) * 1000 / len(claimed)

    for (ticket, revision, earlier), ticket_scores in zip(claimed, scored, strict=True):
        assert ticket.id is not None
        scores = ticket_scores.scores
        if calibration_for is not None:
            # The tenant's own base rate, fitted from its labelled tickets (default: no change).
            threshold = getattr(getattr(classifier, "calibration", None), "frustration_threshold", 0.5)
            scores = apply_tenant_calibration(scores, calibration_for(ticket.tenant), threshold)
        triage = Triage(
            ticket_id=ticket.id,
            revision=revision,
            frustration=scores.frustration,
            urgency=scores.urgency,
            language=scores.language,
            supported=scores.supported,
            reason_codes=scores.reason_codes,
            model_version=scores.model_version,
            topic=scores.topic,
            timings_ms={"load": round(load_ms, 2), "inference": round(inference_ms, 2)},
            # Earlier contacts with their dates ride along, so routing and replays read the same history.
            history={**ticket_scores.history, **contacts_history(earlier)},
        )
        decision = decide(ticket, triage, policy)
        drafts = write_drafts(
            drafter or default_backend(), DraftRequest(ticket, triage, policy.drafts), decision
        )
        outcomes.append(_commit(sessions, ticket, triage, decision, connectors_for, drafts))
    return outcomes


class _CountingClassifier:
    """Pass texts through to the classifier, counting them: a ticket may send several messages."""

    def __init__(self, classifier: Classifier):
        self.classifier = classifier
        self.model_version = classifier.model_version
        self.texts = 0

    def predict(self, texts: Sequence[str]) -> list[Scores]:
        self.texts += len(texts)
        return self.classifier.predict(texts)


def _commit(
    sessions: sessionmaker[Session],
    ticket: Ticket,
    triage: Triage,
    decision: Decision,
    connectors_for: Callable[[str], dict[str, Connector]],
    drafts: list[dict[str, Any]] | None = None,
) -> TriageOutcome:
    """Store triage, decision and outbox rows atomically; a concurrent twin makes this a no-op."""
    assert ticket.id is not None
    try:
        with sessions.begin() as session:
            row = session.get(TicketRow, ticket.id)
            if row is None:
                # Erased (service/lifecycle) while it was scored: nothing of it may be written back.
                log.info("ticket %s was erased while it was triaged", ticket.id)
                return TriageOutcome(ticket.id, "skipped")
            # Time to triage runs from the ticket's creation, or from the reply that reopened it.
            waiting_since = row.created_at if triage.revision == 1 else row.updated_at
            session.add(
                TriageRow(
                    ticket_id=ticket.id,
                    revision=triage.revision,
                    result=triage.model_dump(mode="json"),
                    frustration_level=triage.frustration.level if triage.frustration else None,
                    urgency_level=triage.urgency.level if triage.urgency else None,
                    model_version=triage.model_version,
                )
            )
            session.add(
                DecisionRow(
                    ticket_id=ticket.id,
                    revision=triage.revision,
                    decision=decision.model_dump(mode="json"),
                    policy_version=decision.policy_version,
                    drafts=drafts or None,
                )
            )
            top_draft = drafts[0]["text"] if drafts else None
            actions = plan_actions(row, triage, decision, connectors_for(row.tenant), draft=top_draft)
            session.add_all(actions)
            # A reply may have arrived while we scored: then the ticket stays accepted for the next run.
            session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket.id)
                .values(
                    triaged_revision=triage.revision,
                    status=TicketStatus.TRIAGED if row.revision == triage.revision else TicketStatus.ACCEPTED,
                    updated_at=datetime.now(UTC),
                    last_error=None,
                )
            )
            session.flush()
            action_ids = tuple(a.id for a in actions)
    except IntegrityError:
        log.info("ticket %s revision %s was already triaged", ticket.id, triage.revision)
        return TriageOutcome(ticket.id, "skipped")
    metrics.observe_triaged(triage, decision, tenant=ticket.tenant, waiting_since=waiting_since)
    return TriageOutcome(ticket.id, "triaged", action_ids)


def _history(session: Session, row: TicketRow) -> list[EarlierTicket]:
    """Return the requester's earlier tickets of the last HISTORY_DAYS days, newest first.

    Three queries whatever the history's length: the tickets, their messages, their latest levels.
    """
    if not row.requester_id:
        return []
    since = datetime.now(UTC) - timedelta(days=HISTORY_DAYS)
    earlier = session.scalars(
        select(TicketRow)
        .options(selectinload(TicketRow.messages))
        .where(
            TicketRow.tenant == row.tenant,
            TicketRow.requester_id == row.requester_id,
            TicketRow.id != row.id,
            TicketRow.created_at >= since,
            TicketRow.created_at <= row.created_at,
        )
        .order_by(TicketRow.created_at.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    if not earlier:
        return []
    latest_revision = (
        select(TriageRow.ticket_id, func.max(TriageRow.revision).label("revision"))
        .where(TriageRow.ticket_id.in_([other.id for other in earlier]))
        .group_by(TriageRow.ticket_id)
        .subquery()
    )
    levels = {
        ticket_id: (frustration, urgency)
        for ticket_id, frustration, urgency in session.execute(
            select(TriageRow.ticket_id, TriageRow.frustration_level, TriageRow.urgency_level).join(
                latest_revision,
                (TriageRow.ticket_id == latest_revision.c.ticket_id)
                & (TriageRow.revision == latest_revision.c.revision),
            )
        )
    }
    results = []
    for other in earlier:
        frustration, urgency = levels.get(other.id, (None, None))
        first_customer = next((m.body for m in other.messages if m.author_role == AuthorRole.CUSTOMER), "")
        results.append(
            EarlierTicket(
                ticket_id=other.id,
                created_at=other.created_at,
                text=f"{other.subject}\n\n{first_customer}".strip(),
                frustration_level=frustration,
                urgency_level=urgency,
            )
        )
    return results
