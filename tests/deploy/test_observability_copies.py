"""The chart's dashboards and alert rules are the same files as deploy/'s, and both are wired up.

deploy/grafana and deploy/prometheus are written by another team; these tests discover whatever
files are there, compare the chart's copies (helm/sync-observability.sh makes them), and fail when
there are none at all, since then neither compose nor the chart would provision anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import CHART_DIR, DEPLOY_DIR, find, parse_manifests

DEPLOY_DASHBOARDS = DEPLOY_DIR / "grafana" / "dashboards"
DEPLOY_RULES = DEPLOY_DIR / "prometheus" / "rules"
CHART_DASHBOARDS = CHART_DIR / "files" / "dashboards"
CHART_RULES = CHART_DIR / "files" / "rules"


def _files(directory: Path, pattern: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob(pattern))} if directory.is_dir() else {}


def test_deploy_has_dashboards_and_alert_rules() -> None:
    assert _files(DEPLOY_DASHBOARDS, "*.json"), f"no dashboards in {DEPLOY_DASHBOARDS}"
    assert _files(DEPLOY_RULES, "*.yml"), f"no alert rules in {DEPLOY_RULES}"


@pytest.mark.parametrize(
    ("original", "copy", "pattern"),
    [(DEPLOY_DASHBOARDS, CHART_DASHBOARDS, "*.json"), (DEPLOY_RULES, CHART_RULES, "*.yml")],
    ids=["dashboards", "rules"],
)
def test_chart_carries_identical_copies(original: Path, copy: Path, pattern: str) -> None:
    originals, copies = _files(original, pattern), _files(copy, pattern)
    assert originals.keys() == copies.keys(), "run helm/sync-observability.sh"
    for name, content in originals.items():
        assert copies[name] == content, f"{name} differs from deploy/: run helm/sync-observability.sh"


@pytest.mark.integration
def test_dashboard_configmaps_hold_every_dashboard(
    render: Callable[..., dict[str, str]], full_values: dict[str, Any]
) -> None:
    dashboards = _files(DEPLOY_DASHBOARDS, "*.json")
    config_maps = [
        m
        for m in find(parse_manifests(render(full_values)), "ConfigMap")
        if m["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    rendered = {name: data for m in config_maps for name, data in m["data"].items()}
    assert rendered.keys() == dashboards.keys()
    for name, content in dashboards.items():
        assert json.loads(rendered[name]) == json.loads(content)


@pytest.mark.integration
def test_prometheus_rule_holds_every_alert_group(
    render: Callable[..., dict[str, str]], full_values: dict[str, Any]
) -> None:
    expected = []
    for content in _files(DEPLOY_RULES, "*.yml").values():
        expected += yaml.safe_load(content).get("groups", [])
    (rule,) = find(parse_manifests(render(full_values)), "PrometheusRule")
    assert expected and rule["spec"]["groups"] == expected


@pytest.mark.integration
def test_service_monitors_give_the_jobs_the_rules_and_dashboards_select(
    render: Callable[..., dict[str, str]], full_values: dict[str, Any]
) -> None:
    queried = set()
    for content in [*_files(DEPLOY_RULES, "*.yml").values(), *_files(DEPLOY_DASHBOARDS, "*.json").values()]:
        for match in re.finditer(r'job=~?\\?"([^"\\]+)', content.decode()):
            queried |= set(match.group(1).split("|"))
    assert queried, "the rules select no job"
    jobs = {
        relabel["replacement"]
        for monitor in find(parse_manifests(render(full_values)), "ServiceMonitor")
        for endpoint in monitor["spec"]["endpoints"]
        for relabel in endpoint.get("relabelings", [])
        if relabel.get("targetLabel") == "job"
    }
    assert queried <= jobs


def test_compose_mounts_the_provisioning_and_rules() -> None:
    compose = yaml.safe_load((DEPLOY_DIR / "compose.yml").read_text())
    for service in ("prometheus", "grafana"):
        for volume in compose["services"][service]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY_DIR / source).exists(), f"{service} mounts missing {source}"
