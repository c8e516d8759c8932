"""decide(): thresholds to suggest or act, shadow rules, scopes and the conditions operators combine."""

from __future__ import annotations

from datetime import datetime, timedelta

from service.domain import ActionKind
from tests.workers.routing.builders import WEDNESDAY_MORNING, contact, ticket, triage
from workers.routing.decide import decide, evaluate
from workers.routing.policy import load_policy, parse_policy_text


def policy(rules: str, extra: str = ""):
    return parse_policy_text(f'version: "t"\n{extra}rules:\n{rules}')


LADDER_RULE = """\
  - name: angry
    when: {frustration: moderate}
    actions:
      tag: {tags: [angry], suggest: 0.5, auto: 0.6}
      draft_reply: {suggest: 0.5, auto: 0.7}
      raise_priority: {priority: high, suggest: 0.7, auto: 0.9}
      page_on_call: {suggest: 0.95}
"""


def kinds(decision):
    return {a.kind: a for a in decision.actions}


def steps(decision):
    return {(s["action"], s["mode"]) for s in decision.actions[0].params["steps"]}


def test_confidence_between_suggest_and_auto_suggests_without_acting():
    decision = decide(ticket(), triage(frustration=0.72, frustration_level="moderate"), policy(LADDER_RULE))

    assert steps(decision) == {("tag", "auto"), ("draft_reply", "auto"), ("raise_priority", "suggest")}
    assert set(kinds(decision)) == {ActionKind.TRIAGED, ActionKind.REPLY_DRAFTED}
    assert kinds(decision)[ActionKind.TRIAGED].params["tags"] == ["angry"]


def test_higher_confidence_acts_on_more_rungs_of_the_ladder():
    decision = decide(ticket(), triage(frustration=0.96, frustration_level="severe"), policy(LADDER_RULE))

    escalated = kinds(decision)[ActionKind.ESCALATED]
    assert escalated.params == {"priority": "high", "group": None, "page_on_call": False, "tags": ["angry"]}
    assert escalated.rule == "angry"
    assert ("page_on_call", "suggest") in steps(decision)
    assert "frustration severe (p=0.96)" in escalated.reason


def test_below_every_threshold_or_level_nothing_but_the_summary():
    low = decide(ticket(), triage(frustration=0.45, frustration_level="moderate"), policy(LADDER_RULE))
    calm = decide(ticket(), triage(frustration=0.2), policy(LADDER_RULE))

    assert [a.kind for a in low.actions] == [ActionKind.TRIAGED] and steps(low) == set()
    assert [a.kind for a in calm.actions] == [ActionKind.TRIAGED]


def test_shadow_rule_records_its_steps_but_its_actions_are_shadow():
    shadowed = LADDER_RULE.replace("    when:", "    shadow: true\n    when:")

    decision = decide(ticket(), triage(frustration=0.96, frustration_level="severe"), policy(shadowed))

    assert all(a.shadow for a in decision.actions if a.kind != ActionKind.TRIAGED)
    assert {a.kind for a in decision.actions} == {
        ActionKind.TRIAGED,
        ActionKind.ESCALATED,
        ActionKind.REPLY_DRAFTED,
    }
    assert decision.actions[0].params["tags"] == []  # shadow tags are not written
    assert all(s["shadow"] for s in decision.actions[0].params["steps"])


def test_live_rule_wins_over_a_shadow_rule_for_the_same_action():
    rules = (
        LADDER_RULE
        + """\
  - name: trial-page
    shadow: true
    when: {urgency: critical}
    actions:
      page_on_call: {suggest: 0.5, auto: 0.5}
"""
    )
    decision = decide(
        ticket(), triage(frustration=0.96, frustration_level="severe", urgency="critical"), policy(rules)
    )

    escalated = kinds(decision)[ActionKind.ESCALATED]
    assert escalated.shadow is False and escalated.params["page_on_call"] is False
    assert ("page_on_call", "auto") in steps(decision)  # recorded, in shadow


