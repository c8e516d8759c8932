"""Reason codes fire on cues the text states, and stay quiet on neutral requests."""

from __future__ import annotations

import pytest

from workers.inference.reasons import REASON_CODES, reason_codes, reason_matches


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("This is the third time I write about this.", "repeat_contact"),
        ("Nobody has replied to my emails.", "repeat_contact"),
        ("I will cancel my subscription if this is not fixed.", "cancel_threat"),
        ("My lawyer will hear about this.", "legal_threat"),
        ("I'll file a chargeback with my bank.", "legal_threat"),
        ("The website is down for all our users.", "outage"),
        ("We get 503 errors on every request.", "outage"),
        ("I think my account was hacked.", "security"),
        ("I don't recognise this payment on my card.", "security"),
        ("I was charged twice for the same order.", "money_lost"),
        ("You took $120 from my account.", "money_lost"),
        ("We need the fix by Friday.", "deadline"),
        ("Please answer as soon as possible.", "deadline"),
    ],
)
def test_cue_fires_its_code(text: str, code: str) -> None:
    assert code in reason_codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "How do I change my delivery address?",
        "Thanks, everything works now.",
        "Can I order a second card for my partner?",
    ],
)
def test_neutral_requests_carry_no_codes(text: str) -> None:
    assert reason_codes(text) == []


def test_codes_come_in_the_declared_order_with_the_phrase_that_fired() -> None:
    text = "Sue you? Maybe. But first: this is the second time and the app is down."
    codes = reason_codes(text)
    assert codes == [c for c in REASON_CODES if c in codes]
    assert reason_matches(text)["legal_threat"].lower() == "sue"


def test_stated_cues_set_floors_and_the_strongest_wins() -> None:
    from service.domain import FRUSTRATION_LEVELS, URGENCY_LEVELS
    from workers.inference.reasons import FRUSTRATION_FLOORS, URGENCY_FLOORS, floor_level

    assert (
        floor_level(["repeat_contact", "legal_threat"], FRUSTRATION_FLOORS, FRUSTRATION_LEVELS) == "moderate"
    )
    assert floor_level(["deadline", "outage"], URGENCY_FLOORS, URGENCY_LEVELS) == "high"
    assert floor_level([], URGENCY_FLOORS, URGENCY_LEVELS) is None
