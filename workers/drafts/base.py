"""The drafting seam: one interface for every backend, and a factory that picks one from settings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from service.config import Settings
from service.domain import Decision, Ticket, Triage
from workers.drafts.encoder import Encoder
from workers.routing.policy import DraftRules

log = logging.getLogger(__name__)

MAX_DRAFTS = 3


@dataclass(frozen=True)
class DraftRequest:
    """What a backend may read: the ticket (untrusted text), its scores and what the policy allows."""

    ticket: Ticket
    triage: Triage
    rules: DraftRules = field(default_factory=lambda: DraftRules.model_validate({}))

    def customer_text(self) -> str:
        """Return the customer's words the draft answers: the subject and their latest message."""
        customer = self.ticket.customer_messages() or self.ticket.messages
        latest = customer[-1].body if customer else ""
        return f"{self.ticket.subject}\n\n{latest}".strip()

    def evidence_text(self) -> str:
        """Return the evidence spans that drove the scores, which say what the customer is upset about."""
        spans: list[str] = []
        for score in (self.triage.frustration, self.triage.urgency):
            if score is not None:
                spans += [e.text for e in sorted(score.evidence, key=lambda e: -e.weight)[:3]]
        return " ".join(dict.fromkeys(spans))


@dataclass
class Draft:
    """One ranked draft as stored with the decision and shown to the agent."""

    rank: int
    text: str
    backend: str
    template_id: str | None
    template_title: str | None
    score: float
    tone: str
    fallback: str | None = None  # why a generative backend's text was replaced

    def as_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "text": self.text,
            "backend": self.backend,
            "template_id": self.template_id,
            "template_title": self.template_title,
            "score": round(self.score, 4),
            "tone": self.tone,
            "fallback": self.fallback,
        }


class DraftBackend(Protocol):
    """Writes up to `n` ranked drafts for a ticket; never raises for a model or network failure."""

    name: str

    def drafts(self, request: DraftRequest, n: int = MAX_DRAFTS) -> list[Draft]:
        """Return up to `n` drafts, best first."""
        ...


def build_backend(settings: Settings) -> DraftBackend:
    """Build the backend named by `settings.draft_backend`, always on top of template retrieval."""
    from workers.drafts.library import load_library
    from workers.drafts.retrieval import RetrievalBackend

    encoder = _encoder(settings.draft_encoder)
    retrieval = RetrievalBackend(load_library(settings.draft_templates_file), encoder)
    if settings.draft_backend == "retrieval":
        return retrieval
    if settings.draft_backend == "transformers":
        from workers.drafts.generative import GenerativeBackend, TransformersGenerator

        if settings.draft_model_path is None:
            raise ValueError("TRIAGE_DRAFT_BACKEND=transformers needs TRIAGE_DRAFT_MODEL_PATH")
        generator = TransformersGenerator(settings.draft_model_path, gguf_file=settings.draft_model_file)
        return GenerativeBackend(retrieval, generator, name="transformers")
    if settings.draft_backend == "openai":
        from workers.drafts.generative import GenerativeBackend, OpenAICompatibleGenerator

        if not settings.draft_endpoint_url:
            raise ValueError("TRIAGE_DRAFT_BACKEND=openai needs TRIAGE_DRAFT_ENDPOINT_URL")
        key = settings.draft_endpoint_api_key
        generator_http = OpenAICompatibleGenerator(
            settings.draft_endpoint_url,
            model=settings.draft_endpoint_model,
            api_key=key.get_secret_value() if key else None,
            timeout=settings.draft_timeout_seconds,
        )
        return GenerativeBackend(retrieval, generator_http, name="openai")
    raise ValueError(f"unknown draft backend {settings.draft_backend!r}")


def _encoder(name: str) -> Encoder:
    from workers.drafts.encoder import LexicalEncoder, MiniLMEncoder, OnnxMiniLMEncoder

    if name == "lexical":
        return LexicalEncoder()
    try:
        return OnnxMiniLMEncoder()
    except Exception as exc:  # no onnxruntime, or the export failed: the same model in torch
        log.warning("ONNX Runtime encoder unavailable (%s); ranking with torch", type(exc).__name__)
    try:
        return MiniLMEncoder()
    except Exception as exc:  # missing wheel or torch: rank by words rather than write no drafts
        log.warning("MiniLM encoder unavailable (%s); ranking templates lexically", type(exc).__name__)
        return LexicalEncoder()


@lru_cache(maxsize=1)
def default_backend() -> DraftBackend:
    """Return this process's backend, built on first use (after the worker fork)."""
    from service.config import get_settings

    settings = get_settings()
    try:
        return build_backend(settings)
    except Exception:
        # A misconfigured model backend must not stop triage: drafts come from the templates instead.
        log.exception("draft backend %r unavailable; using retrieval", settings.draft_backend)
        return build_backend(settings.model_copy(update={"draft_backend": "retrieval"}))


def write_drafts(
    backend: DraftBackend, request: DraftRequest, decision: Decision | None = None
) -> list[dict[str, Any]]:
    """Return the drafts as stored JSON; an unsupported language or any failure gives none.

    A generative backend runs only when the policy reached a `draft_reply` step; every other ticket
    gets retrieval drafts, which cost no model call.
    """
    if not request.triage.supported:
        return []  # a language the model does not know is left to the agent
    if decision is not None and not _wants_draft(decision):
        backend = getattr(backend, "retrieval", backend)
    try:
        return [d.as_json() for d in backend.drafts(request)]
    except Exception:
        # Drafting is help, not the triage itself: never let it fail a ticket.
        log.exception("drafting failed for ticket %s", request.triage.ticket_id)
        return []


def _wants_draft(decision: Decision) -> bool:
    from workers.routing.decide import decision_steps

    return any(s.get("action") == "draft_reply" for s in decision_steps(decision.model_dump(mode="json")))


def rank_order(drafts: Sequence[Draft]) -> list[Draft]:
    """Renumber drafts 1..n in the given order."""
    for index, draft in enumerate(drafts, start=1):
        draft.rank = index
    return list(drafts)