def test_scope_selects_tenant_brand_and_group():
    scoped = """\
  - name: acme-billing
    match: {tenants: [acme], brands: [shop], groups: [billing]}
    actions:
      reassign_group: {group: billing-tier2, suggest: 0.5, auto: 0.5}
"""
    hit = decide(ticket(tenant="acme", brand="shop", group="billing"), triage(), policy(scoped))
    other_brand = decide(ticket(tenant="acme", brand="outlet", group="billing"), triage(), policy(scoped))
    other_tenant = decide(ticket(tenant="globex", brand="shop", group="billing"), triage(), policy(scoped))

    assert kinds(hit)[ActionKind.ESCALATED].params["group"] == "billing-tier2"
    assert ActionKind.ESCALATED not in kinds(other_brand)
    assert ActionKind.ESCALATED not in kinds(other_tenant)


def test_vip_tag_and_language_conditions():
    rules = """\
  - name: vip-en
    when: {tags_any: [vip, plan-enterprise], languages: [en], frustration: mild}
    actions:
      raise_priority: {priority: urgent, suggest: 0.3, auto: 0.4}
"""
    vip = decide(ticket(tags=["plan-enterprise"]), triage(frustration=0.45), policy(rules))
    not_vip = decide(ticket(tags=["free"]), triage(frustration=0.45), policy(rules))
    german = decide(ticket(tags=["vip"]), triage(frustration=0.45, language="de"), policy(rules))

    assert kinds(vip)[ActionKind.ESCALATED].params["priority"] == "urgent"
    assert "tagged plan-enterprise" in kinds(vip)[ActionKind.ESCALATED].reason
    assert ActionKind.ESCALATED not in kinds(not_vip) and ActionKind.ESCALATED not in kinds(german)


def test_repeat_contacts_counted_within_the_window_only():
    rules = """\
  - name: repeat
    when: {repeat_contacts: {at_least: 2, within_days: 7}}
    actions:
      tag: {tags: [repeat], suggest: 0.5, auto: 0.5}
"""
    twice = triage(contacts=[contact(1, "mild"), contact(6, "none")])
    once_in_window = triage(contacts=[contact(1, "mild"), contact(8, "none")])

    assert decide(ticket(), twice, policy(rules)).actions[0].params["tags"] == ["repeat"]
    assert decide(ticket(), once_in_window, policy(rules)).actions[0].params["tags"] == []


def test_rising_frustration_compares_with_the_latest_earlier_contact():
    rules = """\
  - name: rising
    when: {frustration_rising: true}
    actions:
      note: {suggest: 0.5, auto: 0.5}
"""
    rising = triage(
        frustration=0.8, frustration_level="moderate", contacts=[contact(2, "mild"), contact(9, "severe")]
    )
    falling = triage(frustration=0.8, frustration_level="moderate", contacts=[contact(2, "severe")])

    assert decide(ticket(), rising, policy(rules)).actions[0].params["note"] is True
    assert decide(ticket(), falling, policy(rules)).actions[0].params["note"] is False


def test_business_hours_follow_the_policy_time_zone():
    hours = (
        "business_hours: {timezone: America/New_York, days: [mon, tue, wed, thu, fri], "
        'start: "09:00", end: "17:00"}\n'
    )
    rules = """\
  - name: after-hours-page
    when: {urgency: critical, business_hours: false}
    actions:
      page_on_call: {suggest: 0.5, auto: 0.5}
"""
    # 10:30 UTC is 05:30 in New York: outside hours, so page. 15:00 UTC is 10:00 there: inside.
    night = decide(ticket(), triage(urgency="critical"), policy(rules, hours))
    day = decide(
        ticket(at=WEDNESDAY_MORNING + timedelta(hours=4, minutes=30)),
        triage(urgency="critical"),
        policy(rules, hours),
    )
    saturday = decide(
        ticket(at=datetime(2026, 11, 28, 15, 0, tzinfo=WEDNESDAY_MORNING.tzinfo)),
        triage(urgency="critical"),
        policy(rules, hours),
    )

    assert kinds(night)[ActionKind.ESCALATED].params["page_on_call"] is True
    assert ActionKind.ESCALATED not in kinds(day)
    assert kinds(saturday)[ActionKind.ESCALATED].params["page_on_call"] is True


