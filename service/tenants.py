"""Tenants: each helpdesk account the service serves, with its API keys, secrets and credentials."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from service.config import Settings

DEFAULT_TENANT = "default"


class ConnectorConfig(BaseModel):
    """One helpdesk account of a tenant: inbound secrets, outbound credentials and mappings.

    Everything secret is a `SecretStr`, so it never shows in a repr, a log line or an error.
    """

    model_config = ConfigDict(extra="allow")

    # Inbound: the signing secret the helpdesk uses (Freshdesk: the shared secret the admin puts in
    # the rule's header or basic-auth password). `previous_secrets` keep deliveries signed with a
    # rotated-out key valid while the helpdesk switches over.
    secret: SecretStr | None = None
    previous_secrets: list[SecretStr] = Field(default_factory=list)
    # Freshdesk basic credentials: the user name the admin typed next to the shared secret.
    basic_username: str = "triage"
    timestamp_tolerance_seconds: int = Field(300, ge=1, le=3600)
    # Authors (helpdesk user/admin ids) whose events are ours: ignored at intake, so the notes we
    # write back never come round as new customer messages (no feedback loop).
    bot_user_ids: list[str] = Field(default_factory=list)

    # Outbound
    base_url: str | None = None
    credentials: dict[str, SecretStr] = Field(default_factory=dict)
    priority_map: dict[str, str | int] = Field(default_factory=dict)
    group_map: dict[str, str | int] = Field(default_factory=dict)
    # Drafts stay internal unless the tenant opts in here AND the policy marks the action as sendable.
    allow_send_drafts: bool = False
    rate_limit_per_minute: int | None = Field(None, ge=1)

    def signing_secrets(self) -> list[bytes]:
        """Return the current and previous inbound secrets as bytes, empty ones left out."""
        values = [self.secret, *self.previous_secrets]
        return [v.get_secret_value().encode() for v in values if v is not None and v.get_secret_value()]

    def credential(self, name: str) -> str | None:
        """Return one outbound credential in clear, for building a request header only."""
        value = self.credentials.get(name)
        return value.get_secret_value() if value is not None else None


class TenantCalibration(BaseModel):
    """How this tenant's inbox differs from the corpus the model was calibrated on.

    Fitted by `triage model fit-tenant` from the tenant's own labelled tickets (a feedback export);
    the defaults change nothing.
    """

    model_config = ConfigDict(extra="forbid")

    # Added to the log-odds of P(frustrated): a tenant whose customers are frustrated less often than the
    # corpus (a real inbox usually is) gets a negative shift, so probabilities match its own rate.
    frustration_shift: float = Field(0.0, ge=-5.0, le=5.0)
    # Calibrated P(frustrated), after the shift, from which a ticket is at least "moderate";
    # None keeps the model's own threshold.
    moderate_threshold: float | None = Field(None, gt=0.0, lt=1.0)


class Tenant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    api_keys: list[SecretStr] = Field(default_factory=list)
    connectors: dict[str, ConnectorConfig] = Field(default_factory=dict)
    outbound_webhook_url: str | None = None
    outbound_webhook_secret: SecretStr | None = None
    calibration: TenantCalibration = Field(default_factory=TenantCalibration)

    def connector(self, name: str) -> ConnectorConfig | None:
        """Return this tenant's configuration of helpdesk connector `name`, if it has one."""
        return self.connectors.get(name)


class TenantsFileError(ValueError):
    """The tenants file is unreadable or invalid; the message names the field."""


class TenantRegistry:
    """Look tenants up by name or by API key."""

    def __init__(self, tenants: list[Tenant]):
        self._by_name = {t.name: t for t in tenants}

    def get(self, name: str) -> Tenant | None:
        return self._by_name.get(name)

    def by_api_key(self, presented: str) -> Tenant | None:
        """Return the tenant owning `presented`, comparing every key in constant time."""
        found = None
        for tenant in self._by_name.values():
            for key in tenant.api_keys:
                # Compare all keys even after a match, so timing does not tell which tenant matched.
                if hmac.compare_digest(key.get_secret_value().encode(), presented.encode()):
                    found = tenant
        return found

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self._by_name.values())


def load_tenants(settings: Settings) -> TenantRegistry:
    """Read the tenants file, or build the single default tenant from the settings."""
    tenants: list[Tenant] = []
    if settings.tenants_file:
        tenants = _read_tenants_file(settings.tenants_file)
    if not any(t.name == DEFAULT_TENANT for t in tenants):
        tenants.append(
            Tenant(
                name=DEFAULT_TENANT,
                api_keys=[settings.api_key] if settings.api_key else [],
                outbound_webhook_url=settings.outbound_webhook_url,
                outbound_webhook_secret=settings.outbound_webhook_secret,
            )
        )
    return TenantRegistry(tenants)


def _read_tenants_file(path: Path) -> list[Tenant]:
    try:
        raw: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TenantsFileError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("tenants"), list):
        raise TenantsFileError(f"{path}: expected a mapping with a 'tenants' list")
    tenants = []
    for index, entry in enumerate(raw["tenants"]):
        try:
            tenants.append(Tenant.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise TenantsFileError(f"{path}: tenants[{index}].{where}: {first['msg']}") from exc
    return tenants


@lru_cache
def get_tenants() -> TenantRegistry:
    from service.config import get_settings

    return load_tenants(get_settings())
