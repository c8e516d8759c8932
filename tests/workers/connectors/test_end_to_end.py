"""A signed webhook goes in; the helpdesk's fake receives exactly one note and the right fields.

The API, the triage pipeline and the outbox run for real (pipeline functions called directly, with
the marker classifier); only the helpdesk is a fake, over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import yaml
from fastapi.testclient import TestClient

from service.config import Settings
from service.storage.db import session_factory
from service.tenants import load_tenants
from tests.conftest import make_settings
from tests.fakes.classifier import MarkerClassifier
from tests.fakes.helpdesks import CREDENTIALS, FAKES, FakeHelpdesk
from tests.service.webhooks.signing import NEW_TICKET, SECRETS, load, signed_headers
from workers.connectors.base import Connector
from workers.connectors.ratelimit import RedisRateLimiter
from workers.connectors.registry import build_connectors
from workers.outbox import deliver_action
from workers.pipeline import triage_tickets
from workers.routing.policy import load_policy

pytestmark = pytest.mark.integration

TICKET = {
    "zendesk": "35436",
    "freshdesk": "1042",
    "zammad": "77",
    "helpscout": "2391938111",
    "intercom": "148",
}
URGENT = {"zendesk": "urgent", "freshdesk": 4, "zammad": "3 high"}


class Stack:
    """The API and the worker functions of one tenant, wired to a fake helpdesk."""

    def __init__(self, vendor: str, settings: Settings, client: TestClient, fake: FakeHelpdesk):
        self.vendor, self.settings, self.client, self.fake = vendor, settings, client, fake
        self.sessions = session_factory(settings.sqlalchemy_url)
        self.tenants = load_tenants(settings)
        self.limiter = RedisRateLimiter(fakeredis.FakeRedis())

    def connectors_for(self, tenant: str) -> dict[str, Connector]:
        found = self.tenants.get(tenant)
        return build_connectors(found, self.settings, limiter=self.limiter) if found else {}

    def webhook(self, body: bytes, **signing: Any) -> dict[str, Any]:
        headers = signed_headers(self.vendor, body, **signing)
        response = self.client.post(f"/v1/webhooks/{self.vendor}/acme", content=body, headers=headers)
        assert response.status_code == 202, response.text
        return response.json()  # type: ignore[no-any-return]

    def triage(self, ticket_id: str) -> tuple[str, ...]:
        [outcome] = triage_tickets(
            sessions=self.sessions,
            ticket_ids=[ticket_id],
            classifier=MarkerClassifier(),
            policy=load_policy(None),
            connectors_for=self.connectors_for,
            max_deliveries=5,
        )
        assert outcome.status == "triaged", outcome
        return outcome.action_ids

    def deliver(self, action_id: str, *, now: datetime | None = None) -> Any:
        return deliver_action(
            sessions=self.sessions,
            action_id=action_id,
            connectors_for=self.connectors_for,
            settings=self.settings,
            now=now,
        )


@pytest.fixture(params=sorted(FAKES))
def stack(
    request: pytest.FixtureRequest, sqlite_url: str, tmp_path: Path, enqueued: list[Any]
) -> Iterator[Stack]:
    from service.main import create_app

    vendor = request.param
    fake = FAKES[vendor]()
    fake.add_ticket(TICKET[vendor], tags=["existing"])
    with fake.running() as base_url:
        path = tmp_path / "tenants.yaml"
        connector = {"secret": SECRETS[vendor], "base_url": base_url, "credentials": CREDENTIALS[vendor]}
        path.write_text(yaml.safe_dump({"tenants": [{"name": "acme", "connectors": {vendor: connector}}]}))
        settings = make_settings(
            sqlite_url,
            tenants_file=path,
            outbound_allow_private=True,
            public_url="https://triage.example.com",
            retry_schedule_seconds=[5, 60],
        )
        with TestClient(create_app(settings)) as client:
            yield Stack(vendor, settings, client, fake)


def test_signed_webhook_is_triaged_and_written_back_exactly_once(stack: Stack) -> None:
    body = load(NEW_TICKET[stack.vendor])
    accepted = stack.webhook(body)
    ticket_id = accepted["tickets"][0]["ticket_id"]

    action_ids = stack.triage(ticket_id)
    outcomes = [stack.deliver(a) for a in action_ids]
    # A redelivered task message finds the action done and sends nothing.
    redelivered = [stack.deliver(a) for a in action_ids]

    assert [o.status for o in outcomes] == ["delivered"] * len(action_ids)
    assert redelivered == [None] * len(action_ids)
    assert stack.fake.violations == []
    ticket = stack.fake.ticket(TICKET[stack.vendor])
    assert len(ticket.notes) == 1 and ticket.notes[0]["internal"] is True
    assert "Urgency: critical" in ticket.notes[0]["body"]
    assert f"https://triage.example.com/assist/{ticket_id}" in ticket.notes[0]["body"]
    assert "triage-escalated" in ticket.tags and "existing" in ticket.tags
    if stack.vendor in URGENT:
        assert ticket.priority == URGENT[stack.vendor]
    else:
        assert "priority-urgent" in ticket.tags


def test_replayed_webhook_triggers_no_second_write(stack: Stack) -> None:
    body = load(NEW_TICKET[stack.vendor])
    headers_kwargs = {"delivery_id": "same-delivery"} if stack.vendor in ("zammad", "standard") else {}
    ticket_id = stack.webhook(body, **headers_kwargs)["tickets"][0]["ticket_id"]
    for action_id in stack.triage(ticket_id):
        stack.deliver(action_id)

    replay = stack.webhook(body, **headers_kwargs)
    [again] = triage_tickets(
        sessions=stack.sessions,
        ticket_ids=[ticket_id],
        classifier=MarkerClassifier(),
        policy=load_policy(None),
        connectors_for=stack.connectors_for,
        max_deliveries=5,
    )

    assert replay["duplicate"] is True
    assert again.status == "skipped"
    assert len(stack.fake.ticket(TICKET[stack.vendor]).notes) == 1


def test_helpdesk_outage_is_retried_by_the_outbox_without_a_duplicate_note(stack: Stack) -> None:
    ticket_id = stack.webhook(load(NEW_TICKET[stack.vendor]))["tickets"][0]["ticket_id"]
    action_ids = stack.triage(ticket_id)
    stack.fake.fail(503, times=1000)

    failed = [stack.deliver(a) for a in action_ids]
    stack.fake.faults.clear()
    later = datetime.now(UTC) + timedelta(seconds=10)
    retried = [stack.deliver(a, now=later) for a in action_ids]

    assert {o.status for o in failed} == {"pending"} and all(o.retry_in >= 5 for o in failed)
    assert [o.status for o in retried] == ["delivered"] * len(action_ids)
    assert len(stack.fake.ticket(TICKET[stack.vendor]).notes) == 1


def test_unfixable_answer_dead_letters_the_action(stack: Stack) -> None:
    ticket_id = stack.webhook(load(NEW_TICKET[stack.vendor]))["tickets"][0]["ticket_id"]
    action_ids = stack.triage(ticket_id)
    del stack.fake.tickets[TICKET[stack.vendor]]  # deleted in the helpdesk meanwhile: 404

    outcomes = [stack.deliver(a) for a in action_ids]

    assert {o.status for o in outcomes} == {"dead"}


def test_frustrated_customer_gets_one_note_and_one_draft_that_is_not_sent(stack: Stack) -> None:
    body = load(NEW_TICKET[stack.vendor]).replace(
        b"[urgency=critical]", b"[urgency=critical] [frustration=0.9]"
    )
    ticket_id = stack.webhook(body)["tickets"][0]["ticket_id"]

    for action_id in stack.triage(ticket_id):
        assert stack.deliver(action_id).status == "delivered"

    notes = stack.fake.ticket(TICKET[stack.vendor]).notes
    assert len(notes) == 2
    triage_note, draft = notes
    assert triage_note["internal"] is True and "Frustration: severe" in triage_note["body"]
    if stack.vendor == "helpscout":
        assert draft["draft"] is True  # Help Scout's own draft feature: an agent sends it
    else:
        assert draft["internal"] is True
    assert not any(n["internal"] is False and n["draft"] is False for n in notes)
