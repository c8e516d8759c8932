"""Tickets and triage results built in memory, for routing tests that need no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from service.domain import (
    FRUSTRATION_LEVELS,
    URGENCY_LEVELS,
    Evidence,
    FrustrationScore,
    Message,
    Ticket,
    TopicScore,
    Triage,
    UrgencyScore,
)

# A Wednesday, 10:30 UTC: inside default business hours.
WEDNESDAY_MORNING = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)


def ticket(
    *,
    tenant: str = "default",
    brand: str | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
    priority: str | None = "normal",
    at: datetime = WEDNESDAY_MORNING,
    body: str = "It does not work.",
) -> Ticket:
    return Ticket(
        id="t1",
        tenant=tenant,
        source="zendesk",
        external_id="4711",
        subject="Problem",
        messages=[Message(author_role="customer", body=body, created_at=at)],
        tags=tags or [],
        priority=priority,
        brand=brand,
        group=group,
    )


def triage(
    *,
    frustration: float | None = 0.1,
    frustration_level: str | None = None,
    urgency: str = "normal",
    urgency_mass: float = 0.85,
    supported: bool = True,
    language: str = "en",
    reason_codes: list[str] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    evidence: str = "does not work",
    topic: str | None = None,
    topic_probability: float = 0.9,
) -> Triage:
    level = frustration_level or (
        FRUSTRATION_LEVELS[min(3, int((frustration or 0) * 4))] if frustration is not None else None
    )
    rest = (1 - urgency_mass) / 3
    distribution = {lvl: (urgency_mass if lvl == urgency else rest) for lvl in URGENCY_LEVELS}
    return Triage(
        ticket_id="t1",
        revision=1,
        frustration=FrustrationScore(
            probability=frustration, level=level, evidence=[Evidence(text=evidence, weight=1.0)]
        )
        if supported and frustration is not None and level is not None
        else None,
        urgency=UrgencyScore(distribution=distribution, level=urgency, probability=urgency_mass)
        if supported
        else None,
        language=language,
        supported=supported,
        reason_codes=reason_codes or [],
        model_version="test-1",
        history={"contacts": contacts or []},
        topic=TopicScore(label=topic, probability=topic_probability) if topic else None,
    )


def contact(days_ago: float, frustration: str | None, *, at: datetime = WEDNESDAY_MORNING) -> dict[str, Any]:
    return {
        "ticket_id": f"earlier-{days_ago}",
        "created_at": (at - timedelta(days=days_ago)).isoformat(),
        "frustration": frustration,
        "urgency": "normal",
    }
