"""The shape of a helpdesk's ticket id, per source: checked at intake, and again before a URL is built.

Connectors put `external_id` into the path of a helpdesk API call made with the bot's credentials, so
an id that could carry `/`, `..`, `?`, `#` or an escape would let any tenant key aim those calls
elsewhere. Each helpdesk documents its ids (docs/connectors.md, shared reference helpdesks.md):
Zendesk, Freshdesk and Zammad ticket ids and Help Scout conversation ids are positive integers, and
Intercom conversation ids are strings of digits. Any other source gets a bounded, URL-safe charset.
"""

from __future__ import annotations

import re

# ASCII digits only: `\d` would also match other scripts' digits, which no helpdesk uses.
POSITIVE_INTEGER = re.compile(r"[1-9][0-9]{0,18}")
DIGITS = re.compile(r"[0-9]{1,32}")
GENERIC = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The same rule as one JSON-schema pattern, `..` included: each dot follows another character (or
# starts the id). Its length is the field's maxLength.
GENERIC_PATTERN = r"^\.?(?:[A-Za-z0-9_:-]\.?)*$"

EXTERNAL_ID_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "zendesk": (POSITIVE_INTEGER, "a positive integer"),
    "freshdesk": (POSITIVE_INTEGER, "a positive integer"),
    "zammad": (POSITIVE_INTEGER, "a positive integer"),
    "helpscout": (POSITIVE_INTEGER, "a positive integer"),
    "intercom": (DIGITS, "a string of digits"),
}
GENERIC_RULE = (GENERIC, "1 to 128 of A-Z a-z 0-9 . _ : - without '..'")


def id_pattern(source: str) -> str:
    """Return the JSON-schema pattern of `source`'s ids (anchored)."""
    if source not in EXTERNAL_ID_RULES:
        return GENERIC_PATTERN
    return "^" + EXTERNAL_ID_RULES[source][0].pattern + "$"


def external_id_rule(source: str) -> str:
    """Return, in words, what an external id of `source` must look like."""
    return EXTERNAL_ID_RULES.get(source, GENERIC_RULE)[1]


def is_valid_external_id(source: str, value: str) -> bool:
    """Return whether `value` is a well-formed ticket id for the helpdesk `source`."""
    pattern, _ = EXTERNAL_ID_RULES.get(source, GENERIC_RULE)
    # fullmatch, not match with `$`: `$` would let a trailing newline through.
    if pattern.fullmatch(value) is None:
        return False
    return ".." not in value


def check_external_id(source: str, value: str) -> str:
    """Return `value` if it is a valid id for `source`; raise ValueError saying what is expected."""
    if not is_valid_external_id(source, value):
        raise ValueError(f"not a valid {source} ticket id: expected {external_id_rule(source)}")
    return value
