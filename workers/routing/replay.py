"""Re-decide stored tickets under another policy and count what would change, before an operator switches."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain import Triage
from service.storage.models import DecisionRow, TicketRow, TriageRow
from service.tickets.service import ticket_from_row
from workers.routing.decide import decide, decision_steps
from workers.routing.policy import LADDER, Policy

DURATION = re.compile(r"^(\d+)([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """Turn `7d`, `12h`, `2w`, `30m` or an ISO date into the moment it names."""
    now = now or datetime.now(UTC)
    match = DURATION.match(value.strip())
    if match:
        return now - timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"--since {value!r}: use a duration like 7d, 12h, 2w or an ISO date") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def effect(step: dict[str, Any]) -> tuple[str, str, str]:
    """Return (action, mode, value) of a step: what an operator would see change."""
    mode = "shadow" if step.get("shadow") and step.get("mode") == "auto" else str(step.get("mode", "auto"))
    value = step.get("priority") or step.get("group") or ",".join(step.get("tags") or []) or ""
    return str(step["action"]), mode, str(value)


@dataclass
class Change:
    """One ticket whose effects differ between the stored decision and the new policy."""

    ticket_id: str
    external_id: str
    source: str
    added: list[tuple[str, str, str]]
    removed: list[tuple[str, str, str]]
    reasons: dict[tuple[str, str, str], str]


@dataclass
class ReplayReport:
    tickets: int = 0
    changed: int = 0
    before: Counter[tuple[str, str]] = field(default_factory=Counter)
    after: Counter[tuple[str, str]] = field(default_factory=Counter)
    added: Counter[tuple[str, str]] = field(default_factory=Counter)
    removed: Counter[tuple[str, str]] = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)
    stored_policies: Counter[str] = field(default_factory=Counter)

    def rows(self) -> list[tuple[str, str, int, int, int, int]]:
        """Return (action, mode, before, after, added, removed) in ladder order."""
        keys = set(self.before) | set(self.after)
        order = {name: i for i, name in enumerate(LADDER)}
        ordered = sorted(keys, key=lambda k: (order.get(k[0], 99), k[1]))
        return [
            (a, m, self.before[(a, m)], self.after[(a, m)], self.added[(a, m)], self.removed[(a, m)])
            for a, m in ordered
        ]


def replay(
    session: Session, policy: Policy, *, since: datetime, tenant: str | None = None, examples: int = 5
) -> ReplayReport:
    """Re-decide each ticket's latest stored triage since `since` and compare with what was decided."""
    report = ReplayReport()
    query = (
        select(TriageRow, DecisionRow, TicketRow)
        .join(
            DecisionRow,
            (DecisionRow.ticket_id == TriageRow.ticket_id) & (DecisionRow.revision == TriageRow.revision),
        )
        .join(TicketRow, TicketRow.id == TriageRow.ticket_id)
        .where(TriageRow.created_at >= since)
        .order_by(TriageRow.created_at)
    )
    if tenant is not None:
        query = query.where(TicketRow.tenant == tenant)
    latest: dict[str, tuple[TriageRow, DecisionRow, TicketRow]] = {}
    for triage_row, decision_row, ticket_row in session.execute(query).tuples():
        latest[ticket_row.id] = (triage_row, decision_row, ticket_row)
    for triage_row, decision_row, ticket_row in latest.values():
        report.tickets += 1
        report.stored_policies[decision_row.policy_version] += 1
        triage = Triage.model_validate(triage_row.result)
        ticket = ticket_from_row(ticket_row, until=triage_row.created_at)
        old = {effect(s) for s in decision_steps(decision_row.decision)}
        new_steps = decision_steps(decide(ticket, triage, policy).model_dump(mode="json"))
        new = {effect(s) for s in new_steps}
        for action, mode, _ in old:
            report.before[(action, mode)] += 1
        for action, mode, _ in new:
            report.after[(action, mode)] += 1
        added, removed = sorted(new - old), sorted(old - new)
        for action, mode, _ in added:
            report.added[(action, mode)] += 1
        for action, mode, _ in removed:
            report.removed[(action, mode)] += 1
        if added or removed:
            report.changed += 1
            if len(report.changes) < examples:
                reasons = {effect(s): f"{s['rule']}: {s['reason']}" for s in new_steps}
                report.changes.append(
                    Change(ticket_row.id, ticket_row.external_id, ticket_row.source, added, removed, reasons)
                )
    return report


def format_report(report: ReplayReport, policy: Policy, since: datetime) -> str:
    """Render a replay for a terminal: a table of counts per action and mode, then examples."""
    stored = ", ".join(f"{v} ({n})" for v, n in report.stored_policies.most_common()) or "none"
    lines = [
        f"Replayed {report.tickets} ticket(s) triaged since {since:%Y-%m-%d %H:%M} UTC under policy "
        f"{policy.fingerprint()}; stored decisions came from: {stored}.",
        f"{report.changed} ticket(s) would change.",
        "",
        f"{'action':<16}{'mode':<9}{'before':>8}{'after':>8}{'added':>8}{'removed':>9}",
    ]
    for action, mode, before, after, added, removed in report.rows():
        lines.append(
            f"{action:<16}{mode:<9}{before:>8}{after:>8}{'+' + str(added):>8}{'-' + str(removed):>9}"
        )
    if report.changes:
        lines += ["", "Examples:"]
    for change in report.changes:
        lines.append(f"  ticket {change.ticket_id} ({change.source} {change.external_id})")
        for item in change.added:
            lines.append(f"    + {_label(item)}  <- {change.reasons.get(item, '')}")
        for item in change.removed:
            lines.append(f"    - {_label(item)}")
    return "\n".join(lines)


def _label(item: tuple[str, str, str]) -> str:
    action, mode, value = item
    return f"{action}{'=' + value if value else ''} ({mode})"
