"""The routing policy: rules operators edit in YAML, checked against a JSON schema with the line named."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.domain import FRUSTRATION_LEVELS, URGENCY_LEVELS

DEFAULT_POLICY_FILE = Path(__file__).with_name("default_policy.yaml")
SCHEMA_FILE = Path(__file__).with_name("policy.schema.json")

# The ladder, mildest first: a rule's steps are evaluated and shown in this order.
LADDER = ("tag", "note", "draft_reply", "raise_priority", "reassign_group", "page_on_call")
PRIORITIES = ("low", "normal", "high", "urgent")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PolicyError(ValueError):
    """The policy file is invalid; the message names the file, the line and the field."""


class Rung(BaseModel):
    """One step of a rule's ladder: a threshold to suggest it and a higher one to carry it out."""

    model_config = ConfigDict(extra="forbid")

    suggest: float | None = Field(None, ge=0.0, le=1.0)
    auto: float | None = Field(None, ge=0.0, le=1.0)
    tags: list[str] = Field(default_factory=list)
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    group: str | None = None
    # Drafts are an agent's suggestion; a public reply needs this and the tenant's allow_send_drafts.
    send_to_customer: bool = False

    def mode(self, confidence: float) -> Literal["auto", "suggest"] | None:
        """Return how far `confidence` reaches on this step: act, suggest, or nothing."""
        if self.auto is not None and confidence >= self.auto:
            return "auto"
        if self.suggest is not None and confidence >= self.suggest:
            return "suggest"
        return None


class Scope(BaseModel):
    """Which tickets a rule looks at; a missing list means any."""

    model_config = ConfigDict(extra="forbid")

    tenants: list[str] | None = None
    brands: list[str] | None = None
    groups: list[str] | None = None
    sources: list[str] | None = None


class RepeatContacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at_least: int = Field(ge=1)
    within_days: int = Field(ge=1, le=365)


class Conditions(BaseModel):
    """What must hold for a rule to fire; score conditions also set the rule's confidence."""

    model_config = ConfigDict(extra="forbid")

    frustration: Literal["mild", "moderate", "severe"] | None = None
    urgency: Literal["normal", "high", "critical"] | None = None
    languages: list[str] | None = None
    tags_any: list[str] | None = None
    tags_none: list[str] | None = None
    reason_codes_any: list[str] | None = None
    repeat_contacts: RepeatContacts | None = None
    frustration_rising: bool | None = None
    business_hours: bool | None = None

    @property
    def needs_scores(self) -> bool:
        """Return whether the rule reads the model's scores (unsupported languages have none)."""
        return self.frustration is not None or self.urgency is not None or bool(self.frustration_rising)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    shadow: bool = False
    match: Scope = Field(default_factory=Scope)
    when: Conditions = Field(default_factory=Conditions)
    actions: dict[str, Rung]


class BusinessHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: str = "09:00"
    end: str = "17:00"


class DraftRules(BaseModel):
    """What reply drafts may commit to, whatever backend writes them."""

    model_config = ConfigDict(extra="forbid")

    allow_promises: list[Literal["refund", "credit", "deadline"]] = Field(default_factory=list)
    max_chars: int = Field(1200, ge=200, le=4000)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = "2"
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    drafts: DraftRules = Field(default_factory=lambda: DraftRules.model_validate({}))
    rules: list[Rule] = Field(default_factory=list)

    def fingerprint(self) -> str:
        """Return a short hash that names this exact policy in stored decisions."""
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]
        return f"{self.version}-{digest}"


@lru_cache(maxsize=1)
def policy_schema() -> dict[str, Any]:
    """Return the JSON schema every policy document is validated against."""
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return schema


def _line_of(root: yaml.Node | None, path: list[Any]) -> int | None:
    """Return the 1-based line of the YAML node at `path`, or of its nearest ancestor that exists."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _where(source: str, root: yaml.Node | None, path: list[Any]) -> str:
    line = _line_of(root, path)
    dotted = ".".join(str(p) for p in path) or "(top level)"
    return f"{source}:{line}: {dotted}" if line else f"{source}: {dotted}"


def _schema_error(error: jsonschema.ValidationError) -> tuple[list[Any], str]:
    """Return the path and message of a schema error, pointing at the offending key where there is one."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        if extra:
            return [*path, extra[0]], f"unknown key {extra[0]!r}; allowed: {', '.join(sorted(allowed))}"
    if error.validator == "enum":
        return path, f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    return path, error.message


