"""Tone: the opening and the next step around a template, chosen from the frustration and urgency scores."""

from __future__ import annotations

from collections.abc import Collection

from service.domain import URGENCY_LEVELS, Triage
from workers.drafts.library import Template

GREETING = "Hello,"

# Severe frustration gets an apology and ownership, never cheerfulness; none gets a plain thank-you.
OPENINGS = {
    "none": "Thank you for getting in touch.",
    "mild": "Thank you for letting us know, and I am sorry for the trouble.",
    "moderate": "I am sorry this has been frustrating, and thank you for your patience with us.",
    "severe": "I am sorry. This is not the experience you should have had, and I am taking ownership of "
    "it personally until it is resolved.",
}

# Cues the classifier found in the customer's own words, acknowledged without quoting them (the quote
# could carry personal data).
CUES = {
    "repeat_contact": "I can see you have had to contact us more than once about this, "
    "which should not happen.",
    "deadline": "I understand you are working against a deadline.",
    "cancel_threat": "I understand you are considering leaving us, and I want to put this right.",
    "legal_threat": "I understand how serious this is for you.",
    "money_lost": "I understand this involves money you are missing.",
}

# Next steps state what happens next and who does it; no times, which only the policy may promise.
NEXT_STEPS = {
    "severe": "I have escalated your case to a senior specialist, who will contact you directly as the "
    "next step with what we found and what we will do about it.",
    "urgent": "I have marked your case as urgent, so the right team works on it first, and I will update "
    "you as soon as I have news.",
    "moderate": "I have flagged your case for priority review and will update you as soon as I have news.",
    "default": "I will update you here as soon as I know more.",
}
NEXT_STEP_WITH_DEADLINE = " You will hear from us within one business day."

CLOSING = "Kind regards,"


def tone_of(triage: Triage) -> str:
    """Return the frustration level the draft's tone follows (none when unscored)."""
    return triage.frustration.level if triage.frustration else "none"


def next_step(triage: Triage, *, may_promise_deadline: bool) -> str:
    """Choose what happens next from the scores: ownership when severe, urgency when urgent."""
    level = tone_of(triage)
    urgency = triage.urgency.level if triage.urgency else "normal"
    if level == "severe":
        text = NEXT_STEPS["severe"]
    elif URGENCY_LEVELS.index(urgency) >= URGENCY_LEVELS.index("high"):
        text = NEXT_STEPS["urgent"]
    elif level == "moderate":
        text = NEXT_STEPS["moderate"]
    else:
        text = NEXT_STEPS["default"]
    return text + (NEXT_STEP_WITH_DEADLINE if may_promise_deadline else "")


def compose(template: Template, triage: Triage, *, allow_promises: Collection[str]) -> str:
    """Assemble a draft: greeting, opening by tone, acknowledgements, the template, next step, closing."""
    cues = [CUES[code] for code in triage.reason_codes if code in CUES]
    opening = " ".join([OPENINGS[tone_of(triage)], template.acknowledge, *cues[:1]])
    action = " ".join(
        [template.body.strip(), next_step(triage, may_promise_deadline="deadline" in allow_promises)]
    )
    return "\n".join([GREETING, "", opening, "", action, "", CLOSING])
