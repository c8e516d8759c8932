"""The routing policy: thresholds operators edit in YAML, validated at start-up."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.domain import FRUSTRATION_LEVELS, URGENCY_LEVELS

DEFAULT_POLICY_FILE = Path(__file__).with_name("default_policy.yaml")


class PolicyError(ValueError):
    """The policy file is invalid; the message names the field."""


class Threshold(BaseModel):
    """A level to reach, with the least calibrated probability that counts as reaching it."""

    model_config = ConfigDict(extra="forbid")

    level: str
    min_probability: float = Field(0.5, ge=0.0, le=1.0)


class EscalateRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    urgency: Threshold | None = None
    frustration: Threshold | None = None
    priority: str = "urgent"
    tags: list[str] = Field(default_factory=lambda: ["triage-escalated"])
    group: str | None = None
    page_on_call: bool = False
    shadow: bool = False


class DraftReplyRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    frustration: Threshold = Field(default_factory=lambda: Threshold(level="moderate"))
    shadow: bool = False


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = "1"
    escalate: EscalateRule = Field(default_factory=EscalateRule)
    draft_reply: DraftReplyRule = Field(default_factory=DraftReplyRule)

    def fingerprint(self) -> str:
        """Return a short hash that names this exact policy in stored decisions."""
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]
        return f"{self.version}-{digest}"


def _check_levels(policy: Policy) -> None:
    checks: list[tuple[str, Threshold | None, tuple[str, ...]]] = [
        ("escalate.urgency.level", policy.escalate.urgency, URGENCY_LEVELS),
        ("escalate.frustration.level", policy.escalate.frustration, FRUSTRATION_LEVELS),
        ("draft_reply.frustration.level", policy.draft_reply.frustration, FRUSTRATION_LEVELS),
    ]
    for where, threshold, allowed in checks:
        if threshold is not None and threshold.level not in allowed:
            raise PolicyError(f"{where}: {threshold.level!r} is not one of {', '.join(allowed)}")


def parse_policy(data: Any, *, source: str = "policy") -> Policy:
    """Validate a parsed policy document, naming the offending field on error."""
    try:
        policy = Policy.model_validate(data if data is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise PolicyError(f"{source}: {where}: {first['msg']}") from exc
    try:
        _check_levels(policy)
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc}") from exc
    return policy


def load_policy(path: Path | None) -> Policy:
    """Read and validate a policy file; no path means the shipped default."""
    path = path or DEFAULT_POLICY_FILE
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: {exc}") from exc
    return parse_policy(data, source=str(path))