def _upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Translate a version-1 document (one escalate block, one draft block) into rules."""
    rules: list[dict[str, Any]] = []
    escalate = data.get("escalate") or {}
    if escalate.get("enabled", True):
        for signal in ("urgency", "frustration"):
            threshold = escalate.get(signal)
            if not threshold:
                continue
            p = threshold.get("min_probability", 0.5)
            actions: dict[str, Any] = {
                "raise_priority": {"priority": escalate.get("priority", "urgent"), "suggest": p, "auto": p},
            }
            if escalate.get("tags", ["triage-escalated"]):
                actions["tag"] = {"tags": escalate.get("tags", ["triage-escalated"]), "suggest": p, "auto": p}
            if escalate.get("group"):
                actions["reassign_group"] = {"group": escalate["group"], "suggest": p, "auto": p}
            if escalate.get("page_on_call"):
                actions["page_on_call"] = {"suggest": p, "auto": p}
            rules.append(
                {
                    "name": f"escalate-{signal}",
                    "shadow": bool(escalate.get("shadow", False)),
                    "when": {signal: threshold["level"]},
                    "actions": actions,
                }
            )
    draft = data.get("draft_reply") or {}
    if draft.get("enabled", True):
        threshold = draft.get("frustration") or {"level": "moderate"}
        p = threshold.get("min_probability", 0.5)
        rules.append(
            {
                "name": "draft-reply",
                "shadow": bool(draft.get("shadow", False)),
                "when": {"frustration": threshold["level"]},
                "actions": {"draft_reply": {"suggest": p, "auto": p}},
            }
        )
    return {"version": "1", "rules": rules}


def _check_ladder(policy: Policy) -> list[tuple[list[Any], str]]:
    """Return the rule steps whose thresholds contradict each other; those are errors, not warnings."""
    problems: list[tuple[list[Any], str]] = []
    seen: set[str] = set()
    for index, rule in enumerate(policy.rules):
        if rule.name in seen:
            problems.append((["rules", index, "name"], f"rule name {rule.name!r} is used twice"))
        seen.add(rule.name)
        for step, rung in rule.actions.items():
            if rung.auto is not None and rung.suggest is not None and rung.auto < rung.suggest:
                problems.append(
                    (
                        ["rules", index, "actions", step, "auto"],
                        f"auto ({rung.auto}) is below suggest ({rung.suggest}): "
                        "it would act before it suggests",
                    )
                )
            if rung.auto is None and rung.suggest is None:
                problems.append((["rules", index, "actions", step], "needs `suggest`, `auto` or both"))
    return problems


def ladder_warnings(policy: Policy) -> list[str]:
    """Return advice on rules where a stronger step fires at a lower confidence than a milder one."""
    warnings = []
    for rule in policy.rules:
        previous: tuple[str, float] | None = None
        for step in LADDER:
            rung = rule.actions.get(step)
            if rung is None or rung.suggest is None:
                continue
            if previous and rung.suggest < previous[1]:
                warnings.append(
                    f"rule {rule.name!r}: {step} is suggested from {rung.suggest}, below {previous[0]} "
                    f"({previous[1]}); a stronger step usually needs more confidence"
                )
            previous = (step, rung.suggest)
    return warnings


def parse_policy(data: Any, *, source: str = "policy", root: yaml.Node | None = None) -> Policy:
    """Validate a parsed policy document against the schema, naming the line and field on error."""
    if data is None:
        data = {"version": "2", "rules": []}
    if isinstance(data, dict) and ("escalate" in data or "draft_reply" in data or data.get("version") == "1"):
        legacy = set(data) - {"version", "escalate", "draft_reply"}
        if legacy:
            raise PolicyError(
                f"{_where(source, root, [sorted(legacy)[0]])}: unknown key in a version 1 policy"
            )
        for key in ("urgency", "frustration"):
            level = ((data.get("escalate") or {}).get(key) or {}).get("level")
            allowed = URGENCY_LEVELS if key == "urgency" else FRUSTRATION_LEVELS
            if level is not None and level not in allowed:
                where = _where(source, root, ["escalate", key, "level"])
                raise PolicyError(f"{where}: {level!r} is not one of {', '.join(allowed)}")
        data = _upgrade_v1(data)
        root = None  # line numbers of the translated document would point nowhere
    validator = jsonschema.Draft202012Validator(policy_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        path, message = _schema_error(errors[0])
        raise PolicyError(f"{_where(source, root, path)}: {message}")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PolicyError(f"{_where(source, root, list(first['loc']))}: {first['msg']}") from exc
    problems = _check_ladder(policy)
    if problems:
        path, message = problems[0]
        raise PolicyError(f"{_where(source, root, path)}: {message}")
    _check_timezone(policy, source, root)
    return policy


def _check_timezone(policy: Policy, source: str, root: yaml.Node | None) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(policy.business_hours.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        where = _where(source, root, ["business_hours", "timezone"])
        raise PolicyError(f"{where}: unknown time zone {policy.business_hours.timezone!r}") from exc


def parse_policy_text(text: str, *, source: str = "policy") -> Policy:
    """Parse and validate policy YAML, naming the line of any error."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{source}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    return parse_policy(data, source=source, root=root)


def load_policy(path: Path | None) -> Policy:
    """Read and validate a policy file; no path means the shipped default."""
    path = path or DEFAULT_POLICY_FILE
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError(f"{path}: {exc}") from exc
    return parse_policy_text(text, source=str(path))
