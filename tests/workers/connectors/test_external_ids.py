"""Hostile ticket ids never reach a helpdesk URL: refused per vendor format, before any request."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from tests.workers.connectors.conftest import action, connector
from workers.connectors.base import DeliveryResult
from workers.connectors.helpdesk import api_path
from workers.connectors.http import URLRefused

# Each one would add path, query or fragment to the URL, or is not the vendor's id at all.
HOSTILE_IDS = [
    "1/../../../users/me/x?y=",
    "1/2",
    "..",
    ".",
    "%2e%2e",
    "1%2F2",
    "1?y=",
    "1#x",
    " 1",
    "1 ",
    "1\t",
    "1\n",
    "",
    "١٢٣",  # Arabic-Indic digits: `str.isdigit` and `\d` say yes
    "\uff11\uff12\uff13",  # fullwidth digits
    "1é",
    "-1",
    "+1",
    "1.0",
]
# Zendesk, Freshdesk, Zammad and Help Scout ids are positive integers; Intercom's are digit strings.
NOT_POSITIVE = ["0", "01"]
INTEGER_VENDORS = ["zendesk", "freshdesk", "zammad", "helpscout"]
KINDS = ["ticket.triaged", "ticket.escalated", "ticket.reply_drafted"]


class RecordingTransport(httpx.MockTransport):
    """A transport that records requests and answers 500, so nothing is ever written anywhere."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        super().__init__(self.record)

    def record(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(500)


def deliver(
    vendor: str, external_id: str, kind: str = "ticket.triaged"
) -> tuple[DeliveryResult, RecordingTransport]:
    transport = RecordingTransport()
    helpdesk = connector(vendor, "http://127.0.0.1:9")
    helpdesk.transport = transport
    result = helpdesk.deliver(replace(action(vendor, kind), external_id=external_id))
    return result, transport


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("external_id", HOSTILE_IDS)
def test_hostile_id_is_refused_for_good_and_nothing_is_sent(vendor: str, external_id: str, kind: str) -> None:
    result, transport = deliver(vendor, external_id, kind)

    assert transport.requests == []
    assert not result.ok and result.permanent
    assert result.error == f"external id is not a {vendor} id"


@pytest.mark.parametrize("external_id", NOT_POSITIVE)
@pytest.mark.parametrize("vendor_name", INTEGER_VENDORS)
def test_integer_vendors_refuse_ids_that_are_not_positive(vendor_name: str, external_id: str) -> None:
    result, transport = deliver(vendor_name, external_id)

    assert transport.requests == [] and result.permanent


def test_a_well_formed_id_does_reach_the_transport(vendor: str) -> None:
    # The control for the tests above: the same set-up does send when the id is the vendor's.
    result, transport = deliver(vendor, "35")

    assert len(transport.requests) >= 1
    assert not result.permanent  # a 500 is worth another try
    assert all(r.url.host == "127.0.0.1" for r in transport.requests)


def test_intercom_takes_long_digit_strings_and_zero() -> None:
    for external_id in ("0", "215468841234567890123"):
        _, transport = deliver("intercom", external_id)
        assert len(transport.requests) == 1


def test_api_path_keeps_each_segment_one_segment() -> None:
    assert api_path("/api/v2/tickets", "1/../users?x=#y z", "tags.json") == (
        "/api/v2/tickets/1%2F..%2Fusers%3Fx%3D%23y%20z/tags.json"
    )
    assert api_path("/api/v2/tickets", "%2e%2e", suffix=".json") == "/api/v2/tickets/%252e%252e.json"
    assert api_path("/conversations", "é") == "/conversations/%C3%A9"


@pytest.mark.parametrize("segment", ["", ".", ".."])
def test_api_path_refuses_segments_a_server_would_resolve(segment: str) -> None:
    with pytest.raises(URLRefused):
        api_path("/api/v1/tickets", segment)
