"""The requester's history as routing reads it: earlier contacts, when, and how frustrated."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from service.domain import FRUSTRATION_LEVELS, Triage


class EarlierContact(Protocol):
    @property
    def ticket_id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def frustration_level(self) -> str | None: ...
    @property
    def urgency_level(self) -> str | None: ...


def contacts_history(earlier: Sequence[EarlierContact]) -> dict[str, Any]:
    """Return the earlier tickets newest first, as stored with the triage so replays see the same."""
    return {
        "contacts": [
            {
                "ticket_id": e.ticket_id,
                "created_at": e.created_at.isoformat(),
                "frustration": e.frustration_level,
                "urgency": e.urgency_level,
            }
            for e in earlier
        ]
    }


def _contacts(triage: Triage) -> list[dict[str, Any]]:
    contacts = triage.history.get("contacts")
    return contacts if isinstance(contacts, list) else []


def repeat_contacts(triage: Triage, *, at: datetime, within_days: int) -> int:
    """Count the requester's earlier tickets opened within `within_days` before `at`."""
    since = at - timedelta(days=within_days)
    count = 0
    for contact in _contacts(triage):
        try:
            created = datetime.fromisoformat(contact["created_at"])
        except (KeyError, TypeError, ValueError):
            continue
        if since <= created <= at:
            count += 1
    if not _contacts(triage):
        # Older triage results only carry a count over the whole history window.
        count = int(triage.history.get("earlier_tickets", 0) or 0)
    return count


def frustration_trend(triage: Triage) -> list[str]:
    """Return frustration levels oldest first, ending with this ticket's."""
    levels = [c.get("frustration") for c in reversed(_contacts(triage))]
    trend = [level for level in levels if level in FRUSTRATION_LEVELS]
    if triage.frustration is not None:
        trend.append(triage.frustration.level)
    return trend


def frustration_rising(triage: Triage) -> bool:
    """Return whether this ticket is more frustrated than the requester's latest scored contact."""
    trend = frustration_trend(triage)
    if triage.frustration is None or len(trend) < 2:
        return False
    return FRUSTRATION_LEVELS.index(trend[-1]) > FRUSTRATION_LEVELS.index(trend[-2])
