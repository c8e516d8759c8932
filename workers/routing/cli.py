"""`triage policy check|replay`: validate a routing policy and see its effect before switching to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from workers.routing.policy import PolicyError, ladder_warnings, load_policy

policy_app = typer.Typer(help="Check and replay routing policies.", no_args_is_help=True)


@policy_app.command("check")
def check(file: Annotated[Path, typer.Argument(help="Policy YAML to validate.")]) -> None:
    """Validate a policy file against the schema; exit 1 naming the line of the first error."""
    try:
        policy = load_policy(file)
    except PolicyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for warning in ladder_warnings(policy):
        typer.echo(f"warning: {warning}", err=True)
    shadow = sum(1 for rule in policy.rules if rule.shadow)
    typer.echo(
        f"{file}: ok, {len(policy.rules)} rule(s) ({shadow} in shadow mode), "
        f"fingerprint {policy.fingerprint()}"
    )


@policy_app.command("replay")
def replay_command(
    file: Annotated[Path, typer.Argument(help="The new policy YAML.")],
    since: Annotated[str, typer.Option(help="How far back: 7d, 12h, 2w or an ISO date.")] = "7d",
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's tickets.")] = None,
    examples: Annotated[int, typer.Option(help="How many changed tickets to show.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Re-decide stored tickets under FILE and print what would change, per action, with examples."""
    from service.config import get_settings
    from service.storage.db import session_factory
    from workers.routing.replay import format_report, parse_since, replay

    try:
        policy = load_policy(file)
        moment = parse_since(since)
    except (PolicyError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    sessions = session_factory(get_settings().sqlalchemy_url)
    with sessions() as session:
        report = replay(session, policy, since=moment, tenant=tenant, examples=examples)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "tickets": report.tickets,
                    "changed": report.changed,
                    "policy": policy.fingerprint(),
                    "actions": [
                        {"action": a, "mode": m, "before": b, "after": af, "added": ad, "removed": r}
                        for a, m, b, af, ad, r in report.rows()
                    ],
                    "examples": [
                        {
                            "ticket_id": c.ticket_id,
                            "added": [list(x) for x in c.added],
                            "removed": [list(x) for x in c.removed],
                        }
                        for c in report.changes
                    ],
                },
                indent=2,
            )
        )
        return
    typer.echo(format_report(report, policy, moment))
