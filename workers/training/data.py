"""Read the labelled public data (../shared/data) and customers' own exports into one example shape."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from service.domain import FRUSTRATION_LEVELS, TOPICS, URGENCY_LEVELS
from workers.training.corpus import CorpusTicket

# Relative to the repository: the data lives beside the project and is never copied into it.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
# GoEmotions and EmoBank ship their own dev split; the urgency sources do not, so carve one.
URGENCY_DEV_FRACTION = 0.15
SPLIT_SEED = 20261126
NO_LABEL = -1


@dataclass(frozen=True)
class Example:
    """One text with the labels it carries; NO_LABEL where a source says nothing about a task."""

    text: str
    source: str
    # Ordinal frustration: "frustrated" is moderate or worse, "severe" the top level, "any" mild or worse.
    frustrated: int = NO_LABEL
    severe: int = NO_LABEL
    urgency: int = NO_LABEL
    any_frustration: int = NO_LABEL
    topic: int = NO_LABEL


def frustration_labels(level: str) -> dict[str, int]:
    """Return the ordinal labels of a frustration level (none/mild/moderate/severe)."""
    position = FRUSTRATION_LEVELS.index(level)
    return {
        "any_frustration": int(position >= 1),
        "frustrated": int(position >= 2),
        "severe": int(position == 3),
    }


@dataclass
class Splits:
    """Train and dev examples per task."""

    frustration_train: list[Example]
    frustration_dev: list[Example]
    urgency_train: list[Example]
    urgency_dev: list[Example]


def _label_maps(data_dir: Path) -> dict[str, object]:
    return json.loads((data_dir / "label_maps.json").read_text())


def load_goemotions(data_dir: Path, split: str) -> list[Example]:
    """Read one official GoEmotions split, labelled frustrated/severe through label_maps.json."""
    maps = _label_maps(data_dir)["goemotions_frustration"]
    assert isinstance(maps, dict)
    names = (data_dir / "goemotions" / "labels.txt").read_text().split()
    positive = {names.index(n) for n in maps["positive_if_any"]}
    severe = {names.index(n) for n in maps["severe_if_any"]}
    examples = []
    with (data_dir / "goemotions" / f"{split}.tsv").open(newline="") as handle:
        for text, labels, _comment_id in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            ids = {int(i) for i in labels.split(",")}
            # Annoyance or disappointment says "frustrated at all" but not how much: only anger and
            # disgust (the severe labels) also say "moderate or worse".
            upset, angry = bool(ids & positive), bool(ids & severe)
            examples.append(
                Example(
                    text=text,
                    source="goemotions",
                    frustrated=1 if angry else (NO_LABEL if upset else 0),
                    severe=int(angry),
                    any_frustration=int(upset),
                )
            )
    return examples


def load_urgency_sources(data_dir: Path) -> list[Example]:
    """Read Banking77, Bitext and Hadoop JIRA rows, mapped onto the four urgency levels."""
    maps = _label_maps(data_dir)
    examples: list[Example] = []
    banking = _intent_levels(maps["banking77_urgency"])
    with (data_dir / "banking77" / "train.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            examples.append(Example(row["text"], "banking77", urgency=banking[row["category"]]))
    bitext = _intent_levels(maps["bitext_urgency"])
    bitext_file = data_dir / "bitext" / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
    with bitext_file.open(newline="") as handle:
        for row in csv.DictReader(handle):
            examples.append(Example(row["instruction"], "bitext", urgency=bitext[row["intent"]]))
    jira = maps["jira_priority_urgency"]
    assert isinstance(jira, dict)
    with (data_dir / "hadoop_jira" / "hadoop_bugs.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            text = f"{row['Summary']}\n\n{row['Description']}".strip()
            level = URGENCY_LEVELS.index(jira[row["Priority"]])
            examples.append(Example(text, "hadoop_jira", urgency=level))
    return examples


def _intent_levels(mapping: object) -> dict[str, int]:
    assert isinstance(mapping, dict)
    return {intent: URGENCY_LEVELS.index(level) for level, intents in mapping.items() for intent in intents}


def carve_dev(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Split examples into (train, dev), stratified by source and label, with a fixed seed."""
    groups: dict[tuple[str, int], list[Example]] = {}
    for example in examples:
        groups.setdefault((example.source, example.urgency), []).append(example)
    rng = random.Random(seed)
    train: list[Example] = []
    dev: list[Example] = []
    for key in sorted(groups):
        group = list(groups[key])
        rng.shuffle(group)
        cut = round(len(group) * fraction)
        dev.extend(group[:cut])
        train.extend(group[cut:])
    return train, dev


def load_splits(data_dir: Path = DEFAULT_DATA_DIR) -> Splits:
    """Return the official GoEmotions splits and the seeded urgency train/dev split."""
    urgency_train, urgency_dev = carve_dev(load_urgency_sources(data_dir), URGENCY_DEV_FRACTION, SPLIT_SEED)
    return Splits(
        frustration_train=load_goemotions(data_dir, "train"),
        frustration_dev=load_goemotions(data_dir, "dev"),
        urgency_train=urgency_train,
        urgency_dev=urgency_dev,
    )


