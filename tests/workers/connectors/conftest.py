"""Fake helpdesk servers, connectors pointed at them, and outbox-shaped actions."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
from pydantic import SecretStr

from service.tenants import ConnectorConfig
from tests.fakes.helpdesks import CREDENTIALS, FAKES, FakeHelpdesk
from workers.connectors.base import OutboundAction
from workers.connectors.helpdesk import HelpdeskConnector
from workers.connectors.ratelimit import RedisRateLimiter
from workers.connectors.registry import HELPDESKS

PUBLIC_URL = "https://triage.example.com"
TICKET = {
    "zendesk": "35436",
    "freshdesk": "1042",
    "zammad": "77",
    "helpscout": "2391938111",
    "intercom": "148",
}

TRIAGE = {
    "revision": 1,
    "frustration": {
        "probability": 0.91,
        "level": "severe",
        "evidence": [{"text": "third time I write", "weight": 0.7}],
    },
    "urgency": {
        "distribution": {"low": 0.02, "normal": 0.08, "high": 0.2, "critical": 0.7},
        "level": "critical",
        "probability": 0.7,
        "evidence": [{"text": "cannot bill anyone", "weight": 0.8}],
    },
    "language": "en",
    "supported": True,
    "reason_codes": ["repeat_contact", "outage"],
    "model_version": "triage-minilm-2026.11",
}


def action(vendor: str, kind: str = "ticket.triaged", **payload: Any) -> OutboundAction:
    """Return an action shaped like the ones `workers.outbox.plan_actions` stores."""
    body: dict[str, Any] = {
        "action": kind,
        "rule": "always" if kind == "ticket.triaged" else kind.split(".")[1],
        "reason": "frustration severe (0.91), urgency critical (0.70)",
        "params": {},
        "triage": TRIAGE,
    }
    if kind == "ticket.escalated":
        body["params"] = {
            "priority": "urgent",
            "tags": ["triage-escalated"],
            "group": None,
            "page_on_call": False,
        }
    if kind == "ticket.reply_drafted":
        body["draft"] = "I'm truly sorry. I've escalated this to a senior specialist."
    body.update(payload)
    return OutboundAction(
        id=f"act-{kind}",
        idempotency_key=f"t0001.1.{vendor}.{kind}",
        tenant="acme",
        kind=kind,
        ticket_id="t0001",
        source=vendor,
        external_id=TICKET[vendor],
        attempt=1,
        payload=body,
    )


def connector(
    vendor: str, base_url: str, *, limiter: Any = None, timeout: float = 5.0, **config: Any
) -> HelpdeskConnector:
    settings = ConnectorConfig(
        base_url=base_url,
        credentials={k: SecretStr(v) for k, v in CREDENTIALS[vendor].items()},
        **config,
    )
    return HELPDESKS[vendor](
        tenant="acme",
        config=settings,
        public_url=PUBLIC_URL,
        timeout=timeout,
        allow_private=True,
        limiter=limiter,
    )


@pytest.fixture(autouse=True)
def no_name_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any system name lookup: these tests reach only loopback, by address or a stubbed resolver.

    An address literal (what an HTTP client passes on to connect) still goes through, offline.
    """
    real = socket.getaddrinfo

    def literal_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, f"test refused a lookup of {name!r}") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", literal_only)


@pytest.fixture
def limiter() -> RedisRateLimiter:
    return RedisRateLimiter(fakeredis.FakeRedis())


@pytest.fixture(params=sorted(FAKES))
def vendor(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def fake(vendor: str) -> Iterator[tuple[FakeHelpdesk, str]]:
    """Start the vendor's fake API with one ticket; yield it and its base URL."""
    server = FAKES[vendor]()
    server.add_ticket(TICKET[vendor], tags=["billing"])
    with server.running() as base_url:
        yield server, base_url
