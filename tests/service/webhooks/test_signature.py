"""Each vendor's signature check on the raw bytes: one mutation per hostile case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from service.tenants import ConnectorConfig
from service.webhooks import VENDORS
from service.webhooks.base import SignatureError
from tests.service.webhooks.signing import (
    NEW_TICKET,
    SECRETS,
    SIGNATURE_HEADER,
    flip_last_byte,
    load,
    reserialised,
    signed_headers,
    stale,
)

ALL = tuple(NEW_TICKET)
# Freshdesk does not sign: its shared secret proves the sender, not the bytes.
SIGNING = tuple(v for v in ALL if v != "freshdesk")


def verify(vendor: str, body: bytes, headers: dict[str, str], config: ConnectorConfig | None = None) -> None:
    config = config or ConnectorConfig(secret=SecretStr(SECRETS[vendor]))
    lowered = {k.lower(): v for k, v in headers.items()}
    VENDORS[vendor].verify(body, lowered, config, now=datetime.now(UTC))


@pytest.mark.parametrize("vendor", ALL)
def test_documented_payload_signed_as_the_vendor_does_is_accepted(vendor: str) -> None:
    body = load(NEW_TICKET[vendor])
    verify(vendor, body, signed_headers(vendor, body))


@pytest.mark.parametrize("vendor", ALL)
def test_signature_off_by_one_byte_is_refused(vendor: str) -> None:
    body = load(NEW_TICKET[vendor])
    with pytest.raises(SignatureError):
        verify(vendor, body, flip_last_byte(vendor, signed_headers(vendor, body)))


@pytest.mark.parametrize("vendor", ALL)
def test_missing_signature_header_is_refused(vendor: str) -> None:
    body = load(NEW_TICKET[vendor])
    headers = signed_headers(vendor, body)
    del headers[SIGNATURE_HEADER[vendor]]
    with pytest.raises(SignatureError):
        verify(vendor, body, headers)


@pytest.mark.parametrize("vendor", SIGNING)
def test_body_reserialised_after_signing_is_refused(vendor: str) -> None:
    body = load(NEW_TICKET[vendor])
    headers = signed_headers(vendor, body)
    with pytest.raises(SignatureError):
        verify(vendor, reserialised(body), headers)


@pytest.mark.parametrize("vendor", ALL)
def test_no_secret_configured_refuses_even_an_unsigned_request(vendor: str) -> None:
    body = load(NEW_TICKET[vendor])
    with pytest.raises(SignatureError, match="no webhook secret"):
        verify(vendor, body, signed_headers(vendor, body), ConnectorConfig())


@pytest.mark.parametrize("vendor", ALL)
def test_another_tenants_secret_is_refused(vendor: str) -> None:
    body = load(NEW_TICKET[vendor])
    with pytest.raises(SignatureError):
        verify(vendor, body, signed_headers(vendor, body, secret=SECRETS[vendor] + "-globex"))


@pytest.mark.parametrize("vendor", ["zendesk", "standard"])
def test_timestamp_just_outside_the_window_is_refused(vendor: str) -> None:
    body = load(NEW_TICKET[vendor])
    with pytest.raises(SignatureError, match="window"):
        verify(vendor, body, signed_headers(vendor, body, now=stale(minutes=5.1)))


@pytest.mark.parametrize("vendor", ["zendesk", "standard"])
def test_timestamp_from_the_future_is_refused(vendor: str) -> None:
    body = load(NEW_TICKET[vendor])
    with pytest.raises(SignatureError, match="window"):
        verify(vendor, body, signed_headers(vendor, body, now=datetime.now(UTC) + timedelta(minutes=6)))


@pytest.mark.parametrize("vendor", ["zendesk", "standard"])
def test_timestamp_inside_the_window_is_accepted(vendor: str) -> None:
    body = load(NEW_TICKET[vendor])
    verify(vendor, body, signed_headers(vendor, body, now=stale(minutes=4.5)))


def test_zendesk_timestamp_swapped_after_signing_is_refused() -> None:
    body = load(NEW_TICKET["zendesk"])
    headers = signed_headers("zendesk", body, now=stale(minutes=1))
    headers["X-Zendesk-Webhook-Signature-Timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(SignatureError):
        verify("zendesk", body, headers)


@pytest.mark.parametrize("vendor", SIGNING)
def test_previous_secret_still_verifies_during_rotation(vendor: str) -> None:
    body = load(NEW_TICKET[vendor])
    old = SECRETS[vendor] + "-old" if vendor != "standard" else "whsec_b2xkLWtleS1vbGQta2V5LW9sZC1rZXk="
    config = ConnectorConfig(secret=SecretStr(SECRETS[vendor]), previous_secrets=[SecretStr(old)])
    verify(vendor, body, signed_headers(vendor, body, secret=old), config)


def test_standard_webhooks_accepts_any_of_several_signatures() -> None:
    body = load(NEW_TICKET["standard"])
    headers = signed_headers("standard", body)
    forged = flip_last_byte("standard", headers)["webhook-signature"]
    headers["webhook-signature"] = f"v1a,bm90LWNoZWNrZWQ= {forged} {headers['webhook-signature']}"
    verify("standard", body, headers)


def test_standard_webhooks_refuses_when_every_signature_is_wrong() -> None:
    body = load(NEW_TICKET["standard"])
    headers = flip_last_byte("standard", signed_headers("standard", body))
    headers["webhook-signature"] += " v1,not-base64!!"
    with pytest.raises(SignatureError):
        verify("standard", body, headers)


def test_freshdesk_accepts_the_basic_credentials_the_admin_set_on_the_rule() -> None:
    import base64

    body = load(NEW_TICKET["freshdesk"])
    token = base64.b64encode(f"triage:{SECRETS['freshdesk']}".encode()).decode()
    verify("freshdesk", body, {"Authorization": f"Basic {token}"})


def test_freshdesk_refuses_basic_credentials_with_the_wrong_user() -> None:
    import base64

    body = load(NEW_TICKET["freshdesk"])
    token = base64.b64encode(f"admin:{SECRETS['freshdesk']}".encode()).decode()
    with pytest.raises(SignatureError):
        verify("freshdesk", body, {"Authorization": f"Basic {token}"})


@pytest.mark.parametrize("vendor", ["zammad", "intercom"])
def test_hub_signature_with_another_algorithm_is_refused(vendor: str) -> None:
    body = load(NEW_TICKET[vendor])
    headers = signed_headers(vendor, body)
    headers["X-Hub-Signature"] = headers["X-Hub-Signature"].replace("sha1=", "sha256=")
    with pytest.raises(SignatureError):
        verify(vendor, body, headers)
