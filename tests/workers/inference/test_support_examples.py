"""The shipped model on the support tickets issue 10 named: labelled as a support lead would label them.

These were written before the 1.1.0 model was trained and were not used to choose it. 1.0.0 got 4 of
the 15 right, 1.1.0 gets 8; the misses are marked strict xfail with what the model does instead, so the
suite says at once when a retrained model starts getting one right (and the mark must go).
"""

from __future__ import annotations

import pytest

from service.domain import FRUSTRATION_LEVELS, URGENCY_LEVELS, Message, Ticket
from workers.inference.conversation import score_tickets
from workers.inference.transformer import TransformerClassifier

pytestmark = pytest.mark.model

README_TICKET = (
    "This is the third time I am writing. You charged my card twice and nobody answers. "
    "Fix it today or I cancel my account."
)
FRUSTRATED = [
    README_TICKET,
    pytest.param(
        "Oh wonderful, another 'we are looking into it' email. Third week running. Truly inspiring work.",
        marks=pytest.mark.xfail(strict=True, reason="1.1.0 reads this sarcasm as mild at most"),
    ),
    "I've given up expecting an answer from you people. Just close my account.",
    pytest.param(
        "Someone got into my account and you let them take 900 pounds. Where was your fraud check?",
        marks=pytest.mark.xfail(strict=True, reason="1.1.0: anger about money taken stays below moderate"),
    ),
    "I have been on hold for two hours and your chat bot keeps sending me back to the start. Useless.",
]
CALM = [
    "Hi, could you tell me where I can download last month's invoice? Thanks!",
    "Just wanted to say the new dashboard is great, thanks to the team.",
    "Quick question: do you ship to Norway?",
]
CRITICAL = [
    pytest.param(
        "Our whole company cannot log in since 9am, every user gets a 500 error. Nothing works.",
        marks=pytest.mark.xfail(strict=True, reason="1.1.0 says high, not critical"),
    ),
    pytest.param(
        "Payroll did not go out for any of our 140 employees today. The run shows as failed.",
        marks=pytest.mark.xfail(strict=True, reason="1.1.0 says high, not critical"),
    ),
    pytest.param(
        "After the sync last night all of our customer records are gone from the account.",
        marks=pytest.mark.xfail(strict=True, reason="1.1.0 says high, not critical"),
    ),
    "We found our production API key posted in a public GitHub repository an hour ago.",
]
NOT_CRITICAL = [
    pytest.param(
        "What happens if my card is stolen while I'm abroad?",
        marks=pytest.mark.xfail(
            strict=True, reason="1.1.0 still reads the words, not the tense: high or more"
        ),
    ),
    pytest.param(
        "About last week's outage: could we get a credit on this month's invoice?",
        marks=pytest.mark.xfail(
            strict=True, reason="1.1.0 still reads the words, not the tense: high or more"
        ),
    ),
]


def _level_at_least(level: str | None, floor: str, levels: tuple[str, ...]) -> bool:
    return level is not None and levels.index(level) >= levels.index(floor)


@pytest.mark.parametrize("text", FRUSTRATED)
def test_fed_up_sarcastic_or_robbed_customers_are_at_least_moderate(
    real_classifier: TransformerClassifier, text: str
) -> None:
    [scores] = real_classifier.predict([text])
    assert scores.frustration is not None
    assert _level_at_least(scores.frustration.level, "moderate", FRUSTRATION_LEVELS), scores.frustration


@pytest.mark.parametrize("text", CALM)
def test_calm_questions_and_praise_are_not_frustrated(
    real_classifier: TransformerClassifier, text: str
) -> None:
    [scores] = real_classifier.predict([text])
    assert scores.frustration is not None and scores.frustration.level == "none", scores.frustration
    assert scores.urgency is not None and scores.urgency.level == "low"


@pytest.mark.parametrize("text", CRITICAL)
def test_company_wide_outages_payroll_data_loss_and_leaked_keys_are_critical(
    real_classifier: TransformerClassifier, text: str
) -> None:
    [scores] = real_classifier.predict([text])
    assert scores.urgency is not None and scores.urgency.level == "critical", scores.urgency


@pytest.mark.parametrize("text", NOT_CRITICAL)
def test_past_incidents_and_hypotheticals_are_not_urgent(
    real_classifier: TransformerClassifier, text: str
) -> None:
    [scores] = real_classifier.predict([text])
    assert scores.urgency is not None and not _level_at_least(scores.urgency.level, "high", URGENCY_LEVELS)


def test_the_readme_ticket_reads_as_frustrated_billing_trouble(
    real_classifier: TransformerClassifier,
) -> None:
    ticket = Ticket(
        source="api",
        external_id="4711",
        subject="Charged twice",
        messages=[Message(author_role="customer", body=README_TICKET)],
    )
    [result] = score_tickets(real_classifier, [(ticket, [])])
    scores = result.scores
    assert scores.frustration is not None and scores.frustration.probability >= 0.5
    assert scores.urgency is not None and scores.urgency.level in ("high", "critical")
    assert scores.topic is not None and scores.topic.label == "billing_error"
