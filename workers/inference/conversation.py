"""Turn per-message scores into ticket scores: the conversation's trajectory and the requester's history."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from service.domain import FRUSTRATION_LEVELS, URGENCY_LEVELS, AuthorRole, Evidence, Scores, Ticket
from workers.inference.base import Classifier

# Only the latest few customer messages shape the trajectory; older ones cost time and say little.
MAX_MESSAGES_SCORED = 5
# "Rising": the latest message is this much more likely frustrated than the first scored one, and no
# reply in between fell by more than the tolerance.
RISE_MIN = 0.15
RISE_TOLERANCE = 0.05
# A rising trajectory lifts the level by one step, but never to "severe": that needs the text itself.
RISE_CAP = "moderate"
# An earlier ticket is "the same problem" when its words overlap this much, within this window.
RECURRING_SIMILARITY = 0.3
RECURRING_WINDOW = timedelta(days=90)
# Earlier messages of a thread read whole are clipped, so the latest one fits the model's window.
THREAD_EARLIER_CHARS = 200
_WORD = re.compile(r"[a-z0-9']{3,}")
_STOPWORDS = frozenset(
    {
        "the",
        "and",
        "for",
        "you",
        "your",
        "with",
        "this",
        "that",
        "have",
        "has",
        "was",
        "are",
        "but",
        "not",
        "can",
        "could",
        "would",
        "please",
        "thanks",
        "thank",
        "hello",
        "dear",
        "again",
        "still",
        "from",
        "they",
        "them",
        "our",
        "ours",
        "just",
        "what",
        "when",
        "why",
        "how",
        "who",
        "will",
        "any",
        "all",
        "been",
    }
)


@dataclass(frozen=True)
class EarlierTicket:
    """A requester's earlier ticket, as the history check sees it."""

    ticket_id: str
    created_at: datetime
    text: str
    frustration_level: str | None
    urgency_level: str | None


@dataclass
class TicketScores:
    """A ticket's scores at its current revision, with what the history added."""

    scores: Scores
    history: dict[str, Any] = field(default_factory=dict)


def score_tickets(
    classifier: Classifier,
    items: Sequence[tuple[Ticket, Sequence[EarlierTicket]]],
) -> list[TicketScores]:
    """Score each ticket's recent customer messages in one batch; fold in trajectory and history."""
    texts: list[str] = []
    spans: list[tuple[int, list[int]]] = []  # (first text index, message indices in ticket.messages)
    for ticket, _ in items:
        indices = _customer_indices(ticket)[-MAX_MESSAGES_SCORED:]
        subject_on = len(_customer_indices(ticket)) == 1
        spans.append((len(texts), indices))
        texts.extend(
            _ticket_text(ticket.subject if subject_on else "", ticket.messages[i].body) for i in indices
        )
        if len(indices) > 1:
            # A thread is also read whole: the need it states may sit in an earlier message.
            texts.append(thread_text(ticket.subject, [ticket.messages[i].body for i in indices]))
    predictions = classifier.predict(texts)
    results = []
    for (ticket, earlier), (first, indices) in zip(items, spans, strict=True):
        per_message = predictions[first : first + len(indices)]
        whole = predictions[first + len(indices)] if len(indices) > 1 else None
        results.append(_fold(ticket, earlier, indices, per_message, whole))
    return results


def thread_text(subject: str, bodies: Sequence[str]) -> str:
    """Read a thread as one text: the subject, earlier customer messages clipped, the latest in full.

    Training reads corpus threads through this same function, so the model sees what serving sends.
    """
    earlier = [
        body if len(body) <= THREAD_EARLIER_CHARS else body[:THREAD_EARLIER_CHARS] + " ..."
        for body in bodies[:-1]
    ]
    return "\n\n".join(part for part in (subject, *earlier, bodies[-1]) if part)


def _customer_indices(ticket: Ticket) -> list[int]:
    indices = [i for i, m in enumerate(ticket.messages) if m.author_role == AuthorRole.CUSTOMER]
    return indices or list(range(len(ticket.messages)))