def subsample(examples: Sequence[Example], limit: int | None, seed: int) -> list[Example]:
    """Return at most `limit` examples drawn with a fixed seed (all of them when limit is None)."""
    if limit is None or limit >= len(examples):
        return list(examples)
    return random.Random(seed).sample(list(examples), limit)


def split_calibration(
    examples: Sequence[Example], seed: int = SPLIT_SEED
) -> tuple[list[Example], list[Example]]:
    """Halve a dev split: one half fits calibration and thresholds, the other reports figures."""
    shuffled = list(examples)
    random.Random(seed + 1).shuffle(shuffled)
    half = len(shuffled) // 2
    return shuffled[:half], shuffled[half:]


# Customer exports: the label column may name a priority or a frustration level.
PRIORITY_ALIASES = {
    "low": "low",
    "trivial": "low",
    "minor": "low",
    "normal": "normal",
    "medium": "normal",
    "major": "normal",
    "high": "high",
    "critical": "critical",
    "urgent": "critical",
    "blocker": "critical",
}
FRUSTRATION_ALIASES = {level: level for level in FRUSTRATION_LEVELS} | {
    "calm": "none",
    "no": "none",
    "false": "none",
    "0": "none",
    "yes": "moderate",
    "true": "moderate",
    "1": "moderate",
    "angry": "severe",
}


def load_customer_export(path: Path) -> list[Example]:
    """Read a CSV or JSONL export of `text` plus `priority` and/or `frustration` labels.

    Raises:
        ValueError: naming the row when a label is unknown or no text/label column is present.
    """
    rows = list(_read_rows(path))
    examples = []
    for number, row in enumerate(rows, start=1):
        text = str(row.get("text") or "").strip()
        if not text:
            raise ValueError(f"{path}:{number}: empty or missing 'text'")
        urgency = NO_LABEL
        frustrated = severe = any_frustration = NO_LABEL
        priority = row.get("priority") or row.get("urgency")
        if priority not in (None, ""):
            level = PRIORITY_ALIASES.get(str(priority).strip().lower())
            if level is None:
                raise ValueError(f"{path}:{number}: unknown priority {priority!r}")
            urgency = URGENCY_LEVELS.index(level)
        frustration = row.get("frustration")
        if frustration not in (None, ""):
            level = FRUSTRATION_ALIASES.get(str(frustration).strip().lower())
            if level is None:
                raise ValueError(f"{path}:{number}: unknown frustration label {frustration!r}")
            labels = frustration_labels(level)
            frustrated, severe, any_frustration = (
                labels["frustrated"],
                labels["severe"],
                labels["any_frustration"],
            )
        if urgency == NO_LABEL and frustrated == NO_LABEL:
            raise ValueError(f"{path}:{number}: needs a 'priority' or a 'frustration' label")
        examples.append(
            Example(
                text,
                "customer",
                frustrated=frustrated,
                severe=severe,
                urgency=urgency,
                any_frustration=any_frustration,
            )
        )
    return examples


def _read_rows(path: Path) -> Iterable[dict[str, object]]:
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        with path.open() as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)
    elif path.suffix.lower() == ".csv":
        with path.open(newline="") as handle:
            yield from csv.DictReader(handle)
    else:
        raise ValueError(f"{path}: expected a .csv or .jsonl export")


def corpus_examples(tickets: Sequence[CorpusTicket]) -> list[Example]:
    """Turn corpus tickets into training texts exactly as serving reads them.

    A ticket with one customer message is its subject plus body, with the ticket's labels and topic.
    A thread gives each customer message on its own (its own labels; the trajectory is read from them)
    and the whole thread through `thread_text`, with the ticket's labels and topic.
    """
    from workers.inference.conversation import MAX_MESSAGES_SCORED, thread_text

    examples = []
    for ticket in tickets:
        customer = ticket.customer_messages[-MAX_MESSAGES_SCORED:]
        whole = {
            **frustration_labels(ticket.frustration),
            "urgency": URGENCY_LEVELS.index(ticket.urgency),
            "topic": TOPICS.index(ticket.topic),
        }
        if len(customer) == 1:
            text = f"{ticket.subject}\n\n{customer[0].body}" if ticket.subject else customer[0].body
            examples.append(Example(text, "support_corpus", **whole))
            continue
        for message in customer:
            assert message.frustration is not None and message.urgency is not None
            examples.append(
                Example(
                    message.body,
                    "support_corpus",
                    urgency=URGENCY_LEVELS.index(message.urgency),
                    **frustration_labels(message.frustration),
                )
            )
        examples.append(
            Example(thread_text(ticket.subject, [m.body for m in customer]), "support_corpus", **whole)
        )
    return examples