def test_urgency_confidence_is_the_mass_at_or_above_the_level():
    rules = """\
  - name: high-or-worse
    when: {urgency: high}
    actions:
      raise_priority: {priority: high, suggest: 0.5, auto: 0.9}
"""
    # Top level "high" with 0.85, and 0.05 on critical: 0.90 is "high or worse".
    [step] = evaluate(ticket(), triage(urgency="high", urgency_mass=0.85), policy(rules))

    assert step.mode == "auto" and step.confidence == 0.9


def test_unsupported_language_skips_score_rules_but_not_tag_rules():
    rules = (
        LADDER_RULE
        + """\
  - name: vip
    when: {tags_any: [vip]}
    actions:
      tag: {tags: [vip], suggest: 0.5, auto: 0.5}
"""
    )
    decision = decide(ticket(tags=["vip"]), triage(supported=False, language="fi"), policy(rules))

    assert decision.actions[0].params["tags"] == ["vip"]
    assert decision.actions[0].reason == "unsupported language (fi): not scored"
    assert len(decision.actions) == 1


def test_highest_priority_wins_and_first_group_wins_across_rules():
    rules = """\
  - name: a
    actions:
      raise_priority: {priority: high, suggest: 0.5, auto: 0.5}
      reassign_group: {group: first, suggest: 0.5, auto: 0.5}
  - name: b
    actions:
      raise_priority: {priority: urgent, suggest: 0.5, auto: 0.5}
      reassign_group: {group: second, suggest: 0.5, auto: 0.5}
"""
    escalated = kinds(decide(ticket(), triage(), policy(rules)))[ActionKind.ESCALATED]

    assert escalated.params["priority"] == "urgent" and escalated.params["group"] == "first"
    assert escalated.rule == "a,b"


def test_default_policy_escalates_critical_and_drafts_for_frustration():
    default = load_policy(None)

    critical = decide(ticket(), triage(urgency="critical", urgency_mass=0.94), default)
    frustrated = decide(ticket(), triage(frustration=0.8, frustration_level="moderate"), default)

    assert kinds(critical)[ActionKind.ESCALATED].params["priority"] == "urgent"
    assert ("page_on_call", "suggest") in steps(critical)
    assert ActionKind.REPLY_DRAFTED in kinds(frustrated)
    assert kinds(frustrated)[ActionKind.REPLY_DRAFTED].params == {"visibility": "internal"}


def test_decision_is_the_same_for_the_same_inputs():
    default = load_policy(None)
    args = (ticket(), triage(frustration=0.9, urgency="critical"), default)

    assert decide(*args) == decide(*args)


def test_priority_seen_is_recorded_for_later_correction_capture():
    decision = decide(ticket(priority="low"), triage(), load_policy(None))

    assert decision.actions[0].params["priority_seen"] == "low"


def test_drafts_stay_internal_unless_a_rule_opts_in_to_sending():
    sending = """\
  - name: send
    when: {frustration: mild}
    actions:
      draft_reply: {suggest: 0.3, auto: 0.4, send_to_customer: true}
"""
    internal = kinds(
        decide(ticket(), triage(frustration=0.8, frustration_level="moderate"), load_policy(None))
    )
    public = kinds(decide(ticket(), triage(frustration=0.5), policy(sending)))

    assert internal[ActionKind.REPLY_DRAFTED].params == {"visibility": "internal"}
    assert public[ActionKind.REPLY_DRAFTED].params == {"visibility": "public", "send_to_customer": True}
