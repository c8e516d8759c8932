"""Score JSONL lines: plain {"id","text"} records in one batch, full tickets through score_tickets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from service.domain import Ticket
from workers.inference.base import Classifier
from workers.inference.conversation import score_tickets


def _as_ticket(record: dict[str, Any], line: int) -> Ticket:
    """Read a full ticket, filling the fields a file export usually lacks."""
    data = dict(record)
    data.setdefault("source", "file")
    data.setdefault("external_id", str(record.get("id", line)))
    data["messages"] = [{"author_role": "customer", **m} for m in data.get("messages", [])]
    return Ticket.model_validate(data)


def score_lines(classifier: Classifier, lines: Sequence[str], first_line: int = 1) -> list[dict[str, Any]]:
    """Return one output record per input line, in order; a bad line gets an `error`, not a crash."""
    records: list[dict[str, Any] | None] = [None] * len(lines)
    plain: list[tuple[int, Any, str]] = []
    tickets: list[tuple[int, Any, Ticket]] = []
    for offset, line in enumerate(lines):
        number = first_line + offset
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("a line must be a JSON object")
            identifier = record.get("id", number)
            if "messages" in record:
                tickets.append((offset, identifier, _as_ticket(record, number)))
            elif isinstance(record.get("text"), str):
                plain.append((offset, identifier, record["text"]))
            else:
                raise ValueError("expected 'text' or 'messages'")
        except (ValueError, ValidationError) as error:
            records[offset] = {"id": None, "line": number, "error": str(error).splitlines()[0]}
    if plain:
        predictions = classifier.predict([text for _, _, text in plain])
        for (offset, identifier, _), scores in zip(plain, predictions, strict=True):
            records[offset] = {"id": identifier, **scores.model_dump(mode="json")}
    if tickets:
        scored = score_tickets(classifier, [(ticket, []) for _, _, ticket in tickets])
        for (offset, identifier, _), result in zip(tickets, scored, strict=True):
            records[offset] = {
                "id": identifier,
                **result.scores.model_dump(mode="json"),
                "history": result.history,
            }
    return [r for r in records if r is not None]
