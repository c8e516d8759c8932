"""Alert rules: promtool accepts them, their unit tests pass, and every alert is tested both ways.

"Both ways" is checked by mutation: an alert rewritten never to fire must fail its tests (so some test
expects it to fire), and one rewritten always to fire must fail them too (so some test expects quiet).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.observability import promql
from tests.observability.stack import INSTALL_HINT

pytestmark = pytest.mark.integration

RULE_TEST = promql.RULE_TESTS / "triage_test.yml"
PROMETHEUS_CONFIG = promql.ROOT / "deploy" / "prometheus" / "prometheus.yml"


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, f"promtool is not on the PATH ({INSTALL_HINT})"
    return found


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), *map(str, args)], capture_output=True, text=True, timeout=60)


def test_promtool_checks_the_rules() -> None:
    files = sorted(promql.RULES.glob("*.yml"))
    assert files
    result = _run("check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_checks_the_prometheus_config() -> None:
    # Syntax only: the API key file it names exists inside the compose stack, not here.
    result = _run("check", "config", "--syntax-only", PROMETHEUS_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = _run("test", "rules", RULE_TEST)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rule", promql.alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_has_for_severity_and_summary(rule: dict[str, object]) -> None:
    assert rule.get("for"), "an alert needs `for:` so one bad scrape does not page"
    labels = rule.get("labels") or {}
    assert labels.get("severity") in {"critical", "warning", "info"}  # type: ignore[union-attr]
    annotations = rule.get("annotations") or {}
    assert annotations.get("summary") and annotations.get("description")  # type: ignore[union-attr]


def _mutated(tmp_path: Path, alert: str, expr: str, *, keep_firing_cases: bool) -> Path:
    """Write the rules with `alert`'s expression replaced, and the tests with only one kind of its cases.

    Keeping only the cases that expect `alert` to fire (or only those expecting quiet) makes the check
    sharp: the mutated rule fails the run only if such a case exists.
    """
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for path in promql.RULES.glob("*.yml"):
        document = yaml.safe_load(path.read_text())
        for group in document["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == alert:
                    rule["expr"] = expr
        (rules_dir / path.name).write_text(yaml.safe_dump(document, sort_keys=False))
    tests = yaml.safe_load(RULE_TEST.read_text())
    tests["rule_files"] = [str(rules_dir / Path(name).name) for name in tests["rule_files"]]
    kept = []
    for case in tests["tests"]:
        case["alert_rule_test"] = [
            check
            for check in case.get("alert_rule_test", [])
            if check["alertname"] != alert or bool(check.get("exp_alerts")) == keep_firing_cases
        ]
        if case["alert_rule_test"]:
            kept.append(case)
    tests["tests"] = kept
    test_path = tmp_path / "tests.yml"
    test_path.write_text(yaml.safe_dump(tests, sort_keys=False))
    return test_path


@pytest.mark.slow
@pytest.mark.parametrize("alert", [rule["alert"] for rule in promql.alert_rules()])
def test_alert_has_a_test_that_expects_it_to_fire(tmp_path: Path, alert: str) -> None:
    result = _run("test", "rules", _mutated(tmp_path, alert, "vector(1) < 0", keep_firing_cases=True))
    assert result.returncode != 0, f"no rule test expects {alert} to fire"


@pytest.mark.slow
@pytest.mark.parametrize("alert", [rule["alert"] for rule in promql.alert_rules()])
def test_alert_has_a_test_that_expects_it_quiet(tmp_path: Path, alert: str) -> None:
    result = _run("test", "rules", _mutated(tmp_path, alert, "vector(1)", keep_firing_cases=False))
    assert result.returncode != 0, f"no rule test expects {alert} to stay quiet"


def test_mutation_check_passes_unmutated_rules(tmp_path: Path) -> None:
    # The harness itself: rewriting nothing must leave every test passing, or the checks above prove nothing.
    rule = promql.alert_rules()[0]
    result = _run("test", "rules", _mutated(tmp_path, rule["alert"], rule["expr"], keep_firing_cases=True))
    assert result.returncode == 0, result.stdout + result.stderr
