"""Every status the API answers on a hostile request is one its OpenAPI operation documents."""

from __future__ import annotations

from typing import Any

import pytest

from service.main import create_app
from tests.conftest import make_settings

SPEC: dict[str, Any] = create_app(make_settings("sqlite://")).openapi()
API_OPERATIONS = [
    (method.upper(), path)
    for path, operations in SPEC["paths"].items()
    for method in operations
    if path.startswith("/v1/") and not path.startswith("/v1/webhooks/")
]
BODY_OPERATIONS = [(m, p) for m, p in API_OPERATIONS if "requestBody" in SPEC["paths"][p][m.lower()]]


def documented(method: str, path: str) -> set[int]:
    return {int(status) for status in SPEC["paths"][path][method.lower()]["responses"]}


@pytest.mark.parametrize(("method", "path"), API_OPERATIONS)
def test_a_call_without_an_api_key_gets_a_documented_401(client, method, path) -> None:
    response = client.request(method, path.replace("{", "").replace("}", ""))

    assert response.status_code == 401
    assert 401 in documented(method, path)


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_a_body_that_is_not_utf8_gets_a_documented_status(client, auth, method, path) -> None:
    # Found by schemathesis: FastAPI answers 400, which neither route documented.
    headers = {**auth, "Content-Type": "application/json"}
    response = client.request(
        method, path.replace("{", "").replace("}", ""), content=b'{"a": "\xff"}', headers=headers
    )

    assert response.status_code in documented(method, path), response.text