def _fold(
    ticket: Ticket,
    earlier: Sequence[EarlierTicket],
    indices: list[int],
    per_message: Sequence[Scores],
    whole: Scores | None = None,
) -> TicketScores:
    latest = per_message[-1]
    latest_index = indices[-1]
    trajectory = [round(s.frustration.probability, 4) for s in per_message if s.frustration is not None]
    unanswered = _unanswered_in_a_row(ticket)
    recurring = _recurring(ticket, earlier)
    history: dict[str, Any] = {
        "earlier_tickets": len(earlier),
        "earlier_frustrated": sum(1 for e in earlier if e.frustration_level in FRUSTRATION_LEVELS[2:]),
        "customer_messages": len(ticket.customer_messages()),
        "frustration_trajectory": trajectory,
        "unanswered_customer_messages": unanswered,
        "recurring_tickets": [e.ticket_id for e in recurring],
    }
    # A cue stated in an earlier reply (a threat, a deadline) still stands in the latest one.
    codes = list(dict.fromkeys(code for scores in per_message for code in scores.reason_codes))
    if not latest.supported or latest.frustration is None or latest.urgency is None:
        return TicketScores(scores=latest, history=history)
    body = ticket.messages[latest_index].body
    frustration = latest.frustration.model_copy(
        update={"evidence": _at(latest.frustration.evidence, latest_index, body)}
    )
    urgency = latest.urgency.model_copy(update={"evidence": _at(latest.urgency.evidence, latest_index, body)})
    topic = latest.topic
    if whole is not None and whole.urgency is not None:
        # The thread's open need is read from the whole thread; its tone from the latest message.
        urgency = whole.urgency.model_copy(
            update={"evidence": _located(whole.urgency.evidence, ticket, indices)}
        )
        topic = whole.topic or topic
    if _rising(trajectory):
        codes.append("rising_frustration")
        raised = _raise(frustration.level, FRUSTRATION_LEVELS, cap=RISE_CAP)
        history["frustration_raised_from"] = frustration.level if raised != frustration.level else None
        frustration = frustration.model_copy(update={"level": raised})
    if unanswered >= 2 and "repeat_contact" not in codes:
        codes.append("repeat_contact")
    if recurring:
        codes.append("recurring_problem")
        shifted = _shift_up(urgency.distribution)
        level = max(shifted, key=lambda k: shifted[k])
        history["urgency_raised_from"] = urgency.level
        urgency = urgency.model_copy(
            update={"distribution": shifted, "level": level, "probability": shifted[level]}
        )
    scores = latest.model_copy(
        update={"frustration": frustration, "urgency": urgency, "reason_codes": codes, "topic": topic}
    )
    return TicketScores(scores=scores, history=history)


def _at(evidence: list[Evidence], message_index: int, body: str) -> list[Evidence]:
    """Point evidence at its message, with offsets into that message's body where it appears verbatim."""
    located = []
    for item in evidence:
        start = body.find(item.text)
        span = {"start": start, "end": start + len(item.text)} if start >= 0 else {"start": None, "end": None}
        located.append(item.model_copy(update={"message_index": message_index, **span}))
    return located


def _located(evidence: list[Evidence], ticket: Ticket, indices: list[int]) -> list[Evidence]:
    """Point evidence from a whole-thread reading at the latest customer message that holds it."""
    located = []
    for item in evidence:
        for index in reversed(indices):
            body = ticket.messages[index].body
            if (start := body.find(item.text)) >= 0:
                located.append(
                    item.model_copy(
                        update={"message_index": index, "start": start, "end": start + len(item.text)}
                    )
                )
                break
        else:
            located.append(item.model_copy(update={"message_index": None, "start": None, "end": None}))
    return located


def _rising(trajectory: list[float]) -> bool:
    """Return whether frustration grew across the customer's replies."""
    if len(trajectory) < 2 or trajectory[-1] - trajectory[0] < RISE_MIN:
        return False
    return all(after >= before - RISE_TOLERANCE for before, after in pairwise(trajectory))


def _raise(level: str, levels: Sequence[str], cap: str) -> str:
    position = levels.index(level)
    if position >= levels.index(cap):
        return level
    return levels[position + 1]


def _shift_up(distribution: dict[str, float]) -> dict[str, float]:
    """Move every level's probability one level up (critical keeps its own): a returning problem."""
    shifted = dict.fromkeys(URGENCY_LEVELS, 0.0)
    for position, level in enumerate(URGENCY_LEVELS):
        target = URGENCY_LEVELS[min(position + 1, len(URGENCY_LEVELS) - 1)]
        shifted[target] += distribution.get(level, 0.0)
    return {level: round(p, 4) for level, p in shifted.items()}


def _unanswered_in_a_row(ticket: Ticket) -> int:
    """Return how many customer messages close the conversation with no agent reply between them."""
    count = 0
    for message in reversed(ticket.messages):
        if message.author_role == AuthorRole.AGENT:
            break
        if message.author_role == AuthorRole.CUSTOMER:
            count += 1
    return count


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def _recurring(ticket: Ticket, earlier: Sequence[EarlierTicket]) -> list[EarlierTicket]:
    """Return the earlier tickets that describe the same problem, recently enough to count."""
    current = _words(" ".join([ticket.subject, *(m.body for m in ticket.customer_messages())]))
    if not current:
        return []
    now = next((m.created_at for m in reversed(ticket.messages) if m.created_at), None)
    matches = []
    for previous in earlier:
        comparable = now is not None and (now.tzinfo is None) == (previous.created_at.tzinfo is None)
        if comparable and now - previous.created_at > RECURRING_WINDOW:  # type: ignore[operator]
            continue
        words = _words(previous.text)
        if words and len(current & words) / len(current | words) >= RECURRING_SIMILARITY:
            matches.append(previous)
    return matches


def _ticket_text(subject: str, body: str) -> str:
    return f"{subject}\n\n{body}" if subject else body
