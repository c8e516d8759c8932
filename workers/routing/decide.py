"""Routing as a pure function: decide(ticket, triage, policy) -> Decision, with the rule behind every step.

Each matching rule gets a confidence from the scores it reads (the least of them); each step on its ladder
is carried out when the confidence reaches `auto`, shown as a suggestion when it reaches `suggest`. The
steps are folded into the three outbound action kinds, with the ladder details in their params:

- `ticket.triaged` (always): `tags`, `note`, `steps` (every step, auto or suggested, live or shadow),
  `priority_seen` (the helpdesk's priority when we decided, so later agent changes can be told apart);
- `ticket.escalated`: `priority`, `group`, `page_on_call`, `tags`;
- `ticket.reply_drafted`: `visibility` ("internal": an agent sends it) and `send_to_customer` where a rule
  opts in (the helpdesk connector also needs the tenant's `allow_send_drafts`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from service.domain import (
    FRUSTRATION_LEVELS,
    URGENCY_LEVELS,
    ActionKind,
    Decision,
    PlannedAction,
    Ticket,
    Triage,
)
from workers.routing.history import frustration_rising, repeat_contacts
from workers.routing.policy import LADDER, PRIORITIES, WEEKDAYS, BusinessHours, Policy, Rule

ESCALATION_STEPS = ("raise_priority", "reassign_group", "page_on_call")


class Step(BaseModel):
    """One ladder step a rule reached, as stored in the decision and shown to agents."""

    action: str
    mode: Literal["auto", "suggest"]
    rule: str
    shadow: bool
    confidence: float
    reason: str
    tags: list[str] = []
    priority: str | None = None
    group: str | None = None
    send_to_customer: bool = False


def _when(ticket: Ticket) -> datetime:
    """Return when the customer last wrote: routing is judged at that moment, so replays agree."""
    stamps = [m.created_at for m in ticket.customer_messages() if m.created_at is not None]
    if not stamps:
        return datetime.now(UTC)
    latest = max(stamps)
    return latest if latest.tzinfo else latest.replace(tzinfo=UTC)


def in_business_hours(hours: BusinessHours, moment: datetime) -> bool:
    """Return whether `moment` falls inside the policy's business hours."""
    local = moment.astimezone(ZoneInfo(hours.timezone))
    if WEEKDAYS[local.weekday()] not in hours.days:
        return False
    return hours.start <= local.strftime("%H:%M") < hours.end


def _evaluate(rule: Rule, ticket: Ticket, triage: Triage, policy: Policy) -> tuple[float, list[str]] | None:
    """Return the rule's confidence and the reasons it fired, or None when a condition fails."""
    when, scope = rule.when, rule.match
    if scope.tenants is not None and ticket.tenant not in scope.tenants:
        return None
    if scope.brands is not None and ticket.brand not in scope.brands:
        return None
    if scope.groups is not None and ticket.group not in scope.groups:
        return None
    if scope.sources is not None and ticket.source not in scope.sources:
        return None
    if when.needs_scores and not triage.supported:
        return None  # an unknown language is left alone, never guessed at
    confidence = 1.0
    reasons: list[str] = []
    if when.frustration is not None:
        score = triage.frustration
        floor = FRUSTRATION_LEVELS.index(when.frustration)
        if score is None or FRUSTRATION_LEVELS.index(score.level) < floor:
            return None
        confidence = min(confidence, score.probability)
        reasons.append(f"frustration {score.level} (p={score.probability:.2f})")
    if when.urgency is not None:
        urgency = triage.urgency
        floor = URGENCY_LEVELS.index(when.urgency)
        if urgency is None or URGENCY_LEVELS.index(urgency.level) < floor:
            return None
        # The calibrated mass at or above the floor: "high or worse" is likelier than "exactly high".
        mass = sum(p for level, p in urgency.distribution.items() if URGENCY_LEVELS.index(level) >= floor)
        confidence = min(confidence, mass)
        reasons.append(f"urgency {urgency.level} (p>={when.urgency} {mass:.2f})")
    language = triage.language or ticket.language
    if when.languages is not None:
        if language not in when.languages:
            return None
        reasons.append(f"language {language}")
    tags = set(ticket.tags)
    if when.tags_any is not None:
        hit = sorted(tags & set(when.tags_any))
        if not hit:
            return None
        reasons.append("tagged " + ", ".join(hit))
    if when.tags_none is not None and tags & set(when.tags_none):
        return None
    if when.reason_codes_any is not None:
        hit = [code for code in triage.reason_codes if code in when.reason_codes_any]
        if not hit:
            return None
        reasons.append("cues " + ", ".join(hit))
    moment = _when(ticket)
    if when.repeat_contacts is not None:
        count = repeat_contacts(triage, at=moment, within_days=when.repeat_contacts.within_days)
        if count < when.repeat_contacts.at_least:
            return None
        reasons.append(f"{count} earlier contact(s) in {when.repeat_contacts.within_days} days")
    if when.frustration_rising is not None:
        if frustration_rising(triage) != when.frustration_rising:
            return None
        reasons.append("frustration rising" if when.frustration_rising else "frustration not rising")
    if when.business_hours is not None:
        if in_business_hours(policy.business_hours, moment) != when.business_hours:
            return None
        reasons.append("inside business hours" if when.business_hours else "outside business hours")
    return confidence, reasons


