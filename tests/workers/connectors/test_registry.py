"""Which connectors a tenant's configuration builds."""

from __future__ import annotations

import fakeredis
from pydantic import SecretStr

from service.tenants import ConnectorConfig, Tenant
from tests.conftest import make_settings
from workers.connectors.ratelimit import RedisRateLimiter
from workers.connectors.registry import build_connectors


def test_helpdesks_with_credentials_are_built_and_inbound_only_ones_are_not() -> None:
    tenant = Tenant(
        name="acme",
        connectors={
            "zendesk": ConnectorConfig(
                base_url="https://acme.zendesk.com",
                secret=SecretStr("s"),
                credentials={"email": SecretStr("bot@acme.test"), "api_token": SecretStr("t")},
            ),
            "intercom": ConnectorConfig(
                credentials={"access_token": SecretStr("t"), "admin_id": SecretStr("1")}
            ),
            "zammad": ConnectorConfig(secret=SecretStr("inbound only")),
            "standard": ConnectorConfig(secret=SecretStr("whsec_c2VjcmV0")),
        },
    )
    built = build_connectors(
        tenant, make_settings("sqlite://"), limiter=RedisRateLimiter(fakeredis.FakeRedis())
    )

    assert sorted(built) == ["intercom", "zendesk"]
    assert built["intercom"].base_url == "https://api.intercom.io"  # type: ignore[attr-defined]


def test_helpdesk_without_a_base_url_is_skipped_not_fatal() -> None:
    tenant = Tenant(
        name="acme", connectors={"freshdesk": ConnectorConfig(credentials={"api_key": SecretStr("k")})}
    )
    assert (
        build_connectors(tenant, make_settings("sqlite://"), limiter=RedisRateLimiter(fakeredis.FakeRedis()))
        == {}
    )


def test_secrets_do_not_show_in_the_tenant_repr() -> None:
    config = ConnectorConfig(
        secret=SecretStr("inbound-s3cret"), credentials={"api_token": SecretStr("tok-s3cret")}
    )
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.model_dump())
