"""Erasure removes every trace of one customer, in one transaction, leaves an audit row, and is idempotent."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from service.config import Settings
from service.feedback.export import write_export
from service.feedback.service import feedback_rates
from service.lifecycle.service import AmbiguousTicket, Erasure, count_holdings, erase
from service.storage.db import Base, session_factory
from service.storage.models import ErasureRow, TicketRow, TriageRow
from tests.conftest import make_settings
from tests.service.lifecycle.builders import BERTIL, ODALYS, Customer, build_footprint, grep
from tests.workers.helpers import add_ticket

YEAR_AGO = datetime.now(UTC) - timedelta(days=365)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def sessions(settings: Settings) -> sessionmaker[Session]:
    return session_factory(settings.sqlalchemy_url)


def row_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def traces(session: Session, customer: Customer, ticket_ids: list[str]) -> dict[str, set[str]]:
    return {
        needle: where for needle, where in grep(session, [*customer.strings, *ticket_ids]).items() if where
    }


def test_erasure_removes_every_trace_of_the_customer(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    odalys = build_footprint(sessions, settings, ODALYS).ticket_ids
    bertil = build_footprint(sessions, settings, BERTIL).ticket_ids
    with sessions() as session:
        before = traces(session, ODALYS, odalys)
        bertil_before = traces(session, BERTIL, bertil)
    # The search is sharp: before the erasure every string is found, in every kind of table.
    assert set(before) == {*ODALYS.strings, *odalys}
    assert {where.split(".")[0] for found in before.values() for where in found} >= {
        "tickets", "messages", "triage_results", "decisions", "actions", "feedback", "inbound_deliveries",
    }  # fmt: skip

    with sessions.begin() as session:
        record = erase(
            session, Erasure("default", "requester", ODALYS.requester_id), actor="dpo-lena", via="cli",
            reference="DSAR-2026-0042",
        )  # fmt: skip

    with sessions() as session:
        assert traces(session, ODALYS, odalys) == {}
        assert traces(session, BERTIL, bertil) == bertil_before, "another customer's data was touched"
        audit = session.scalars(select(ErasureRow)).one()
    assert record.counts["tickets"] == 2 and record.counts["messages"] == 2
    assert record.counts["inbound_deliveries"] == 2 and record.counts["feedback"] == 4
    assert record.rows_removed == sum(v for k, v in record.counts.items() if k != "references")
    assert (audit.tenant, audit.selector, audit.actor, audit.via, audit.reference) == (
        "default", "requester", "dpo-lena", "cli", "DSAR-2026-0042",
    )  # fmt: skip


def test_erasing_twice_removes_nothing_the_second_time(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    build_footprint(sessions, settings, ODALYS)
    build_footprint(sessions, settings, BERTIL)
    erasure = Erasure("default", "requester", ODALYS.requester_id)
    with sessions.begin() as session:
        first = erase(session, erasure, actor="dpo", via="cli")
    with sessions() as session:
        after_first = row_counts(session)

    with sessions.begin() as session:
        second = erase(session, erasure, actor="dpo", via="cli")

    with sessions() as session:
        after_second = row_counts(session)
    assert first.rows_removed > 0
    assert second.rows_removed == 0 and set(second.counts.values()) == {0}
    # Only the audit trail grows: the second request is recorded too.
    assert after_second == {**after_first, "erasures": after_first["erasures"] + 1}


def test_erasing_one_ticket_keeps_the_customers_others_and_their_history_forgets_it(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    first, second = build_footprint(sessions, settings, ODALYS).ticket_ids
    with sessions() as session:
        assert first in str(
            session.scalars(select(TriageRow.result).where(TriageRow.ticket_id == second)).one()
        )

    with sessions.begin() as session:
        record = erase(session, Erasure("default", "ticket", "OQ-4471"), actor="dpo", via="api")

    with sessions() as session:
        assert session.get(TicketRow, first) is None and session.get(TicketRow, second) is not None
        assert traces(session, ODALYS, [first]).keys() == {
            ODALYS.requester_id,
            ODALYS.name,
            ODALYS.order,
            "OQ-4472",
        }
    assert record.counts["tickets"] == 1 and record.counts["references"] >= 1


def test_a_ticket_id_in_two_helpdesks_needs_its_source(sessions: sessionmaker[Session]) -> None:
    add_ticket(sessions, "a", external_id="77")
    with sessions.begin() as session:
        session.add(
            TicketRow(tenant="default", source="zendesk", external_id="77", subject="", status="triaged")
        )

    with sessions.begin() as session, pytest.raises(AmbiguousTicket):
        erase(session, Erasure("default", "ticket", "77"), actor="dpo", via="cli")
    with sessions.begin() as session:
        record = erase(session, Erasure("default", "ticket", "77", source="zendesk"), actor="dpo", via="cli")

    assert record.counts["tickets"] == 1


def test_erasure_stays_within_its_tenant(sessions: sessionmaker[Session], settings: Settings) -> None:
    build_footprint(sessions, settings, ODALYS)
    other = Customer(ODALYS.requester_id, "Other Person", "OT-1", ("OT-2",), tenant="globex")
    build_footprint(sessions, settings, other)

    with sessions.begin() as session:
        erase(session, Erasure("globex", "requester", ODALYS.requester_id), actor="dpo", via="cli")

    with sessions() as session:
        assert session.scalar(select(func.count()).where(TicketRow.tenant == "default")) == 2
        assert session.scalar(select(func.count()).where(TicketRow.tenant == "globex")) == 0


def test_exports_hold_nothing_of_an_erased_customer(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    build_footprint(sessions, settings, ODALYS)
    build_footprint(sessions, settings, BERTIL)
    with sessions() as session:
        before = io.StringIO()
        write_export(session, before, since=YEAR_AGO)
        verdicts_before = sum(sum(r.verdicts.values()) for r in feedback_rates(session, since=YEAR_AGO))
    assert ODALYS.name in before.getvalue()  # the export replaces long numbers: names show

    with sessions.begin() as session:
        erase(session, Erasure("default", "requester", ODALYS.requester_id), actor="dpo", via="cli")

    with sessions() as session:
        after = io.StringIO()
        write_export(session, after, since=YEAR_AGO)
        rates = feedback_rates(session, since=YEAR_AGO)
    assert ODALYS.name not in after.getvalue() and BERTIL.name in after.getvalue()
    # The feedback counts lose the erased customer's verdicts: 2 tickets, one draft verdict each.
    assert sum(sum(r.verdicts.values()) for r in rates) == verdicts_before - 2


def test_a_dry_run_counts_and_changes_nothing(sessions: sessionmaker[Session], settings: Settings) -> None:
    build_footprint(sessions, settings, ODALYS)
    erasure = Erasure("default", "requester", ODALYS.requester_id)
    with sessions() as session:
        before = row_counts(session)
        counted = count_holdings(session, erasure)

    with sessions.begin() as session:
        record = erase(session, erasure, actor="dpo", via="cli")

    assert counted == record.counts
    assert before["tickets"] == 2


# --- the admin API -----------------------------------------------------------------------------


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    from service.main import create_app

    path = tmp_path / "tenants.yaml"
    tenants = [
        {"name": "default", "api_keys": ["default-key"]},
        {"name": "globex", "api_keys": ["globex-key"]},
    ]
    path.write_text(yaml.safe_dump({"tenants": tenants}))
    with TestClient(create_app(make_settings(database_url, tenants_file=path))) as client:
        yield client


def test_admin_api_erases_a_customer_and_lists_the_audit(
    api: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    build_footprint(sessions, settings, ODALYS)
    body = {"requester_id": ODALYS.requester_id, "actor": "dpo-lena", "reference": "DSAR-7"}
    headers = {"X-API-Key": "default-key"}

    dry = api.post("/v1/admin/erasures", json={**body, "dry_run": True}, headers=headers)
    done = api.post("/v1/admin/erasures", json=body, headers=headers)
    again = api.post("/v1/admin/erasures", json=body, headers=headers)
    listed = api.get("/v1/admin/erasures", headers=headers)

    assert dry.status_code == 200 and dry.json()["id"] is None and dry.json()["dry_run"]
    assert done.status_code == 200, done.text
    assert done.json()["counts"] == dry.json()["counts"] and done.json()["counts"]["tickets"] == 2
    assert again.json()["rows_removed"] == 0
    assert [r["rows_removed"] for r in listed.json()] == [0, done.json()["rows_removed"]]
    assert ODALYS.requester_id not in listed.text, "the audit trail names the customer"
    with sessions() as session:
        assert traces(session, ODALYS, []) == {}


def test_admin_api_erases_only_the_callers_tenant(
    api: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    build_footprint(sessions, settings, ODALYS)
    body = {"requester_id": ODALYS.requester_id, "actor": "someone"}

    other = api.post("/v1/admin/erasures", json=body, headers={"X-API-Key": "globex-key"})
    anonymous = api.post("/v1/admin/erasures", json=body)

    assert other.status_code == 200 and other.json()["rows_removed"] == 0
    assert anonymous.status_code == 401
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(TicketRow)) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"actor": "dpo"},  # no selector
        {"requester_id": "a", "ticket_id": "1", "actor": "dpo"},  # both
        {"requester_id": "a", "source": "zendesk", "actor": "dpo"},  # source without a ticket
        {"requester_id": "a"},  # nobody takes responsibility
        {"requester_id": "a\x00b", "actor": "dpo"},  # NUL, which PostgreSQL cannot compare
        {"requester_id": "a", "actor": "dpo", "reference": "jane@example.com"},  # personal data
        {"requester_id": "a", "actor": "dpo", "extra": 1},
    ],
    ids=["none", "both", "source-alone", "no-actor", "nul", "email-reference", "extra-field"],
)
def test_admin_api_refuses_a_bad_request(api: TestClient, body: dict[str, object]) -> None:
    response = api.post("/v1/admin/erasures", json=body, headers={"X-API-Key": "default-key"})

    assert response.status_code == 422, response.text


def test_admin_api_answers_409_for_an_ambiguous_ticket(
    api: TestClient, sessions: sessionmaker[Session]
) -> None:
    add_ticket(sessions, "a", external_id="77")
    with sessions.begin() as session:
        session.add(
            TicketRow(tenant="default", source="zendesk", external_id="77", subject="", status="triaged")
        )

    response = api.post(
        "/v1/admin/erasures", json={"ticket_id": "77", "actor": "dpo"}, headers={"X-API-Key": "default-key"}
    )

    assert response.status_code == 409
    assert "api, zendesk" in response.json()["detail"]


# --- the CLI -----------------------------------------------------------------------------------


def test_triage_erase_command(
    sessions: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service import cli

    build_footprint(sessions, settings, ODALYS)
    monkeypatch.setattr("service.config.get_settings", lambda: settings)
    runner = CliRunner()
    args = ["erase", "--tenant", "default", "--requester", ODALYS.requester_id, "--actor", "dpo"]

    dry = runner.invoke(cli.app, [*args, "--dry-run"])
    done = runner.invoke(cli.app, [*args, "--reference", "DSAR-9"])
    listed = runner.invoke(cli.app, ["erasures", "--tenant", "default"])
    bad = runner.invoke(cli.app, ["erase", "--tenant", "default", "--actor", "dpo"])

    assert dry.exit_code == 0 and "would remove" in dry.output
    assert done.exit_code == 0 and "audit record" in done.output, done.output
    assert '"reference":"DSAR-9"' in listed.output and ODALYS.requester_id not in listed.output
    assert bad.exit_code == 2 and "exactly one of requester_id and ticket_id" in bad.output
    with sessions() as session:
        assert traces(session, ODALYS, []) == {}


def test_a_ticket_erased_while_a_worker_scores_it_is_not_written_back(
    sessions: sessionmaker[Session],
) -> None:
    from tests.fakes.classifier import MarkerClassifier
    from workers.pipeline import triage_tickets
    from workers.routing.policy import load_policy

    ticket_id = add_ticket(sessions, "Please delete my data", requester_id=ODALYS.requester_id)

    class ErasedMidway(MarkerClassifier):
        def predict(self, texts):
            with sessions.begin() as session:
                erase(session, Erasure("default", "requester", ODALYS.requester_id), actor="dpo", via="api")
            return super().predict(texts)

    [outcome] = triage_tickets(
        sessions=sessions,
        ticket_ids=[ticket_id],
        classifier=ErasedMidway(),
        policy=load_policy(None),
        connectors_for=lambda tenant: {},
        max_deliveries=5,
    )

    assert outcome.status == "skipped"
    with sessions() as session:
        assert row_counts(session)["triage_results"] == 0 and row_counts(session)["tickets"] == 0


def test_api_metrics_count_erasures_per_tenant(api: TestClient, sessions: sessionmaker[Session]) -> None:
    add_ticket(sessions, "a", requester_id="r-1")
    admin = {"X-API-Key": "default-key"}
    api.post("/v1/admin/erasures", json={"requester_id": "r-1", "actor": "dpo"}, headers=admin)
    api.post("/v1/admin/erasures", json={"requester_id": "r-1", "actor": "dpo"}, headers=admin)

    text = api.get("/metrics", headers=admin).text

    assert 'triage_erasures_total{tenant="default"} 2.0' in text
    assert 'triage_erased_rows_total{tenant="default"} 2.0' in text  # the ticket and its message
    assert 'triage_erasures_total{tenant="globex"} 0.0' in text


def test_admin_api_answers_a_body_that_is_not_utf8_with_a_documented_400(api: TestClient) -> None:
    headers = {"X-API-Key": "default-key", "Content-Type": "application/json"}

    response = api.post("/v1/admin/erasures", content=b'{"requester_id": "\xff"}', headers=headers)

    assert response.status_code == 400
    assert "400" in api.get("/openapi.json").json()["paths"]["/v1/admin/erasures"]["post"]["responses"]
