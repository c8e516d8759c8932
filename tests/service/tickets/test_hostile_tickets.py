"""`POST /v1/tickets` under hostile input: one mutation per test, refused, nothing stored or queued."""

from __future__ import annotations

import re

import pytest

from service.config import Settings
from tests.service.hostile import stored_rows

VALID = {"external_id": "4711", "messages": [{"body": "You charged my card twice."}]}

# Ids that would steer a connector's URL, or that no helpdesk issues.
HOSTILE_IDS = [
    "1/2",
    "..",
    "1..2",
    "%2e%2e",
    "1?x=y",
    "1#x",
    "1 2",
    " 1",
    "1\n",
    "1\t",
    "\u0661\u0662",  # Arabic-Indic digits
    "t\u00e9",
    "",
    "1\x00",
    "x" * 129,
]


def post(client, auth, body):  # type: ignore[no-untyped-def]
    return client.post("/v1/tickets", json=body, headers=auth)


@pytest.mark.parametrize("external_id", HOSTILE_IDS)
@pytest.mark.parametrize("source", ["api", "zendesk", "freshdesk", "zammad", "helpscout", "intercom"])
def test_hostile_external_id_is_422_naming_the_field(
    source, external_id, client, auth, enqueued, settings: Settings
) -> None:
    response = post(client, auth, {**VALID, "source": source, "external_id": external_id})

    assert response.status_code == 422, response.text
    assert ["body", "external_id"] in [error["loc"] for error in response.json()["detail"]]
    assert stored_rows(settings) == 0 and enqueued == []


@pytest.mark.parametrize("source", ["zendesk", "freshdesk", "zammad", "helpscout"])
@pytest.mark.parametrize("external_id", ["T-1", "0", "-1", "01", "1.5", "99999999999999999999"])
def test_integer_helpdesks_refuse_ids_that_are_not_positive_integers(
    source, external_id, client, auth, enqueued, settings: Settings
) -> None:
    response = post(client, auth, {**VALID, "source": source, "external_id": external_id})

    assert response.status_code == 422
    assert stored_rows(settings) == 0 and enqueued == []


@pytest.mark.parametrize(
    ("source", "external_id"),
    [("zendesk", "35436"), ("intercom", "0148"), ("helpscout", "2391938111"), ("api", "ZD-1:a.b_c")],
)
def test_well_formed_ids_are_accepted(source, external_id, client, auth, enqueued) -> None:
    response = post(client, auth, {**VALID, "source": source, "external_id": external_id})
    assert response.status_code == 202, response.text


def test_message_time_as_a_number_is_422(client, auth, enqueued, settings: Settings) -> None:
    body = {**VALID, "messages": [{"body": "Hello", "created_at": 0}]}

    response = post(client, auth, body)

    assert response.status_code == 422
    assert ["body", "messages", 0, "created_at"] in [e["loc"] for e in response.json()["detail"]]
    assert stored_rows(settings) == 0 and enqueued == []


def test_message_time_as_unix_seconds_in_a_string_is_422(client, auth, enqueued, settings: Settings) -> None:
    response = post(client, auth, {**VALID, "messages": [{"body": "Hello", "created_at": "1700000000"}]})

    assert response.status_code == 422
    assert stored_rows(settings) == 0 and enqueued == []


def test_message_time_that_leaves_the_calendar_in_utc_is_422(client, auth, enqueued, settings) -> None:
    body = {**VALID, "messages": [{"body": "Hello", "created_at": "9999-12-31T23:59:59-23:59"}]}

    assert post(client, auth, body).status_code == 422
    assert stored_rows(settings) == 0 and enqueued == []


def test_json_nested_ten_thousand_deep_is_422_not_500(client, auth, enqueued, settings: Settings) -> None:
    body = b'{"external_id": "1", "messages": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"

    response = client.post("/v1/tickets", content=body, headers={**auth, "Content-Type": "application/json"})

    assert response.status_code == 422
    assert "nested" in response.json()["detail"]
    assert stored_rows(settings) == 0 and enqueued == []


def test_brackets_inside_strings_do_not_count_as_depth(client, auth, enqueued) -> None:
    body = {**VALID, "messages": [{"body": "[" * 500 + "{" * 500}]}
    assert post(client, auth, body).status_code == 202


def test_json_answers_carry_nosniff_and_no_framing(client, auth, enqueued) -> None:
    response = post(client, auth, VALID)

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert client.get("/v1/tickets/nope", headers=auth).headers["x-content-type-options"] == "nosniff"


def test_openapi_says_an_edited_draft_needs_non_blank_text(client) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["DraftVerdict"]

    assert schema["if"]["properties"]["verdict"] == {"const": "edited"}
    assert "text" in schema["then"]["required"]
    pattern = re.compile(schema["then"]["properties"]["text"]["pattern"])
    matches = [bool(pattern.search(text)) for text in ("Hi", " \n", "\x00", " \x00 ")]
    assert matches == [True, False, False, False]  # blank, or only NUL (stripped), is no text


def test_openapi_documents_every_webhook_body(client) -> None:
    spec = client.get("/openapi.json").json()
    webhook_posts = [ops["post"] for path, ops in spec["paths"].items() if path.startswith("/v1/webhooks/")]

    assert len(webhook_posts) == 12
    assert all("schema" in op["requestBody"]["content"]["application/json"] for op in webhook_posts)
    assert {"ZendeskTrigger", "FreshdeskRule", "IntercomNotification"} <= set(spec["components"]["schemas"])
