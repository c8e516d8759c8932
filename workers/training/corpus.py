"""Read and check the support corpus written for the project (workers/training/corpus/)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from service.domain import FRUSTRATION_LEVELS, TOPICS, URGENCY_LEVELS

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
SPLITS = ("train", "dev", "test")
INDUSTRIES = frozenset(
    (
        "saas",
        "ecommerce",
        "banking",
        "telecom",
        "travel",
        "utilities",
        "healthcare",
        "gaming",
        "education",
        "logistics",
        "insurance",
        "other",
    )
)
CHANNELS = frozenset({"email", "chat", "social", "form", "thread"})
HARD_CASES = frozenset(
    (
        "sarcasm",
        "polite_frustration",
        "calm_critical",
        "angry_low_urgency",
        "security_fraud",
        "outage_many_users",
        "single_user_bug",
        "past_incident",
        "hypothetical",
        "praise",
        "profanity_not_at_company",
        "non_native",
        "typos",
        "quoted_reply",
        "thread_escalation",
        "very_short",
        "long_email",
    )
)
MAX_BODY_CHARS = 6000


class CorpusError(ValueError):
    """A corpus line that does not follow the guide; the message names the file and line."""


@dataclass(frozen=True)
class CorpusMessage:
    """One message of a corpus ticket; only customer messages carry labels."""

    role: str
    body: str
    frustration: str | None = None
    urgency: str | None = None


@dataclass(frozen=True)
class CorpusTicket:
    """One labelled ticket of the corpus."""

    id: str
    split: str
    writer: str
    industry: str
    channel: str
    subject: str
    messages: tuple[CorpusMessage, ...]
    frustration: str
    urgency: str
    topic: str
    hard_cases: tuple[str, ...]

    @property
    def customer_messages(self) -> list[CorpusMessage]:
        """The messages the customer wrote, in order."""
        return [m for m in self.messages if m.role == "customer"]

    @property
    def frustration_index(self) -> int:
        """The ticket's frustration level as an index into FRUSTRATION_LEVELS."""
        return FRUSTRATION_LEVELS.index(self.frustration)

    @property
    def urgency_index(self) -> int:
        """The ticket's urgency level as an index into URGENCY_LEVELS."""
        return URGENCY_LEVELS.index(self.urgency)


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise CorpusError(f"{where}: {message}")


def _message(raw: object, where: str) -> CorpusMessage:
    _require(isinstance(raw, dict), where, "a message must be an object")
    assert isinstance(raw, dict)
    role = raw.get("role")
    body = raw.get("body")
    _require(role in ("customer", "agent"), where, f"role must be customer or agent, not {role!r}")
    _require(isinstance(body, str) and bool(body.strip()), where, "body must be non-empty text")
    assert isinstance(body, str)
    _require(len(body) <= MAX_BODY_CHARS, where, f"body longer than {MAX_BODY_CHARS} characters")
    if role == "agent":
        return CorpusMessage(role="agent", body=body)
    frustration = raw.get("frustration")
    urgency = raw.get("urgency")
    _require(frustration in FRUSTRATION_LEVELS, where, f"message frustration {frustration!r} is not a level")
    _require(urgency in URGENCY_LEVELS, where, f"message urgency {urgency!r} is not a level")
    return CorpusMessage(role="customer", body=body, frustration=str(frustration), urgency=str(urgency))


def parse_ticket(raw: object, split: str, where: str) -> CorpusTicket:
    """Check one decoded line against the guide and return it typed."""
    _require(isinstance(raw, dict), where, "a line must be a JSON object")
    assert isinstance(raw, dict)
    for key in (
        "id",
        "writer",
        "industry",
        "channel",
        "subject",
        "messages",
        "frustration",
        "urgency",
        "topic",
    ):
        _require(key in raw, where, f"missing {key!r}")
    _require(raw["industry"] in INDUSTRIES, where, f"industry {raw['industry']!r} is not in the guide")
    _require(raw["channel"] in CHANNELS, where, f"channel {raw['channel']!r} is not in the guide")
    _require(raw["topic"] in TOPICS, where, f"topic {raw['topic']!r} is not in the guide")
    _require(
        raw["frustration"] in FRUSTRATION_LEVELS, where, f"frustration {raw['frustration']!r} is not a level"
    )
    _require(raw["urgency"] in URGENCY_LEVELS, where, f"urgency {raw['urgency']!r} is not a level")
    _require(isinstance(raw["subject"], str), where, "subject must be text (may be empty)")
    hard_cases = raw.get("hard_cases", [])
    _require(isinstance(hard_cases, list), where, "hard_cases must be a list")
    unknown = [h for h in hard_cases if h not in HARD_CASES]
    _require(not unknown, where, f"unknown hard_cases {unknown}")
    raw_messages = raw["messages"]
    _require(
        isinstance(raw_messages, list) and bool(raw_messages), where, "messages must be a non-empty list"
    )
    messages = tuple(_message(m, f"{where} message {i}") for i, m in enumerate(raw_messages))
    _require(any(m.role == "customer" for m in messages), where, "no customer message")
    return CorpusTicket(
        id=str(raw["id"]),
        split=split,
        writer=str(raw["writer"]),
        industry=str(raw["industry"]),
        channel=str(raw["channel"]),
        subject=str(raw["subject"]),
        messages=messages,
        frustration=str(raw["frustration"]),
        urgency=str(raw["urgency"]),
        topic=str(raw["topic"]),
        hard_cases=tuple(str(h) for h in hard_cases),
    )


def read_file(path: Path, split: str) -> list[CorpusTicket]:
    """Read one JSONL file of the corpus, refusing any line that breaks the guide."""
    tickets = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{where}: not JSON ({exc.msg})") from exc
        tickets.append(parse_ticket(raw, split, where))
    return tickets


def load_split(split: str, corpus_dir: Path = CORPUS_DIR) -> list[CorpusTicket]:
    """Read every file of one split, in file-name order; ids must be unique."""
    tickets: list[CorpusTicket] = []
    for path in sorted((corpus_dir / split).glob("*.jsonl")):
        tickets.extend(read_file(path, split))
    seen: Counter[str] = Counter(t.id for t in tickets)
    duplicated = [i for i, n in seen.items() if n > 1]
    if duplicated:
        raise CorpusError(f"{split}: duplicate ids {duplicated[:5]}")
    return tickets


def summary(tickets: Sequence[CorpusTicket]) -> str:
    """Counts per label, industry, channel and hard case, for the datasheet."""
    lines = [f"{len(tickets)} tickets, {sum(len(t.customer_messages) for t in tickets)} customer messages"]
    for name, values in (
        ("frustration", (t.frustration for t in tickets)),
        ("urgency", (t.urgency for t in tickets)),
        ("topic", (t.topic for t in tickets)),
        ("industry", (t.industry for t in tickets)),
        ("channel", (t.channel for t in tickets)),
        ("hard case", (h for t in tickets for h in t.hard_cases)),
    ):
        counts = Counter(values)
        lines.append(f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    return "\n".join(lines)


def _check(paths: Iterable[str]) -> int:
    tickets: list[CorpusTicket] = []
    for name in paths:
        path = Path(name)
        tickets.extend(read_file(path, path.parent.name))
    print(summary(tickets))
    return 0


if __name__ == "__main__":
    sys.exit(_check(sys.argv[1:]))
