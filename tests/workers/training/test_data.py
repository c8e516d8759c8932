"""Training data: label mapping, the seeded dev split, and customers' exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workers.training.data import (
    DEFAULT_DATA_DIR,
    NO_LABEL,
    Example,
    carve_dev,
    load_customer_export,
    load_goemotions,
    split_calibration,
)

needs_data = pytest.mark.skipif(not DEFAULT_DATA_DIR.is_dir(), reason="../shared/data is not present")


def _examples(count: int) -> list[Example]:
    return [Example(f"text {i}", "src", urgency=i % 4) for i in range(count)]


def test_dev_split_is_seeded_disjoint_and_stratified() -> None:
    examples = _examples(400)
    train, dev = carve_dev(examples, 0.15, seed=3)
    again_train, again_dev = carve_dev(examples, 0.15, seed=3)
    assert dev == again_dev and train == again_train
    assert not {e.text for e in train} & {e.text for e in dev}
    assert {e.urgency for e in dev} == {0, 1, 2, 3}
    assert len(dev) == 60


def test_calibration_and_report_halves_do_not_overlap() -> None:
    calib, report = split_calibration(_examples(101))
    assert len(calib) + len(report) == 101
    assert not {e.text for e in calib} & {e.text for e in report}


@needs_data
def test_goemotions_anger_counts_as_severe_and_frustrated_and_annoyance_as_any_frustration() -> None:
    dev = load_goemotions(DEFAULT_DATA_DIR, "dev")
    assert len(dev) == 5426
    assert all(e.frustrated == 1 and e.any_frustration == 1 for e in dev if e.severe == 1)
    # Annoyance alone says "frustrated at all", not how much: no label for "moderate or worse".
    assert all(e.frustrated == NO_LABEL for e in dev if e.any_frustration == 1 and e.severe == 0)
    assert all(e.frustrated == 0 for e in dev if e.any_frustration == 0)
    assert 0.1 < sum(e.any_frustration for e in dev) / len(dev) < 0.3


def test_customer_csv_with_priorities(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("text,priority\nSite down for everyone,Urgent\nHow do I export?,low\n")
    examples = load_customer_export(export)
    assert [e.urgency for e in examples] == [3, 0]
    assert all(e.frustrated == NO_LABEL for e in examples)


def test_customer_jsonl_with_frustration_labels(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    rows = [{"text": "You are useless", "frustration": "severe"}, {"text": "Thanks!", "frustration": "none"}]
    export.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    examples = load_customer_export(export)
    assert [(e.frustrated, e.severe, e.any_frustration) for e in examples] == [(1, 1, 1), (0, 0, 0)]


def test_unknown_label_names_the_line(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("text,priority\nfine,low\nhmm,whenever\n")
    with pytest.raises(ValueError, match=r"export.csv:2: unknown priority 'whenever'"):
        load_customer_export(export)


def test_row_without_any_label_is_refused(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("text,priority\nno label here,\n")
    with pytest.raises(ValueError, match="needs a 'priority' or a 'frustration' label"):
        load_customer_export(export)
