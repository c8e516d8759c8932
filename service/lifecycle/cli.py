"""`triage erase`, `triage erasures` and `triage retention run`: the operator's side of the data lifecycle."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

retention_app = typer.Typer(help="Apply the data retention policy now.", no_args_is_help=True)


def _sessions() -> sessionmaker[Session]:
    from service.config import get_settings
    from service.storage.db import session_factory

    return session_factory(get_settings().sqlalchemy_url)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (some containers)
        return "unknown"


def erase(
    tenant: Annotated[str, typer.Option(help="The tenant whose data is erased.")],
    requester: Annotated[
        str | None, typer.Option(help="The requester id as the helpdesk sends it (Freshdesk: the e-mail).")
    ] = None,
    ticket: Annotated[str | None, typer.Option(help="A helpdesk ticket id (not ours).")] = None,
    source: Annotated[
        str | None, typer.Option(help="The helpdesk of --ticket, when the id exists in several.")
    ] = None,
    actor: Annotated[
        str | None, typer.Option(help="Who performs the erasure (default: the OS user).")
    ] = None,
    reference: Annotated[str | None, typer.Option(help="Your case number for the request.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Count what would go; remove and record nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the audit record as JSON.")] = False,
) -> None:
    """Erase everything stored about one customer (--requester) or one ticket (--ticket), and record it."""
    from service.lifecycle.schemas import ErasureIn, ErasureOut
    from service.lifecycle.service import AmbiguousTicket, Erasure, count_holdings, removed
    from service.lifecycle.service import erase as erase_rows

    try:
        body = ErasureIn(
            requester_id=requester,
            ticket_id=ticket,
            source=source,
            actor=actor or _operator(),
            reference=reference,
            dry_run=dry_run,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "options"
        typer.echo(f"error: {where}: {first['msg']}", err=True)
        raise typer.Exit(2) from exc
    erasure = Erasure.from_request(tenant, body)
    sessions = _sessions()
    try:
        if dry_run:
            with sessions() as session:
                counts = count_holdings(session, erasure)
            record = ErasureOut(
                id=None,
                tenant=tenant,
                selector=erasure.selector,
                actor=body.actor,
                via="cli",
                reference=reference,
                requested_at=datetime.now(UTC),
                counts=counts,
                rows_removed=removed(counts),
                dry_run=True,
            )
        else:
            with sessions.begin() as session:
                record = erase_rows(session, erasure, actor=body.actor, via="cli", reference=reference)
    except AmbiguousTicket as exc:
        typer.echo(f"error: {exc}; add --source", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(record.model_dump_json(indent=2))
        return
    done = "would remove" if dry_run else "removed"
    typer.echo(f"{done} {record.rows_removed} row(s) for tenant {tenant}:")
    for name, count in record.counts.items():
        typer.echo(f"  {name:<20}{count:>8}")
    if record.id is not None:
        typer.echo(f"audit record {record.id} ({record.requested_at.isoformat()}, by {record.actor})")


def erasures(
    tenant: Annotated[str, typer.Option(help="The tenant whose erasure audit trail is listed.")],
    limit: Annotated[int, typer.Option(help="Most records, newest first.")] = 100,
) -> None:
    """Print the tenant's erasure audit records (who, when, what, counts) as JSON lines."""
    from service.lifecycle.service import list_erasures

    with _sessions()() as session:
        for record in list_erasures(session, tenant=tenant, limit=limit):
            typer.echo(record.model_dump_json())


@retention_app.command("run")
def run() -> None:
    """Run the retention job once now, as the beat schedule does, and print what it removed."""
    from service.config import get_settings
    from service.lifecycle.retention import run_retention
    from service.tenants import get_tenants

    report = run_retention(sessions=_sessions(), tenants=get_tenants(), settings=get_settings())
    typer.echo(json.dumps(report.summary()))
