"""Routing as a pure function: decide(ticket, triage, policy) -> Decision, with a reason per action."""

from __future__ import annotations

from service.domain import (
    FRUSTRATION_LEVELS,
    URGENCY_LEVELS,
    ActionKind,
    Decision,
    PlannedAction,
    Ticket,
    Triage,
)
from workers.routing.policy import Policy, Threshold


def _urgency_at_least(triage: Triage, threshold: Threshold) -> float | None:
    """Return the probability mass at or above the threshold level, if the top level reaches it."""
    if triage.urgency is None:
        return None
    floor = URGENCY_LEVELS.index(threshold.level)
    if URGENCY_LEVELS.index(triage.urgency.level) < floor:
        return None
    mass = sum(p for level, p in triage.urgency.distribution.items() if URGENCY_LEVELS.index(level) >= floor)
    return mass if mass >= threshold.min_probability else None


def _frustration_at_least(triage: Triage, threshold: Threshold) -> float | None:
    if triage.frustration is None:
        return None
    if FRUSTRATION_LEVELS.index(triage.frustration.level) < FRUSTRATION_LEVELS.index(threshold.level):
        return None
    p = triage.frustration.probability
    return p if p >= threshold.min_probability else None


def decide(ticket: Ticket, triage: Triage, policy: Policy) -> Decision:
    """Choose the actions for a triaged ticket; every action carries the reason an agent will read."""
    ticket_id = triage.ticket_id
    actions = [
        PlannedAction(
            kind=ActionKind.TRIAGED,
            rule="always",
            reason=_summary(triage),
        )
    ]
    if not triage.supported:
        return Decision(
            ticket_id=ticket_id,
            revision=triage.revision,
            actions=actions,
            policy_version=policy.fingerprint(),
        )

    rule = policy.escalate
    if rule.enabled:
        reasons = []
        if rule.urgency and (p := _urgency_at_least(triage, rule.urgency)) is not None:
            reasons.append(f"urgency {triage.urgency.level} (p={p:.2f} >= {rule.urgency.min_probability})")  # type: ignore[union-attr]
        if rule.frustration and (p := _frustration_at_least(triage, rule.frustration)) is not None:
            reasons.append(
                f"frustration {triage.frustration.level} (p={p:.2f} >= {rule.frustration.min_probability})"  # type: ignore[union-attr]
            )
        if reasons:
            if triage.reason_codes:
                reasons.append("cues: " + ", ".join(triage.reason_codes))
            actions.append(
                PlannedAction(
                    kind=ActionKind.ESCALATED,
                    rule="escalate",
                    reason="; ".join(reasons),
                    params={
                        "priority": rule.priority,
                        "tags": rule.tags,
                        "group": rule.group,
                        "page_on_call": rule.page_on_call,
                    },
                    shadow=rule.shadow,
                )
            )

    draft = policy.draft_reply
    if draft.enabled and (p := _frustration_at_least(triage, draft.frustration)) is not None:
        actions.append(
            PlannedAction(
                kind=ActionKind.REPLY_DRAFTED,
                rule="draft_reply",
                reason=f"frustration {triage.frustration.level} (p={p:.2f} >= "  # type: ignore[union-attr]
                f"{draft.frustration.min_probability})",
                shadow=draft.shadow,
            )
        )
    return Decision(
        ticket_id=ticket_id, revision=triage.revision, actions=actions, policy_version=policy.fingerprint()
    )


def _summary(triage: Triage) -> str:
    if not triage.supported:
        return f"unsupported language ({triage.language or 'unknown'}): not scored"
    parts = []
    if triage.frustration:
        parts.append(f"frustration {triage.frustration.level} ({triage.frustration.probability:.2f})")
    if triage.urgency:
        parts.append(f"urgency {triage.urgency.level} ({triage.urgency.probability:.2f})")
    return ", ".join(parts) or "scored"
