"""A few real training steps on a small subset: the artefacts are small and serve through the classifier."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from workers.inference.calibration import Calibration, save_calibrations
from workers.training.data import Example
from workers.training.pipeline import calibrate_artifacts, write_metadata
from workers.training.train import TrainConfig, train

pytestmark = [pytest.mark.model, pytest.mark.slow]

ANGRY = [
    "I am furious, this is a disgrace!",
    "You people are useless and I hate this",
    "Worst service ever!!",
]
CALM = ["Thanks a lot, that helped.", "Could you send me the invoice?", "Have a nice day"]
URGENT = [
    ("My card was stolen", 3),
    ("Payment declined at checkout", 2),
    ("Where is my card?", 1),
    ("Which fees?", 0),
]


def _examples() -> tuple[list[Example], list[Example]]:
    frustration = [Example(t, "test", frustrated=1, severe=1) for t in ANGRY] + [
        Example(t, "test", frustrated=0, severe=0) for t in CALM
    ]
    urgency = [Example(t, "test", urgency=level) for t, level in URGENT]
    return frustration * 4, urgency * 6


def test_training_steps_write_small_artefacts_that_serve(tmp_path: Path) -> None:
    from workers.inference.transformer import TransformerClassifier

    frustration, urgency = _examples()
    config = replace(TrainConfig(), max_length=32, batch_size=8, threads=1, frustration_limit=None)
    weights = train(config, frustration, urgency, tmp_path)
    write_metadata(tmp_path, config, version="0.0.0-test", extra={})
    calibration = calibrate_artifacts(tmp_path, frustration[:6], urgency[:4], device="cpu", threads=1)

    assert weights.stat().st_size < 5 * 1024 * 1024  # adapters and heads only, never the backbone
    assert Calibration.load(tmp_path / "calibration.json", "fp32") == calibration
    assert Calibration.load(tmp_path / "calibration.json", "int8") != calibration  # fitted on its own outputs
    [scores] = TransformerClassifier(tmp_path, device="cpu", precision="fp32", evidence="none").predict(
        ["Worst service ever!!"]
    )
    assert scores.model_version == "triage-minilm-l6-lora-0.0.0-test"
    assert scores.frustration is not None and 0.0 <= scores.frustration.probability <= 1.0


def test_same_seed_gives_the_same_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    frustration, urgency = _examples()
    config = replace(TrainConfig(), max_length=32, batch_size=8, threads=1, epochs=0.5)
    first = load_file(str(train(config, frustration, urgency, tmp_path / "a")))
    second = load_file(str(train(config, frustration, urgency, tmp_path / "b")))
    assert first.keys() == second.keys()
    assert all((first[k] == second[k]).all() for k in first)


def test_customer_export_fine_tunes_from_a_base_model(tmp_path: Path) -> None:
    from workers.inference.transformer import TransformerClassifier
    from workers.training.pipeline import fine_tune_on_export

    frustration, urgency = _examples()
    config = replace(TrainConfig(), max_length=32, batch_size=8, threads=1, epochs=0.5)
    base = tmp_path / "base"
    train(config, frustration, urgency, base)
    write_metadata(base, config, version="1.0.0", extra={})
    save_calibrations(base / "calibration.json", {"fp32": Calibration(), "int8": Calibration()})
    export = tmp_path / "history.csv"
    rows = ["text,priority", *[f"Server outage number {i},urgent" for i in range(6)]]
    rows += [f"How do I export report {i}?,low" for i in range(6)]
    export.write_text("\n".join(rows) + "\n")

    tuned = tmp_path / "tuned"
    calibration = fine_tune_on_export(
        export, tuned, base_dir=base, data_dir=tmp_path / "no-public-data", config=replace(config, epochs=1.0)
    )
    # Only urgency was labelled, so frustration keeps the base calibration.
    assert calibration.frustration_temperature == 1.0
    classifier = TransformerClassifier(tuned, device="cpu", precision="fp32", evidence="none")
    assert classifier.model_version == "triage-minilm-l6-lora-1.0.0+customer"
    [scores] = classifier.predict(["Server outage again"])
    assert scores.urgency is not None


def _corpus_line(split: str, number: int, body: str, frustration: str, urgency: str, topic: str) -> str:
    import json

    return json.dumps(
        {
            "id": f"{split}-t-{number:04d}",
            "writer": "t",
            "industry": "saas",
            "channel": "chat",
            "subject": "",
            "messages": [{"role": "customer", "body": body, "frustration": frustration, "urgency": urgency}],
            "frustration": frustration,
            "urgency": urgency,
            "topic": topic,
        }
    )


def test_support_stage_continues_a_model_and_serves_a_topic(tmp_path: Path, monkeypatch) -> None:
    from workers.inference.artifacts_io import SHIPPED_DIR
    from workers.inference.transformer import TransformerClassifier
    from workers.training import pipeline
    from workers.training.data import DEFAULT_DATA_DIR

    if not (DEFAULT_DATA_DIR / "label_maps.json").is_file():
        pytest.skip("../shared/data is not beside the repository")
    rows = [
        ("Your app charged me twice, this is a joke!!", "moderate", "high", "billing_error"),
        ("How do I export my invoices?", "none", "low", "how_to"),
        ("Everyone in our company gets a 502, nothing loads", "mild", "critical", "outage"),
        ("Thanks, the agent was great", "none", "low", "praise"),
    ]
    for split in ("train", "dev"):
        (tmp_path / "corpus" / split).mkdir(parents=True)
        lines = [_corpus_line(split, i, *row) for i, row in enumerate(rows * 2)]
        (tmp_path / "corpus" / split / "t.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(pipeline, "SUPPORT_REPLAY_FRUSTRATION", 16)
    monkeypatch.setattr(pipeline, "SUPPORT_REPLAY_URGENCY", 16)
    monkeypatch.setattr(pipeline, "HEAD_REFIT_EPOCHS", 2)
    config = replace(TrainConfig(), max_length=32, batch_size=8, threads=1, epochs=1.0, urgency_epochs=1.0)
    pipeline.support_tune(
        tmp_path / "model",
        base_dir=SHIPPED_DIR,
        corpus_dir=tmp_path / "corpus",
        config=config,
        corpus_epochs=1.0,
    )

    [scores] = TransformerClassifier(tmp_path / "model", device="cpu", evidence="none").predict(
        ["Everyone in our company gets a 502"]
    )
    assert scores.model_version == "triage-minilm-l6-lora-1.1.0"
    assert scores.topic is not None and 0.0 < scores.topic.probability <= 1.0
    assert scores.frustration is not None and scores.urgency is not None
