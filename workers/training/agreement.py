"""Label quality of the support corpus: a blind sample for a second labeller, and Cohen's kappa.

    python -m workers.training.agreement sample --out blind.jsonl     # labels stripped
    python -m workers.training.agreement score --second relabels.jsonl

The second labeller writes one line per ticket: {"id", "frustration", "urgency", "topic"}.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from sklearn.metrics import cohen_kappa_score, confusion_matrix

from service.domain import FRUSTRATION_LEVELS, TOPICS, URGENCY_LEVELS
from workers.training.corpus import CORPUS_DIR, CorpusTicket, load_split

SAMPLE_SEED = 20261201
SAMPLE_SIZE = 320
LABELS = {"frustration": FRUSTRATION_LEVELS, "urgency": URGENCY_LEVELS, "topic": TOPICS}


def blind_sample(
    tickets: Sequence[CorpusTicket], size: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED
) -> list[dict]:
    """Return a seeded sample of tickets with every label and hard-case tag removed."""
    chosen = random.Random(seed).sample(sorted(tickets, key=lambda t: t.id), min(size, len(tickets)))
    return [
        {
            "id": t.id,
            "channel": t.channel,
            "subject": t.subject,
            "messages": [{"role": m.role, "body": m.body} for m in t.messages],
        }
        for t in chosen
    ]


def kappas(first: dict[str, CorpusTicket], second: dict[str, dict[str, str]]) -> dict[str, dict[str, float]]:
    """Return Cohen's kappa (and, for the ordinal labels, quadratic-weighted kappa) per label."""
    ids = sorted(set(first) & set(second))
    results: dict[str, dict[str, float]] = {}
    for label, levels in LABELS.items():
        ours = [levels.index(getattr(first[i], label)) for i in ids]
        theirs = [levels.index(second[i][label]) for i in ids]
        figures = {
            "n": float(len(ids)),
            "agreement": sum(a == b for a, b in zip(ours, theirs, strict=True)) / len(ids),
            "kappa": float(cohen_kappa_score(ours, theirs)),
        }
        if label != "topic":
            figures["quadratic_kappa"] = float(cohen_kappa_score(ours, theirs, weights="quadratic"))
            figures["within_one_level"] = sum(
                abs(a - b) <= 1 for a, b in zip(ours, theirs, strict=True)
            ) / len(ids)
        results[label] = figures
    return results


def confusion(first: dict[str, CorpusTicket], second: dict[str, dict[str, str]], label: str) -> str:
    """Render the writer-vs-second-labeller confusion matrix of one ordinal label."""
    ids = sorted(set(first) & set(second))
    levels = LABELS[label]
    matrix = confusion_matrix(
        [getattr(first[i], label) for i in ids], [second[i][label] for i in ids], labels=list(levels)
    )
    lines = [
        f"{label}: rows = writer, columns = second labeller",
        " " * 10 + "".join(f"{lv:>10}" for lv in levels),
    ]
    lines += [f"{lv:>10}" + "".join(f"{n:>10}" for n in row) for lv, row in zip(levels, matrix, strict=True)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["sample", "score"])
    parser.add_argument("--split", default="train")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--second", type=Path)
    args = parser.parse_args(argv)
    tickets = load_split(args.split, CORPUS_DIR)
    if args.command == "sample":
        lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in blind_sample(tickets))
        (args.out.write_text(lines) if args.out else sys.stdout.write(lines))
        return 0
    second = {
        row["id"]: row
        for row in (json.loads(line) for line in args.second.read_text().splitlines() if line.strip())
    }
    first = {t.id: t for t in tickets}
    for label, figures in kappas(first, second).items():
        print(
            f"{label:<12}"
            + "  ".join(f"{k} {v:.3f}" if k != "n" else f"n {int(v)}" for k, v in figures.items())
        )
    for label in ("frustration", "urgency"):
        print(confusion(first, second, label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
