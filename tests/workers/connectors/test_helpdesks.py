"""Each helpdesk connector against its fake API: documented calls, one note per action, vendor faults."""

from __future__ import annotations

import logging
import time

import pytest

from tests.workers.connectors.conftest import PUBLIC_URL, TICKET, action, connector
from workers.connectors.helpdesk import marker

pytestmark = pytest.mark.integration

NOTE_PATH = {
    "zendesk": "/api/v2/tickets/35436.json",
    "freshdesk": "/notes",
    "zammad": "/ticket_articles",
    "helpscout": "/notes",
    "intercom": "/reply",
}
URGENT = {"zendesk": "urgent", "freshdesk": 4, "zammad": "3 high", "helpscout": None, "intercom": None}


def test_triage_note_is_internal_and_carries_the_summary(vendor, fake) -> None:
    server, base_url = fake
    sent = action(vendor)

    result = connector(vendor, base_url).deliver(sent)

    assert result.ok, result
    assert server.violations == []
    notes = server.ticket(TICKET[vendor]).notes
    assert len(notes) == 1 and notes[0]["internal"] is True
    text = notes[0]["body"]
    for expected in (
        "Frustration: severe (p=0.91)",
        "Urgency: critical (p=0.70)",
        "third time I write",
        "repeat_contact, outage",
        "triage-minilm-2026.11",
        f"{PUBLIC_URL}/assist/t0001",
        marker(sent),
    ):
        assert expected in text


def test_retried_action_posts_no_second_note(vendor, fake) -> None:
    server, base_url = fake
    sent = action(vendor)

    first = connector(vendor, base_url).deliver(sent)
    again = connector(vendor, base_url).deliver(sent)

    assert first.ok and again.ok
    assert len(server.ticket(TICKET[vendor]).notes) == 1


def test_lost_response_then_retry_still_one_note(vendor, fake) -> None:
    server, base_url = fake
    sent = action(vendor)
    # The helpdesk stores the note but answers after our timeout: the worker sees a failure.
    server.slow(1.5, path=NOTE_PATH[vendor], method="PUT" if vendor == "zendesk" else "POST")

    lost = connector(vendor, base_url, timeout=0.5).deliver(sent)
    time.sleep(1.2)  # let the slow request finish on the server side
    stored_meanwhile = len(server.ticket(TICKET[vendor]).notes)
    retried = connector(vendor, base_url).deliver(sent)

    assert not lost.ok and not lost.permanent and lost.error == "ReadTimeout"
    assert stored_meanwhile == 1
    assert retried.ok
    assert len(server.ticket(TICKET[vendor]).notes) == 1


def test_escalation_sets_the_mapped_priority_and_adds_tags(vendor, fake) -> None:
    server, base_url = fake

    result = connector(vendor, base_url).deliver(action(vendor, "ticket.escalated"))
    connector(vendor, base_url).deliver(action(vendor, "ticket.escalated"))  # a retry changes nothing

    assert result.ok, result
    assert server.violations == []
    ticket = server.ticket(TICKET[vendor])
    assert ticket.priority == URGENT[vendor]
    assert ticket.tags.count("triage-escalated") == 1 and "billing" in ticket.tags
    if vendor in ("helpscout", "intercom"):
        assert "priority-urgent" in ticket.tags  # no priority field: a tag carries it
    assert ticket.notes == []  # an escalation changes fields; the triage note explains it


def test_priority_map_is_configurable_per_tenant(vendor, fake) -> None:
    server, base_url = fake
    custom = {"zendesk": "high", "freshdesk": 3, "zammad": "2 normal", "helpscout": "p1", "intercom": "p1"}

    connector(vendor, base_url, priority_map={"urgent": custom[vendor]}).deliver(
        action(vendor, "ticket.escalated")
    )

    ticket = server.ticket(TICKET[vendor])
    if vendor in ("helpscout", "intercom"):
        assert "p1" in ticket.tags
    else:
        assert ticket.priority == custom[vendor]


def test_group_is_set_from_the_tenants_group_map(fake, vendor) -> None:
    if vendor not in ("zendesk", "freshdesk", "zammad"):
        pytest.skip("Help Scout and Intercom assign through workflows, not a group field")
    server, base_url = fake
    escalation = action(vendor, "ticket.escalated")
    escalation.payload["params"]["group"] = "billing"

    connector(vendor, base_url, group_map={"billing": "4711" if vendor != "zammad" else "Billing"}).deliver(
        escalation
    )

    assert server.ticket(TICKET[vendor]).group == (4711 if vendor != "zammad" else "Billing")


