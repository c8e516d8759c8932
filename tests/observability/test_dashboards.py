"""Dashboards and rules as code: fixed uids, a $datasource variable, and only metrics the code declares."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from sqlalchemy.orm import Session, sessionmaker

import service.metrics as api_metrics
import workers.metrics as worker_metrics
from service.storage.db import session_factory
from tests.observability import promql

DATASOURCE = "${datasource}"
PROVISIONING = promql.ROOT / "deploy" / "grafana" / "provisioning"


def _declared(module: object) -> list[MetricWrapperBase]:
    return [value for value in vars(module).values() if isinstance(value, MetricWrapperBase)]


def _sample_names(metric: MetricWrapperBase) -> set[str]:
    """Return the series names a metric exposes (counter `_total`, histogram `_bucket` ...)."""
    name = metric._name
    kind = metric._type
    if kind == "counter":
        return {f"{name}_total"}
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return {name}


@pytest.fixture(scope="module")
def exported_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Return every series name the API and workers can export, scrape-time collectors included."""
    from service.storage.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('names') / 'triage.db'}"
    upgrade(url)
    sessions: sessionmaker[Session] = session_factory(url)
    collector = api_metrics.QueueCollector("redis://127.0.0.1:1/0", sessions)
    names = {family.name for family in collector.collect()}
    # Scrape-time counters are exposed with `_total`, which their family name leaves off.
    names |= {f"{f.name}_total" for f in api_metrics.ErasureCollector(sessions, ["default"]).collect()}
    for module in (api_metrics, worker_metrics):
        for metric in _declared(module):
            names |= _sample_names(metric)
    return names | {"up"}


@pytest.mark.parametrize("name", sorted(promql.dashboards()))
def test_dashboard_has_fixed_uid_and_datasource_variable(name: str) -> None:
    dashboard = promql.dashboards()[name]
    assert dashboard["uid"] == Path(name).stem, "the uid is fixed and names the file"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == DATASOURCE


@pytest.mark.parametrize("name", sorted(promql.dashboards()))
def test_every_panel_queries_through_the_datasource_variable(name: str) -> None:
    dashboard = promql.dashboards()[name]
    titles = []
    for panel in promql.panels(dashboard):
        titles.append(panel["title"])
        assert panel["datasource"]["uid"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
        assert panel.get("description"), f"{panel['title']}: say what the panel shows"
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24
    assert len(titles) == len(set(titles)), "panel titles repeat"


def test_dashboard_uids_are_unique() -> None:
    uids = [d["uid"] for d in promql.dashboards().values()]
    assert len(uids) == len(set(uids)) == 3


@pytest.mark.parametrize(
    "query",
    [*promql.dashboard_queries(), *promql.alert_queries(), *promql.variable_queries()],
    ids=lambda q: q.where,
)
def test_queries_read_only_declared_metrics(query: promql.Query, exported_names: set[str]) -> None:
    for metric in promql.selectors(query.expr):
        assert metric in exported_names, (
            f"{query.where}: {metric} is not declared in service/ or workers/metrics.py"
        )


def test_provisioning_points_at_the_dashboards_compose_mounts() -> None:
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "triage.yml").read_text())["providers"]
    assert [p["options"]["path"] for p in providers] == ["/var/lib/grafana/dashboards"]
    compose = yaml.safe_load((promql.ROOT / "deploy" / "compose.yml").read_text())
    volumes = compose["services"]["grafana"]["volumes"]
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in volumes
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    assert [d["type"] for d in datasources["datasources"]] == ["prometheus"]


def test_with_bool_leaves_label_matchers_and_existing_bools_alone() -> None:
    expr = 'count(up{job!="x", code=~"5.."} == 1) or vector(0) >= bool 2 < 3'
    assert (
        promql.with_bool(expr)
        == 'count(up{job!="x", code=~"5.."} == bool  1) or vector(0) >= bool 2 < bool  3'
    )


def test_selectors_name_metrics_and_their_matcher_labels() -> None:
    expr = 'sum by (connector) (rate(triage_writebacks_total{outcome!="delivered"}[5m])) / on() up{job="a"}'
    assert promql.selectors(expr) == {"triage_writebacks_total": {"outcome"}, "up": {"job"}}