def evaluate(ticket: Ticket, triage: Triage, policy: Policy) -> list[Step]:
    """Return every ladder step the policy's rules reach for this ticket, in rule and ladder order."""
    steps: list[Step] = []
    for rule in policy.rules:
        found = _evaluate(rule, ticket, triage, policy)
        if found is None:
            continue
        confidence, reasons = found
        because = "; ".join(reasons) or "always"
        for action in LADDER:
            rung = rule.actions.get(action)
            if rung is None or (mode := rung.mode(confidence)) is None:
                continue
            threshold = rung.auto if mode == "auto" else rung.suggest
            steps.append(
                Step(
                    action=action,
                    mode=mode,
                    rule=rule.name,
                    shadow=rule.shadow,
                    confidence=round(confidence, 4),
                    reason=f"{because}; confidence {confidence:.2f} >= {mode} {threshold:.2f}",
                    tags=rung.tags,
                    priority=rung.priority,
                    group=rung.group,
                    send_to_customer=rung.send_to_customer,
                )
            )
    return steps


def _escalation(steps: list[Step]) -> dict[str, Any] | None:
    """Fold escalation steps into one action's params: the highest priority, the first rule's group."""
    chosen = [s for s in steps if s.action in ESCALATION_STEPS]
    if not chosen:
        return None
    priorities = [s.priority for s in chosen if s.action == "raise_priority" and s.priority]
    groups = [s.group for s in chosen if s.action == "reassign_group" and s.group]
    return {
        "priority": max(priorities, key=PRIORITIES.index) if priorities else None,
        "group": groups[0] if groups else None,
        "page_on_call": any(s.action == "page_on_call" for s in chosen),
        "tags": sorted({t for s in steps if s.action == "tag" for t in s.tags}),
    }


def _draft_params(steps: list[Step]) -> dict[str, Any]:
    if any(s.send_to_customer for s in steps):
        return {"visibility": "public", "send_to_customer": True}
    return {"visibility": "internal"}


def _rules(steps: list[Step]) -> str:
    return ",".join(dict.fromkeys(s.rule for s in steps))


def decide(ticket: Ticket, triage: Triage, policy: Policy) -> Decision:
    """Choose the actions for a triaged ticket; every action carries the rule and reason an agent reads."""
    steps = evaluate(ticket, triage, policy)
    live = [s for s in steps if s.mode == "auto" and not s.shadow]
    shadow = [s for s in steps if s.mode == "auto" and s.shadow]
    live_tags = sorted({t for s in live if s.action == "tag" for t in s.tags})
    actions = [
        PlannedAction(
            kind=ActionKind.TRIAGED,
            rule="always",
            reason=_summary(triage),
            params={
                "tags": live_tags,
                "note": any(s.action == "note" for s in live),
                "priority_seen": ticket.priority,
                "steps": [s.model_dump() for s in steps],
            },
        )
    ]
    for chosen, is_shadow in ((live, False), (shadow, True)):
        params = _escalation(chosen)
        if params is None:
            continue
        escalating = [s for s in chosen if s.action in ESCALATION_STEPS]
        actions.append(
            PlannedAction(
                kind=ActionKind.ESCALATED,
                rule=_rules(escalating),
                reason=" | ".join(f"{s.rule}: {s.reason}" for s in escalating),
                params=params,
                shadow=is_shadow,
            )
        )
        break  # a live escalation wins; a shadow one is recorded only when nothing live fired
    for chosen, is_shadow in ((live, False), (shadow, True)):
        drafting = [s for s in chosen if s.action == "draft_reply"]
        if drafting:
            actions.append(
                PlannedAction(
                    kind=ActionKind.REPLY_DRAFTED,
                    rule=_rules(drafting),
                    reason=" | ".join(f"{s.rule}: {s.reason}" for s in drafting),
                    # Drafts are suggestions an agent sends, unless the rule (and the tenant) say otherwise.
                    params=_draft_params(drafting),
                    shadow=is_shadow,
                )
            )
            break
    return Decision(
        ticket_id=triage.ticket_id,
        revision=triage.revision,
        actions=actions,
        policy_version=policy.fingerprint(),
    )


def decision_steps(decision: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the ladder steps of a stored decision, derived from its actions when it predates steps."""
    for action in decision.get("actions", []):
        if action.get("kind") == ActionKind.TRIAGED and "steps" in action.get("params", {}):
            return list(action["params"]["steps"])
    steps: list[dict[str, Any]] = []
    for action in decision.get("actions", []):
        params, shadow, rule = action.get("params", {}), bool(action.get("shadow")), action.get("rule", "")
        base = {"mode": "auto", "rule": rule, "shadow": shadow, "reason": action.get("reason", "")}
        if action.get("kind") == ActionKind.ESCALATED:
            if params.get("tags"):
                steps.append({**base, "action": "tag", "tags": params["tags"]})
            if params.get("priority"):
                steps.append({**base, "action": "raise_priority", "priority": params["priority"]})
            if params.get("group"):
                steps.append({**base, "action": "reassign_group", "group": params["group"]})
            if params.get("page_on_call"):
                steps.append({**base, "action": "page_on_call"})
        elif action.get("kind") == ActionKind.REPLY_DRAFTED:
            steps.append({**base, "action": "draft_reply"})
    return steps


def _summary(triage: Triage) -> str:
    if not triage.supported:
        return f"unsupported language ({triage.language or 'unknown'}): not scored"
    parts = []
    if triage.frustration:
        parts.append(f"frustration {triage.frustration.level} ({triage.frustration.probability:.2f})")
    if triage.urgency:
        parts.append(f"urgency {triage.urgency.level} ({triage.urgency.probability:.2f})")
    if triage.reason_codes:
        parts.append("cues: " + ", ".join(triage.reason_codes))
    return ", ".join(parts) or "scored"
