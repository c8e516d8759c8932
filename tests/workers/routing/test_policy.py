"""Policy files: schema errors name the line, version 1 files still load, `triage policy check` works."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from workers.routing.cli import policy_app
from workers.routing.policy import (
    DEFAULT_POLICY_FILE,
    PolicyError,
    ladder_warnings,
    load_policy,
    parse_policy_text,
)

VALID = """\
version: "7"
rules:
  - name: vip
    when:
      tags_any: [vip]
    actions:
      tag: {tags: [vip-seen], suggest: 0.5, auto: 0.5}
"""


def error_of(text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy_text(text, source="p.yaml")
    return str(caught.value)


def test_shipped_default_policy_is_valid():
    policy = load_policy(None)

    assert [r.name for r in policy.rules][:2] == ["critical-urgency", "severe-frustration"]
    assert policy.fingerprint().startswith("2-")


def test_unknown_key_is_reported_at_its_own_line():
    text = VALID.replace("      tags_any: [vip]\n", "      tags_any: [vip]\n      vip_only: true\n")

    message = error_of(text)

    assert message.startswith("p.yaml:6: rules.0.when.vip_only: unknown key 'vip_only'")


def test_bad_level_names_line_and_allowed_values():
    text = VALID.replace("      tags_any: [vip]\n", "      frustration: furious\n")

    message = error_of(text)

    assert message.startswith("p.yaml:5: rules.0.when.frustration:")
    assert "'furious' is not one of mild, moderate, severe" in message


def test_threshold_above_one_names_the_line():
    message = error_of(VALID.replace("auto: 0.5}", "auto: 1.5}"))

    assert message.startswith("p.yaml:7: rules.0.actions.tag.auto:")


def test_auto_below_suggest_is_refused():
    message = error_of(VALID.replace("suggest: 0.5, auto: 0.5", "suggest: 0.8, auto: 0.6"))

    assert message.startswith("p.yaml:7: rules.0.actions.tag.auto:")
    assert "act before it suggests" in message


def test_duplicate_rule_names_are_refused():
    doubled = VALID + VALID.split("rules:\n", 1)[1]

    assert "used twice" in error_of(doubled)


def test_unknown_time_zone_is_refused_at_its_line():
    text = 'version: "1x"\nbusiness_hours:\n  timezone: Mars/Olympus\nrules: []\n'

    assert error_of(text).startswith("p.yaml:3: business_hours.timezone: unknown time zone")


def test_broken_yaml_names_the_line():
    assert error_of("version: '2'\nrules:\n  - name: [unclosed\n").startswith("p.yaml:")


def test_version_1_policy_becomes_equivalent_rules():
    policy = parse_policy_text(
        "version: '1'\n"
        "escalate:\n  urgency: {level: critical, min_probability: 0.7}\n"
        "  page_on_call: true\n  group: tier2\n"
        "draft_reply:\n  frustration: {level: severe, min_probability: 0.4}\n  shadow: true\n"
    )

    rules = {r.name: r for r in policy.rules}
    assert set(rules) == {"escalate-urgency", "draft-reply"}
    assert rules["escalate-urgency"].actions["page_on_call"].auto == 0.7
    assert rules["escalate-urgency"].actions["reassign_group"].group == "tier2"
    assert rules["draft-reply"].shadow is True


def test_version_1_bad_level_names_the_line():
    message = error_of("version: '1'\nescalate:\n  urgency: {level: huge}\n")

    assert message.startswith("p.yaml:3: escalate.urgency.level: 'huge' is not one of")


def test_ladder_warning_when_paging_needs_less_confidence_than_tagging():
    policy = parse_policy_text(
        VALID.replace(
            "      tag: {tags: [vip-seen], suggest: 0.5, auto: 0.5}\n",
            "      tag: {tags: [vip-seen], suggest: 0.7}\n      page_on_call: {suggest: 0.3}\n",
        )
    )

    assert ladder_warnings(policy) == [
        "rule 'vip': page_on_call is suggested from 0.3, below tag (0.7); a stronger step usually needs "
        "more confidence"
    ]


def test_fingerprint_changes_with_any_threshold():
    one = parse_policy_text(VALID)
    two = parse_policy_text(VALID.replace("auto: 0.5}", "auto: 0.6}"))

    assert one.fingerprint() != two.fingerprint()


def test_check_command_accepts_a_good_file_and_rejects_a_bad_one(tmp_path: Path):
    good = tmp_path / "good.yaml"
    good.write_text(VALID)
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("auto: 0.5}", "auto: 2}"))
    runner = CliRunner()

    ok = runner.invoke(policy_app, ["check", str(good)])
    refused = runner.invoke(policy_app, ["check", str(bad)])

    assert ok.exit_code == 0 and "ok, 1 rule(s) (0 in shadow mode)" in ok.output
    assert refused.exit_code == 1
    assert f"{bad}:7: rules.0.actions.tag.auto" in refused.output


def test_check_command_on_the_shipped_policy():
    result = CliRunner().invoke(policy_app, ["check", str(DEFAULT_POLICY_FILE)])

    assert result.exit_code == 0, result.output
