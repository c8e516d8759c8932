"""Empathetic reply drafts an agent reviews and sends; tone follows the frustration level."""

from __future__ import annotations

from service.domain import Triage

OPENINGS = {
    "none": "Thanks for getting in touch.",
    "mild": "Thanks for letting us know, and sorry for the trouble.",
    "moderate": "I'm sorry this has been frustrating, and thank you for your patience.",
    "severe": "I'm truly sorry. This is not the experience you should have had, and I'm taking "
    "ownership of it personally.",
}

# Reason codes the classifier found in the customer's own words, acknowledged without echoing text
# (the text may hold personal data).
ACKNOWLEDGEMENTS = {
    "repeat_contact": "I can see you've had to contact us more than once about this.",
    "outage": "I understand the service isn't working for you right now.",
    "money_lost": "I understand this involves money you're missing.",
    "security": "I understand you're worried about the security of your account.",
    "deadline": "I understand you're working against a deadline.",
    "cancel_threat": "I understand you're considering leaving us, and I want to put this right.",
    "legal_threat": "I understand how serious this is for you.",
}

NEXT_STEPS = {
    "none": "We'll look into this and reply with an answer.",
    "mild": "We're looking into this now and will reply with what we find.",
    "moderate": "I've flagged this for priority review and will update you as soon as I have news.",
    "severe": "I've escalated this to a senior specialist, who will contact you directly as the next step.",
}


def compose_draft(triage: Triage) -> str:
    """Return a reply draft matched to the ticket's frustration and its stated cues."""
    level = triage.frustration.level if triage.frustration else "none"
    lines = [OPENINGS[level]]
    lines += [ACKNOWLEDGEMENTS[code] for code in triage.reason_codes if code in ACKNOWLEDGEMENTS][:2]
    lines.append(NEXT_STEPS[level])
    return " ".join(lines)
