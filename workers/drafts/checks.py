"""Code checks every draft passes before an agent sees it: the ticket is untrusted, so is model output."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

URL = re.compile(
    r"(?i)\b(?:https?://|www\.)\S+|(?<![@\w.-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|co|ly|me|info|biz|xyz)\b\S*"
)
EMAIL = re.compile(r"(?i)\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
PHONE = re.compile(r"(?<!\w)\+?\d[\d ()./-]{6,}\d(?!\w)")
LONG_NUMBER = re.compile(r"\b\d{4,}\b")
IBAN_OR_CARD = re.compile(r"\b(?:[A-Z]{2}\d{2}[A-Z0-9]{10,30}|(?:\d[ -]?){13,19})\b")

# Commitments a draft may only make when the policy allows them ("drafts.allow_promises").
PROMISES: dict[str, re.Pattern[str]] = {
    "refund": re.compile(
        r"(?i)\b(?:we(?:'ll| will| are going to| have)?|i(?:'ll| will| have)?"
        r"|you(?:'ll| will)(?: get| receive)?)\s+(?:\w+\s+){0,3}(?:refund|reimburse|money back)"
        r"|\brefund(?:ed)? (?:has been|was|is) (?:issued|processed)"
        r"|\bfull refund\b"
    ),
    "credit": re.compile(
        r"(?i)\b(?:credit(?:ed)? (?:to )?your account|account credit|service credit"
        r"|(?:add|apply|issue|give)\w* (?:\w+ )?credit"
        r"|free month|discount)\b"
    ),
    "deadline": re.compile(
        r"(?i)\b(?:within \d+|within (?:an?|one|two|three|24|48) (?:hour|day|business day|minute)s?"
        r"|by (?:tomorrow|tonight|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
        r"|end of (?:day|week))"
        r"|(?:today|tomorrow|tonight)\b|in \d+ (?:hours?|days?|minutes?)|guarantee)"
    ),
}

# Phrases a model emits when an injected instruction or its own framing leaks into the reply.
LEAKS = re.compile(
    r"(?i)(?:\bas an ai\b|\blanguage model\b|\bsystem prompt\b|\bignore (?:all |the )?previous|<\||"
    r"customer message|reference reply|data only|customer frustration:|urgency: (?:low|normal|high|critical))"
)


def strip_invisible(text: str) -> str:
    """Remove zero-width, bidirectional and other format characters that hide text from the agent."""
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cf", "Cc", "Co", "Cs")
    )


def redact(text: str) -> str:
    """Replace contact details and long numbers, so personal data never reaches a model prompt."""
    text = EMAIL.sub("[email]", text)
    text = URL.sub("[link]", text)
    text = IBAN_OR_CARD.sub("[number]", text)
    text = PHONE.sub("[phone]", text)
    return LONG_NUMBER.sub("[number]", text)


def personal_tokens(text: str) -> set[str]:
    """Return the contact details and long numbers in `text`, which a draft must never repeat."""
    found: set[str] = set()
    for pattern in (EMAIL, URL, PHONE, LONG_NUMBER, IBAN_OR_CARD):
        found.update(m.group(0).strip().lower() for m in pattern.finditer(text))
    return {token for token in found if len(token) >= 4}


def check_draft(
    text: str,
    *,
    approved: str,
    customer_text: str,
    allow_promises: Iterable[str],
    max_chars: int,
    min_chars: int = 40,
) -> list[str]:
    """Return what is wrong with a draft (empty when it may be shown); `approved` is the template's text."""
    problems = []
    if not min_chars <= len(text) <= max_chars:
        problems.append(f"length {len(text)} outside {min_chars}..{max_chars}")
    approved_lower = approved.lower()
    for name, pattern in (("link", URL), ("email address", EMAIL), ("phone number", PHONE)):
        for match in pattern.finditer(text):
            if match.group(0).lower() not in approved_lower:
                problems.append(f"{name} not in the approved template")
                break
    allowed = set(allow_promises)
    for name, pattern in PROMISES.items():
        if name not in allowed and pattern.search(text):
            problems.append(f"promises a {name} the policy does not allow")
    lowered = text.lower()
    if any(token in lowered for token in personal_tokens(customer_text)):
        problems.append("repeats personal data from the ticket")
    if LEAKS.search(text):
        problems.append("contains model or prompt artefacts")
    if re.search(r"[{}<>\[\]]", text):
        problems.append("contains markup or an unfilled placeholder")
    lines = [line.strip().lower() for line in text.splitlines() if line.strip()]
    if len(lines) >= 3 and len(set(lines)) <= len(lines) // 2:
        problems.append("repeats itself")
    return problems
