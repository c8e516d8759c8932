"""The chart's dashboards and alert rules are deploy/'s files, and both stacks are wired to them.

deploy/grafana/dashboards and deploy/prometheus/rules hold the one copy of each dashboard and rule
file (STYLE.md: "one copy of each dashboard JSON"). The chart reaches them through the relative
symlinks helm/triage/files/{dashboards,rules}; Helm follows them when it loads or packages the chart.
These tests compare what Helm loads with deploy/, so a broken link or a stale copy put in place of a
link fails, and they fail when deploy/ holds nothing, since then nothing would be provisioned.
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


@pytest.mark.integration
@pytest.mark.parametrize(
    ("original", "prefix", "pattern"),
    [(DEPLOY_DASHBOARDS, "files/dashboards/", "*.json"), (DEPLOY_RULES, "files/rules/", "*.yml")],
    ids=["dashboards", "rules"],
)
def test_chart_loads_the_same_files_as_deploy(chart: Any, original: Path, prefix: str, pattern: str) -> None:
    loaded = {
        f["name"].removeprefix(prefix): f["data"]
        for f in chart.files
        if f["name"].startswith(prefix) and Path(f["name"]).match(pattern)
    }
    originals = _files(original, pattern)
    assert loaded.keys() == originals.keys()
    for name, content in originals.items():
        assert loaded[name].encode() == content, f"{prefix}{name} is not deploy/'s file"


@pytest.mark.parametrize(
    ("link", "target"),
    [(CHART_DASHBOARDS, DEPLOY_DASHBOARDS), (CHART_RULES, DEPLOY_RULES)],
    ids=["dashboards", "rules"],
)
def test_chart_links_to_deploy_instead_of_copying(link: Path, target: Path) -> None:
    assert link.is_symlink(), f"{link} must link to {target}, not hold copies that drift"
    assert not Path(link.readlink()).is_absolute(), "a relative link survives a clone elsewhere"
    assert link.resolve() == target.resolve()


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
