"""Text hygiene at the edge: the NUL character is removed from every text a client or helpdesk sends.

PostgreSQL cannot store U+0000 in `text` or `jsonb` (it raised DataError, a 500) while SQLite kept it,
so the same request behaved differently per database. NUL carries no meaning in a support
conversation, and a helpdesk cannot edit a customer's message (refusing it would only make the helpdesk
retry the same bytes), so intake strips it from free text; identifiers keep their own strict charset
(service/ids.py) and are refused instead.

A JSON escape can also spell half of a UTF-16 pair (`"\\ud800"`): Python's parser keeps such a lone
surrogate, which no UTF-8 encoder (the databases', our JSON responses') accepts. The API's own bodies
are refused by pydantic; webhook payloads have each one replaced by U+FFFD, for the same reason NUL is
stripped rather than refused.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator

NUL = "\x00"
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def strip_nul(value: str) -> str:
    """Return `value` without NUL characters."""
    return value.replace(NUL, "") if NUL in value else value


def strip_nul_deep(value: Any) -> Any:
    """Return `value` with NUL removed from every string inside it (dict keys included)."""
    if isinstance(value, str):
        return strip_nul(value)
    if isinstance(value, dict):
        return {strip_nul_deep(k): strip_nul_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul_deep(item) for item in value]
    return value


def mend_surrogates_deep(value: Any) -> Any:
    """Return `value` with every lone surrogate in its strings (dict keys included) replaced by U+FFFD."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {mend_surrogates_deep(k): mend_surrogates_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mend_surrogates_deep(item) for item in value]
    return value


# A free-text field of a request body: NUL removed once the field's own constraints (the ones its
# JSON schema states, on the text as sent) hold.
NulFreeStr = Annotated[str, AfterValidator(strip_nul)]

# JSON-schema pattern of a text that is not only NUL: it keeps something once NUL is stripped.
NOT_ONLY_NUL = "[^\\x00]"

# JSON-schema pattern of an id in a URL path: no NUL. No stored row has one, and PostgreSQL cannot
# even compare one (psycopg raised DataError, a 500), so the route refuses it (422) before any query.
NO_NUL = "^[^\\x00]*$"
