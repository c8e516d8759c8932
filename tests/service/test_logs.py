"""Logs are one JSON object per line, and intake never logs ticket text."""

from __future__ import annotations

import json
import logging

from service.logs import configure_logging

SECRET_TEXT = "my card number is 4111 1111 1111 1111"


def test_log_lines_are_json_objects(capsys):
    configure_logging("INFO", "json")
    logging.getLogger("triage.test").info("action %s delivered", "a1")

    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["event"] == "action a1 delivered"
    assert record["level"] == "info" and record["logger"] == "triage.test" and "timestamp" in record


def test_intake_with_broker_down_logs_no_ticket_text(client, auth, capsys):
    configure_logging("DEBUG", "json")
    ticket = {"external_id": "L-1", "messages": [{"body": SECRET_TEXT}]}

    assert client.post("/v1/tickets", json=ticket, headers=auth).status_code == 202

    logged = capsys.readouterr().err
    assert "enqueue of triage.classify failed" in logged  # the failure is logged...
    assert "4111" not in logged  # ...without the text
