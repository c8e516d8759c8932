"""The generic outbound connector against a real local HTTP receiver."""

from __future__ import annotations

import base64
import json

import pytest
from standardwebhooks.webhooks import Webhook

from tests.integration.receiver import Receiver
from workers.connectors.base import OutboundAction
from workers.connectors.http import URLRefused, check_url_allowed, parse_retry_after
from workers.connectors.webhook import StandardWebhookConnector

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
ACTION = OutboundAction(
    id="a1",
    idempotency_key="t1.1.webhook.ticket.triaged",
    tenant="default",
    kind="ticket.triaged",
    ticket_id="t1",
    source="api",
    external_id="T-1",
    attempt=1,
    payload={"reason": "frustration severe (0.93)"},
)


@pytest.fixture
def receiver():
    with Receiver(SECRET) as running:
        yield running


def connector(url, **kwargs):
    return StandardWebhookConnector(url, SECRET, allow_private=True, **kwargs)


@pytest.mark.integration
def test_event_is_signed_per_standard_webhooks(receiver):
    result = connector(receiver.url).deliver(ACTION)

    assert result.ok and result.status_code == 200
    [request] = receiver.requests
    assert request.headers["webhook-id"] == ACTION.idempotency_key
    # The reference library verifies what we signed.
    payload = Webhook(SECRET).verify(request.body, request.headers)
    assert payload["type"] == "ticket.triaged"
    assert payload["data"]["external_id"] == "T-1" and payload["data"]["reason"].startswith("frustration")


@pytest.mark.integration
def test_429_with_retry_after_is_reported_for_the_outbox(receiver):
    receiver.script([(429, {"Retry-After": "7"})])

    result = connector(receiver.url).deliver(ACTION)

    assert not result.ok and result.rate_limited and result.retry_after == 7.0


@pytest.mark.integration
def test_timeout_is_a_retryable_failure(receiver):
    receiver.script([("sleep", 2.0)])

    result = connector(receiver.url, timeout=0.5).deliver(ACTION)

    assert not result.ok and not result.permanent and result.error == "ReadTimeout"


@pytest.mark.integration
def test_redirect_is_not_followed(receiver):
    receiver.script([(302, {"Location": "http://169.254.169.254/"})])

    result = connector(receiver.url).deliver(ACTION)

    assert not result.ok and result.status_code == 302
    assert len(receiver.requests) == 1


def test_loopback_and_metadata_addresses_are_refused_by_default():
    for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest", "http://10.0.0.1/", "ftp://x/"):
        with pytest.raises(URLRefused):
            check_url_allowed(url, allow_private=False)
    result = StandardWebhookConnector("http://127.0.0.1:9/x", SECRET).deliver(ACTION)
    assert result.permanent and "non-public" in (result.error or "")


def test_missing_secret_is_refused():
    with pytest.raises(ValueError, match="signing secret"):
        StandardWebhookConnector("https://example.com/hook", "")


def test_retry_after_parses_seconds_and_dates():
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("soon") is None
    assert json.dumps(parse_retry_after(None)) == "null"
