"""Write agents' corrections as the labelled JSONL that `triage model train --customer-export` reads.

One line per label: `{"text": ..., "urgency": "low|normal|high|critical"}` or
`{"text": ..., "frustration": "none|mild|moderate|severe"}`. The text is what the model scored for that
revision (the subject with the first customer message, else the latest customer message), with contact
details and long numbers replaced, so the file carries no e-mail addresses or phone numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain import FRUSTRATION_LEVELS, URGENCY_LEVELS, AuthorRole
from service.storage.models import FeedbackRow, TicketRow, TriageRow

EMAIL = re.compile(r"(?i)\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
PHONE = re.compile(r"(?<!\w)\+?\d[\d ()./-]{6,}\d(?!\w)")
LONG_NUMBER = re.compile(r"\b\d{4,}\b")


def scrub(text: str) -> str:
    """Replace contact details and long numbers (order, card or account numbers) in training text."""
    for pattern, token in (
        (EMAIL, "[email]"),
        (URL, "[link]"),
        (PHONE, "[phone]"),
        (LONG_NUMBER, "[number]"),
    ):
        text = pattern.sub(token, text)
    return text


def scored_text(ticket: TicketRow, scored_at: datetime | None) -> str:
    """Return the text the model scored at a revision, as the worker builds it."""
    customer = [
        m
        for m in ticket.messages
        if m.author_role == AuthorRole.CUSTOMER and (scored_at is None or m.created_at <= scored_at)
    ]
    if not customer:
        return ticket.subject
    if len(customer) == 1 and ticket.subject:
        return f"{ticket.subject}\n\n{customer[0].body}"
    return customer[-1].body


def label_of(row: FeedbackRow) -> tuple[str, str] | None:
    """Return (task, level) a feedback row teaches, or None for draft verdicts."""
    corrected = row.payload.get("corrected")
    if row.kind == "frustration" and corrected in FRUSTRATION_LEVELS:
        return "frustration", str(corrected)
    if row.kind in ("urgency", "priority") and corrected in URGENCY_LEVELS:
        return "urgency", str(corrected)
    return None


def export_rows(session: Session, *, since: datetime, tenant: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield one training line per (ticket, revision, task); the latest label wins, agents over helpdesks."""
    query = select(FeedbackRow).where(FeedbackRow.created_at >= since, FeedbackRow.kind != "draft")
    if tenant is not None:
        query = query.where(FeedbackRow.tenant == tenant)
    chosen: dict[tuple[str, int, str], FeedbackRow] = {}
    for row in session.scalars(query.order_by(FeedbackRow.created_at, FeedbackRow.id)):
        label = label_of(row)
        if label is None:
            continue
        key = (row.ticket_id, row.revision, label[0])
        current = chosen.get(key)
        # An agent's explicit correction outranks a priority change inferred from the helpdesk.
        if current is not None and current.source == "agent" and row.source != "agent":
            continue
        chosen[key] = row
    for (ticket_id, revision, task), row in chosen.items():
        ticket = session.get(TicketRow, ticket_id)
        if ticket is None:
            continue
        triage = session.scalars(
            select(TriageRow).where(TriageRow.ticket_id == ticket_id, TriageRow.revision == revision)
        ).first()
        text = scrub(scored_text(ticket, triage.created_at if triage else None)).strip()
        label = label_of(row)
        if text and label is not None:
            yield {"text": text, task: label[1]}


def write_export(session: Session, out: TextIO, *, since: datetime, tenant: str | None = None) -> int:
    """Write the JSONL export to `out`; return how many lines were written."""
    count = 0
    for line in export_rows(session, since=since, tenant=tenant):
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        count += 1
    return count


def export_to_file(session: Session, path: Path, *, since: datetime, tenant: str | None = None) -> int:
    """Write the export to `path` (it must end in .jsonl, which the trainer requires)."""
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        raise ValueError(f"{path}: the training export must be a .jsonl file")
    with path.open("w") as handle:
        return write_export(session, handle, since=since, tenant=tenant)