def test_draft_is_never_sent_to_the_customer_by_default(vendor, fake) -> None:
    server, base_url = fake
    draft = action(vendor, "ticket.reply_drafted", params={"send_to_customer": True})

    result = connector(vendor, base_url).deliver(draft)
    connector(vendor, base_url).deliver(draft)

    assert result.ok, result
    notes = server.ticket(TICKET[vendor]).notes
    assert len(notes) == 1
    assert "I'm truly sorry" in notes[0]["body"].replace("&#x27;", "'")
    if vendor == "helpscout":
        assert notes[0]["draft"] is True and marker(draft) not in notes[0]["body"]
    else:
        assert notes[0]["internal"] is True


def test_draft_goes_out_only_when_tenant_and_policy_both_allow(vendor, fake) -> None:
    server, base_url = fake
    draft = action(vendor, "ticket.reply_drafted", params={"send_to_customer": True})

    connector(vendor, base_url, allow_send_drafts=True).deliver(draft)
    connector(vendor, base_url, allow_send_drafts=True).deliver(draft)

    notes = server.ticket(TICKET[vendor]).notes
    assert len(notes) == 1 and notes[0]["internal"] is False and notes[0]["draft"] is False
    assert marker(draft) not in notes[0]["body"]  # the customer never sees our bookkeeping


def test_429_hands_back_retry_after_and_holds_every_worker(vendor, fake, limiter) -> None:
    server, base_url = fake
    server.fail(429, retry_after="7")

    first = connector(vendor, base_url, limiter=limiter).deliver(action(vendor))
    other_worker = connector(vendor, base_url, limiter=limiter).deliver(action(vendor))

    assert first.rate_limited and first.retry_after == 7.0 and not first.permanent
    assert other_worker.rate_limited and other_worker.error == "account rate limit reached"
    assert 0 < other_worker.retry_after <= 7.0
    assert server.ticket(TICKET[vendor]).notes == []


def test_server_error_is_retried_later(vendor, fake) -> None:
    server, base_url = fake
    server.fail(503, retry_after="30")

    result = connector(vendor, base_url).deliver(action(vendor))

    assert not result.ok and not result.permanent and result.status_code == 503 and result.retry_after == 30.0
    assert connector(vendor, base_url).deliver(action(vendor)).ok
    assert len(server.ticket(TICKET[vendor]).notes) == 1


def test_unknown_ticket_is_a_permanent_failure(vendor, fake) -> None:
    _, base_url = fake
    missing = action(vendor)
    object.__setattr__(missing, "external_id", "999999")

    result = connector(vendor, base_url).deliver(missing)

    assert not result.ok and result.permanent and result.status_code == 404


def test_wrong_credentials_fail_retryably_and_never_reach_the_log(vendor, fake, caplog) -> None:
    _, base_url = fake
    bad = connector(vendor, base_url)
    bad.config.credentials = {
        k: type(v)("wrong-" + v.get_secret_value()) for k, v in bad.config.credentials.items()
    }
    caplog.set_level(logging.DEBUG)

    result = bad.deliver(action(vendor))

    assert not result.ok and not result.permanent
    assert "wrong-" not in caplog.text and "wrong-" not in repr(result)


def test_connector_only_acts_on_its_own_helpdesks_tickets(vendor, fake) -> None:
    _, base_url = fake
    built = connector(vendor, base_url)
    assert built.accepts(vendor) and not built.accepts("api")


def test_private_address_is_refused_without_the_opt_in(vendor, fake) -> None:
    from pydantic import SecretStr

    from service.tenants import ConnectorConfig
    from tests.fakes.helpdesks import CREDENTIALS
    from workers.connectors.registry import HELPDESKS

    _, base_url = fake
    config = ConnectorConfig(
        base_url=base_url, credentials={k: SecretStr(v) for k, v in CREDENTIALS[vendor].items()}
    )
    guarded = HELPDESKS[vendor](tenant="acme", config=config, public_url=PUBLIC_URL, allow_private=False)

    result = guarded.deliver(action(vendor))

    assert not result.ok and result.permanent
