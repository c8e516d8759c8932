"""Reason codes: explicit cues a text states (repeat contact, threats, outage, security, money, deadline)."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Each code fires on a phrase a human reviewer can point at; none is inferred from tone.
_NUMBER = r"(?:\d+|two|three|four|five|six|several|multiple|many|numerous)"
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
REASON_PATTERNS: dict[str, re.Pattern[str]] = {
    "repeat_contact": re.compile(
        rf"\b(?:(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time|"
        rf"{_NUMBER} (?:times|emails|e-mails|calls|tickets|messages|requests)|again and again|"
        r"(?:already|still) (?:contacted|emailed|called|written|"
        r"wrote|asked|reported)|(?:no one|nobody|no-one) (?:has )?(?:answered|replied|responded|gets? back|"
        r"answers|replies|responds|helped)|still (?:no|not|haven'?t|waiting)|"
        r"(?:haven'?t|have not|never) heard back|follow(?:ing)?[- ]up (?:again|on my)|"
        r"keep (?:asking|writing|calling)|reopen(?:ed|ing)?)\b",
        re.I,
    ),
    "cancel_threat": re.compile(
        r"\b(?:cancel+(?:ing|ed)? (?:my|our|the) (?:account|subscription|contract|membership|service|plan)|"
        r"close (?:my|our) account|switch(?:ing)? to (?:a |an )?(?:another|different|competitor|other)|"
        r"take (?:my|our) (?:business|money) elsewhere|(?:leave|leaving|quit|quitting) (?:your|this) "
        r"(?:service|company|bank|platform)|never (?:use|buy from|order from) (?:you|your)|"
        r"(?:done|finished) with (?:you|your company))\b",
        re.I,
    ),
    "legal_threat": re.compile(
        r"\b(?:lawyers?|attorneys?|solicitors?|legal action|sue|suing|lawsuit|small claims|court|"
        r"ombudsman|regulator|consumer protection|trading standards|better business bureau|bbb|"
        r"chargeback|report you to|file a complaint with)\b",
        re.I,
    ),
    "outage": re.compile(
        r"\b(?:outage|(?:site|website|app|service|server|system|production|platform|api|portal|dashboard)s? "
        r"(?:is|are|went|has gone|goes) (?:down|offline|unreachable|unavailable)|(?:is|are) down\b|"
        r"down for (?:everyone|all|us)|not loading|won'?t load|service unavailable|50[0234] (?:error|errors)|"
        r"(?:can'?t|cannot|unable to) (?:access|reach|connect)|data loss|lost (?:all )?(?:our|my) data|"
        r"crash(?:es|ed|ing)? (?:on|every|whenever|for all))",
        re.I,
    ),
    "security": re.compile(
        r"\b(?:hack(?:ed|er|ers)?|compromised|fraud(?:ulent|ster)?|phishing|scam(?:med)?|unauthori[sz]ed|"
        r"stolen|identity theft|data breach|breach|leak(?:ed)?|suspicious (?:login|activity|transaction|"
        r"email|charge)|(?:someone|somebody) (?:else )?(?:logged|accessed|used|took|is using)|"
        r"(?:don'?t|do not|didn'?t|did not) recogni[sz]e (?:this|the|a|these) (?:payment|charge|transaction|"
        r"login|withdrawal))",
        re.I,
    ),
    "money_lost": re.compile(
        r"(?:\b(?:charged (?:twice|double|two times)|double[- ]charged|overcharged|lost (?:my |our )?money|"
        r"money (?:is |was )?(?:gone|missing|taken|disappeared)|(?:never|not|didn'?t|haven'?t) (?:got|get|"
        r"received?) (?:my |the |a )?(?:refund|money|payment)|wrong amount|debited|took (?:my )?money|"
        r"unauthori[sz]ed (?:charge|payment|transaction|withdrawal)|missing (?:payment|funds|transfer))\b|"
        r"[$£€]\s?\d)",
        re.I,
    ),
    "deadline": re.compile(
        rf"\b(?:by (?:tomorrow|tonight|today|end of (?:the )?(?:day|week|month)|eod|{_WEEKDAY})|"
        rf"before (?:tomorrow|tonight|{_WEEKDAY}|the (?:deadline|weekend|end of))|deadline|asap|"
        r"as soon as possible|urgent(?:ly)?|immediately|right now|"
        r"within (?:the |an |\d+ )?(?:hour|hours|day|days)|"
        r"(?:expires?|due) (?:today|tomorrow|soon|on)|time[- ]sensitive|in \d+ (?:hours|minutes))\b",
        re.I,
    ),
}
REASON_CODES = tuple(REASON_PATTERNS)

# Stated cues set a floor under the model's level. GoEmotions taught the model tone, not "third time I
# write"; Banking77 taught it card problems, not outages: the data README counts both as what they say.
# Floors stop at high for urgency: paging (critical) stays the model's and the history's call.
FRUSTRATION_FLOORS = {"repeat_contact": "mild", "cancel_threat": "moderate", "legal_threat": "moderate"}
URGENCY_FLOORS = {"outage": "high", "security": "high", "money_lost": "high", "deadline": "normal"}


def reason_codes(text: str) -> list[str]:
    """Return the reason codes whose cue appears in the text, in a fixed order."""
    return [code for code, pattern in REASON_PATTERNS.items() if pattern.search(text)]


def floor_level(codes: list[str], floors: dict[str, str], levels: Sequence[str]) -> str | None:
    """Return the highest level the codes' floors demand, or None when no code sets one."""
    demanded = [levels.index(floors[code]) for code in codes if code in floors]
    return levels[max(demanded)] if demanded else None


def reason_matches(text: str) -> dict[str, str]:
    """Return each firing code with the phrase that fired it (what a reviewer would highlight)."""
    found = {}
    for code, pattern in REASON_PATTERNS.items():
        if match := pattern.search(text):
            found[code] = match.group(0)
    return found
