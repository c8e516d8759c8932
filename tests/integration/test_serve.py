"""`triage serve`, the README's first command: embedded Redis, SQLite, API, worker and the real model."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from service.embedded import free_port
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.model]

ROOT = Path(__file__).resolve().parents[2]


def test_serve_brings_everything_up_and_triages_the_readme_ticket(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update({"TRIAGE_DATA_DIR": str(tmp_path / "var"), "HF_HUB_OFFLINE": "1"})
    log = (tmp_path / "serve.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        banner = wait_for(lambda: "API key:" in (text := Path(log.name).read_text()) and text, timeout=120)
        api_key = re.search(r"API key:\s+(\S+)", banner).group(1)
        # The Redis it uses is its own: started from the data dir, not the machine's default.
        assert "redis://127.0.0.1:6379" not in banner
        assert (tmp_path / "var" / "triage.db").exists()

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": api_key}) as client:
            accepted = client.post(
                "/v1/tickets",
                json={
                    "external_id": "4711",
                    "subject": "Charged twice",
                    "requester_id": "cust-42",
                    "messages": [
                        {
                            "body": "This is the third time I'm writing. You charged my card twice and "
                            "nobody answers. Fix it today or I cancel my account."
                        }
                    ],
                },
            )
            assert accepted.status_code == 202
            ticket_id = accepted.json()["ticket_id"]
            done = wait_for(
                lambda: (t := client.get(f"/v1/tickets/{ticket_id}").json())["status"] == "triaged" and t,
                timeout=120,
            )
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    triage = done["triage"]
    assert triage["model_version"] and triage["supported"]
    assert triage["frustration"]["level"] in ("moderate", "severe")
    assert triage["frustration"]["evidence"]
    assert "repeat_contact" in triage["reason_codes"]
