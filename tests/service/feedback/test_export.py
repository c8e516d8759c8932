"""`triage feedback export`: corrections as the JSONL `triage model train` reads, without contact details."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.feedback.cli import feedback_app
from service.feedback.export import export_rows, scrub
from tests.conftest import make_settings
from tests.service.assist.scenario import build_world
from tests.service.feedback.test_feedback import deliver_escalation, helpdesk_update, post


@pytest.fixture
def world(sessions):
    return build_world(sessions)


def lines(sessions) -> list[dict[str, str]]:
    with sessions() as session:
        return list(export_rows(session, since=datetime.now(UTC) - timedelta(days=1)))


def test_corrections_become_text_and_label_lines(client, auth, sessions, world):
    post(client, auth, world.ticket_id, frustration="moderate", urgency="critical")
    post(client, auth, world.ticket_id, draft={"rank": 1, "verdict": "accepted"})  # not a label

    exported = lines(sessions)

    assert [sorted(line) for line in exported] == [["frustration", "text"], ["text", "urgency"]]
    assert {line.get("frustration") or line.get("urgency") for line in exported} == {"moderate", "critical"}
    text = exported[0]["text"]
    assert text.startswith("Billing\n\n") and "You charged my card twice" in text
    assert "1234567" not in text and "[phone]" in text


def test_latest_agent_label_wins_and_beats_a_helpdesk_change(client, auth, sessions, world):
    post(client, auth, world.ticket_id, urgency="normal")
    post(client, auth, world.ticket_id, urgency="low")
    deliver_escalation(sessions, world.ticket_id)
    helpdesk_update(sessions, "high")
    from service.feedback.service import capture_helpdesk_corrections

    with sessions.begin() as session:
        capture_helpdesk_corrections(session)

    assert lines(sessions) == [{"text": lines(sessions)[0]["text"], "urgency": "low"}]


def test_helpdesk_priority_change_alone_is_an_urgency_label(sessions, world):
    deliver_escalation(sessions, world.ticket_id)
    helpdesk_update(sessions, "low")
    from service.feedback.service import capture_helpdesk_corrections

    with sessions.begin() as session:
        capture_helpdesk_corrections(session)

    assert [line["urgency"] for line in lines(sessions)] == ["low"]


def test_export_command_writes_jsonl_the_trainer_reads(
    client, auth, sessions, sqlite_url, monkeypatch, tmp_path: Path, world
):
    monkeypatch.setattr("service.config.get_settings", lambda: make_settings(sqlite_url))
    post(client, auth, world.ticket_id, frustration="mild")
    deliver_escalation(sessions, world.ticket_id)
    helpdesk_update(sessions, "normal")
    out = tmp_path / "corrections.jsonl"

    result = CliRunner().invoke(feedback_app, ["export", "--out", str(out), "--since", "7d"])

    assert result.exit_code == 0, result.output
    assert "wrote 2 labelled example(s)" in result.output and "1 new helpdesk correction(s)" in result.output
    parsed = [json.loads(line) for line in out.read_text().splitlines()]
    assert {k for line in parsed for k in line} == {"text", "frustration", "urgency"}
    data = pytest.importorskip("workers.training.data")
    examples = data.load_customer_export(out)
    assert len(examples) == 2 and {e.source for e in examples} == {"customer"}


def test_export_refuses_a_file_the_trainer_would_not_read(sqlite_url, monkeypatch, tmp_path: Path):
    monkeypatch.setattr("service.config.get_settings", lambda: make_settings(sqlite_url))

    result = CliRunner().invoke(feedback_app, ["export", "--out", str(tmp_path / "out.txt")])

    assert result.exit_code == 1 and "must be a .jsonl file" in result.output


def test_scrub_replaces_contacts_and_numbers():
    assert (
        scrub("mail a@b.io, call +1 415 555 0100, order 123456")
        == "mail [email], call [phone], order [number]"
    )
