"""The default backend: approved templates ranked by the encoder's similarity to the ticket's evidence."""

from __future__ import annotations

from service.domain import Triage
from workers.drafts.base import MAX_DRAFTS, Draft, DraftRequest, rank_order
from workers.drafts.checks import check_draft, strip_invisible
from workers.drafts.compose import compose, tone_of
from workers.drafts.encoder import Encoder, cosine
from workers.drafts.library import Library, Template

# Templates for the ticket's topic rank ahead of look-alikes for other topics once the model gives the
# topic at least TOPIC_CONFIDENCE; a template that states facts needs FACTS_CONFIDENCE. The first two
# were chosen on the corpus dev split (report half: top-1 draft topic 0.60 at 0.5/0.2, 0.73 at 0.3/0.4).
TOPIC_CONFIDENCE = 0.3
TOPIC_BONUS = 0.4
FACTS_CONFIDENCE = 0.5
# Below this cosine similarity nothing in the library really matches: templates for no topic in
# particular (they acknowledge and commit to nothing specific) go first.
SIMILARITY_FLOOR = 0.25


def known_topic(triage: Triage, confidence: float = TOPIC_CONFIDENCE) -> str | None:
    """Return the ticket's topic when the model read it with at least `confidence`, else None."""
    topic = triage.topic
    return topic.label if topic is not None and topic.probability >= confidence else None


class RetrievalBackend:
    """Rank the library against the ticket; wrap the best templates in a tone chosen by the scores.

    A template that states facts (an incident exists, a refund was issued) is offered only when the
    model reads the ticket's topic as one the template answers: similar words alone never put a claim
    in front of the agent. Below the similarity floor, the no-topic templates that only acknowledge
    and follow up come first.
    """

    name = "retrieval"

    def __init__(self, library: Library, encoder: Encoder, *, use_topic: bool = True):
        self.library = library
        self.encoder = encoder
        # Off only to measure what ranking by similarity alone would pick (the eval's baseline).
        self.use_topic = use_topic
        # Embedding the library once per process: templates change only with a restart.
        vectors = encoder.embed([f"{t.title}. {t.match}" for t in library.templates])
        self._vectors = dict(zip((t.id for t in library.templates), vectors, strict=True))

    def rank(self, request: DraftRequest) -> list[tuple[Template, float]]:
        """Return the allowed templates with their similarity to the ticket, best first."""
        allowed = self.library.allowed(set(request.rules.allow_promises), request.triage.language)
        # Evidence first: it is the part of the text that says what the customer is upset about.
        query = f"{request.evidence_text()}\n{request.customer_text()}"[:2000]
        [vector] = self.encoder.embed([query])
        topic = known_topic(request.triage) if self.use_topic else None
        certain = known_topic(request.triage, FACTS_CONFIDENCE) if self.use_topic else None
        scored = []
        for template in allowed:
            if template.states_facts and self.use_topic and certain not in template.topics:
                continue
            similarity = cosine(vector, self._vectors[template.id])
            scored.append((template, similarity + (TOPIC_BONUS if topic in template.topics else 0.0)))
        scored.sort(key=lambda pair: -pair[1])
        if self.use_topic and scored and scored[0][1] < SIMILARITY_FLOOR:
            # Nothing fits: lead with the templates that claim nothing about any topic.
            scored.sort(key=lambda pair: bool(pair[0].topics))
        return scored

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
