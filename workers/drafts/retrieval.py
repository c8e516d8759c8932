"""The default backend: approved templates ranked by the encoder's similarity to the ticket's evidence."""

from __future__ import annotations

from workers.drafts.base import MAX_DRAFTS, Draft, DraftRequest, rank_order
from workers.drafts.checks import check_draft, strip_invisible
from workers.drafts.compose import compose, tone_of
from workers.drafts.encoder import Encoder, cosine
from workers.drafts.library import Library, Template


class RetrievalBackend:
    """Rank the library against the ticket; wrap the best templates in a tone chosen by the scores."""

    name = "retrieval"

    def __init__(self, library: Library, encoder: Encoder):
        self.library = library
        self.encoder = encoder
        # Embedding the library once per process: templates change only with a restart.
        vectors = encoder.embed([f"{t.title}. {t.match}" for t in library.templates])
        self._vectors = dict(zip((t.id for t in library.templates), vectors, strict=True))

    def rank(self, request: DraftRequest) -> list[tuple[Template, float]]:
        """Return the allowed templates with their similarity to the ticket, best first."""
        allowed = self.library.allowed(set(request.rules.allow_promises), request.triage.language)
        # Evidence first: it is the part of the text that says what the customer is upset about.
        query = f"{request.evidence_text()}\n{request.customer_text()}"[:2000]
        [vector] = self.encoder.embed([query])
        scored = [(t, cosine(vector, self._vectors[t.id])) for t in allowed]
        return sorted(scored, key=lambda pair: -pair[1])

    def drafts(self, request: DraftRequest, n: int = MAX_DRAFTS) -> list[Draft]:
        allow = set(request.rules.allow_promises)
        results = []
        for template, score in self.rank(request):
            text = strip_invisible(compose(template, request.triage, allow_promises=allow))
            problems = check_draft(
                text,
                approved=template.approved_text,
                customer_text=request.customer_text(),
                allow_promises=allow,
                max_chars=request.rules.max_chars,
            )
            if problems:
                continue  # an operator's template that breaks the rules is skipped, not shown
            results.append(
                Draft(
                    rank=0,
                    text=text,
                    backend=self.name,
                    template_id=template.id,
                    template_title=template.title,
                    score=score,
                    tone=tone_of(request.triage),
                )
            )
            if len(results) == n:
                break
        return rank_order(results)
