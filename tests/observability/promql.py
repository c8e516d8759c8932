"""Read the dashboards and alert rules of deploy/, and turn their PromQL into queries a test can run."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
RULES = ROOT / "deploy" / "prometheus" / "rules"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests"

# What Grafana would put in place of its variables when the dashboard shows "All" over the last hour.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "15s",
    "$__range": "1h",
    "$tenant": ".*",
    "$connector": ".*",
}
COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
# Metric names in our PromQL: ours all start with triage_, and `up` is Prometheus's own.
SELECTOR = re.compile(r"\b(triage_[a-zA-Z0-9_]+|up)\b(\s*\{[^}]*\})?")
MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it lives, for test ids and failure messages."""

    where: str
    expr: str


def dashboards() -> dict[str, dict[str, Any]]:
    """Return every dashboard JSON by file name."""
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield every panel that queries data, including those nested in collapsed rows."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def dashboard_queries() -> list[Query]:
    """Return the expression of every target of every panel of every dashboard."""
    found = []
    for name, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                found.append(Query(f"{name}: {panel['title']} [{target['refId']}]", target["expr"]))
    return found


def variable_queries() -> list[Query]:
    """Return the `label_values(metric, label)` query of every dashboard variable."""
    found = []
    for name, dashboard in dashboards().items():
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                found.append(Query(f"{name}: ${variable['name']}", variable["definition"]))
    return found


def alert_rules() -> list[dict[str, Any]]:
    """Return every alerting rule of every rules file."""
    rules = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [rule for rule in group["rules"] if "alert" in rule]
    return rules


def alert_queries() -> list[Query]:
    """Return every alert's expression."""
    return [Query(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]


def substitute(expr: str) -> str:
    """Replace Grafana's variables with the values a default view of the dashboard uses."""
    # Longest names first, so `$__rate_interval` is not read as `$__r...`.
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    return expr


def with_bool(expr: str) -> str:
    """Turn every filtering comparison into a `bool` one, so an alert's expression returns its series.

    An alert expression returns nothing while all is well; with `bool` it returns 0 or 1 for every
    series it compares, which shows the metrics and label matching it relies on are there.
    """
    out: list[str] = []
    index, depth, quote = 0, 0, ""
    while index < len(expr):
        char = expr[index]
        if quote:
            out.append(char)
            if char == "\\":
                out.append(expr[index + 1])
                index += 1
            elif char == quote:
                quote = ""
            index += 1
            continue
        if char in "\"'`":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            operator = next((op for op in COMPARISONS if expr.startswith(op, index)), None)
            if operator:
                out.append(operator)
                index += len(operator)
                if not re.match(r"\s*bool\b", expr[index:]):
                    out.append(" bool ")
                continue
        out.append(char)
        index += 1
    return "".join(out)


def selectors(expr: str) -> dict[str, set[str]]:
    """Return each metric an expression reads, with the label names its matchers use."""
    found: dict[str, set[str]] = {}
    for name, matchers in SELECTOR.findall(expr):
        found.setdefault(name, set()).update(MATCHER_LABEL.findall(matchers))
    return found


def label_values_query(definition: str) -> tuple[str, str]:
    """Split Grafana's `label_values(metric, label)` into the metric and the label."""
    match = re.fullmatch(r"\s*label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)\s*", definition)
    if not match:
        raise ValueError(f"not a label_values(metric, label) query: {definition}")
    return match.group(1), match.group(2)
