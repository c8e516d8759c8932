"""`triage policy replay`: stored tickets re-decided under a new policy, with counts and examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.storage.db import session_factory
from tests.conftest import make_settings
from tests.workers.helpers import add_ticket
from tests.workers.routing.stored import triage_stored
from workers.routing.cli import policy_app
from workers.routing.policy import parse_policy_text
from workers.routing.replay import parse_since, replay

NEW_POLICY = """\
version: "3"
rules:
  - name: critical-urgency
    when: {urgency: critical}
    actions:
      raise_priority: {priority: urgent, suggest: 0.4, auto: 0.5}
      page_on_call: {suggest: 0.5, auto: 0.8}
  - name: frustrated-reply
    shadow: true
    when: {frustration: moderate}
    actions:
      draft_reply: {suggest: 0.3, auto: 0.5}
"""


@pytest.fixture
def stored(sqlite_url):
    sessions = session_factory(sqlite_url)
    ids = [
        add_ticket(sessions, "[urgency=critical] Production is down", external_id="A"),
        add_ticket(sessions, "[frustration=0.6] I am annoyed", external_id="B"),
        add_ticket(sessions, "[frustration=0.1] Quick question", external_id="C"),
    ]
    triage_stored(sessions, ids)
    return sessions, ids


def test_replay_counts_what_would_change_per_action(stored):
    sessions, _ = stored
    with sessions() as session:
        report = replay(session, parse_policy_text(NEW_POLICY), since=datetime.now(UTC) - timedelta(days=1))

    rows = {(a, m): (before, after, added, removed) for a, m, before, after, added, removed in report.rows()}
    assert report.tickets == 3 and report.changed == 2
    assert rows[("page_on_call", "auto")] == (0, 1, 1, 0)
    assert rows[("tag", "auto")] == (1, 0, 0, 1)  # the default policy tagged; the new one does not
    # The draft rule moved to shadow mode: drafted before, recorded only now.
    assert rows[("draft_reply", "auto")] == (1, 0, 0, 1)
    assert rows[("draft_reply", "shadow")] == (0, 1, 1, 0)
    assert rows[("raise_priority", "auto")][2:] == (0, 0)  # unchanged
    assert {c.external_id for c in report.changes} == {"A", "B"}


def test_replay_ignores_tickets_before_since(stored):
    sessions, _ = stored
    with sessions() as session:
        report = replay(
            session, parse_policy_text(NEW_POLICY), since=datetime.now(UTC) + timedelta(minutes=1)
        )

    assert report.tickets == 0 and report.rows() == []


def test_replay_command_prints_table_and_examples(stored, sqlite_url, monkeypatch, tmp_path: Path):
    monkeypatch.setattr("service.config.get_settings", lambda: make_settings(sqlite_url))
    new = tmp_path / "new.yaml"
    new.write_text(NEW_POLICY)

    result = CliRunner().invoke(policy_app, ["replay", str(new), "--since", "7d"])

    assert result.exit_code == 0, result.output
    assert "Replayed 3 ticket(s)" in result.output and "2 ticket(s) would change." in result.output
    assert "page_on_call    auto" in result.output
    assert "+ page_on_call (auto)  <- critical-urgency: urgency critical" in result.output


def test_replay_command_refuses_an_invalid_policy(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: '3'\nrules:\n  - name: x\n    actions: {}\n")

    result = CliRunner().invoke(policy_app, ["replay", str(bad)])

    assert result.exit_code == 1 and "bad.yaml:4: rules.0.actions" in result.output


def test_since_accepts_durations_and_dates():
    now = datetime(2026, 11, 26, tzinfo=UTC)

    assert parse_since("7d", now=now) == now - timedelta(days=7)
    assert parse_since("12h", now=now) == now - timedelta(hours=12)
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="duration"):
        parse_since("last week")
