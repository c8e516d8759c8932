"""Ticket scores: each customer message is scored, the trajectory and the requester's history count."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from service.domain import (
    FRUSTRATION_LEVELS,
    URGENCY_LEVELS,
    AuthorRole,
    Evidence,
    FrustrationScore,
    Message,
    Scores,
    Ticket,
    UrgencyScore,
)
from workers.inference.conversation import EarlierTicket, score_tickets

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class AngerCountClassifier:
    """Frustration grows with the number of '!' in a text; urgency is `normal` unless '[high]' appears."""

    model_version = "fake-anger-1"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def predict(self, texts: Sequence[str]) -> list[Scores]:
        self.calls.append(list(texts))
        return [self._one(t) for t in texts]

    def _one(self, text: str) -> Scores:
        probability = min(0.95, 0.1 + 0.2 * text.count("!"))
        level = "none" if probability < 0.4 else "mild"
        urgency = "high" if "[high]" in text else "normal"
        distribution = {lvl: (0.7 if lvl == urgency else 0.1) for lvl in URGENCY_LEVELS}
        last_sentence = re.split(r"(?<=[.!?])\s+", text.strip())[-1]
        evidence = [Evidence(text=last_sentence, weight=1.0)]
        return Scores(
            frustration=FrustrationScore(probability=probability, level=level, evidence=evidence),
            urgency=UrgencyScore(
                distribution=distribution, level=urgency, probability=0.7, evidence=evidence
            ),
            language="en",
            reason_codes=["deadline"] if "Friday" in text else [],
            model_version=self.model_version,
        )


def ticket(*bodies: tuple[AuthorRole, str], subject: str = "Order 123") -> Ticket:
    messages = [
        Message(author_role=role, body=body, created_at=NOW - timedelta(hours=len(bodies) - i))
        for i, (role, body) in enumerate(bodies)
    ]
    return Ticket(source="test", external_id="1", subject=subject, messages=messages, requester_id="r1")


C, A = AuthorRole.CUSTOMER, AuthorRole.AGENT


def test_every_customer_message_is_scored_in_one_batch() -> None:
    classifier = AngerCountClassifier()
    first = ticket((C, "Where is my order?"), (A, "Looking."), (C, "Still nothing!"))
    second = ticket((C, "Hello"))
    score_tickets(classifier, [(first, []), (second, [])])
    # A thread is also read whole (subject, earlier messages, latest), for its open need and topic.
    assert classifier.calls == [
        [
            "Where is my order?",
            "Still nothing!",
            "Order 123\n\nWhere is my order?\n\nStill nothing!",
            "Order 123\n\nHello",
        ]
    ]


def test_rising_frustration_raises_the_level_and_says_why() -> None:
    rising = ticket(
        (C, "Where is my order?"), (A, "Soon."), (C, "Still nothing!"), (A, "Soon."), (C, "Now!!")
    )
    [result] = score_tickets(AngerCountClassifier(), [(rising, [])])
    assert result.history["frustration_trajectory"] == [0.1, 0.3, 0.5]
    assert "rising_frustration" in result.scores.reason_codes
    assert result.scores.frustration is not None
    assert result.scores.frustration.level == "moderate"  # the latest message alone says mild
    assert result.scores.frustration.probability == 0.5  # the probability stays the calibrated one


def test_steady_frustration_is_not_raised() -> None:
    steady = ticket((C, "Broken!"), (A, "Sorry."), (C, "Broken!"))
    [result] = score_tickets(AngerCountClassifier(), [(steady, [])])
    assert "rising_frustration" not in result.scores.reason_codes
    assert result.scores.frustration is not None and result.scores.frustration.level == "none"


def test_unanswered_follow_ups_count_as_repeat_contact() -> None:
    chasing = ticket((C, "Where is my order?"), (C, "Hello?"))
    [result] = score_tickets(AngerCountClassifier(), [(chasing, [])])
    assert "repeat_contact" in result.scores.reason_codes


def test_same_problem_returning_raises_urgency() -> None:
    current = ticket((C, "The export to CSV fails with a timeout error on large reports"))
    earlier = [
        EarlierTicket(
            "t-1",
            NOW - timedelta(days=10),
            "CSV export fails with timeout error for large reports",
            "mild",
            "normal",
        ),
        EarlierTicket("t-2", NOW - timedelta(days=5), "How do I add a user?", None, "low"),
    ]
    [result] = score_tickets(AngerCountClassifier(), [(current, earlier)])
    assert result.scores.urgency is not None
    assert result.scores.urgency.level == "high"
    assert abs(sum(result.scores.urgency.distribution.values()) - 1.0) < 1e-3
    assert result.history["recurring_tickets"] == ["t-1"]
    assert "recurring_problem" in result.scores.reason_codes


def test_same_problem_long_ago_does_not_count() -> None:
    current = ticket((C, "The export to CSV fails with a timeout error on large reports"))
    old = [
        EarlierTicket(
            "t-1", NOW - timedelta(days=400), "CSV export fails with timeout error", "mild", "normal"
        )
    ]
    [result] = score_tickets(AngerCountClassifier(), [(current, old)])
    assert result.scores.urgency is not None and result.scores.urgency.level == "normal"


def test_evidence_points_at_the_latest_customer_message() -> None:
    conversation = ticket((C, "Hi."), (A, "Hello, how can I help?"), (C, "It broke. I am done!"))
    [result] = score_tickets(AngerCountClassifier(), [(conversation, [])])
    assert result.scores.frustration is not None
    [evidence] = result.scores.frustration.evidence
    assert evidence.message_index == 2
    body = conversation.messages[2].body
    assert evidence.start is not None and body[evidence.start : evidence.end] == "I am done!"


def test_a_cue_in_an_earlier_reply_still_stands() -> None:
    conversation = ticket((C, "I need it by Friday."), (A, "Noted."), (C, "Any news?"))
    [result] = score_tickets(AngerCountClassifier(), [(conversation, [])])
    assert "deadline" in result.scores.reason_codes


def test_levels_used_are_the_domain_levels() -> None:
    [result] = score_tickets(AngerCountClassifier(), [(ticket((C, "ok")), [])])
    assert result.scores.frustration is not None and result.scores.frustration.level in FRUSTRATION_LEVELS
