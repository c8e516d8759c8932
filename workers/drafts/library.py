"""The library of approved reply templates operators supply; a starter set ships with the service."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from service.domain import TOPICS

STARTER_LIBRARY = Path(__file__).parent / "templates" / "starter.yaml"


class LibraryError(ValueError):
    """The template library is unreadable or invalid; the message names the template."""


class Template(BaseModel):
    """One approved reply: what it answers, how it acknowledges the problem, what it says we do."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    title: str
    match: str = Field(min_length=1)
    acknowledge: str
    body: str
    promises: list[Literal["refund", "credit", "deadline"]] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=lambda: ["en"])
    # The ticket topics this template answers (empty: any); must be names from TOPICS.
    topics: list[str] = Field(default_factory=list)
    # The body asserts a fact about this ticket (an incident exists, a refund was issued): offered only
    # when the ticket's topic is known and among `topics`, never on similarity alone.
    states_facts: bool = False

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in TOPICS]
        if unknown:
            raise ValueError(f"unknown topics {unknown}; known: {', '.join(TOPICS)}")
        return value

    @model_validator(mode="after")
    def _facts_need_topics(self) -> Template:
        if self.states_facts and not self.topics:
            raise ValueError("a template that states facts must name the topics it answers")
        return self

    @property
    def approved_text(self) -> str:
        """Return everything an operator approved in this template: links or contacts in it may be used."""
        return f"{self.acknowledge}\n{self.body}"


class Library(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    templates: list[Template] = Field(min_length=1)

    def allowed(self, promises: set[str], language: str | None) -> list[Template]:
        """Return the templates whose promises the policy allows, in the ticket's language where known."""
        return [
            t
            for t in self.templates
            if set(t.promises) <= promises and (language is None or language in t.languages)
        ] or [t for t in self.templates if set(t.promises) <= promises]


def load_library(path: Path | None = None) -> Library:
    """Read a template library; no path means the starter set."""
    path = path or STARTER_LIBRARY
    try:
        data = yaml.safe_load(path.read_text())
        library = Library.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise LibraryError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise LibraryError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
    ids = [t.id for t in library.templates]
    if len(ids) != len(set(ids)):
        raise LibraryError(f"{path}: template ids must be unique")
    return library
