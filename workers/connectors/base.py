"""The outbound seam: one small base class that every write-back connector implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class OutboundAction:
    """What a connector needs to carry out one action; `idempotency_key` is the same on every try."""

    id: str
    idempotency_key: str
    tenant: str
    kind: str
    ticket_id: str
    source: str
    external_id: str
    attempt: int
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    status_code: int | None = None
    retry_after: float | None = None
    error: str | None = None
    # A permanent failure (410 Gone, a refused URL) goes straight to the dead-letter state.
    permanent: bool = False
    rate_limited: bool = False


class Connector(ABC):
    """Writes triage outcomes somewhere outside: a helpdesk's API, or a signed webhook."""

    name: ClassVar[str]

    def accepts(self, source: str) -> bool:
        """Return whether this connector acts on tickets from `source`; vendor connectors own theirs."""
        return True

    @abstractmethod
    def deliver(self, action: OutboundAction) -> DeliveryResult:
        """Carry out `action` once; never raise for an HTTP or network failure, return it."""
