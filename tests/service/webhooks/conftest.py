"""An API whose tenants have every helpdesk connector configured with the test secrets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from service.config import Settings
from tests.conftest import make_settings
from tests.service.webhooks.signing import SECRETS


def tenants_document(secrets: dict[str, str]) -> dict[str, object]:
    return {
        "tenants": [
            {
                "name": "acme",
                "api_keys": ["acme-key"],
                "connectors": {
                    vendor: {"secret": secret, "bot_user_ids": ["bot-1"]}
                    for vendor, secret in secrets.items()
                },
            },
            {
                # Another account of the same vendors, with its own secrets.
                "name": "globex",
                "api_keys": ["globex-key"],
                "connectors": {vendor: {"secret": secret + "-globex"} for vendor, secret in secrets.items()},
            },
            # A tenant whose admin forgot the secret: its endpoints must refuse everything.
            {"name": "unsigned", "connectors": {vendor: {} for vendor in secrets}},
        ]
    }


@pytest.fixture
def webhook_settings(sqlite_url: str, tmp_path: Path) -> Settings:
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump(tenants_document(SECRETS)))
    return make_settings(sqlite_url, tenants_file=path)


@pytest.fixture
def webhook_client(webhook_settings: Settings) -> Iterator[TestClient]:
    from service.main import create_app

    with TestClient(create_app(webhook_settings)) as client:
        yield client
