"""`triage classify`: JSONL in, one scored JSONL line out per input line, bad lines reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.workers.inference.test_conversation import AngerCountClassifier
from workers.inference.classify_file import score_lines


def test_plain_and_ticket_lines_keep_their_order_and_ids() -> None:
    lines = [
        json.dumps({"id": 1, "text": "Broken!!"}),
        "[1, 2]",
        json.dumps({"id": "t", "subject": "Help", "messages": [{"body": "Where?"}]}),
    ]
    records = score_lines(AngerCountClassifier(), lines, first_line=10)
    assert [r.get("id") for r in records] == [1, None, "t"]
    assert records[0]["frustration"]["probability"] == pytest.approx(0.5)
    assert records[1] == {"id": None, "line": 11, "error": "a line must be a JSON object"}
    assert records[2]["history"]["customer_messages"] == 1


def test_classify_command_writes_one_line_per_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    import workers.inference.transformer as transformer
    from workers.cli_model import classify

    monkeypatch.setattr(transformer, "TransformerClassifier", lambda *a, **k: AngerCountClassifier())
    source = tmp_path / "tickets.jsonl"
    source.write_text("\n".join(json.dumps({"id": i, "text": "x" + "!" * i}) for i in range(5)) + "\n")
    target = tmp_path / "scored.jsonl"
    app = typer.Typer()
    app.command()(classify)
    result = CliRunner().invoke(app, ["--input", str(source), "--output", str(target), "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["id"] for r in rows] == [0, 1, 2, 3, 4]
    assert rows[4]["frustration"]["probability"] > rows[0]["frustration"]["probability"]
