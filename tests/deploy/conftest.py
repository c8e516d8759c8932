"""Fixtures for the deployment tests: repository paths and rendered Helm manifests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
CHART_DIR = REPO_ROOT / "helm" / "triage"
FULL_VALUES_FILE = CHART_DIR / "ci" / "full-values.yaml"
RELEASE = "rel"
NAMESPACE = "triage"

Manifest = dict[str, Any]


def parse_manifests(rendered: dict[str, str]) -> list[Manifest]:
    """Return every Kubernetes object in a `template path -> text` render, NOTES.txt left out."""
    manifests: list[Manifest] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                manifests.append(document)
    return manifests


def find(manifests: list[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    """Return the objects of one kind, optionally with one exact name."""
    return [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]


def annotations_of(manifest: Manifest) -> dict[str, str]:
    """Return an object's annotations, empty when it has none."""
    return manifest["metadata"].get("annotations") or {}


def one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    """Return the single object of this kind and name, failing the test otherwise."""
    found = find(manifests, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="session")
def full_values() -> dict[str, Any]:
    """Values with every optional feature on (helm/triage/ci/full-values.yaml)."""
    values: dict[str, Any] = yaml.safe_load(FULL_VALUES_FILE.read_text())
    return values


@pytest.fixture(scope="session")
def helm() -> Any:
    """The helm-python-sdk module: Helm's Go engine through its C library, no helm binary."""
    # Imported here, not at module level, so the compose and Dockerfile tests still collect when the
    # package is missing; a missing package fails these tests rather than skipping them.
    import helm_python

    # The engine logs an INFO line for each symlink it follows (files/dashboards, files/rules).
    helm_python.disable_logging()
    return helm_python


@pytest.fixture(scope="session")
def chart(helm: Any) -> Iterator[Any]:
    """The chart loaded once by the real Helm engine."""
    loaded = helm.Chart.load(str(CHART_DIR))
    yield loaded
    loaded.close()


@pytest.fixture(scope="session")
def render(chart: Any) -> Callable[..., dict[str, str]]:
    """Render the chart offline: `render(values)` returns `template path -> text`."""

    def _render(values: dict[str, Any] | None = None, name: str = RELEASE) -> dict[str, str]:
        rendered: dict[str, str] = chart.render(values, name=name, namespace=NAMESPACE, is_install=True)
        return rendered

    return _render


@pytest.fixture(scope="session")
def default_manifests(render: Callable[..., dict[str, str]]) -> list[Manifest]:
    """Objects rendered from the chart's default values."""
    return parse_manifests(render(None))


@pytest.fixture(scope="session")
def full_manifests(render: Callable[..., dict[str, str]], full_values: dict[str, Any]) -> list[Manifest]:
    """Objects rendered from the full-featured values file."""
    return parse_manifests(render(full_values))
