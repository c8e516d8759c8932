"""`triage feedback export|metrics`: agents' corrections as training data, and how often they override us."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

feedback_app = typer.Typer(
    help="Export agent feedback for retraining and report acceptance.", no_args_is_help=True
)

DURATION = re.compile(r"^(\d+)([hdw])$")


def _since(value: str) -> datetime:
    match = DURATION.match(value.strip())
    if match:
        unit = {"h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r}: use a duration like 30d, 12h, 2w or an ISO date") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sessions() -> sessionmaker[Session]:
    from service.config import get_settings
    from service.storage.db import session_factory

    return session_factory(get_settings().sqlalchemy_url)


@feedback_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file to write (for `triage model train`).")],
    since: Annotated[str, typer.Option(help="How far back: 90d, 12h, 2w or an ISO date.")] = "365d",
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's feedback.")] = None,
) -> None:
    """Write score corrections (agents' and helpdesk priority changes) as labelled JSONL."""
    from service.feedback.export import export_to_file
    from service.feedback.service import capture_helpdesk_corrections

    moment = _since(since)
    with _sessions().begin() as session:
        captured = capture_helpdesk_corrections(session, tenant=tenant)
        try:
            count = export_to_file(session, out, since=moment, tenant=tenant)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(f"wrote {count} labelled example(s) to {out} ({captured} new helpdesk correction(s) captured)")


@feedback_app.command("metrics")
def metrics(
    since: Annotated[str, typer.Option(help="How far back: 30d, 12h, 2w or an ISO date.")] = "30d",
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print draft acceptance and score override rates per tenant and model version."""
    from service.feedback.service import capture_helpdesk_corrections, feedback_rates

    with _sessions().begin() as session:
        capture_helpdesk_corrections(session, tenant=tenant)
        rates = [r.as_json() for r in feedback_rates(session, since=_since(since), tenant=tenant)]
    if as_json:
        typer.echo(json.dumps(rates, indent=2))
        return
    typer.echo(
        f"{'tenant':<16}{'model':<28}{'triaged':>8}{'drafts':>8}{'accept':>8}{'edit':>8}{'frus.ovr':>9}{'urg.ovr':>9}"
    )
    for r in rates:
        typer.echo(
            f"{r['tenant']:<16}{r['model_version']:<28}{r['triaged']:>8}{r['drafts_offered']:>8}"
            f"{_pct(r['draft_acceptance_rate']):>8}{_pct(r['draft_edit_rate']):>8}"
            f"{_pct(r['frustration_override_rate']):>9}{_pct(r['urgency_override_rate']):>9}"
        )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"
